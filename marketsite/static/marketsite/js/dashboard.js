// The live market dashboard: the ticker table, the selected ticker's chart and stats, and the
// connection to /ws. The page's first state comes from the server (the JSON config in the page);
// everything after that from /ws (ticks, 1m bars) and the REST API (bars, stats).

import { Api, TokenKeeper } from "./api.js";
import { CandleSeries, TIMEFRAME_MS, bucketStart } from "./candles.js";
import { CandleChart } from "./chart.js";
import * as fmt from "./format.js";
import { Sessions } from "./sessions.js";
import { renderStats } from "./stats.js";
import { MarketStream } from "./stream.js";
import { TickerRow, arrow } from "./tickers.js";

const cfg = JSON.parse(document.getElementById("dashboard-config").textContent);

const MINUTE = 60_000;
const INITIAL_REPLAY_MS = 10_000; // the first subscribe replays this much, to fill the table
const BAR_WINDOW = { "1m": 360, "5m": 288, "1h": 336, "1d": 90 }; // candles loaded per timeframe
const STATS_EVERY_MS = 10_000;
const LATEST_BARS_EVERY_MS = 10_000; // only 1m bars are streamed; larger ones are polled
const SPARK_REDRAW_MS = 1_000;

const $ = (selector, root = document) => root.querySelector(selector);
const body = document.body;
const canvas = $("#chart");
const chartBox = $("#chart-box");
const chartMessage = $("#chart-message");
const tbody = $("#ticker-table tbody");
const rowTemplate = $("#ticker-row");
const connection = $("#connection");

// Server time, estimated: the page's render time, then each `connected` greeting.
const clock = {
  offset: cfg.serverTimeMs - Date.now(),
  now() {
    return Date.now() + this.offset;
  },
};

const tokens = new TokenKeeper({ token: cfg.token, url: cfg.tokenUrl, maxAgeS: cfg.tokenMaxAgeS });
const api = new Api({ base: cfg.apiBase, tokens, header: cfg.tokenHeader });

const view = {
  selected: cfg.selected,
  timeframe: cfg.timeframe,
  series: null,
  loadSerial: 0,
  loads: 0,
  barsError: "",
  barsRetry: null,
  reloadTimer: null,
  needsReload: false,
  awaitingSubscribed: false,
  lastSubscribe: null,
  ticks: 0,
  gaps: 0,
};

const tickers = new Map(); // symbol -> TickerRow

// --- Trading sessions of calendar tickers (24/7 ones have none) ------------------------------
const sessionsByKey = new Map();
function sessionsOf(symbol) {
  const row = cfg.tickers.find((t) => t.ticker === symbol);
  const key = row ? row.session : null;
  if (!key || !cfg.sessions || !cfg.sessions[key]) return null;
  if (!sessionsByKey.has(key)) sessionsByKey.set(key, new Sessions(cfg.sessions[key]));
  return sessionsByKey.get(key);
}

// Each calendar ticker's phase in its row (a badge unless open) and the chart head's "closed,
// opens in 3 h 12 min"; every second, and when a session status arrives.
function showSessions() {
  const now = clock.now();
  for (const rec of tickers.values()) {
    const sessions = sessionsOf(rec.symbol);
    const here = sessions ? sessions.at(now) : null;
    let badge = rec.row.querySelector(".badge.session");
    const show = here && here.phase !== "open";
    if (show && !badge) {
      badge = document.createElement("span");
      badge.className = "badge session";
      rec.row.querySelector(".col-symbol .sym")?.after(" ", badge);
    } else if (!show && badge) {
      badge.remove();
    }
    if (show) {
      badge.textContent = here.phase;
      badge.title = sessions.label(now);
    }
    rec.row.dataset.session = here ? here.phase : "";
  }
  const box = $("#chart-session");
  const sessions = view.selected ? sessionsOf(view.selected) : null;
  const text = sessions ? sessions.label(now) : "";
  box.hidden = !text;
  if (box.textContent !== text) box.textContent = text;
  box.dataset.phase = sessions && text ? sessions.at(now).phase : "";
}

// Whether any listed ticker's market is open now (24/7 ones always are).
function anyMarketOpen(now) {
  return [...tickers.keys()].some((symbol) => {
    const sessions = sessionsOf(symbol);
    return !sessions || !sessions.knows(now) || sessions.isOpen(now);
  });
}

