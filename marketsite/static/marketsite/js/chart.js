// Candlestick chart with volume bars, drawn on a canvas. The newest candles are shown, pinned to
// the right once they fill the width; colours come from CSS custom properties, so the chart
// follows the page's light or dark scheme.
//
// A calendar ticker's closures (setSessions) take one shaded slot each between the candles they
// separate (and at the right edge while its market is closed); its pre- and post-market candles
// stand on a lighter shade. A 24/7 ticker's chart has neither.
//
// Keyboard (when the canvas has focus): ← → move the cursor, Home/End jump, Esc clears it,
// + and − zoom.

import { TIMEFRAME_MS } from "./candles.js";
import { formatClock, formatCompact, formatDay, formatPrice } from "./format.js";

const SPACINGS = [3, 4, 6, 8, 11, 15, 20, 28]; // px per candle, by zoom level
const DEFAULT_ZOOM = 3;
const FILL_MAX = 18;
const DAY = 86_400_000;
const LABEL_STEPS = [1, 5, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 20160, 43200]
  .map((minutes) => minutes * 60_000);
const AXIS_W = 68;
const TIME_H = 22;
const PAD = 8;
const FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

function readColors(element) {
  const style = getComputedStyle(element);
  const v = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return {
    up: v("--chart-up", "#1a7f4b"),
    down: v("--chart-down", "#c62828"),
    upVolume: v("--chart-up-volume", "rgba(26,127,75,.35)"),
    downVolume: v("--chart-down-volume", "rgba(198,40,40,.35)"),
    grid: v("--chart-grid", "rgba(128,128,128,.18)"),
    text: v("--chart-text", "#666"),
    cross: v("--chart-cross", "rgba(128,128,128,.6)"),
    watermark: v("--chart-watermark", "rgba(128,128,128,.14)"),
    labelText: v("--chart-label-text", "#fff"),
    closed: v("--chart-closed", "rgba(128,128,128,.16)"),
    extended: v("--chart-extended", "rgba(128,128,128,.07)"),
  };
}

function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  const nice = unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 2.5 ? 2.5 : unit <= 5 ? 5 : 10;
  return nice * power;
}

export class CandleChart {
  constructor(canvas, { onCursor = () => {}, now = () => Date.now() } = {}) {
    this.canvas = canvas;
    this.now = now;
    this.sessions = null;
    this.ctx = canvas.getContext("2d");
    this.onCursor = onCursor;
    this.series = null;
    this.title = "";
    this.zoom = DEFAULT_ZOOM;
    this.cursorTime = null;
    this.width = 0;
    this.height = 0;
    this.geometry = null;
    this.colors = readColors(canvas);
    this._frame = 0;
    this._labelAt = 0;

    new ResizeObserver(() => this._resize()).observe(canvas.parentElement);
    const scheme = matchMedia("(prefers-color-scheme: dark)");
    scheme.addEventListener("change", () => {
      this.colors = readColors(canvas);
      this.invalidate();
    });
    canvas.addEventListener("pointermove", (event) => this._pointer(event));
    canvas.addEventListener("pointerleave", () => this._setCursor(null));
    canvas.addEventListener("keydown", (event) => this._key(event));
    this._resize();
  }

  // Scenario events (GET /api/v1/events) drawn over the candles: a line at each start, the
  // duration shaded, a short label. [{start, end, kind, label}], times in epoch ms.
  setMarkers(markers) {
    this.markers = Array.isArray(markers) ? markers : [];
    this.invalidate();
  }

  // The selected ticker's sessions (sessions.js), or null for a 24/7 ticker.
  setSessions(sessions) {
    this.sessions = sessions || null;
    this.invalidate();
  }

