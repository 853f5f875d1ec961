// The REST client and the dashboard token.
//
// The page is given a short-lived, read-only signed token (never an API key). It is sent as a
// header on REST requests and as a query parameter on the WebSocket URL, and renewed from the
// site at half-life, after a 401/403, and before a reconnect when it is getting old.

export class ApiError extends Error {
  constructor(message, { status = 0, code = "" } = {}) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class TokenKeeper {
  constructor({ token, url, maxAgeS }) {
    this.token = token || "";
    this.url = url;
    this.maxAgeMs = (maxAgeS || 600) * 1000;
    this.issuedAt = performance.now();
    this._pending = null;
    this._timer = null;
  }

  start() {
    clearInterval(this._timer);
    this._timer = setInterval(() => {
      if (this.age() > this.maxAgeMs / 2) this.refresh().catch(() => {});
    }, Math.max(5_000, this.maxAgeMs / 8));
  }

  age() {
    return performance.now() - this.issuedAt;
  }

  // A token with at least half its life left (renewed first when older); the old one if the
  // site cannot be reached, since the caller's request will fail and be retried anyway.
  async fresh() {
    if (this.age() > this.maxAgeMs / 2) {
      try {
        await this.refresh();
      } catch {
        /* keep the old one */
      }
    }
    return this.token;
  }

  refresh() {
    if (!this._pending) {
      this._pending = fetch(this.url, { headers: { Accept: "application/json" }, cache: "no-store",
                                        credentials: "same-origin" })
        .then(async (response) => {
          if (!response.ok) throw new ApiError(`token: HTTP ${response.status}`, { status: response.status });
          const body = await response.json();
          this.token = body.token;
          this.maxAgeMs = (body.expires_in || this.maxAgeMs / 1000) * 1000;
          this.issuedAt = performance.now();
          return this.token;
        })
        .finally(() => { this._pending = null; });
    }
    return this._pending;
  }
}

export class Api {
  constructor({ base, tokens, header }) {
    this.base = base.replace(/\/$/, "");
    this.tokens = tokens;
    this.header = header;
  }

  // GET `path` (relative to /api/v1) and return the envelope's {data, meta}; throws ApiError.
  async get(path, params = {}, { signal } = {}) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined && value !== null && value !== "") query.set(key, value);
    }
    const qs = query.toString();
    const url = `${this.base}/${path}${qs ? `?${qs}` : ""}`;
    let response = await this._fetch(url, signal);
    if (response.status === 401 || response.status === 403) {
      await this.tokens.refresh().catch(() => {});
      response = await this._fetch(url, signal);
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      /* not JSON: reported below by status */
    }
    if (!response.ok || !body || body.success === false) {
      const error = body && body.error;
      const message = error && error.message ? error.message : `HTTP ${response.status}`;
      throw new ApiError(message, { status: response.status, code: error ? error.code : "" });
    }
    return { data: body.data, meta: body.meta || {} };
  }

  async _fetch(url, signal) {
    const token = await this.tokens.fresh();
    const headers = { Accept: "application/json" };
    if (token) headers[this.header] = token;
    try {
      return await fetch(url, { headers, signal, cache: "no-store", credentials: "same-origin" });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError("the server cannot be reached", { status: 0, code: "network" });
    }
  }
}
