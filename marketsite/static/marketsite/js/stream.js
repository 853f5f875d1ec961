// The /ws connection: connect, subscribe, keep alive, and reconnect with backoff after a drop.
//
// Resuming is the owner's business: on every `connected` it is asked for the subscribe message
// (with `since` set to where the previous connection left off), so the stream has no hole.

const BACKOFF_MS = [500, 1_000, 2_000, 4_000, 8_000, 15_000];
const PING_EVERY_MS = 15_000;
const SILENT_LIMIT_MS = 25_000; // nothing at all (not even a pong) for this long: reconnect
const STALE_AFTER_MS = 5_000; // connected, but no tick for this long

export class MarketStream {
  // url: async () => ws URL; subscription: (serverTimeMs, isResume) => subscribe message;
  // onMessage(msg); onState(state, detail) with state one of connecting, live, stale,
  // disconnected; onSubscribed(n) after the n-th successful subscribe.
  constructor({ url, subscription, onMessage, onState, onSubscribed = () => {} }) {
    this.url = url;
    this.onSubscribed = onSubscribed;
    this.subscription = subscription;
    this.onMessage = onMessage;
    this.onState = onState;
    this.ws = null;
    this.attempt = 0;
    this.everSubscribed = false;
    this.retryTimer = null;
    this.retryAt = 0;
    this.lastMessageAt = 0;
    this.lastTickAt = 0;
    this.state = "";
    this.stopped = false;
    this.connects = 0;
    this._watchdog = null;
  }

  start() {
    this.stopped = false;
    this._watchdog = setInterval(() => this._watch(), 1_000);
    window.addEventListener("online", () => this.retryNow());
    this._connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this._watchdog);
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000, "page closed");
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  // Drop this connection and go through the backoff, as after a server-side close.
  reconnect() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.close(4000, "reconnect");
    this._scheduleRetry();
  }

  retryNow() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.retryTimer);
    this._connect();
  }

  _setState(state, detail = {}) {
    this.state = state;
    this.onState(state, detail);
  }

  async _connect() {
    this.retryTimer = null;
    this._setState("connecting", { attempt: this.attempt });
    let url;
    try {
      url = await this.url();
    } catch {
      this._scheduleRetry();
      return;
    }
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this._scheduleRetry();
      return;
    }
    this.ws = ws;
    let subscribed = false;
    let subscribeSent = false;
    const subscribe = (serverTimeMs) => {
      if (subscribeSent || ws.readyState !== WebSocket.OPEN) return;
      subscribeSent = true;
      ws.send(JSON.stringify(this.subscription(serverTimeMs, this.everSubscribed)));
    };
    const live = () => {
      if (subscribed) return;
      subscribed = true;
      this.everSubscribed = true;
      this.attempt = 0;
      this.connects += 1;
      this.lastTickAt = performance.now();
      this._setState("live");
      this.onSubscribed(this.connects);
    };
    ws.addEventListener("open", () => {
      // The server greets with `connected` (and its clock) first; do not wait on it forever.
      setTimeout(() => subscribe(null), 2_000);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      this.lastMessageAt = performance.now();
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (msg.type === "connected") {
        subscribe(Number.isFinite(msg.timestamp) ? msg.timestamp : null);
      } else if (msg.type === "subscribed") {
        live();
      } else if (msg.type === "tick" || msg.type === "ticks") {
        live();
        this.lastTickAt = performance.now();
        if (this.state === "stale") this._setState("live");
      }
      this.onMessage(msg);
    });
    ws.addEventListener("close", () => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (!this.stopped) this._scheduleRetry();
    });
    ws.addEventListener("error", () => {
      /* followed by close */
    });
    this.lastMessageAt = performance.now();
  }

  _scheduleRetry() {
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.retryAt = performance.now() + delay;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this._connect(), delay);
    this._setState("disconnected", { retryInMs: delay, attempt: this.attempt });
  }

  _watch() {
    const now = performance.now();
    if (this.retryTimer) {
      this.onState("disconnected", { retryInMs: Math.max(0, this.retryAt - now), attempt: this.attempt });
      return;
    }
    const ws = this.ws;
    if (!ws) return;
    if (ws.readyState === WebSocket.CONNECTING && now - this.lastMessageAt > 10_000) {
      ws.close(); // a handshake that hangs
      return;
    }
    if (ws.readyState !== WebSocket.OPEN) return;
    if (now - this.lastMessageAt > SILENT_LIMIT_MS) {
      this.reconnect();
      return;
    }
    if (now - (this._lastPing || 0) > PING_EVERY_MS) {
      this._lastPing = now;
      ws.send(JSON.stringify({ type: "ping" }));
    }
    if (this.state === "live" && now - this.lastTickAt > STALE_AFTER_MS) {
      this._setState("stale", { sinceMs: now - this.lastTickAt });
    } else if (this.state === "stale") {
      this.onState("stale", { sinceMs: now - this.lastTickAt });
    }
  }
}
