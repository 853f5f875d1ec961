// A candle series for one ticker and timeframe, fed by bars (REST rows or WebSocket `bar`
// messages) and by live ticks. No DOM here.
//
// A bar is a snapshot of the stored ticks, which lag the stream by the flush interval; live ticks
// only cover the time since the page subscribed. Both are subsets of the bucket's true ticks, so
// they merge without double counting: high/low are the union, the open is the bar's (it saw the
// bucket's first tick), the close is the newest live tick's, and the volume is the larger of the
// two (a lower bound that every fresher bar raises).

export const TIMEFRAME_MS = { "1m": 60_000, "5m": 300_000, "1h": 3_600_000, "1d": 86_400_000 };

export function bucketStart(ms, timeframe) {
  const width = TIMEFRAME_MS[timeframe];
  return Math.floor(ms / width) * width;
}

function num(value) {
  return typeof value === "number" ? value : Number.parseFloat(value);
}

function barTime(bar) {
  return typeof bar.time === "number" ? bar.time : Date.parse(bar.time);
}

export class CandleSeries {
  constructor(timeframe, { maxCandles = 3000 } = {}) {
    if (!(timeframe in TIMEFRAME_MS)) throw new Error(`unknown timeframe ${timeframe}`);
    this.timeframe = timeframe;
    this.maxCandles = maxCandles;
    this.buckets = []; // ascending by time: {time, bar, live}
    this.version = 0; // bumped on every change, for redraw checks
  }

  get length() {
    return this.buckets.length;
  }

  clear() {
    this.buckets = [];
    this.version++;
  }

  // REST rows (prices as strings, time ISO) or WebSocket bars (numbers, time in ms).
  setBars(rows) {
    this.buckets = rows
      .map((row) => ({ time: barTime(row), bar: this._barValues(row), live: null }))
      .filter((b) => Number.isFinite(b.time) && b.bar)
      .sort((a, b) => a.time - b.time);
    this._trim();
    this.version++;
  }

  applyBar(row) {
    if (row.timeframe && row.timeframe !== this.timeframe) return false;
    const values = this._barValues(row);
    const time = barTime(row);
    if (!values || !Number.isFinite(time)) return false;
    const bucket = this._bucket(time, true);
    if (!bucket) return false;
    bucket.bar = values;
    this.version++;
    return true;
  }

  applyTick(tick) {
    const price = num(tick.price);
    const ts = tick.timestamp;
    if (!Number.isFinite(price) || !Number.isFinite(ts)) return false;
    const bucket = this._bucket(bucketStart(ts, this.timeframe), true);
    if (!bucket) return false;
    const volume = num(tick.volume) || 0;
    const live = bucket.live;
    if (!live) {
      bucket.live = { open: price, openTs: ts, high: price, low: price, close: price,
                      closeTs: ts, volume, count: 1 };
    } else {
      if (ts < live.openTs) { live.open = price; live.openTs = ts; }
      if (ts >= live.closeTs) { live.close = price; live.closeTs = ts; }
      live.high = Math.max(live.high, price);
      live.low = Math.min(live.low, price);
      live.volume += volume;
      live.count += 1;
    }
    this.version++;
    return true;
  }

  // Merged OHLCV candles, ascending: [{time, open, high, low, close, volume, trade_count}].
  candles() {
    return this.buckets.map(merge);
  }

  last() {
    return this.buckets.length ? merge(this.buckets[this.buckets.length - 1]) : null;
  }

  _barValues(row) {
    const v = { open: num(row.open), high: num(row.high), low: num(row.low), close: num(row.close),
                volume: num(row.volume) || 0, count: num(row.trade_count) || 0 };
    return [v.open, v.high, v.low, v.close].every(Number.isFinite) ? v : null;
  }

  // The bucket starting at `time`, created in order when missing (never before the first one
  // once the series is full, so a late tick cannot grow the history backwards without bound).
  _bucket(time, create) {
    const list = this.buckets;
    let lo = 0;
    let hi = list.length;
    if (hi && list[hi - 1].time < time) lo = hi; // the common case: a new newest bucket
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].time < time) lo = mid + 1;
      else hi = mid;
    }
    if (lo < list.length && list[lo].time === time) return list[lo];
    if (!create || (lo === 0 && list.length >= this.maxCandles)) return null;
    const bucket = { time, bar: null, live: null };
    list.splice(lo, 0, bucket);
    this._trim();
    return bucket;
  }

  _trim() {
    const extra = this.buckets.length - this.maxCandles;
    if (extra > 0) this.buckets.splice(0, extra);
  }
}

function merge({ time, bar, live }) {
  if (!live) {
    return { time, open: bar.open, high: bar.high, low: bar.low, close: bar.close,
             volume: bar.volume, trade_count: bar.count };
  }
  if (!bar) {
    return { time, open: live.open, high: live.high, low: live.low, close: live.close,
             volume: live.volume, trade_count: live.count };
  }
  return {
    time,
    open: bar.open,
    high: Math.max(bar.high, live.high),
    low: Math.min(bar.low, live.low),
    close: live.close,
    volume: Math.max(bar.volume, live.volume),
    trade_count: Math.max(bar.count, live.count),
  };
}
