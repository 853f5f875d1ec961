// Number and time formatting for the dashboard. Times are shown in UTC, like the API's buckets.

const price2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export const DASH = "—";
export const MINUS = "−";

function finite(value) {
  const n = typeof value === "number" ? value : Number.parseFloat(value);
  return Number.isFinite(n) ? n : null;
}

export function formatPrice(value) {
  const n = finite(value);
  return n === null ? DASH : price2.format(n).replace("-", MINUS);
}

export function formatSigned(value) {
  const n = finite(value);
  if (n === null) return DASH;
  const text = price2.format(Math.abs(n));
  return (n > 0 ? "+" : n < 0 ? MINUS : "") + text;
}

export function formatPercent(value, { signed = true, digits = 2 } = {}) {
  const n = finite(value);
  if (n === null) return DASH;
  const text = Math.abs(n).toFixed(digits) + "%";
  if (!signed) return (n < 0 ? MINUS : "") + text;
  return (n > 0 ? "+" : n < 0 ? MINUS : "") + text;
}

export function formatInteger(value) {
  const n = finite(value);
  return n === null ? DASH : integer.format(n);
}

export function formatCompact(value) {
  const n = finite(value);
  return n === null ? DASH : compact.format(n);
}

const pad = (n) => String(n).padStart(2, "0");

export function formatClock(ms) {
  const d = new Date(ms);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

export function formatDay(ms) {
  const d = new Date(ms);
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
}

export function formatDateTime(ms, timeframe) {
  const d = new Date(ms);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return timeframe === "1d" ? `${date} UTC` : `${date} ${formatClock(ms)} UTC`;
}

// Direction of a change, as a CSS class name.
export function direction(value) {
  const n = finite(value);
  if (n === null || n === 0) return "flat";
  return n > 0 ? "up" : "down";
}
