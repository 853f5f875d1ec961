// One row of the ticker table: the ticker's live quote, its change since the day's open, the
// last hour as a sparkline, and the recent ticks (kept to rebuild a freshly loaded chart).

import { bucketStart } from "./candles.js";
import * as fmt from "./format.js";
import { drawSparkline } from "./sparkline.js";

const MINUTE = 60_000;
const SPARK_SPAN_MS = 60 * MINUTE;
const RING_MAX = 3_000; // recent ticks kept (5 minutes at 10 a second)

export function arrow(dir) {
  return dir === "up" ? "▲ " : dir === "down" ? "▼ " : "";
}

export class TickerRow {
  // info: {ticker, name, sector, active, last_price}; dayOpen: today's open if known (from the
  // 1d bar of `dayTime`); spark: [[minuteStartMs, close], ...] of the last hour.
  constructor(info, row, { dayOpen = null, dayTime = null, spark = [] } = {}) {
    this.info = info;
    this.row = row;
    const cell = (name) => row.querySelector(`[data-field="${name}"]`);
    this.cells = {
      price: cell("price"), change: cell("change"), changePct: cell("change_pct"),
      bid: cell("bid"), ask: cell("ask"), name: cell("name"), sector: cell("sector"),
      spark: row.querySelector("svg"), link: row.querySelector("a"),
    };
    this.price = info.last_price ?? null;
    this.bid = null;
    this.ask = null;
    this.lastSeq = null;
    this.lastTickTs = null;
    this.dayOpen = dayOpen;
    this.dayTime = dayOpen !== null ? dayTime : null;
    this.spark = spark.map(([t, p]) => [t, p]);
    this.ring = [];
    this.flash = null;
    this.dirty = true;
    this.sparkDrawnAt = 0;
  }

  get symbol() {
    return this.info.ticker;
  }

  setNames(name, sector) {
    this.info = { ...this.info, name, sector };
    this.cells.name.textContent = name;
    this.cells.sector.textContent = sector;
  }

  // A tick from the stream. Returns the number of ticks missing before it (by seq), or -1 for a
  // tick already seen (a resumed replay overlaps what came before the drop).
  applyTick(t) {
    let missing = 0;
    if (this.lastSeq !== null) {
      if (t.seq <= this.lastSeq) return -1;
      missing = t.seq - this.lastSeq - 1;
    }
    this.lastSeq = t.seq;
    this.lastTickTs = Math.max(this.lastTickTs ?? 0, t.timestamp);
    if (this.price !== null && t.price !== this.price) this.flash = t.price > this.price ? "up" : "down";
    this.price = t.price;
    this.bid = t.bid;
    this.ask = t.ask;
    const day = bucketStart(t.timestamp, "1d");
    if (this.dayTime === null || day > this.dayTime) {
      this.dayOpen = t.price; // the first tick of a new day is its open
      this.dayTime = day;
    }
    this._sparkPut(bucketStart(t.timestamp, "1m"), t.price, true);
    this.ring.push(t);
    if (this.ring.length > RING_MAX) this.ring.splice(0, this.ring.length - RING_MAX);
    this.dirty = true;
    return missing;
  }

  // A bar from the stream: 1m bars settle the sparkline, a 1d bar the day's open.
  applyBar(bar) {
    if (bar.timeframe === "1m") {
      this._sparkPut(bar.time, bar.close, false);
      this.dirty = true;
    } else if (bar.timeframe === "1d" && (this.dayTime === null || bar.time >= this.dayTime)) {
      this.dayOpen = bar.open;
      this.dayTime = bar.time;
      this.dirty = true;
    }
  }

  change() {
    if (this.price === null || this.dayOpen === null) return { change: null, pct: null };
    const change = Math.round((this.price - this.dayOpen) * 100) / 100;
    return { change, pct: this.dayOpen ? (change / this.dayOpen) * 100 : null };
  }

  render() {
    const { cells, row } = this;
    const { change, pct } = this.change();
    const dir = fmt.direction(change);
    cells.price.textContent = fmt.formatPrice(this.price);
    cells.change.textContent = arrow(dir) + fmt.formatSigned(change);
    cells.changePct.textContent = fmt.formatPercent(pct);
    cells.change.className = dir;
    cells.changePct.className = `pct ${dir}`;
    cells.bid.textContent = fmt.formatPrice(this.bid);
    cells.ask.textContent = fmt.formatPrice(this.ask);
    if (this.flash) {
      row.classList.remove("flash-up", "flash-down");
      void row.offsetWidth; // restart the animation
      row.classList.add(`flash-${this.flash}`);
      this.flash = null;
    }
  }

  renderSpark(endMs) {
    const spark = this.spark;
    const points = spark.map(([minute, price]) => [Math.min(minute + MINUTE, endMs), price]);
    const move = spark.length ? spark[spark.length - 1][1] - spark[0][1] : null;
    drawSparkline(this.cells.spark, points, {
      spanMs: SPARK_SPAN_MS, endMs, direction: fmt.direction(move),
    });
  }

  _sparkPut(minute, price, live) {
    const spark = this.spark;
    const lastMinute = spark.length ? spark[spark.length - 1][0] : -Infinity;
    if (minute > lastMinute) {
      spark.push([minute, price]);
    } else {
      const i = spark.findIndex(([m]) => m >= minute);
      if (spark[i][0] === minute) {
        // A live tick is fresher than a bar of the current minute; a bar settles a past one.
        const current = this.lastTickTs !== null && minute === bucketStart(this.lastTickTs, "1m");
        if (live || !current) spark[i][1] = price;
      } else {
        spark.splice(i, 0, [minute, price]);
      }
    }
    const cutoff = minute - SPARK_SPAN_MS;
    while (spark.length && spark[0][0] < cutoff) spark.shift();
  }
}
