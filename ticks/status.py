"""The live pipeline's health: per-ticker lag and rate, each generation shard's lag and worker,
buffer depth, last flush and rollup, and the storage layout of the ticks table."""

from dataclasses import asdict, dataclass, field

import redis
from django.conf import settings
from django.db import DatabaseError, connection

from .freshness import is_stale
from .live_store import KEYS, LiveState
from .market import from_ms, to_ms
from .market_clock import MINUS_INFINITY_MS, open_since_ms, ticker_session
from .market_time import market_now_ms
from .models import Ticker
from .redis_store import get_redis
from .shards import all_shards, cycle_records, shard_of
from .storage import tick_storage

GENERATION_STALL_MS = 5_000  # no generation cycle for this long: stalled
FLUSH_STALL_MS = 30_000  # ticks waiting and no flush for this long: stalled


@dataclass
class TickerStatus:
    symbol: str
    last_tick_ms: int | None
    lag_ms: int | None
    ticks_last_minute: int
    stalled: bool
    stale: bool  # ticks.freshness: market open, no new tick for GENERATION_STALE_SECONDS
    calendar: str = "24/7"
    session: str = "open"  # open, pre, post, break or closed (ticks.market_clock)
    next_open_ms: int | None = None  # None for 24/7, which never closes
    next_close_ms: int | None = None


@dataclass
class ShardStatus:
    """One generation shard (``GENERATION_SHARDS``; ``ticks.shards``)."""

    shard: str  # "index/count"
    tickers: int  # active tickers in it
    lag_ms: int | None  # now - the oldest of its tickers' last ticks (None: none has one)
    worker: str | None  # who ran its last cycle ("<celery node or host>:<pid>")
    last_cycle_ms: int | None
    held_by: str | None  # its lease's holder right now ("<host>:<pid>:<random>"), if any
    stalled: bool


@dataclass
class MarketStatus:
    now_ms: int
    tickers: list[TickerStatus] = field(default_factory=list)
    shards: list[ShardStatus] = field(default_factory=list)
    buffer_entries: int = 0
    buffer_ticks: int = 0
    generated_at_ms: int | None = None
    flushed_at_ms: int | None = None
    rolled_at_ms: int | None = None
    storage: dict | None = None  # StorageInfo.as_dict() plus its one-line "summary"
    stale_after_s: float = 0.0  # GENERATION_STALE_SECONDS
    problems: list[str] = field(default_factory=list)

    @property
    def stalled(self) -> bool:
        return bool(self.problems)

    def as_dict(self) -> dict:
        return {**asdict(self), "stalled": self.stalled}


def _int(value) -> int | None:
    return int(value) if value is not None else None


def live_generation_running(*, within_ms: int = GENERATION_STALL_MS) -> bool:
    """Did a live generation cycle run recently? (False when Redis cannot be reached.)"""
    try:
        stamp = get_redis().get(KEYS.generated_at)
    except redis.RedisError:
        return False
    return stamp is not None and market_now_ms() - int(stamp) < within_ms