// --- The ticker table -----------------------------------------------------------------------

function addTicker(info) {
  let row = tbody.querySelector(`tr[data-ticker="${CSS.escape(info.ticker)}"]`);
  if (!row) {
    // A ticker that was not on the page (activated since): a row from the template.
    row = rowTemplate.content.firstElementChild.cloneNode(true);
    row.dataset.ticker = info.ticker;
    const link = row.querySelector("a");
    link.textContent = info.ticker;
    link.href = urlFor(info.ticker, view.timeframe);
    tbody.querySelector("tr.empty")?.remove();
    tbody.append(row);
    scheduleTickerInfo();
  }
  const dayOpen = cfg.dayOpen[info.ticker] ?? null;
  const rec = new TickerRow(info, row, {
    dayOpen, dayTime: bucketStart(cfg.serverTimeMs, "1d"), spark: cfg.sparklines[info.ticker] || [],
  });
  tickers.set(info.ticker, rec);
  return rec;
}

let infoTimer = null;
function scheduleTickerInfo() {
  // A ticker that appeared after the page loaded: fetch its name and sector once things settle.
  clearTimeout(infoTimer);
  infoTimer = setTimeout(async () => {
    try {
      const { data } = await api.get("tickers");
      for (const t of data || []) {
        const rec = tickers.get(t.ticker);
        if (rec && !rec.info.name) rec.setNames(t.name, t.sector);
      }
    } catch {
      /* names stay blank; prices still flow */
    }
  }, 1_500);
}

let renderFrame = 0;
let sparkTimer = null;
function scheduleRender() {
  if (!renderFrame) renderFrame = requestAnimationFrame(render);
}

function render() {
  renderFrame = 0;
  const now = performance.now();
  let pending = false;
  let anyPrice = false;
  for (const rec of tickers.values()) {
    if (rec.price !== null) anyPrice = true;
    if (!rec.dirty) continue;
    rec.dirty = false;
    rec.render();
    if (now - rec.sparkDrawnAt >= SPARK_REDRAW_MS) {
      rec.sparkDrawnAt = now;
      rec.renderSpark(clock.now());
    } else {
      rec.dirty = pending = true; // the sparkline is due later
    }
  }
  $("#waiting").hidden = anyPrice || tickers.size === 0;
  renderChartHead();
  body.dataset.ticks = String(view.ticks);
  body.dataset.seqGaps = String(view.gaps);
  if (pending && !sparkTimer) {
    sparkTimer = setTimeout(() => {
      sparkTimer = null;
      scheduleRender();
    }, SPARK_REDRAW_MS);
  }
}

// --- Ticks and bars from the stream -------------------------------------------------------------

function onTick(t) {
  const rec = tickers.get(t.ticker) || addTicker({ ticker: t.ticker, name: "", sector: "",
                                                    active: true, last_price: null });
  const missing = rec.applyTick(t);
  if (missing < 0) return;
  if (missing > 0) {
    view.gaps += missing;
    if (t.ticker === view.selected) reloadSoon();
  }
  view.ticks += 1;
  if (t.ticker === view.selected && view.series) {
    view.series.applyTick(t);
    chartChanged();
  }
  scheduleRender();
}

// --- Scenario events: halts shown in the table and the chart head, markers on the chart ------
const halted = new Map(); // symbol -> reason, while halted
const EVENT_LABELS = { move: "move", gap: "gap", volatility: "vol ×", halt: "halt", resume: "resume" };

function setHalted(symbol, isHalted, reason) {
  if (isHalted) halted.set(symbol, reason || "halted");
  else halted.delete(symbol);
  const rec = tickers.get(symbol);
  if (rec && rec.row) {
    rec.row.classList.toggle("halted", isHalted);
    let badge = rec.row.querySelector(".badge.halt");
    if (isHalted && !badge) {
      badge = document.createElement("span");
      badge.className = "badge halt";
      badge.textContent = "halted";
      rec.row.querySelector(".col-symbol .sym")?.after(" ", badge);
    } else if (!isHalted && badge) {
      badge.remove();
    }
    if (badge) badge.title = reason || "";
  }
  if (symbol === view.selected) showHaltState();
}

function showHaltState() {
  const box = $("#chart-halt");
  if (!box) return;
  const reason = view.selected ? halted.get(view.selected) : undefined;
  box.hidden = reason === undefined;
  box.textContent = reason === undefined ? "" : `Halted: ${reason}`;
}

