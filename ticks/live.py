"""Live generation: every beat, advance each active ticker by the steps due on its grid.

Catch-up based: a ticker's state holds its last generated tick, so a late, missed or doubled
beat generates exactly the missing steps (a doubled one finds nothing due, or loses the
compare-and-set). Gaps longer than ``MAX_CATCHUP_SECONDS`` are skipped (logged), ``seq``
staying consecutive. Ticker configs come from a per-process cache (``ticks.live_configs``), so
no beat waits on the database; the state lives in Redis and is rebuilt from the database
(``TickerState``, the exact state at the last stored tick) when Redis lost it, so the path
continues identically and lost ticks are regenerated equal to themselves.

A ticker on an exchange calendar advances only through its open periods (its sessions come
with the cached configs): nothing while closed, and a closure is no gap to skip. The cycle
announces its session's open and close (``ticks.session_announce``) with its ticks.

With ``GENERATION_SHARDS`` above 1 a cycle advances one shard's tickers (``ticks.shards``:
ticker id mod N) under that shard's lease; everything else is the same, per ticker.

A cycle is four steps: ``_plan`` (which tickers move, from which state), ``_advance`` (the
engine), ``_package`` (payloads, live-store records, per-ticker writes) and ``_commit`` (one
atomic Redis commit, then the ticks are announced to whoever listens: ``ticks.announce``).
"""

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import DatabaseError

from . import event_cycle, live_store, metrics
from .config_version import config_version
from .lease import lease
from .live_configs import ConfigCache, active_configs
from .live_store import BUFFER_MAX_ENTRIES, KEYS, LiveState, TickerWrite, tick_record
from .market import (
    encode_batch,
    engine_state,
    fresh_start,
    from_ms,
    grid_point_before,
    stored_state_at_newest,
    to_ms,
    vol_dumps,
)
from .models import Ticker
from .payloads import TickPayload
from .redis_store import get_redis
from .selectors import series_neighbour_ms
from .shards import ALL, Shard, record_cycle, worker_name

logger = logging.getLogger(__name__)

MAX_TICKS_PER_CYCLE = 50_000
# The lease only saves duplicate work; the compare-and-set on the state is what keeps one writer.
# A worker killed while holding it stalls generation until it expires: short, renewed meanwhile.
LEASE_TTL_MS = 2_000


@dataclass
class CycleReport:
    ticks: int = 0
    tickers: int = 0
    skipped: str | None = None  # why nothing was written ("locked", "conflict", ...)
    gaps: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PlannedTicker:
    """A ticker this cycle advances: its start state and what the compare-and-set expects."""

    index: int  # in the cached configs (tickers and engine params)
    ticker: Ticker
    start: LiveState
    expected: str  # the state string read from Redis, "" if none
    moved: bool  # its state changes even without a tick (new, resumed or skipped ahead)


@dataclass(slots=True)
class CyclePlan:
    paused: list[TickerWrite] = field(default_factory=list)  # deactivated since the last cycle
    tickers: list[PlannedTicker] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)


def _initial_state(ticker: Ticker, now_ms: int) -> LiveState | None:
    """State for a ticker Redis knows nothing about: the database's, else a fresh start.

    Redis that lost the state may have lost the bar refresh's dirty range with it, so the bars
    from the newest stored 1m bar (or the oldest tick without one) to the newest tick are marked
    for a refresh: ticks flushed but not yet rolled up are all in that range.
    """
    try:
        stored = stored_state_at_newest(ticker)
        if stored is not None:
            seq, time_ms, log_price, vol = stored
            rolled_from = series_neighbour_ms(
                ticker_id=ticker.pk, timeframe="1m", at=from_ms(time_ms + 1), before=True
            )
            if rolled_from is None:
                rolled_from = series_neighbour_ms(
                    ticker_id=ticker.pk, timeframe=None, at=from_ms(0), before=False
                )
    except DatabaseError:
        logger.warning("no state for %s and the database is unreachable; skipping it", ticker)
        return None
    if stored is not None:
        live_store.mark_dirty(rolled_from, time_ms)
        return LiveState(seq=seq, time_ms=time_ms, log_price=log_price, vol=vol)
    return LiveState(*fresh_start(ticker, now_ms=now_ms))