  _drawMarkers(visible, xOf, spacing, y0, y1) {
    if (!this.markers || !this.markers.length || !visible.length) return;
    const { ctx, colors } = this;
    const tfMs = TIMEFRAME_MS[this.series.timeframe];
    const xAt = (t) => {
      // in the candle that holds t, at the left of the next one when t is in a closure (slots
      // are not time), straight on beyond the candles shown
      let i = visible.findIndex((c) => c.time + tfMs > t);
      if (i < 0) i = visible.length - 1;
      const offset = (t - visible[i].time) / tfMs;
      const inside = i === 0 || i === visible.length - 1 ? offset : Math.max(0, offset);
      return xOf(i) - spacing / 2 + inside * spacing;
    };
    const right = xOf(visible.length - 1) + spacing / 2;
    ctx.save();
    ctx.font = FONT;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    for (const m of this.markers) {
      const xs = xAt(m.start);
      const xe = Math.min(xAt(Math.max(m.end, m.start)), right);
      if (xs > right || xe < xOf(0) - spacing / 2) continue;
      ctx.fillStyle = colors.cross;
      ctx.globalAlpha = 0.12;
      if (xe > xs) ctx.fillRect(xs, y0, xe - xs, y1 - y0);
      ctx.globalAlpha = 1;
      ctx.strokeStyle = colors.cross;
      ctx.setLineDash([6, 3]);
      ctx.beginPath();
      ctx.moveTo(Math.round(xs) + 0.5, y0);
      ctx.lineTo(Math.round(xs) + 0.5, y1);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = colors.text;
      ctx.fillText(m.label, Math.round(xs) + 3, y0 + 2);
    }
    ctx.restore();
    this.canvas.dataset.markers = String(this.markers.length);
  }

  setSeries(series, title) {
    this.series = series;
    this.title = title || "";
    this.cursorTime = null;
    this.invalidate();
  }

  invalidate() {
    if (!this._frame) {
      this._frame = requestAnimationFrame(() => {
        this._frame = 0;
        this.draw();
      });
    }
  }

