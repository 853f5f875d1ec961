// A calendar ticker's trading sessions on the dashboard: its market's open periods, as the page's
// config gives them (the server reads them from the exchange calendar, ticks/calendars.py, for a
// few weeks around the page's load), and what follows from them: where the market is now
// ("closed, opens in 3 h 12 min"), since when it has been open, which stretch of open market a
// candle belongs to (so the chart can shade the closures between them), and how far back a
// chart has to start to show a given amount of open time. A 24/7 ticker has none of this.

const KINDS = ["open", "pre", "post"]; // a period's kind: regular session, pre-, post-market
const WORDS = { open: "open", pre: "pre-market", post: "post-market", break: "lunch break",
                closed: "closed" }; // prettier-ignore
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function formatWait(ms) {
  if (ms < MINUTE) return `${Math.max(0, Math.ceil(ms / 1000))} s`;
  const minutes = Math.floor(ms / MINUTE);
  if (ms < HOUR) return `${minutes} min`;
  if (ms < DAY) return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  return `${Math.floor(ms / DAY)} d ${Math.floor((ms % DAY) / HOUR)} h`;
}

export class Sessions {
  // periods: [[startMs, endMs, kind, session], ...] in time order; kind 0 regular, 1 pre, 2 post;
  // session: the trading day, shared by the two halves of a day with a lunch break.
  constructor(periods) {
    this.periods = periods;
    this.starts = []; // open stretches: adjacent periods (pre, regular, post) joined
    this.ends = [];
    for (const [s, e] of periods) {
      const n = this.ends.length;
      if (n && s <= this.ends[n - 1]) this.ends[n - 1] = Math.max(this.ends[n - 1], e);
      else {
        this.starts.push(s);
        this.ends.push(e);
      }
    }
  }

  knows(t) {
    const p = this.periods;
    return p.length > 0 && t >= p[0][0] && t < p[p.length - 1][1];
  }

  _periodAfter(t) {
    // the first period that ends after t
    const p = this.periods;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (p[mid][1] > t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  // {phase, next, nextKind}: open, pre, post, break or closed at t, and when that changes; null
  // outside the periods known.
  at(t) {
    if (!this.knows(t)) return null;
    const p = this.periods;
    const i = this._periodAfter(t);
    const [start, end, kind, session] = p[i];
    if (start <= t) return { phase: KINDS[kind], next: end, nextKind: null };
    const lunch = i > 0 && p[i - 1][3] === session;
    return { phase: lunch ? "break" : "closed", next: start, nextKind: KINDS[kind] };
  }

  // "closed, opens in 3 h 12 min", "open, closes in 2 h 5 min", "pre-market, opens in 45 min".
  label(t) {
    const here = this.at(t);
    if (!here) return "";
    const wait = formatWait(here.next - t);
    if (here.phase === "open" || here.phase === "post") return `${WORDS[here.phase]}, closes in ${wait}`;
    if (here.phase === "pre") return `pre-market, opens in ${wait}`;
    const what = here.nextKind === "pre" ? "pre-market opens" : "opens";
    return `${WORDS[here.phase]}, ${what} in ${wait}`;
  }

  isOpen(t) {
    const here = this.at(t);
    return here !== null && here.phase !== "closed" && here.phase !== "break";
  }

  // The start of the open stretch t is in (null when closed at t).
  openSince(t) {
    const i = this.stretchOf(t);
    return i < this.starts.length && this.starts[i] <= t ? this.starts[i] : null;
  }

  // The index of the open stretch that ends after t: a candle starting at t that has ticks
  // belongs to it. Two candles in different stretches have a closure between them.
  stretchOf(t) {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid] > t) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  // The kind of the period a candle [t, t + width) trades in ("open", "pre", "post").
  kindOf(t, width) {
    const p = this.periods[this._periodAfter(t)];
    return p && p[0] < t + width ? KINDS[p[2]] : "open";
  }

  // Where a chart must start so that [start, now) holds `span` ms of open market.
  startFor(now, span) {
    let left = span;
    for (let i = Math.min(this.stretchOf(now), this.starts.length - 1); i >= 0; i -= 1) {
      const s = this.starts[i];
      const e = Math.min(this.ends[i], now);
      if (s >= now) continue;
      if (e - s >= left) return e - left;
      left -= e - s;
    }
    return now - span; // beyond what is known: calendar time
  }
}
