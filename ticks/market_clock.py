"""When the market is open: the clock, the calendar of trading days and each ticker's session,
in one place, built on ``ticks.calendars`` (the one module that asks the calendar libraries).

- The **market clock** (``market_clock``) and the **trading days** (``trading_days``) are those
  of a calendar, by default the ``MARKET_CALENDAR`` setting: the Alpaca Trading-API's
  ``/v2/clock`` and ``/v2/calendar`` and the Massive market status answer from them. The clock
  is about the regular session (Alpaca's is): ``is_open`` during it, ``next_open`` and
  ``next_close`` its next edges; a lunch break is closed.
- ``"24/7"`` (the default) is the seed's market, unchanged: the clock is always open, and each
  calendar day is one session from 00:00 to 24:00 UTC, whose "next close" and "next open" are
  both the next UTC midnight, where one day's session ends and the next begins.
- A **ticker's session** (``ticker_session``): where its own calendar is at a moment (``open``,
  ``pre``, ``post``, ``break`` or ``closed``, next open and close), its pre- and post-market
  periods included when it trades them. ``open_since_ms`` is the fast question the freshness
  rule asks on every quote: since when has the ticker's market been open (None: closed now)?

Every question takes the moment explicitly; callers pass market time (``ticks.market_time``).
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from . import calendars
from .calendars import ALWAYS_OPEN, CalendarError, SessionState, TradingDay

__all__ = [
    "ALWAYS_OPEN",
    "MINUS_INFINITY_MS",
    "MarketClock",
    "OpenTime",
    "SessionState",
    "TradingDay",
    "default_calendar",
    "market_clock",
    "open_since_ms",
    "open_time",
    "periods_ms",
    "previous_trading_day",
    "ticker_session",
    "trading_days",
    "zone_of",
]

#: Calendar dates we answer for (the span of Python's and PostgreSQL's dates we use).
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(2099, 12, 31)
#: How far back the previous trading day is looked for (long holidays included).
PREVIOUS_DAY_SEARCH = timedelta(days=14)
#: ``open_since_ms`` of a market that never closes (24/7): before any time we use.
MINUS_INFINITY_MS = -(2**62)


@dataclass(frozen=True)
class MarketClock:
    now: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime
    calendar: str = ALWAYS_OPEN


def default_calendar() -> str:
    """The calendar of the market as a whole (``MARKET_CALENDAR``; ``"24/7"`` unless set)."""
    return settings.MARKET_CALENDAR


def zone_of(calendar: str) -> ZoneInfo:
    """The exchange's time zone (UTC for 24/7): its days, its calendar's local times."""
    return calendars.timezone_of(calendar)


def market_clock(*, now: datetime, calendar: str | None = None) -> MarketClock:
    """Whether the regular session of ``calendar`` (default ``MARKET_CALENDAR``) is open at
    ``now``, and when it next opens and closes."""
    code = calendar or default_calendar()
    now = now.astimezone(UTC)
    if calendars.is_always_open(code):
        midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
        return MarketClock(now, True, midnight, midnight, code)
    state = calendars.session_state(code, extended_hours=False, at=now)
    return MarketClock(now, state.is_open, state.next_open, state.next_close, code)


def trading_days(*, start: date, end: date, calendar: str | None = None) -> list[TradingDay]:
    """The trading days of ``calendar`` (default ``MARKET_CALENDAR``) from ``start`` to ``end``
    (both included, within 1970-2099), in order. Years the calendar library cannot build are
    left out rather than failing the rest."""
    code = calendar or default_calendar()
    start, end = max(start, FIRST_DATE), min(end, LAST_DATE)
    if end < start:
        return []
    if calendars.is_always_open(code):
        return calendars.trading_days(code, start=start, end=end)
    days: list[TradingDay] = []
    for year in range(start.year, end.year + 1):
        first = max(start, date(year, 1, 1))
        last = min(end, date(year, 12, 31))
        try:
            days.extend(calendars.trading_days(code, start=first, end=last))
        except CalendarError:
            continue
    return days


def previous_trading_day(*, now: datetime, calendar: str | None = None) -> TradingDay | None:
    """The last trading day of ``calendar`` before the exchange's local date at ``now``."""
    code = calendar or default_calendar()
    today = now.astimezone(zone_of(code)).date()
    days = trading_days(
        start=today - PREVIOUS_DAY_SEARCH, end=today - timedelta(days=1), calendar=code
    )
    return days[-1] if days else None


