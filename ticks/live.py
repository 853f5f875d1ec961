"""Live generation: every beat, advance each active ticker by the steps due on its grid.

Catch-up based: a ticker's state holds its last generated tick, so a late, missed or doubled
beat generates exactly the missing steps (a doubled one finds nothing due, or loses the
compare-and-set). Gaps longer than ``MAX_CATCHUP_SECONDS`` are skipped (logged), ``seq``
staying consecutive. Ticker configs are cached per process and reloaded when the config
version in Redis moves (or every ``GENERATION_CONFIG_RELOAD_S``) by a background thread, so no
beat waits on the database, even a hung one; the state lives in Redis and is rebuilt
from the database (``TickerState``, the exact state at the last stored tick) when Redis lost it,
so the path continues identically and lost ticks are regenerated equal to themselves.
"""

import orjson
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection

from streaming.publish import publish_ticks, tick_data

from . import engine, live_store
from .config_version import config_version
from .lease import lease
from .live_store import KEYS, LiveState
from .market import from_ms, market_config, stored_state_at_newest, ticker_params, to_ms
from .models import Ticker
from .redis_store import get_redis
from .selectors import series_neighbour_ms
from .storage.copy import encode_rows

logger = logging.getLogger(__name__)

MAX_TICKS_PER_CYCLE = 50_000
CONFIG_RETRY_S = 1.0  # after a failed reload, try again this often (not every beat)
# The lease only saves duplicate work; the compare-and-set on the state is what keeps one writer.
# A worker killed while holding it stalls generation until it expires: short, renewed meanwhile.
LEASE_TTL_MS = 2_000


@dataclass
class _ConfigCache:
    version: int | None = None
    loaded_at: float = 0.0
    tickers: list[Ticker] = field(default_factory=list)
    params: engine.TickerParams | None = None
    market: engine.MarketConfig | None = None


def _load_configs(version: int) -> _ConfigCache:
    tickers = list(Ticker.objects.filter(is_active=True).order_by("pk"))
    cache = _ConfigCache(version=version, loaded_at=time.monotonic(), tickers=tickers,
                         params=ticker_params(tickers) if tickers else None,
                         market=market_config())
    logger.info("loaded %d active ticker config(s) (version %s)", len(tickers), version)
    return cache


class _Reloader:
    """Reloads the configs in a background thread of the generator's process, so a cycle never
    waits on the database: the cycle keeps generating with the configs it has until a reload
    succeeds, however long the database takes (down, or hung and answering nothing)."""

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._wanted: int | None = None
        self._pid: int | None = None
        self._failed_at = 0.0

    def request(self, version: int) -> None:
        with self._lock:
            if self._wanted == version:
                return
            self._wanted = version
            if self._pid != os.getpid():  # none yet in this process (or a forked child)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="config-reload", daemon=True).start()
        self._wake.set()

    def _run(self) -> None:
        global _cache
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                version = self._wanted
            try:
                _cache = _load_configs(version)
            except DatabaseError:
                logger.warning("database unavailable: generating with the cached ticker "
                               "configs; retrying in %.0f s", CONFIG_RETRY_S)
                time.sleep(CONFIG_RETRY_S)
            finally:
                connection.close()
                with self._lock:
                    self._wanted = None  # the next request asks again


_cache = _ConfigCache()
_retry_at = 0.0  # in-transaction callers: after a failed reload, when to try the database again
_reloader = _Reloader()


@dataclass
class CycleReport:
    ticks: int = 0
    tickers: int = 0
    skipped: str | None = None  # why nothing was written ("locked", "conflict", ...)
    gaps: list[str] = field(default_factory=list)