const SESSION_STATUSES = ["open", "pre", "post", "break", "closed"];

function onStatus(s) {
  if (!s || !s.ticker) return;
  if (SESSION_STATUSES.includes(s.status)) {
    showSessions(); // a session's open or close: the page's own periods say the same
    if (s.ticker === view.selected) chartChanged();
    return;
  }
  setHalted(s.ticker, s.status === "halted", s.reason);
  if (s.ticker === view.selected) loadEvents();
}

function eventLabel(e) {
  if (e.kind === "volatility") return `vol ×${e.vol_factor}`;
  if (e.change_pct !== null && e.change_pct !== undefined) {
    return `${e.kind} ${e.change_pct > 0 ? "+" : ""}${e.change_pct}%`;
  }
  return EVENT_LABELS[e.kind] || e.kind;
}

async function loadEvents() {
  const symbol = view.selected;
  if (!symbol) return;
  try {
    const { data } = await api.get("events", { ticker: symbol });
    if (symbol !== view.selected) return;
    const events = (data || []).filter((e) => e.status !== "cancelled");
    chart.setMarkers(events.map((e) => ({
      start: Date.parse(e.start), end: Date.parse(e.end), kind: e.kind, label: eventLabel(e),
    })));
    const running = events.find((e) => e.kind === "halt" && e.status === "running");
    setHalted(symbol, Boolean(running), running ? running.reason || "scheduled halt" : "");
  } catch {
    /* markers are a garnish: the next load tries again */
  }
}

function onBar(bar) {
  const rec = tickers.get(bar.ticker);
  if (!rec) return;
  rec.applyBar(bar);
  if (bar.ticker === view.selected && view.series && bar.timeframe === view.timeframe) {
    view.series.applyBar(bar);
    chartChanged();
  }
  scheduleRender();
}

// Where the previous connection left off: the oldest last tick among the tickers that were
// ticking (duplicates from the overlap are dropped by seq).
function resumePoint() {
  const times = [...tickers.values()].map((r) => r.lastTickTs).filter((t) => t !== null);
  if (!times.length) return null;
  const newest = Math.max(...times);
  return Math.min(...times.filter((t) => t >= newest - MINUTE));
}

function subscription(serverTimeMs, resume) {
  if (serverTimeMs) clock.offset = serverTimeMs - Date.now();
  // Batch mode: one `ticks` frame per generation cycle rather than one frame per tick.
  const msg = { type: "subscribe", tickers: "*", channels: ["ticks", "bars"], batch: true };
  const since = resume ? resumePoint() : cfg.serverTimeMs - INITIAL_REPLAY_MS;
  const limit = cfg.replaySeconds * 1000 - 5_000;
  if (since !== null && clock.now() - since < limit) {
    msg.since = Math.floor(since);
  } else if (resume) {
    view.needsReload = true; // the drop outlasted the replay window: reload what the page shows
  }
  view.awaitingSubscribed = true;
  view.lastSubscribe = msg;
  return msg;
}

function onMessage(msg) {
  switch (msg.type) {
    case "tick":
      if (msg.data) onTick(msg.data);
      break;
    case "ticks":
      if (Array.isArray(msg.data)) msg.data.forEach(onTick);
      break;
    case "bar":
      if (msg.data) onBar(msg.data);
      break;
    case "status":
      onStatus(msg.data);
      break;
    case "subscribed":
      view.awaitingSubscribed = false;
      break;
    case "error":
      console.warn("stream error", msg.code, msg.message);
      if (view.awaitingSubscribed && view.lastSubscribe && "since" in view.lastSubscribe) {
        // The server would not replay from there: take the live stream and reload instead.
        const { since, ...plain } = view.lastSubscribe;
        view.lastSubscribe = plain;
        view.needsReload = true;
        stream.send(plain);
      } else if (view.awaitingSubscribed) {
        stream.reconnect(); // e.g. the server's market data is unavailable for a moment
      }
      break;
    default:
      break;
  }
}