def ticks_generate(*, now: datetime, shard: Shard = ALL, worker: str | None = None) -> CycleReport:
    """One generation cycle of ``shard``'s tickers (all of them by default) at ``now``: one
    writer per shard (its lease), one per ticker (compare-and-set). ``worker``: who runs it
    (``market_status`` shows it; default host and pid)."""
    with lease(shard.lease_name, ttl_ms=LEASE_TTL_MS) as held:
        if not held:
            return CycleReport(skipped="locked")
        started = time.perf_counter()
        report = _cycle(now, shard)
        metrics.generation_cycle(
            shard.name, seconds=time.perf_counter() - started, ticks=report.ticks
        )
        if report.ticks:
            live_store.record_samples("generate_ms", [(time.perf_counter() - started) * 1000])
        record_cycle(
            shard,
            worker=worker or worker_name(),
            now_ms=to_ms(now),
            ticks=report.ticks,
            tickers=report.tickers,
        )
        return report


def _cycle(now: datetime, shard: Shard) -> CycleReport:
    version = config_version()
    configs = active_configs(version)
    # events: never past the start of an event the configs may not have yet
    now_ms = event_cycle.hold_for_new_events(to_ms(now), loaded=configs.version, current=version)
    members = shard.members(configs.tickers)
    plan = _plan(configs, members, shard, get_redis().hgetall(KEYS.state), now_ms)
    if not members:
        if plan.paused:
            live_store.commit_cycle(
                tickers=plan.paused,
                rows=b"",
                meta={},
                count=0,
                now_ms=now_ms,
                max_entries=BUFFER_MAX_ENTRIES * shard.count,
            )
        return CycleReport(skipped="no active tickers")
    if not plan.tickers:
        return CycleReport(skipped="no state")
    batch, new, steps = _advance(plan, configs, now_ms)
    writes, ticks_by_symbol = _package(plan, batch, new)
    report = CycleReport(gaps=plan.gaps)
    writes = plan.paused + writes
    if not writes:  # nothing moved (e.g. every ticker's market closed): statuses still due
        event_cycle.announce_cycle({}, configs, now_ms, members)
        return report
    if not _commit(plan, writes, batch, new, steps, now_ms, shard):
        return CycleReport(skipped="conflict")
    # the ticks, with the halts' and sessions' status changes in time order
    event_cycle.announce_cycle(ticks_by_symbol, configs, now_ms, members)
    report.ticks = len(batch)
    report.tickers = len(plan.tickers)
    return report


def _plan(
    configs: ConfigCache,
    members: list[int],
    shard: Shard,
    raw_states: dict[bytes, bytes],
    now_ms: int,
) -> CyclePlan:
    """Which of the shard's tickers (``members``: positions in ``configs``) move this cycle and
    from which state; the shard's deactivated ones get paused."""
    plan = CyclePlan()
    active_ids = {str(t.pk) for t in configs.tickers}
    for tid, raw in raw_states.items():
        tid = tid.decode()
        if tid not in active_ids and shard.owns(int(tid)):
            state = LiveState.loads(raw)
            if state.active:  # a CAS like every write
                plan.paused.append(
                    TickerWrite(
                        id=tid,
                        expected=raw.decode(),
                        symbol=f"#{tid}",
                        state=replace(state, active=False),
                    )
                )
    if not members:
        return plan
    max_gap_steps = np.maximum(
        1, settings.MAX_CATCHUP_SECONDS * 1000 // configs.params.interval_ms
    ).tolist()
    tickers = configs.tickers
    for i in members:
        ticker = tickers[i]
        raw = raw_states.get(str(ticker.pk).encode())
        state = LiveState.loads(raw) if raw else _initial_state(ticker, now_ms)
        if state is None:
            continue
        iv = ticker.tick_interval_ms
        moved = raw is None or not state.active
        if not state.active:
            # Re-activated: resume at the last price from now, not by replaying the pause.
            state = replace(state, time_ms=grid_point_before(now_ms, iv), active=True)
        elif event_cycle.due_points(configs, i, state.time_ms, now_ms, iv) > max_gap_steps[i]:
            skipped_to = grid_point_before(now_ms, iv, steps_back=max_gap_steps[i])
            logger.warning(
                "%s: %.1f s since its last tick exceeds MAX_CATCHUP_SECONDS; "
                "skipping to %d (seq stays consecutive)",
                ticker.symbol,
                (now_ms - state.time_ms) / 1000,
                skipped_to,
            )
            plan.gaps.append(ticker.symbol)
            state = replace(state, time_ms=skipped_to)
            moved = True
        plan.tickers.append(
            PlannedTicker(
                index=i,
                ticker=ticker,
                start=state,
                expected=raw.decode() if raw else "",
                moved=moved,
            )
        )
    return plan


