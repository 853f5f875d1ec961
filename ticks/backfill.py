"""Historical backfill: ticks before a ticker's earliest tick, generated backwards.

For each ticker the range ``[end - duration, min(end, earliest tick))`` is filled by rewinding
the engine from the earliest stored tick (or, for a ticker without ticks, from a virtual tick at
its start price on the first grid point at or after ``end``). A ticker on an exchange calendar
gets ticks at the grid points of its open periods only (``ticks.sessions``). "Now" (the future
a backfill refuses, the retention it respects) is market time (``ticks.market_time``). Chunks are written newest first,
each in its own transaction, so an interrupted run leaves no hole and a re-run continues where
it stopped (and adds nothing once the range is full). Generation of the next chunk overlaps the
COPY of the previous one.
"""

import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from . import engine
from .engine import events as engine_events
from .events import event_schedule
from .market import (
    encode_batch,
    engine_state,
    first_grid_at_or_after,
    from_ms,
    market_config,
    stored_state_at_oldest,
    ticker_params,
    to_ms,
    vol_dumps,
)
from .market_time import market_now
from .models import Ticker, TickerState
from .rollup import bars_rollup
from .sessions import session_schedule
from .storage import tick_storage
from .storage.copy import copy_rows

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = timedelta(minutes=30)


class BackfillError(ValueError):
    """A backfill request that cannot be honoured; nothing was written."""


@dataclass
class BackfillPlan:
    tickers: list[Ticker]
    start: datetime
    end: datetime
    state: engine.EngineState  # the anchor (earliest tick or virtual tick) of every ticker
    steps: np.ndarray  # ticks to write per ticker
    fresh: np.ndarray  # bool: the ticker had no ticks
    events: object = None  # the tickers' scenario events (``ticks.events.event_schedule``)
    sessions: object = None  # the calendar tickers' open periods (``ticks.sessions``)

    @property
    def total(self) -> int:
        return int(self.steps.sum())


@dataclass
class BackfillResult:
    ticks: int
    per_ticker: dict[str, int]
    start: datetime
    end: datetime
    bars: dict[str, int] = field(default_factory=dict)