function showConnection(state, detail = {}) {
  // The state is announced (role=status); the ticking countdown beside it is not.
  const text = $(".conn-text", connection);
  const countdown = $(".conn-detail", connection);
  if (state === "stale" && tickers.size && !anyMarketOpen(clock.now())) {
    state = "closed"; // no ticks because every market shown is closed: nothing is wrong
  }
  const words = { live: "live", connecting: "connecting…", stale: "connected — no ticks",
                  closed: "connected — markets closed",
                  disconnected: "disconnected — retrying" }[state];
  if (text.textContent !== words) text.textContent = words;
  if (state === "stale") {
    countdown.textContent = ` for ${Math.round((detail.sinceMs || 0) / 1000)} s`;
  } else if (state === "disconnected") {
    const seconds = Math.ceil((detail.retryInMs || 0) / 1000);
    countdown.textContent = seconds > 0 ? ` in ${seconds} s` : "…";
  } else {
    countdown.textContent = "";
  }
  $(".conn-retry", connection).hidden = state !== "disconnected";
  connection.dataset.state = state;
  body.dataset.connection = state;
}

const stream = new MarketStream({
  url: async () => {
    const token = await tokens.fresh();
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = token ? `?${cfg.tokenParam}=${encodeURIComponent(token)}` : "";
    return `${scheme}//${location.host}${cfg.wsPath}${query}`;
  },
  subscription,
  onMessage,
  onState: showConnection,
  onSubscribed(count) {
    body.dataset.wsConnects = String(count);
    if (count > 1) {
      // A reconnect: refresh the stats; reload the chart only if the replay could not cover it.
      loadStats();
      if (view.needsReload) {
        view.needsReload = false;
        loadBars();
      }
    }
  },
});

// --- The chart ----------------------------------------------------------------------------------

const chart = new CandleChart(canvas, { onCursor: showReadout, now: () => clock.now() });

function showReadout(candle, pinned) {
  const readout = $("#chart-readout");
  if (!candle) {
    readout.textContent = "";
    return;
  }
  const when = fmt.formatDateTime(candle.time, view.timeframe);
  readout.innerHTML = "";
  const parts = [["", when], ["O", fmt.formatPrice(candle.open)], ["H", fmt.formatPrice(candle.high)],
                 ["L", fmt.formatPrice(candle.low)], ["C", fmt.formatPrice(candle.close)],
                 ["V", fmt.formatInteger(candle.volume)]];
  for (const [label, value] of parts) {
    const span = document.createElement("span");
    if (label) {
      const b = document.createElement("b");
      b.textContent = label;
      span.append(b, " ");
    }
    span.append(value);
    readout.append(span);
  }
  readout.classList.toggle("pinned", pinned);
}

let chartFrame = 0;
function chartChanged() {
  chart.invalidate();
  if (!chartFrame) {
    chartFrame = requestAnimationFrame(() => {
      chartFrame = 0;
      updateChartMessage();
    });
  }
}

function setChartMessage(text, kind = "overlay") {
  chartMessage.textContent = text || "";
  chartMessage.hidden = !text;
  chartMessage.className = `chart-message ${kind}`;
}

function updateChartMessage() {
  const candles = view.series ? view.series.length : 0;
  chartBox.dataset.state = !view.selected ? (cfg.unknownTicker ? "unknown" : "none")
    : view.barsError ? "error" : candles ? "ready" : view.loadSerial > view.loads ? "loading" : "empty";
  if (!view.selected) {
    setChartMessage(cfg.unknownTicker
      ? `Unknown ticker “${cfg.unknownTicker}”. Choose one from the table.`
      : tickers.size ? "Choose a ticker from the table." : "No active tickers yet. Add or activate one in the admin.");
  } else if (view.barsError) {
    setChartMessage(`Could not load ${view.timeframe} bars: ${view.barsError}. Retrying…`,
                    candles ? "banner" : "overlay");
  } else if (!candles) {
    setChartMessage(view.loadSerial > view.loads
      ? `Loading ${view.selected} ${view.timeframe} bars…`
      : `Waiting for data: no ${view.timeframe} bars for ${view.selected} yet. Candles appear with the first ticks.`);
  } else {
    setChartMessage("");
  }
}

function renderChartHead() {
  const rec = view.selected ? tickers.get(view.selected) : null;
  $("#chart-symbol").textContent = view.selected || cfg.unknownTicker || "";
  $("#chart-name").textContent = rec ? rec.info.name : "";
  const { change, pct } = rec ? rec.change() : { change: null, pct: null };
  const dir = fmt.direction(change);
  $("#chart-price").textContent = rec ? fmt.formatPrice(rec.price) : "";
  const changeEl = $("#chart-change");
  changeEl.textContent = rec && change !== null
    ? `${arrow(dir)}${fmt.formatSigned(change)} (${fmt.formatPercent(pct)})` : "";
  changeEl.className = `quote-change ${dir}`;
  if (rec && rec.price !== null) {
    document.title = `${view.selected} ${fmt.formatPrice(rec.price)} · Synthetic Market`;
  }
}

