"""The open and close of calendar tickers' sessions, as the live generator announces them.

A ticker on an exchange calendar changes phase at the edges of its open periods
(``ticks.calendars``, loaded with the generator's configs as the engine's ``SessionSchedule``):
``open`` (its regular session starts, after a closure or the pre-market), ``pre`` and ``post``
(the pre- and post-market with extended hours), ``break`` (a lunch break) and ``closed``. The
generator's cycle (``ticks.live`` through ``ticks.event_cycle.announce_cycle``) asks ``edges``
for the ones market time has passed and announces them through ``ticks.announce``, in time
order with the ticks, each once for every generator, like the halts of scenario events: a Redis
``SET NX`` per edge, edges up to ``ticks.event_cycle.ANNOUNCE_HORIZON_MS`` old (a generator
restarted within that announces what it missed, no edge twice).

A ticker in a halt (a scenario event) when its market opens stays halted: the open is not
announced (the halt's end is, and trading resumes then); its close is.

Only the schedule's arrays are read here (periods the calendar libraries gave): no date rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from .calendars import POST, PRE, REGULAR
from .payloads import (
    SESSION_BREAK,
    SESSION_CLOSED,
    SESSION_OPEN,
    SESSION_POST,
    SESSION_PRE,
    StatusPayload,
)

__all__ = ["OPENING", "REASONS", "edges"]

PHASE_OF_KIND = {REGULAR: SESSION_OPEN, PRE: SESSION_PRE, POST: SESSION_POST}
OPENING = frozenset(PHASE_OF_KIND.values())
REASONS = {
    SESSION_OPEN: "market open",
    SESSION_PRE: "pre-market open",
    SESSION_POST: "post-market open",
    SESSION_BREAK: "lunch break",
    SESSION_CLOSED: "market closed",
}


def edges(
    schedule,
    symbol_of: Callable[[int], str | None],
    *,
    after_ms: int,
    until_ms: int,
    halts: Iterable = (),
) -> list[tuple[int, str, StatusPayload]]:
    """``(time, name, status)`` of the phase changes in ``(after_ms, until_ms]``, oldest first,
    of the schedule's rows that ``symbol_of(row)`` names (None: not asked about); ``name`` is
    unique per edge (what the announcement is claimed under). ``halts``: windows with
    ``symbol``, ``start_ms`` and ``end_ms`` (an open inside one is not announced)."""
    if schedule is None or not len(schedule):
        return []
    start, end = schedule.start_ms, schedule.end_ms
    hits = np.flatnonzero(
        ((start > after_ms) & (start <= until_ms)) | ((end > after_ms) & (end <= until_ms))
    )
    if not len(hits):  # the usual cycle: one vectorized look, nothing due
        return []
    row, session, kind = schedule.row, schedule.session, schedule.kind
    n = len(row)
    out = []
    for i in hits.tolist():
        symbol = symbol_of(int(row[i]))
        if symbol is None:
            continue
        same_before = i > 0 and row[i - 1] == row[i]
        same_after = i + 1 < n and row[i + 1] == row[i]
        s, e = int(start[i]), int(end[i])
        if after_ms < s <= until_ms:
            phase = PHASE_OF_KIND[int(kind[i])]
            joined = same_before and int(end[i - 1]) == s
            if not (joined and PHASE_OF_KIND[int(kind[i - 1])] == phase):
                out.append((s, symbol, phase, i))
        if after_ms < e <= until_ms and not (same_after and int(start[i + 1]) == e):
            phase = SESSION_BREAK if same_after and session[i + 1] == session[i] else SESSION_CLOSED
            out.append((e, symbol, phase, i + 1 if same_after else None))
    if not out:
        return []
    halted = _halted(halts, {symbol for _, symbol, phase, _ in out if phase in OPENING})
    result = []
    for at, symbol, phase, i in sorted(out, key=lambda edge: edge[0]):
        if phase in OPENING and any(h0 <= at < h1 for h0, h1 in halted.get(symbol, ())):
            continue
        next_open, next_close = _next_edges(schedule, i, opening=phase in OPENING)
        status = StatusPayload(symbol, phase, at, REASONS[phase], next_open, next_close)
        result.append((at, f"session:{symbol}:{at}:{phase}", status))
    return result


def _halted(halts: Iterable, symbols: set[str]) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    if symbols:
        for w in halts:
            if w.symbol in symbols:
                out.setdefault(w.symbol, []).append((w.start_ms, w.end_ms))
    return out


def _stretch_end(schedule, i: int) -> int:
    """The end of the open stretch that period ``i`` starts or is in (adjacent periods of its
    row joined: pre, regular, post)."""
    row, start, end = schedule.row, schedule.start_ms, schedule.end_ms
    close = int(end[i])
    j = i + 1
    while j < len(row) and row[j] == row[i] and int(start[j]) == close:
        close = int(end[j])
        j += 1
    return close


def _next_edges(schedule, i: int | None, *, opening: bool) -> tuple[int | None, int | None]:
    """``(next_open_ms, next_close_ms)`` after an edge: ``i`` is the period that opens (an
    opening edge) or the row's next period (a closing one; None: not in the schedule)."""
    if i is None:
        return None, None
    close = _stretch_end(schedule, i)
    if not opening:
        return int(schedule.start_ms[i]), close
    j = i + 1  # the row's first period after the stretch, if the schedule has it
    while j < len(schedule.row) and schedule.row[j] == schedule.row[i]:
        if int(schedule.start_ms[j]) > close:
            return int(schedule.start_ms[j]), close
        j += 1
    return None, close