def ticker_session(*, calendar: str, extended_hours: bool, at: datetime) -> SessionState:
    """Where a ticker's market is at ``at``: ``phase`` ``open``, ``pre``, ``post``, ``break`` or
    ``closed``, and its next open and close (both None for 24/7, which never closes)."""
    return calendars.session_state(calendar, extended_hours=extended_hours, at=at)


def periods_ms(
    calendar: str, *, extended_hours: bool, start_ms: int, end_ms: int
) -> list[list[int]]:
    """``[[start_ms, end_ms, kind, session], ...]``: the open periods of ``calendar`` that
    overlap ``[start_ms, end_ms)`` (kind 0 regular, 1 pre-, 2 post-market; session: the trading
    day as days since 1970), for a page to draw. Empty for 24/7 and for a calendar the library
    cannot answer for there."""
    if calendars.is_always_open(calendar):
        return []
    try:
        starts, ends, sessions, kinds = calendars.period_arrays(
            calendar, extended_hours=extended_hours, start_ms=start_ms, end_ms=end_ms
        )
    except CalendarError:
        return []
    return [
        list(row) for row in zip(starts.tolist(), ends.tolist(), kinds.tolist(), sessions.tolist())
    ]


# --- the fast question of freshness ---------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _year_edges(calendar: str, extended_hours: bool, year: int) -> tuple[list[int], list[int]]:
    """The open periods overlapping ``year`` (UTC, with a margin), as sorted start and end ms;
    adjacent periods (pre -> regular -> post) are merged into one stretch."""
    periods = calendars.open_periods(
        calendar,
        extended_hours=extended_hours,
        start=datetime(year, 1, 1, tzinfo=UTC) - timedelta(days=2),
        end=datetime(year + 1, 1, 1, tzinfo=UTC) + timedelta(days=2),
    )
    starts: list[int] = []
    ends: list[int] = []
    for p in periods:
        s, e = _ms(p.start), _ms(p.end)
        if ends and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    return starts, ends


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def open_since_ms(calendar: str, extended_hours: bool, at_ms: int) -> int | None:
    """Since when (epoch ms) ``calendar``'s market has been open without a break at ``at_ms``
    (its pre- and post-market periods count with ``extended_hours``), or None when it is
    closed then. 24/7: always open, since ever (``-inf`` as the smallest int we use)."""
    if calendars.is_always_open(calendar):
        return MINUS_INFINITY_MS
    year = datetime.fromtimestamp(at_ms / 1000, UTC).year
    try:
        starts, ends = _year_edges(calendar, extended_hours, year)
    except CalendarError:
        return MINUS_INFINITY_MS  # a calendar the library cannot build here: as if always open
    i = bisect.bisect_right(starts, at_ms) - 1
    if i >= 0 and at_ms < ends[i]:
        return starts[i]
    return None


# --- open time: what a paced playback follows ------------------------------------------------------


class OpenTime:
    """Market time with the closed periods taken out: ``elapsed(t)`` is how much of
    ``[start_ms, t)`` at least one of the calendars was open (milliseconds)."""

    def __init__(self, starts: list[int], ends: list[int], start_ms: int) -> None:
        self.starts, self.ends, self.start_ms = starts, ends, start_ms
        self.before: list[int] = []  # open time before each stretch
        total = 0
        for s, e in zip(starts, ends):
            self.before.append(total)
            total += e - s

    def elapsed(self, at_ms: int) -> int:
        i = bisect.bisect_right(self.starts, at_ms) - 1
        if i < 0:
            return 0
        return self.before[i] + min(at_ms, self.ends[i]) - self.starts[i]


def open_time(
    calendars_of: list[tuple[str, bool]], *, start_ms: int, end_ms: int
) -> OpenTime | None:
    """The open time of ``calendars_of`` (``(calendar, extended_hours)`` per ticker) over
    ``[start_ms, end_ms)``: the union of their open periods, clipped to the range. None when
    one of them is 24/7 (then open time is market time)."""
    if not calendars_of or any(calendars.is_always_open(c) for c, _ in calendars_of):
        return None
    start = datetime.fromtimestamp(start_ms / 1000, UTC)
    end = datetime.fromtimestamp(end_ms / 1000, UTC)
    spans: list[tuple[int, int]] = []
    for code, extended in sorted(set(calendars_of)):
        try:
            periods = calendars.open_periods(code, extended_hours=extended, start=start, end=end)
        except CalendarError:
            return None  # a calendar we cannot read here: pace by market time
        spans += [(max(_ms(p.start), start_ms), min(_ms(p.end), end_ms)) for p in periods]
    starts: list[int] = []
    ends: list[int] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if ends and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    return OpenTime(starts, ends, start_ms)