async function loadBars() {
  clearTimeout(view.barsRetry);
  if (!view.selected) {
    view.series = null;
    chart.setSeries(null, "");
    updateChartMessage();
    return;
  }
  const serial = ++view.loadSerial;
  const symbol = view.selected;
  const timeframe = view.timeframe;
  const series = new CandleSeries(timeframe);
  const ring = tickers.get(symbol)?.ring || [];
  ring.forEach((t) => series.applyTick(t)); // live candles at once, bars when they come
  view.series = series;
  view.barsError = "";
  chart.setSeries(series, `${symbol} · ${timeframe}`);
  canvas.dataset.ticker = symbol;
  canvas.dataset.timeframe = timeframe;
  updateChartMessage();
  const width = TIMEFRAME_MS[timeframe];
  const count = BAR_WINDOW[timeframe];
  const sessions = sessionsOf(symbol);
  chart.setSessions(sessions);
  // a calendar ticker's candles: `count` of them in open time, however long it was closed
  const from = sessions && timeframe !== "1d"
    ? bucketStart(sessions.startFor(clock.now(), count * width), timeframe)
    : bucketStart(clock.now(), timeframe) - (count - 1) * width;
  const start = new Date(from);
  try {
    const { data } = await api.get(`bars/${encodeURIComponent(symbol)}`,
                                   { timeframe, start: start.toISOString(), limit: count + 5 });
    if (serial !== view.loadSerial) return;
    series.setBars(Array.isArray(data) ? data : []);
    ring.forEach((t) => series.applyTick(t));
    view.loads = serial;
    canvas.dataset.loads = String(Number(canvas.dataset.loads || 0) + 1);
  } catch (error) {
    if (serial !== view.loadSerial) return;
    view.loads = serial;
    view.barsError = error.message || "failed";
    view.barsRetry = setTimeout(loadBars, 5_000);
  }
  chartChanged();
}

function reloadSoon() {
  clearTimeout(view.reloadTimer);
  view.reloadTimer = setTimeout(loadBars, 1_500); // let the flush and rollup catch up first
}

async function pollLatestBars() {
  if (document.hidden || !view.selected || view.timeframe === "1m" || !view.series || view.barsError) return;
  const { selected: symbol, timeframe, series } = view;
  try {
    const { data } = await api.get(`bars/${encodeURIComponent(symbol)}`, { timeframe, limit: 2 });
    if (series !== view.series) return;
    for (const row of data || []) series.applyBar({ ...row, timeframe });
    chartChanged();
  } catch {
    /* the next poll tries again */
  }
}

// --- Stats --------------------------------------------------------------------------------------

let statsSerial = 0;
async function loadStats() {
  const panel = $("#stats");
  const message = $("#stats-message");
  if (!view.selected) {
    panel.hidden = true;
    message.textContent = "No ticker selected.";
    return;
  }
  const serial = ++statsSerial;
  const symbol = view.selected;
  try {
    const { data } = await api.get(`stats/${encodeURIComponent(symbol)}`, { period: "1d" });
    if (serial !== statsSerial) return;
    const row = cfg.tickers.find((t) => t.ticker === symbol);
    renderStats(panel, data || {}, row ? row.tick_rate : 0);
    panel.hidden = false;
    message.textContent = "";
  } catch (error) {
    if (serial !== statsSerial) return;
    message.textContent = `Statistics unavailable: ${error.message}.`;
  }
}

// --- Selection, timeframe, URL ------------------------------------------------------------------

function urlFor(symbol, timeframe) {
  const params = new URLSearchParams();
  if (symbol) params.set("ticker", symbol);
  if (timeframe && timeframe !== cfg.timeframes[0]) params.set("timeframe", timeframe);
  const qs = params.toString();
  return qs ? `?${qs}` : location.pathname;
}

