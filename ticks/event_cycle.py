"""The live generator's side of scenario events (``ticks.events``): the hooks ``ticks.live``
calls in its cycle.

- ``hold_for_new_events``: while the generator's cached configuration is older than the config
  version (a reload is under way), it does not generate past the start of an event just created
  (``fence_key()``, written when an event commits): the event's ticks are never generated without
  it, however late the reload.
- ``advance``: the engine step with the events of the planned tickers.
- ``announce_cycle``: the cycle's ticks and the halts starting or ending in it, in time order per
  ticker (ticks before a halt, ``halted``, ``trading`` at its end, ticks after), announced through
  ``ticks.announce``; each status once (a Redis ``SET NX`` per halt edge, for every generator).
  The open and close of calendar tickers' sessions (``ticks.session_announce``) go the same way.
"""

import logging

import numpy as np
import orjson
import redis

from . import announce, session_announce
from .engine import events as engine_events
from .payloads import STATUS_HALTED, STATUS_TRADING, StatusPayload
from .redis_store import get_redis, key

logger = logging.getLogger(__name__)

FENCE_MEMORY_MS = 10_000  # fences older than this (relative to now) no longer hold anything
ANNOUNCE_HORIZON_MS = 60_000  # a halt edge further in the past than this is not announced
_announced: set[str] = set()  # status edges this process announced or saw announced


def fence_key() -> str:
    """event id -> start_ms of the events created lately."""
    return key("events", "fence")


def fence_event(*, event_id: int, start_ms: int) -> None:
    """Written when an event commits, before the config version moves."""
    client = get_redis()
    client.hset(fence_key(), str(event_id), start_ms)
    old = [k for k, v in client.hgetall(fence_key()).items() if int(v) < start_ms - 3_600_000]
    if old:
        client.hdel(fence_key(), *old)


def hold_for_new_events(now_ms: int, *, loaded: int | None, current: int) -> int:
    """``now_ms``, or just before the start of an event the loaded configuration may not have."""
    if loaded == current:
        return now_ms
    try:
        starts = [int(v) for v in get_redis().hvals(fence_key())]
    except redis.RedisError:
        return now_ms
    pending = [s for s in starts if s > now_ms - FENCE_MEMORY_MS]
    return min([now_ms] + [s - 1 for s in pending])


def advance(configs, index: np.ndarray, start, now_ms: int, cap: int):
    """``(batch, new state, steps)`` of the planned tickers (``index`` into the configs), with
    their scenario events and, for calendar tickers, their trading sessions."""
    params = configs.params.take(index)
    events = getattr(configs, "events", None)
    if events is not None and len(events):
        events = events.take(index, len(configs.params))
    sessions = getattr(configs, "sessions", None)
    if sessions is not None and not sessions.is_empty():
        sessions = sessions.take(index, len(configs.params))
    steps = np.minimum(engine_events.steps_due(start, params, now_ms, events, sessions), cap)
    batch, new = engine_events.advance(params, start, steps, configs.market, events, sessions)
    return batch, new, steps


def due_points(configs, i: int, time_ms: int, now_ms: int, interval_ms: int) -> int:
    """Grid points of ticker ``i`` (in the configs) from after ``time_ms`` to ``now_ms``: for a
    calendar ticker only those in its open periods (a closure is no gap to catch up on)."""
    sessions = getattr(configs, "sessions", None)
    if sessions is not None and sessions.has_row(i):
        return sessions.open_points(i, interval_ms, time_ms, now_ms)
    return now_ms // interval_ms - time_ms // interval_ms


def _halt_edges(halts, now_ms: int) -> list[tuple[int, str, StatusPayload]]:
    """``(time, name, status)`` of the halt edges due by ``now_ms``, within the horizon."""
    due = []
    for w in halts:
        for at, status, reason in (
            (w.start_ms, STATUS_HALTED, w.reason),
            (w.end_ms, STATUS_TRADING, "halt ended"),
        ):
            if at <= now_ms and now_ms - at < ANNOUNCE_HORIZON_MS:
                name = f"{w.symbol}:{w.start_ms}:{status}"
                due.append((at, name, StatusPayload(w.symbol, status, at, reason)))
    return due


def _session_edges(configs, members, now_ms: int) -> list[tuple[int, str, StatusPayload]]:
    """The session edges (``ticks.session_announce``) of the cycle's calendar tickers."""
    schedule = getattr(configs, "sessions", None)
    if schedule is None or schedule.is_empty() or not len(members):
        return []
    tickers, chosen = configs.tickers, None

    def symbol_of(row: int) -> str | None:  # asked only for the rows with an edge due
        nonlocal chosen
        if chosen is None:
            chosen = set(members)
        return tickers[row].symbol if row in chosen else None

    return session_announce.edges(
        schedule,
        symbol_of,
        after_ms=now_ms - ANNOUNCE_HORIZON_MS,
        until_ms=now_ms,
        halts=getattr(configs, "halts", ()),
    )


def _claim(due: list[tuple[int, str, StatusPayload]]) -> list[StatusPayload]:
    """The statuses of ``due`` that no generator announced yet, oldest first: each claimed once
    in Redis (``SET NX``, kept twice the horizon) and remembered in this process."""
    due = [item for item in due if item[1] not in _announced]
    if not due:
        return []
    due.sort(key=lambda item: item[0])
    try:
        pipe = get_redis().pipeline(transaction=False)
        for _, name, _ in due:
            pipe.set(key("events", "announced", name), 1, nx=True, px=2 * ANNOUNCE_HORIZON_MS)
        fresh = pipe.execute()
    except redis.RedisError:
        logger.warning("could not record announced statuses; announcing them next cycle")
        return []
    _announced.update(name for _, name, _ in due)
    if len(_announced) > 10_000:
        _announced.clear()
    return [status for (_, _, status), new in zip(due, fresh) if new]


def announce_cycle(ticks_by_symbol, configs, now_ms: int, members=()) -> None:
    """Announce the committed cycle's ticks with the status changes due, in time order: the
    halt edges of the configs' halts, the session edges of its tickers at ``members``
    (positions in ``configs.tickers``: the cycle's shard)."""
    halts = getattr(configs, "halts", None) or ()
    due = _halt_edges(halts, now_ms) if halts else []
    due += _session_edges(configs, members, now_ms)
    statuses = _claim(due) if due else []
    if not statuses:
        announce.announce_ticks(ticks_by_symbol)
        return
    cuts = sorted({s.time_ms for s in statuses})
    lower = None
    for cut in cuts + [None]:
        part = {}
        for symbol, ticks in ticks_by_symbol.items():
            chosen = [
                t
                for t in ticks
                if (lower is None or t.time_ms >= lower) and (cut is None or t.time_ms < cut)
            ]
            if chosen:
                part[symbol] = chosen
        announce.announce_ticks(part)
        if cut is not None:
            announce.announce_statuses([s for s in statuses if s.time_ms == cut])
            logger.info(
                "status at %d: %s",
                cut,
                orjson.dumps([[s.ticker, s.status] for s in statuses if s.time_ms == cut]),
            )
        lower = cut