def _active_configs(version: int) -> _ConfigCache:
    """Active tickers and engine params, from the process cache; when that is stale (the version
    moved, or ``GENERATION_CONFIG_RELOAD_S`` passed) a background reload is asked for and the
    cache answers meanwhile. Only a process that has no configs yet reads them itself, and a
    caller inside a transaction does (another thread could not see its rows)."""
    global _cache, _retry_at
    cache = _cache
    now = time.monotonic()
    stale = (cache.version != version
             or now - cache.loaded_at >= settings.GENERATION_CONFIG_RELOAD_S)
    if not stale:
        return cache
    if cache.version is not None and not connection.in_atomic_block:
        _reloader.request(version)
        return cache
    if cache.version is not None and now < _retry_at:
        return cache
    try:
        _cache = cache = _load_configs(version)
    except DatabaseError:
        if cache.version is None:
            raise
        logger.warning("database unreachable: generating with the cached ticker configs")
        _retry_at = now + CONFIG_RETRY_S
    return cache


def reset_config_cache() -> None:
    global _cache, _retry_at
    _cache = _ConfigCache()
    _retry_at = 0.0


def _initial_state(ticker: Ticker, now_ms: int) -> LiveState | None:
    """State for a ticker Redis knows nothing about: the database's, else a fresh start.

    Redis that lost the state may have lost the bar refresh's dirty range with it, so the bars
    from the newest stored 1m bar (or the oldest tick without one) to the newest tick are marked
    for a refresh: ticks flushed but not yet rolled up are all in that range.
    """
    try:
        stored = stored_state_at_newest(ticker)
        if stored is not None:
            seq, time_ms, log_price = stored
            rolled_from = series_neighbour_ms(ticker_id=ticker.pk, timeframe="1m",
                                              at=from_ms(time_ms + 1), before=True)
            if rolled_from is None:
                rolled_from = series_neighbour_ms(ticker_id=ticker.pk, timeframe=None,
                                                  at=from_ms(0), before=False)
    except DatabaseError:
        logger.warning("no state for %s and the database is unreachable; skipping it", ticker)
        return None
    if stored is not None:
        live_store.mark_dirty(rolled_from, time_ms)
        return LiveState(seq=seq, time_ms=time_ms, log_price=log_price)
    iv = ticker.tick_interval_ms
    return LiveState(seq=-1, time_ms=(now_ms // iv - 1) * iv,
                     log_price=math.log(float(ticker.start_price)))


def ticks_generate(*, now: datetime) -> CycleReport:
    """One generation cycle at ``now``: single writer (lock + compare-and-set)."""
    with lease("generate", ttl_ms=LEASE_TTL_MS) as held:
        if not held:
            return CycleReport(skipped="locked")
        started = time.perf_counter()
        report = _cycle(now)
        if report.ticks:
            live_store.record_samples("generate_ms", [(time.perf_counter() - started) * 1000])
        return report


def _cycle(now: datetime) -> CycleReport:
    now_ms = to_ms(now)
    r = get_redis()
    version = config_version()
    configs = _active_configs(version)
    raw_states = r.hgetall(KEYS.state)
    report = CycleReport()
    active_ids = {str(t.pk) for t in configs.tickers}
    items = []
    # Tickers that were deactivated: mark their state paused (a CAS like every write).
    for tid, raw in raw_states.items():
        tid = tid.decode()
        if tid not in active_ids:
            state = LiveState.loads(raw)
            if state.active:
                items.append({"id": tid, "expected": raw.decode(),
                              "state": LiveState(state.seq, state.time_ms, state.log_price, False),
                              "symbol": f"#{tid}", "quote": None, "replay": []})
    if not configs.tickers:
        if items:
            live_store.commit_cycle(tickers=items, rows=b"", meta={}, count=0, now_ms=now_ms)
        return CycleReport(skipped="no active tickers")

    params = configs.params
    seq, time_ms, log_price, expected, keep, touched = [], [], [], [], [], []
    max_gap_steps = np.maximum(1, settings.MAX_CATCHUP_SECONDS * 1000 // params.interval_ms)
    for i, ticker in enumerate(configs.tickers):
        raw = raw_states.get(str(ticker.pk).encode())
        state = LiveState.loads(raw) if raw else _initial_state(ticker, now_ms)
        if state is None:
            continue
        iv = ticker.tick_interval_ms
        moved_state = raw is None or not state.active
        if not state.active:
            # Re-activated: resume at the last price from now, not by replaying the pause.
            state = LiveState(state.seq, (now_ms // iv - 1) * iv, state.log_price)
        elif now_ms // iv - state.time_ms // iv > max_gap_steps[i]:
            skipped_to = (now_ms // iv - int(max_gap_steps[i])) * iv
            logger.warning("%s: %.1f s since its last tick exceeds MAX_CATCHUP_SECONDS; "
                           "skipping to %d (seq stays consecutive)", ticker.symbol,
                           (now_ms - state.time_ms) / 1000, skipped_to)
            report.gaps.append(ticker.symbol)
            state = LiveState(state.seq, skipped_to, state.log_price)
            moved_state = True
        keep.append(i)
        touched.append(moved_state)
        seq.append(state.seq)
        time_ms.append(state.time_ms)
        log_price.append(state.log_price)
        expected.append(raw.decode() if raw else "")
    if not keep:
        return CycleReport(skipped="no state")
    index = np.array(keep)
    sub = params.take(index)
    start = engine.EngineState(seq=np.array(seq, dtype=np.int64),
                               time_ms=np.array(time_ms, dtype=np.int64),
                               log_price=np.array(log_price, dtype=np.float64))
    # Catching up after downtime goes in bounded slices (the rest on the next beats), so one
    # cycle never builds a batch too large for memory or for one Redis command.
    per_ticker_cap = max(1, MAX_TICKS_PER_CYCLE // len(keep))
    steps = np.minimum(engine.steps_due(start, sub, now_ms), per_ticker_cap)
    batch, new = engine.advance(sub, start, steps, configs.market)
    tickers = [configs.tickers[i] for i in keep]
    ids = np.array([t.pk for t in tickers], dtype=np.int64)
    offsets = batch.offsets(len(tickers))
    by_symbol: dict[str, list[dict]] = {}
    columns = zip(batch.price_cents.tolist(), batch.volume.tolist(), batch.bid_cents.tolist(),
                  batch.ask_cents.tolist(), batch.time_ms.tolist(), batch.seq.tolist())
    all_ticks = [tick_data(ticker="", price_cents=p, volume=v, bid_cents=b, ask_cents=a,
                           time_ms=t, seq=q) for p, v, b, a, t, q in columns]
    new_seq, new_time, new_x = new.seq.tolist(), new.time_ms.tolist(), new.log_price.tolist()
    bounds = offsets.tolist()
    for j, ticker in enumerate(tickers):
        lo, hi = bounds[j], bounds[j + 1]
        if hi == lo and not touched[j]:
            continue  # nothing due and nothing to record
        ticks = all_ticks[lo:hi]
        for t in ticks:
            t["ticker"] = ticker.symbol
        payloads = [orjson.dumps(t).decode() for t in ticks]
        by_symbol[ticker.symbol] = ticks
        items.append({
            "id": str(ticker.pk), "expected": expected[j],
            "state": LiveState(new_seq[j], new_time[j], new_x[j]),
            "symbol": ticker.symbol,
            "quote": payloads[-1] if payloads else "",
            "replay": [(t["timestamp"], d) for t, d in zip(ticks, payloads)],
        })
    if not items:
        return report
    count = len(batch)
    rows = b""
    meta: dict = {}
    if count:
        rows = encode_rows(ticker_id=ids[batch.ticker_index], time_ms=batch.time_ms,
                           seq=batch.seq, price_cents=batch.price_cents,
                           bid_cents=batch.bid_cents, ask_cents=batch.ask_cents,
                           volume=batch.volume)
        moved = steps > 0
        meta = {
            "n": count,
            "t0": int(batch.time_ms.min()),
            "t1": int(batch.time_ms.max()),
            # The exact state at each ticker's last tick of this entry, for TickerState.
            "states": {str(tickers[j].pk): [new_seq[j], new_time[j], new_x[j].hex()]
                       for j in np.flatnonzero(moved).tolist()},
        }
    if not live_store.commit_cycle(tickers=items, rows=rows, meta=meta, count=count,
                                   now_ms=now_ms):
        return CycleReport(skipped="conflict")
    publish_ticks({s: t for s, t in by_symbol.items() if t})
    report.ticks = count
    report.tickers = len(tickers)
    return report