function markSelection() {
  for (const rec of tickers.values()) {
    const on = rec.info.ticker === view.selected;
    rec.row.classList.toggle("selected", on);
    if (on) rec.cells.link.setAttribute("aria-current", "true");
    else rec.cells.link.removeAttribute("aria-current");
    rec.cells.link.href = urlFor(rec.info.ticker, view.timeframe);
  }
  for (const button of document.querySelectorAll("[data-timeframe]")) {
    button.setAttribute("aria-pressed", String(button.dataset.timeframe === view.timeframe));
    button.disabled = !view.selected;
  }
}

function select(symbol, { timeframe = view.timeframe, push = true } = {}) {
  const changed = symbol !== view.selected || timeframe !== view.timeframe;
  view.selected = symbol;
  view.timeframe = timeframe;
  if (symbol) cfg.unknownTicker = null;
  if (push && changed) history.pushState(null, "", urlFor(symbol, timeframe));
  markSelection();
  renderChartHead();
  showSessions();
  if (changed || !view.series) {
    loadBars();
    loadStats();
    chart.setMarkers([]);
    showHaltState();
    loadEvents();
  }
}

function step(delta) {
  const symbols = [...tickers.keys()];
  if (!symbols.length) return;
  const i = symbols.indexOf(view.selected);
  const next = symbols[(i + delta + symbols.length) % symbols.length];
  select(next);
  tickers.get(next).cells.link.focus();
}

tbody.addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-ticker]");
  if (!row || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  select(row.dataset.ticker);
});

tbody.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const row = event.target.closest("tr[data-ticker]");
  const next = row && (event.key === "ArrowDown" ? row.nextElementSibling : row.previousElementSibling);
  if (next && next.querySelector("a")) {
    event.preventDefault();
    next.querySelector("a").focus();
  }
});

for (const button of document.querySelectorAll("[data-timeframe]")) {
  button.addEventListener("click", () => select(view.selected, { timeframe: button.dataset.timeframe }));
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  const index = ["1", "2", "3", "4"].indexOf(event.key);
  if (index >= 0 && cfg.timeframes[index] && view.selected) {
    select(view.selected, { timeframe: cfg.timeframes[index] });
  } else if (event.key === "[" || event.key === "]") {
    step(event.key === "]" ? 1 : -1);
  }
});

window.addEventListener("popstate", () => {
  const params = new URLSearchParams(location.search);
  const symbol = (params.get("ticker") || "").toUpperCase();
  const timeframe = cfg.timeframes.includes(params.get("timeframe")) ? params.get("timeframe") : cfg.timeframes[0];
  if (symbol && !tickers.has(symbol)) {
    location.reload(); // let the server say what it is
    return;
  }
  select(symbol || [...tickers.keys()][0] || null, { timeframe, push: false });
});

$(".conn-retry", connection).addEventListener("click", () => stream.retryNow());

// --- Feed freshness: the newest tick older than GENERATION_STALE_SECONDS (the server's rule) ---

const feedStale = $("#feed-stale");
function showFeedFreshness() {
  // Ticks are due only from the tickers whose market is open, and from its open on.
  const now = clock.now();
  const times = [];
  for (const r of tickers.values()) {
    if (r.lastTickTs === null) continue;
    const sessions = sessionsOf(r.symbol);
    if (!sessions || !sessions.knows(now)) times.push(r.lastTickTs);
    else if (sessions.isOpen(now)) times.push(Math.max(r.lastTickTs, sessions.openSince(now)));
  }
  const ageMs = times.length ? now - Math.max(...times) : 0;
  const stale = times.length > 0 && ageMs > cfg.staleAfterMs;
  feedStale.hidden = !stale;
  if (stale) feedStale.textContent = `stale — newest tick ${Math.round(ageMs / 1000)} s old`;
  body.dataset.feed = stale ? "stale" : "fresh";
}

// --- Start --------------------------------------------------------------------------------------

for (const info of cfg.tickers) addTicker(info);
markSelection();
scheduleRender();
loadBars();
loadStats();
tokens.start();
stream.start();
setInterval(() => {
  if (!document.hidden) loadStats();
}, STATS_EVERY_MS);
setInterval(pollLatestBars, LATEST_BARS_EVERY_MS);
loadEvents();
setInterval(() => { if (!document.hidden) loadEvents(); }, 30_000);
setInterval(showFeedFreshness, 1_000);
showSessions();
setInterval(showSessions, 1_000);
window.addEventListener("pageshow", (event) => {
  if (event.persisted) tokens.refresh().catch(() => {}); // restored from the back/forward cache
});
body.dataset.ready = "true";