  _resize() {
    const box = this.canvas.parentElement.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.max(200, Math.floor(box.width));
    this.height = Math.max(160, Math.floor(box.height));
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${this.height}px`;
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.draw();
  }

  // Slots left to right: candles, and a closure between two candles of different open stretches
  // and after the last one while the market is closed ({closed, extended} marks).
  _slots(candles) {
    const sessions = this.sessions;
    const tf = this.series ? this.series.timeframe : "1m";
    if (!sessions || tf === "1d" || !candles.length) return candles.map((c) => ({ candle: c }));
    const width = TIMEFRAME_MS[tf];
    const slots = [];
    let stretch = null;
    for (const c of candles) {
      const here = sessions.knows(c.time) ? sessions.stretchOf(c.time) : null;
      if (stretch !== null && here !== null && here !== stretch) slots.push({ closed: true });
      slots.push({ candle: c, extended: here !== null && sessions.kindOf(c.time, width) !== "open" });
      stretch = here;
    }
    const now = this.now();
    const last = candles[candles.length - 1];
    if (sessions.knows(now) && !sessions.isOpen(now) && stretch === sessions.stretchOf(last.time)) {
      slots.push({ closed: true }); // closed since the last candle
    }
    return slots;
  }

  _visible() {
    const candles = this.series ? this.series.candles() : [];
    const slots = this._slots(candles);
    const x0 = PAD;
    const x1 = this.width - AXIS_W;
    // Few candles are drawn wider, up to FILL_MAX px, to use the width; zoom sets the minimum.
    const base = SPACINGS[this.zoom];
    const spacing = Math.max(base, Math.min(FILL_MAX, (x1 - x0) / Math.max(1, slots.length)));
    const fit = Math.max(1, Math.floor((x1 - x0) / spacing));
    const shown = slots.slice(-fit);
    const visible = [];
    const pos = []; // the slot of each visible candle
    shown.forEach((slot, k) => {
      if (slot.candle) {
        visible.push(slot.candle);
        pos.push(k);
      }
    });
    return { candles, visible, pos, shown, spacing, x0, x1 };
  }

  _drawSessions(shown, spacing, x0, y0, y1) {
    const { ctx, colors } = this;
    let closures = 0;
    shown.forEach((slot, k) => {
      if (!slot.closed && !slot.extended) return;
      ctx.fillStyle = slot.closed ? colors.closed : colors.extended;
      ctx.fillRect(Math.round(x0 + k * spacing), y0, Math.ceil(spacing), y1 - y0);
      if (slot.closed) closures += 1;
    });
    this.canvas.dataset.closures = String(closures);
  }

  draw() {
    const { ctx, width: W, height: H, colors } = this;
    const { candles, visible, pos, shown, spacing, x0, x1 } = this._visible();
    ctx.clearRect(0, 0, W, H);
    this.canvas.dataset.candles = String(candles.length);
    this.canvas.dataset.visible = String(visible.length);
    const y0 = PAD;
    const y1 = H - TIME_H;
    const volumeH = Math.round((y1 - y0) * 0.2);
    const priceTop = y0 + 4;
    const priceBottom = y1 - volumeH - 8;
    const volumeTop = y1 - volumeH;

    ctx.font = FONT;
    if (this.title) {
      ctx.fillStyle = colors.watermark;
      ctx.font = `600 ${Math.round(Math.min(44, H / 7))}px system-ui, sans-serif`;
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      ctx.fillText(this.title, x0 + 6, y0 + 4);
      ctx.font = FONT;
    }
    if (!visible.length) {
      this.geometry = null;
      this._label(null);
      return;
    }

    let lo = Infinity;
    let hi = -Infinity;
    let maxVolume = 0;
    for (const c of visible) {
      lo = Math.min(lo, c.low);
      hi = Math.max(hi, c.high);
      maxVolume = Math.max(maxVolume, c.volume);
    }
    if (hi - lo < 1e-9) {
      const pad = Math.max(0.05, hi * 0.001);
      lo -= pad;
      hi += pad;
    }
    const margin = (hi - lo) * 0.08;
    lo -= margin;
    hi += margin;
    const yOf = (p) => priceBottom - ((p - lo) / (hi - lo)) * (priceBottom - priceTop);
    const xOf = (i) => x0 + spacing * (pos[i] + 0.5);
    this.geometry = { x0, x1, spacing, visible, pos, yOf, lo, hi, priceTop, priceBottom };
    this._drawSessions(shown, spacing, x0, y0, y1);

    // Price grid and axis labels.
    const step = niceStep((hi - lo) / Math.max(2, (priceBottom - priceTop) / 48));
    ctx.strokeStyle = colors.grid;
    ctx.fillStyle = colors.text;
    ctx.lineWidth = 1;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    const lastY = yOf(visible[visible.length - 1].close);
    for (let p = Math.ceil(lo / step) * step; p <= hi; p += step) {
      const y = Math.round(yOf(p)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x0, y);
      ctx.lineTo(x1, y);
      ctx.stroke();
      // Labels clear of the last price's label and of the volume scale below.
      if (Math.abs(y - lastY) > 16 && y < priceBottom - 4) ctx.fillText(formatPrice(p), x1 + 8, y);
    }

    // Time grid and labels, on round UTC times.
    const tfMs = TIMEFRAME_MS[this.series.timeframe];
    const labelStep = LABEL_STEPS.find((s) => s >= tfMs && (s / tfMs) * spacing >= 84)
      || LABEL_STEPS[LABEL_STEPS.length - 1];
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    visible.forEach((c, i) => {
      if (c.time % labelStep !== 0) return;
      const x = Math.round(xOf(i)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, y0);
      ctx.lineTo(x, y1);
      ctx.stroke();
      const text = labelStep >= DAY || c.time % DAY === 0 ? formatDay(c.time) : formatClock(c.time);
      const half = ctx.measureText(text).width / 2;
      ctx.fillText(text, Math.min(Math.max(x, x0 + half), x1 - half), y1 + 5);
    });

    // Volume bars, then candles.
    const body = Math.max(1, Math.round(spacing * 0.68));
    visible.forEach((c, i) => {
      const up = c.close >= c.open;
      const x = Math.round(xOf(i) - body / 2);
      if (maxVolume > 0) {
        const h = Math.max(1, Math.round((c.volume / maxVolume) * (volumeH - 2)));
        ctx.fillStyle = up ? colors.upVolume : colors.downVolume;
        ctx.fillRect(x, y1 - h, body, h);
      }
      const color = up ? colors.up : colors.down;
      const cx = Math.round(xOf(i)) + 0.5;
      ctx.strokeStyle = color;
      ctx.beginPath();
      ctx.moveTo(cx, Math.round(yOf(c.high)));
      ctx.lineTo(cx, Math.round(yOf(c.low)));
      ctx.stroke();
      const top = Math.round(yOf(Math.max(c.open, c.close)));
      const bottom = Math.round(yOf(Math.min(c.open, c.close)));
      ctx.fillStyle = color;
      ctx.fillRect(x, top, body, Math.max(1, bottom - top));
    });

    this._drawMarkers(visible, xOf, spacing, y0, y1);

    // The last price: a dashed line and a label on the axis.
    const last = visible[visible.length - 1];
    const lastUp = last.close >= last.open;
    const ly = Math.round(yOf(last.close)) + 0.5;
    ctx.setLineDash([4, 3]);
    ctx.strokeStyle = lastUp ? colors.up : colors.down;
    ctx.beginPath();
    ctx.moveTo(x0, ly);
    ctx.lineTo(x1, ly);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = lastUp ? colors.up : colors.down;
    ctx.fillRect(x1 + 2, ly - 10, AXIS_W - 4, 20);
    ctx.fillStyle = colors.labelText;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.font = `600 ${FONT}`;
    ctx.fillText(formatPrice(last.close), x1 + 8, ly);
    ctx.font = FONT;

    // Volume scale: its top value.
    ctx.fillStyle = colors.text;
    ctx.textBaseline = "top";
    ctx.fillText(formatCompact(maxVolume), x1 + 8, volumeTop);

    // Cursor.
    const index = this.cursorTime === null ? -1 : visible.findIndex((c) => c.time === this.cursorTime);
    if (index >= 0) {
      const x = Math.round(xOf(index)) + 0.5;
      ctx.strokeStyle = colors.cross;
      ctx.setLineDash([2, 3]);
      ctx.beginPath();
      ctx.moveTo(x, y0);
      ctx.lineTo(x, y1);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    this.onCursor(index >= 0 ? visible[index] : last, index >= 0);
    this._label(last, candles.length);
  }

  _label(last, count = 0) {
    const now = performance.now();
    if (now - this._labelAt < 2_000 && last) return;
    this._labelAt = now;
    const tf = this.series ? this.series.timeframe : "";
    this.canvas.setAttribute("aria-label", last
      ? `${this.title} candlestick chart: ${count} candles, last close ${formatPrice(last.close)}`
      : `${this.title} candlestick chart: no candles yet`);
    this.canvas.dataset.timeframe = tf;
  }

  _setCursor(time) {
    if (time === this.cursorTime) return;
    this.cursorTime = time;
    this.invalidate();
  }

  _pointer(event) {
    const g = this.geometry;
    if (!g) return;
    const rect = this.canvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const i = g.pos.indexOf(Math.floor((x - g.x0) / g.spacing)); // -1: a closure or nothing
    this._setCursor(i >= 0 && x <= g.x1 ? g.visible[i].time : null);
  }

  _key(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const g = this.geometry;
    const visible = g ? g.visible : [];
    let index = visible.findIndex((c) => c.time === this.cursorTime);
    switch (event.key) {
      case "ArrowLeft":
        index = index < 0 ? visible.length - 1 : Math.max(0, index - 1);
        break;
      case "ArrowRight":
        index = index < 0 ? visible.length - 1 : Math.min(visible.length - 1, index + 1);
        break;
      case "Home":
        index = 0;
        break;
      case "End":
        index = visible.length - 1;
        break;
      case "Escape":
        index = -1;
        break;
      case "+":
      case "=":
        this.zoom = Math.min(SPACINGS.length - 1, this.zoom + 1);
        this.invalidate();
        event.preventDefault();
        return;
      case "-":
      case "_":
        this.zoom = Math.max(0, this.zoom - 1);
        this.invalidate();
        event.preventDefault();
        return;
      default:
        return;
    }
    event.preventDefault();
    this._setCursor(index >= 0 && visible[index] ? visible[index].time : null);
  }
}
