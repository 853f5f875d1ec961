// The statistics panel: /api/v1/stats/<ticker>?period=1d shown in its <dl>.

import * as fmt from "./format.js";

export function renderStats(root, s) {
  const open = Number.parseFloat(s.open);
  const close = Number.parseFloat(s.close);
  const change = Number.isFinite(open) && Number.isFinite(close) ? close - open : null;
  const pct = change !== null && open ? (change / open) * 100 : null;
  const volatility = typeof s.volatility === "number" ? s.volatility * 100 : null; // a fraction
  const values = {
    open: fmt.formatPrice(s.open),
    high: fmt.formatPrice(s.high),
    low: fmt.formatPrice(s.low),
    close: fmt.formatPrice(s.close),
    change: fmt.formatSigned(change),
    change_pct: fmt.formatPercent(pct),
    avg_price: fmt.formatPrice(s.avg_price),
    total_volume: fmt.formatInteger(s.total_volume),
    volatility: fmt.formatPercent(volatility, { signed: false, digits: 1 }),
    tick_count: fmt.formatInteger(s.tick_count),
  };
  const dir = fmt.direction(change);
  for (const [field, text] of Object.entries(values)) {
    const el = root.querySelector(`[data-stat="${field}"]`);
    if (!el) continue;
    el.textContent = text;
    if (field === "change" || field === "change_pct") el.className = dir;
  }
}