def plan_backfill(
    *, tickers: Sequence[Ticker], duration: timedelta, end: datetime, now: datetime | None = None
) -> BackfillPlan:
    now = now or market_now()
    if duration <= timedelta(0):
        raise BackfillError("The duration must be positive.")
    if end > now:
        raise BackfillError(f"--end {end.isoformat()} is in the future; backfill fills the past.")
    start = end - duration
    oldest_allowed = now - timedelta(days=settings.TICK_RETENTION_DAYS)
    if start < oldest_allowed:
        raise BackfillError(
            f"The range starts at {start.isoformat()}, older than the retention of "
            f"{settings.TICK_RETENTION_DAYS} days (TICK_RETENTION_DAYS): it would be deleted "
            "at once. Backfill a shorter range or raise the retention."
        )
    if not tickers:
        raise BackfillError("No tickers to backfill.")
    anchors, steps, fresh = [], [], []
    start_ms, end_ms = to_ms(start), to_ms(end)
    for ticker in tickers:
        iv = ticker.tick_interval_ms
        oldest = stored_state_at_oldest(ticker)
        if oldest is None:
            anchor = (
                0,
                first_grid_at_or_after(end_ms, iv),
                math.log(float(ticker.start_price)),
                None,
            )
        else:
            anchor = oldest  # with the volatility factors there when known
        anchors.append(anchor)
        steps.append(max(0, (anchor[1] - start_ms) // iv) if anchor[1] > start_ms else 0)
        fresh.append(oldest is None)
    state = engine_state(anchors)
    # scenario events in the range are reproduced; a halt's grid points are not ticks, nor are
    # a calendar ticker's closed ones
    events, _ = event_schedule(list(tickers))
    sessions = session_schedule(tickers, start_ms=start_ms, end_ms=int(state.time_ms.max()))
    steps = engine_events.steps_back(
        state, ticker_params(tickers), start_ms, steps, events, sessions
    )
    return BackfillPlan(
        tickers=list(tickers),
        start=start,
        end=end,
        state=state,
        steps=steps,
        fresh=np.array(fresh, dtype=bool),
        events=events,
        sessions=sessions,
    )


def _chunks(plan: BackfillPlan, chunk: timedelta):
    """Yield ``(rows, count, newest_states, oldest_factors)`` newest chunk first;
    ``newest_states`` (first chunk only) maps ticker index -> exact engine state of its newest
    backfilled tick; ``oldest_factors`` maps ticker index -> (seq, volatility factors) of its
    oldest tick so far (stochastic tickers), so that a later backfill continues them."""
    params = ticker_params(plan.tickers)
    market = market_config()
    ids = np.array([t.pk for t in plan.tickers], dtype=np.int64)
    per_chunk = np.maximum(1, to_ms_delta(chunk) // params.interval_ms)
    state, remaining = plan.state, plan.steps.copy()
    newest: dict[int, tuple] = {}
    first = True
    while remaining.any():
        if first:
            # One step first, to learn the exact state at each fresh ticker's newest tick.
            steps = np.minimum(remaining, 1)
        else:
            steps = np.minimum(remaining, per_chunk)
        batch, state = engine_events.rewind(
            params, state, steps, market, plan.events, plan.sessions
        )
        if first:
            for i in np.flatnonzero(plan.fresh & (steps > 0)):
                newest[int(i)] = (
                    int(state.seq[i]),
                    int(state.time_ms[i]),
                    float(state.log_price[i]),
                    vol_dumps(state.vol[i]),
                )
        oldest = {
            int(i): (int(state.seq[i]), vol)
            for i in np.flatnonzero(steps > 0)
            if (vol := vol_dumps(state.vol[i])) is not None
        }
        rows = encode_batch(batch, ids)
        remaining -= steps
        yield rows, len(batch), newest, oldest
        newest, first = {}, False


def newest_time(plan: BackfillPlan) -> datetime:
    """The newest tick the plan may write (its anchors are at or after it)."""
    return max(from_ms(int(t)) for t in plan.state.time_ms)


@contextmanager
def history_window(plan: BackfillPlan) -> Iterator[None]:
    """Around writing the plan and rolling it up: what the storage needs for a bulk write into
    the past (on TimescaleDB, the compressed chunks of the range decompressed, and compressed
    again after)."""
    with tick_storage().history_writes(
        connection, start=plan.start, end=newest_time(plan) + timedelta(milliseconds=1)
    ):
        yield


def to_ms_delta(delta: timedelta) -> int:
    return int(delta / timedelta(milliseconds=1))


def _produce(chunks, out: queue.Queue, stop: threading.Event) -> None:
    try:
        for item in chunks:
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        out.put(None)
    except BaseException as exc:  # handed to the writer, which re-raises it
        out.put(exc)


def write_plan(
    plan: BackfillPlan,
    *,
    chunk: timedelta = DEFAULT_CHUNK,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Generate and COPY the plan's ticks (newest chunk first); return how many were written."""
    if plan.total == 0:
        return 0
    tick_storage().ensure_room(connection, start=plan.start, end=newest_time(plan))
    pending: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    producer = threading.Thread(
        target=_produce,
        args=(_chunks(plan, chunk), pending, stop),
        daemon=True,
        name="backfill-generate",
    )
    producer.start()
    written = 0
    try:
        while True:
            item = pending.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            rows, count, newest, oldest = item
            with transaction.atomic(), connection.cursor() as cursor:
                copy_rows(cursor.connection.cursor(), rows)
                for index, (seq, time_ms, log_price, vol) in newest.items():
                    TickerState.objects.update_or_create(
                        ticker=plan.tickers[index],
                        defaults={
                            "seq": seq,
                            "time": from_ms(time_ms),
                            "log_price": log_price,
                            "vol_state": vol,
                        },
                    )
                for index, (seq, vol) in oldest.items():
                    TickerState.objects.filter(ticker=plan.tickers[index]).update(
                        oldest_seq=seq, oldest_vol_state=vol
                    )
            written += count
            if on_progress:
                on_progress(count)
    finally:
        stop.set()
        producer.join(timeout=10)
    return written


def rollup_range(
    plan: BackfillPlan,
    *,
    step: timedelta = timedelta(hours=1),
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Roll up the bars of the backfilled range, an hour at a time."""
    ids = [t.pk for t, n in zip(plan.tickers, plan.steps) if n > 0]
    if not ids:
        return {}
    newest = newest_time(plan)
    tick_storage().after_bulk_write(connection)
    totals: dict[str, int] = {}
    cursor_time = plan.start
    while cursor_time < newest:
        upper = min(cursor_time + step, newest)
        for tf, n in bars_rollup(start=cursor_time, end=upper, tickers=ids).items():
            totals[tf] = totals.get(tf, 0) + n
        if on_progress:
            on_progress(1)
        cursor_time = upper
    return totals