def market_status(*, now_ms: int) -> MarketStatus:
    """Read-only snapshot. Redis or the database being unreachable is itself a problem."""
    status = MarketStatus(now_ms=now_ms, stale_after_s=settings.GENERATION_STALE_SECONDS)
    try:
        tickers = list(Ticker.objects.filter(is_active=True).order_by("symbol"))
    except DatabaseError as exc:
        status.problems.append(f"database unreachable: {exc}".strip())
        tickers = []
    else:
        info = tick_storage(connection).describe(connection)
        status.storage = {**info.as_dict(), "summary": info.summary()}
    r = get_redis()
    try:
        pipe = r.pipeline()
        pipe.hgetall(KEYS.state)
        pipe.xlen(KEYS.buffer)
        pipe.get(KEYS.buffer_ticks)
        pipe.mget(KEYS.generated_at, KEYS.flushed_at, KEYS.rolled_at)
        shards = all_shards(settings.GENERATION_SHARDS)
        pipe.mget([KEYS.lock(s.lease_name) for s in shards])
        for t in tickers:
            pipe.xrange(KEYS.replay(t.symbol), min=f"{now_ms - 60_000}-0", max="+")
        states, entries, ticks, stamps, holders, *recent = pipe.execute()
        records = cycle_records(len(shards))
    except redis.RedisError as exc:
        status.problems.append(f"redis unreachable: {exc}")
        return status
    status.buffer_entries, status.buffer_ticks = entries, int(ticks or 0)
    status.generated_at_ms, status.flushed_at_ms, status.rolled_at_ms = map(_int, stamps)
    for ticker, window in zip(tickers, recent):
        raw = states.get(str(ticker.pk).encode())
        last = LiveState.loads(raw).time_ms if raw else None
        lag = now_ms - last if last is not None else None
        session = _session(ticker, now_ms)
        stalled = _stalled(ticker, last, now_ms)
        stale = is_stale(
            symbol=ticker.symbol,
            last_tick_ms=last,
            tick_interval_ms=ticker.tick_interval_ms,
            now_ms=now_ms,
            calendar=ticker.calendar,
            extended_hours=ticker.extended_hours,
        )
        status.tickers.append(
            TickerStatus(
                ticker.symbol,
                last,
                lag,
                len(window),
                stalled,
                stale,
                calendar=ticker.calendar,
                session=session.phase,
                next_open_ms=_ms_or_none(session.next_open),
                next_close_ms=_ms_or_none(session.next_close),
            )
        )
        if stalled:
            status.problems.append(
                f"{ticker.symbol}: no tick yet"
                if lag is None
                else f"{ticker.symbol}: last tick {lag / 1000:.1f} s ago"
            )
    _shard_statuses(status, shards, tickers, holders, records)
    if tickers and (
        status.generated_at_ms is None or now_ms - status.generated_at_ms > GENERATION_STALL_MS
    ):
        status.problems.append("generation is not running")
    if status.buffer_ticks and (
        status.flushed_at_ms is None or now_ms - status.flushed_at_ms > FLUSH_STALL_MS
    ):
        status.problems.append(f"{status.buffer_ticks} ticks waiting and no recent flush")
    return status


def _session(ticker: Ticker, now_ms: int):
    return ticker_session(
        calendar=ticker.calendar, extended_hours=ticker.extended_hours, at=from_ms(now_ms)
    )


def _ms_or_none(moment) -> int | None:
    return None if moment is None else to_ms(moment)


def _stalled(ticker: Ticker, last: int | None, now_ms: int) -> bool:
    """No tick for longer than the stall limit while one was due: the market has been open
    since before the limit and the newest tick (if any) is older. A closed market, or one that
    just opened, is not stalled."""
    since = open_since_ms(ticker.calendar, ticker.extended_hours, now_ms)
    if since is None:
        return False
    limit = max(GENERATION_STALL_MS, 3 * ticker.tick_interval_ms)
    due = max(since, last) if last is not None else since
    if last is None and since == MINUS_INFINITY_MS:
        return True  # a 24/7 ticker that never ticked
    return now_ms - due > limit


def _shard_statuses(status, shards, tickers, holders, records) -> None:
    """Each shard's tickers, lag (its most lagging ticker's), last worker and current holder."""
    lags: dict[int, list[int | None]] = {s.index: [] for s in shards}
    for ticker, row in zip(tickers, status.tickers):
        lags[shard_of(ticker.pk, len(shards))].append(row.lag_ms)
    for shard, held in zip(shards, holders):
        record = records.get(shard.name)
        known = [lag for lag in lags[shard.index] if lag is not None]
        last_cycle = record["at"] if record else None
        stalled = bool(lags[shard.index]) and (
            last_cycle is None or status.now_ms - last_cycle > GENERATION_STALL_MS
        )
        status.shards.append(
            ShardStatus(
                shard=shard.name,
                tickers=len(lags[shard.index]),
                lag_ms=max(known) if known else None,
                worker=record["worker"] if record else None,
                last_cycle_ms=last_cycle,
                held_by=held.decode() if held is not None else None,
                stalled=stalled,
            )
        )
        if stalled and len(shards) > 1:
            status.problems.append(
                f"generation shard {shard.name}: no cycle yet"
                if last_cycle is None
                else f"generation shard {shard.name}: last cycle "
                f"{(status.now_ms - last_cycle) / 1000:.1f} s ago ({record['worker']})"
            )