def _advance(plan: CyclePlan, configs: ConfigCache, now_ms: int):
    """The engine step: ``(batch, new engine state, steps per ticker)``.

    Catching up after downtime goes in bounded slices (the rest on the next beats), so one cycle
    never builds a batch too large for memory or for one Redis command."""
    planned = plan.tickers
    start = engine_state(
        [(p.start.seq, p.start.time_ms, p.start.log_price, p.start.vol) for p in planned]
    )
    per_ticker_cap = max(1, MAX_TICKS_PER_CYCLE // len(planned))
    # the engine with the planned tickers' scenario events (halts skip grid points)
    index = np.array([p.index for p in planned])
    return event_cycle.advance(configs, index, start, now_ms, per_ticker_cap)


def _package(plan: CyclePlan, batch, new) -> tuple[list[TickerWrite], dict[str, list[TickPayload]]]:
    """Each moved ticker's write (new state, live-store records) and its tick payloads."""
    columns = list(
        zip(
            batch.price_cents.tolist(),
            batch.volume.tolist(),
            batch.bid_cents.tolist(),
            batch.ask_cents.tolist(),
            batch.time_ms.tolist(),
            batch.seq.tolist(),
        )
    )
    new_seq, new_time, new_x = new.seq.tolist(), new.time_ms.tolist(), new.log_price.tolist()
    known = np.isfinite(new.vol).all(axis=1).tolist()  # constant tickers: nan, no factors
    new_vol = [tuple(row) if ok else None for row, ok in zip(new.vol.tolist(), known)]
    bounds = batch.offsets(len(plan.tickers)).tolist()
    make_tick = TickPayload._make  # measured 3x faster than calling the class per tick
    writes: list[TickerWrite] = []
    ticks_by_symbol: dict[str, list[TickPayload]] = {}
    for j, planned in enumerate(plan.tickers):
        lo, hi = bounds[j], bounds[j + 1]
        if hi == lo and not planned.moved:
            continue  # nothing due and nothing to record
        symbol = planned.ticker.symbol
        ticks = [make_tick((symbol, *row)) for row in columns[lo:hi]]
        if ticks:
            ticks_by_symbol[symbol] = ticks
        writes.append(
            TickerWrite(
                id=str(planned.ticker.pk),
                expected=planned.expected,
                symbol=symbol,
                state=LiveState(new_seq[j], new_time[j], new_x[j], vol=new_vol[j]),
                records=[(t[5], tick_record(t)) for t in ticks],
            )
        )  # t[5]: time_ms
    return writes, ticks_by_symbol


def _state_entry(new, j: int) -> list:
    """``[seq, time_ms, log_price hex]`` (+ the volatility factors, when known) for the flush's
    TickerState."""
    entry = [int(new.seq[j]), int(new.time_ms[j]), float(new.log_price[j]).hex()]
    vol = vol_dumps(new.vol[j])
    if vol is not None:
        entry.append(vol)
    return entry


def _commit(
    plan: CyclePlan, writes: list[TickerWrite], batch, new, steps, now_ms: int, shard: Shard
) -> bool:
    """One atomic commit of the cycle to Redis (False: another writer got there first)."""
    count = len(batch)
    rows, meta = b"", {}
    if count:
        tickers = [p.ticker for p in plan.tickers]
        rows = encode_batch(batch, np.array([t.pk for t in tickers], dtype=np.int64))
        meta = {
            "n": count,
            "t0": int(batch.time_ms.min()),
            "t1": int(batch.time_ms.max()),
            # The exact state at each ticker's last tick of this entry, for TickerState.
            "states": {
                str(tickers[j].pk): _state_entry(new, j) for j in np.flatnonzero(steps > 0).tolist()
            },
        }
    return live_store.commit_cycle(
        tickers=writes,
        rows=rows,
        meta=meta,
        count=count,
        now_ms=now_ms,
        max_entries=BUFFER_MAX_ENTRIES * shard.count,  # N shards: N entries per beat
    )
