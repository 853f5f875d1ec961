// The statistics panel: /api/v1/stats/<ticker>?period=1d shown in its <dl>.
//
// Each figure is shown with what it was computed from (the ticks of the last day, and how long
// they span); the annualized volatility only once they span an hour: from a few minutes of
// cent-rounded prices it says more about the rounding than about the market.

import * as fmt from "./format.js";

export const VOLATILITY_MIN_SECONDS = 3600;

// "3 min", "2.5 h": how long `seconds` of ticks is, for people.
export function formatSpan(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1).replace(/\.0$/, "")} h`;
}

// `tickRate`: the ticker's ticks per second (its row in the ticker list).
export function renderStats(root, s, tickRate) {
  const open = Number.parseFloat(s.open);
  const close = Number.parseFloat(s.close);
  const change = Number.isFinite(open) && Number.isFinite(close) ? close - open : null;
  const pct = change !== null && open ? (change / open) * 100 : null;
  const count = Number.isFinite(s.tick_count) ? s.tick_count : 0;
  const span = tickRate > 0 ? count / tickRate : 0; // seconds of ticks in the period
  const enough = span >= VOLATILITY_MIN_SECONDS;
  const volatility = enough && typeof s.volatility === "number" ? s.volatility * 100 : null;
  const values = {
    open: fmt.formatPrice(s.open),
    high: fmt.formatPrice(s.high),
    low: fmt.formatPrice(s.low),
    close: fmt.formatPrice(s.close),
    change: fmt.formatSigned(change),
    change_pct: fmt.formatPercent(pct),
    avg_price: fmt.formatPrice(s.avg_price),
    total_volume: fmt.formatInteger(s.total_volume),
    volatility: enough
      ? fmt.formatPercent(volatility, { signed: false, digits: 1 })
      : `— (needs 1 h of ticks, has ${formatSpan(span)})`,
    tick_count: `${fmt.formatInteger(s.tick_count)} (${formatSpan(span)})`,
  };
  const dir = fmt.direction(change);
  for (const [field, text] of Object.entries(values)) {
    const el = root.querySelector(`[data-stat="${field}"]`);
    if (!el) continue;
    el.textContent = text;
    if (field === "change" || field === "change_pct") el.className = dir;
  }
}
