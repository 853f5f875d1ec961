"""The engine's trading sessions for the tickers on an exchange calendar: their open periods
(``ticks.calendars``) as a ``SessionSchedule`` whose rows are the tickers' positions in a list.

A 24/7 ticker (the default) has no row: the engine steps it exactly as without sessions. A
calendar ticker's periods cover the range asked for plus ``MARGIN_MS`` on each side, so that
every session the engine meets in the range is whole (its normalization and its opening gap
need all its periods). The periods of a (calendar, extended hours, range of days) are cached:
the live generator's reloads and every backfill chunk ask for the same ones.
"""

import functools
import logging
from collections.abc import Sequence

import numpy as np

from .calendars import CalendarError, is_always_open, period_arrays
from .engine import SessionSchedule

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000
#: Around a range, so that the sessions at its edges are whole (a week-long closure fits).
MARGIN_MS = 10 * DAY_MS


@functools.lru_cache(maxsize=256)
def _periods(code: str, extended_hours: bool, first_day: int, last_day: int):
    s, e, d, k = period_arrays(
        code,
        extended_hours=extended_hours,
        start_ms=first_day * DAY_MS,
        end_ms=(last_day + 1) * DAY_MS,
    )
    for arr in (s, e, d, k):
        arr.flags.writeable = False
    return s, e, d, k


def calendar_periods(code: str, *, extended_hours: bool, start_ms: int, end_ms: int):
    """``period_arrays`` of whole UTC days around ``[start_ms, end_ms]`` plus the margin."""
    first = (int(start_ms) - MARGIN_MS) // DAY_MS
    last = (int(end_ms) + MARGIN_MS) // DAY_MS
    return _periods(code, bool(extended_hours), first, last)


def session_schedule(tickers: Sequence, *, start_ms: int, end_ms: int) -> SessionSchedule:
    """The open periods of the calendar tickers among ``tickers`` (row i: ``tickers[i]``)
    covering ``[start_ms, end_ms]``; empty when every ticker is 24/7.

    A calendar the libraries cannot answer for that range (a date beyond what they know) leaves
    its tickers closed, with an error in the log, rather than trading them around the clock."""
    parts, calendar_rows = [], []
    for i, ticker in enumerate(tickers):
        code = getattr(ticker, "calendar", None) or "24/7"
        if is_always_open(code):
            continue
        calendar_rows.append(i)
        extended = bool(getattr(ticker, "extended_hours", False))
        try:
            periods = calendar_periods(
                code, extended_hours=extended, start_ms=start_ms, end_ms=end_ms
            )
        except CalendarError as exc:
            logger.error("%s: no sessions (%s); it stays closed", ticker, exc)
            continue
        parts.append((i, periods))
    if not calendar_rows:
        return SessionSchedule.empty()
    if not parts:
        return SessionSchedule([], [], [], [], [], calendar_rows=calendar_rows)
    rows = np.concatenate([np.full(len(p[0]), i, dtype=np.int64) for i, p in parts])
    columns = [np.concatenate([p[j] for _, p in parts]) for j in range(4)]
    return SessionSchedule(rows, *columns, calendar_rows=calendar_rows)
