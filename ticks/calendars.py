"""Exchange calendars: when a ticker's market is open, from the libraries, never by hand.

A calendar is ``"24/7"`` (always open: the seed's market, and the default) or an exchange code
of the ``exchange-calendars`` package (``XNYS``, ``XNAS``, ``XLON``, ``XTKS``, ``XHKG``, ...):
its sessions, holidays, early closes and lunch breaks. NYSE's and Nasdaq's pre- and post-market
hours, which ``exchange-calendars`` lacks, come from ``pandas-market-calendars`` (its ``NYSE``
and ``NASDAQ`` calendars); other exchanges have no extended hours here (``check_calendar``
says so).

Everything is answered as **open periods**: ``[start, end)`` UTC intervals in which a ticker
trades, each labelled with its session (the exchange's trading day) and its kind (regular,
pre-market, post-market). A session with a lunch break is two regular periods of one session.
Readers: the engine's session schedule (``period_arrays``), the market clock (``session_state``,
``trading_days``), the bars (``timezone_of``: a calendar ticker's daily bar is its session day).

Calendars are built per calendar year and cached (building one takes a few hundred ms).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

__all__ = [
    "ALWAYS_OPEN",
    "KINDS",
    "POST",
    "PRE",
    "REGULAR",
    "CalendarError",
    "Period",
    "SessionState",
    "TradingDay",
    "calendar_codes",
    "check_calendar",
    "extended_hours_calendars",
    "has_extended_hours",
    "is_always_open",
    "open_periods",
    "period_arrays",
    "session_state",
    "timezone_of",
    "trading_days",
]

ALWAYS_OPEN = "24/7"

#: Period kinds (``Period.kind`` and the ``kind`` array of ``period_arrays``).
REGULAR, PRE, POST = 0, 1, 2
KINDS = ("regular", "pre", "post")

#: The ``pandas-market-calendars`` calendar that has an exchange's pre- and post-market hours.
_EXTENDED = {"XNYS": "NYSE", "XNAS": "NASDAQ"}

#: How far around a question we look for the previous or next period.
_HORIZON_DAYS = 20
_EPOCH = date(1970, 1, 1)


class CalendarError(ValueError):
    """An unknown calendar, extended hours it does not have, or a date outside its bounds."""


@dataclass(frozen=True)
class Period:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    session: date  # the exchange's trading day
    kind: int  # REGULAR, PRE or POST

    @property
    def kind_name(self) -> str:
        return KINDS[self.kind]


@dataclass(frozen=True)
class SessionState:
    """Where a calendar is at a moment. ``phase``: ``open`` (regular), ``pre``, ``post``,
    ``break`` (a lunch break inside a session) or ``closed``. ``next_open``/``next_close``: the
    next start and end of an open period (of the kinds asked for); both are None for 24/7."""

    calendar: str
    at: datetime
    is_open: bool
    phase: str
    session: date | None  # the session of the period it is in (None when closed or 24/7)
    next_open: datetime | None
    next_close: datetime | None


@dataclass(frozen=True)
class TradingDay:
    day: date
    open: datetime  # UTC: the regular open
    close: datetime  # UTC: the regular close (exclusive)
    session_open: datetime  # UTC: the pre-market's start where there is one, else ``open``
    session_close: datetime  # UTC: the post-market's end where there is one, else ``close``
    settlement: date  # T+1: the next trading day


# --------------------------------------------------------------------------------------------------
# names


@functools.cache
def calendar_codes() -> tuple[str, ...]:
    """``"24/7"`` and every exchange code of ``exchange-calendars``, sorted: its calendars'
    own names and the exchange codes (MICs, ``X...``) it knows as aliases of one, such as
    ``XNAS`` (Nasdaq, whose sessions are NYSE's). Other aliases (``NYSE``, ``LSE``...) are
    left out: one name per exchange."""
    import exchange_calendars as xc

    names = set(xc.get_calendar_names(include_aliases=False))
    aliases = set(xc.get_calendar_names(include_aliases=True)) - names
    return (ALWAYS_OPEN, *sorted(names | {a for a in aliases if a.startswith("X")}))


def is_always_open(code: str) -> bool:
    return code == ALWAYS_OPEN


def has_extended_hours(code: str) -> bool:
    return code in _EXTENDED


def extended_hours_calendars() -> tuple[str, ...]:
    """The calendars that have pre- and post-market periods, sorted."""
    return tuple(sorted(_EXTENDED))


def check_calendar(code: str, *, extended_hours: bool = False) -> None:
    """Raise ``CalendarError`` with a message a user can act on, or return."""
    if code not in calendar_codes():
        raise CalendarError(
            f"unknown calendar {code!r}: use {ALWAYS_OPEN!r} or an exchange code such as "
            "XNYS, XNAS, XLON, XTKS or XHKG (the exchange-calendars package's names)"
        )
    if extended_hours and not has_extended_hours(code):
        where = "a 24/7 market" if is_always_open(code) else code
        raise CalendarError(
            f"extended hours are not available for {where}: only "
            f"{' and '.join(sorted(_EXTENDED))} have pre- and post-market periods"
        )
    if not is_always_open(code):
        # A few listed calendars cannot be built by the installed library (e.g. ones with
        # Orthodox Easter holidays under pandas 3): refuse them here, not in the generator.
        _exchange(code, _this_year())


@functools.cache
def timezone_of(code: str) -> ZoneInfo:
    """The exchange's time zone (UTC for 24/7): a calendar ticker's day is a day there."""
    if is_always_open(code):
        return ZoneInfo("UTC")
    return ZoneInfo(str(_exchange(code, _this_year()).tz))


# --------------------------------------------------------------------------------------------------
# the libraries, per year


def _this_year() -> int:
    return datetime.now(UTC).year


@functools.lru_cache(maxsize=64)
def _exchange(code: str, year: int):
    import exchange_calendars as xc

    if code not in calendar_codes() or is_always_open(code):
        raise CalendarError(f"unknown calendar {code!r}")
    try:
        return xc.get_calendar(code, start=f"{year}-01-01", end=f"{year}-12-31")
    except Exception as e:  # the library's own bounds (e.g. lunar rules known only so far)
        raise CalendarError(
            f"calendar {code} cannot be used: the exchange-calendars package cannot build its "
            f"sessions for {year} ({type(e).__name__}: {e})"
        ) from e


@functools.lru_cache(maxsize=256)
def _year_periods(code: str, extended_hours: bool, year: int) -> tuple[Period, ...]:
    """The open periods of the sessions of ``year``, in time order."""
    cal = _exchange(code, year)
    sessions = cal.sessions
    if len(sessions) == 0:
        return ()
    opens = cal.opens.loc[sessions]
    closes = cal.closes.loc[sessions]
    breaks = (cal.break_starts.loc[sessions], cal.break_ends.loc[sessions])
    extended = None
    if extended_hours:
        import pandas_market_calendars as mcal

        schedule = mcal.get_calendar(_EXTENDED[code]).schedule(
            sessions[0], sessions[-1], start="pre", end="post"
        )
        extended = schedule
    periods: list[Period] = []
    for label, opened, closed, b_start, b_end in zip(sessions, opens, closes, breaks[0], breaks[1]):
        day = label.date()
        o, c = _utc(opened), _utc(closed)
        if extended is not None and label in extended.index:
            pre = _utc(extended.at[label, "pre"])
            post = _utc(extended.at[label, "post"])
            if pre < o:
                periods.append(Period(pre, o, day, PRE))
        if not _nat(b_start) and not _nat(b_end):
            periods.append(Period(o, _utc(b_start), day, REGULAR))
            periods.append(Period(_utc(b_end), c, day, REGULAR))
        else:
            periods.append(Period(o, c, day, REGULAR))
        if extended is not None and label in extended.index and post > c:
            periods.append(Period(c, post, day, POST))
    return tuple(periods)


def _utc(stamp) -> datetime:
    return stamp.to_pydatetime().astimezone(UTC)


def _nat(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


# --------------------------------------------------------------------------------------------------
# answers


def open_periods(
    code: str, *, extended_hours: bool, start: datetime, end: datetime
) -> list[Period]:
    """The open periods that overlap ``[start, end)`` (whole, not clipped), in time order.
    24/7: one period ``[start, end)`` labelled with ``start``'s UTC date."""
    check_calendar(code, extended_hours=extended_hours)
    if end <= start:
        return []
    if is_always_open(code):
        return [Period(start, end, start.astimezone(UTC).date(), REGULAR)]
    first = (start - timedelta(days=2)).year
    last = (end + timedelta(days=2)).year
    out = []
    for year in range(first, last + 1):
        out.extend(p for p in _year_periods(code, extended_hours, year) if p.end > start)
    return [p for p in out if p.start < end]


def period_arrays(
    code: str, *, extended_hours: bool, start_ms: int, end_ms: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``open_periods`` as int64 arrays ``(start_ms, end_ms, session, kind)``: ``session`` is
    the trading day as days since 1970-01-01, ``kind`` REGULAR/PRE/POST. Not for 24/7."""
    if is_always_open(code):
        raise CalendarError("a 24/7 ticker has no session periods")
    periods = open_periods(
        code,
        extended_hours=extended_hours,
        start=datetime.fromtimestamp(start_ms / 1000, UTC),
        end=datetime.fromtimestamp(end_ms / 1000, UTC),
    )
    starts = np.array([_ms(p.start) for p in periods], dtype=np.int64)
    ends = np.array([_ms(p.end) for p in periods], dtype=np.int64)
    sessions = np.array([(p.session - _EPOCH).days for p in periods], dtype=np.int64)
    kinds = np.array([p.kind for p in periods], dtype=np.int64)
    return starts, ends, sessions, kinds


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def session_state(code: str, *, extended_hours: bool, at: datetime) -> SessionState:
    """Whether ``code`` is open at ``at`` (extended periods count as open when asked for), in
    which phase, and its next open and close."""
    at = at.astimezone(UTC)
    if is_always_open(code):
        return SessionState(code, at, True, "open", at.date(), None, None)
    horizon = timedelta(days=_HORIZON_DAYS)
    periods = open_periods(
        code, extended_hours=extended_hours, start=at - horizon, end=at + horizon
    )
    current = next((p for p in periods if p.start <= at < p.end), None)
    later = [p for p in periods if p.start > at]
    if not later:  # a very long closure: look further
        later = open_periods(
            code, extended_hours=extended_hours, start=at, end=at + timedelta(days=400)
        )
        later = [p for p in later if p.start > at]
    next_open = later[0].start if later else None
    if current is not None:
        # Adjacent periods (pre -> regular -> post) are one stretch of open market.
        close = current.end
        for p in later:
            if p.start == close:
                close = p.end
            else:
                break
        # The next open is after this stretch closes (not the start of an adjacent period).
        next_open = next((p.start for p in later if p.start > close), None)
        if next_open is None:
            beyond = open_periods(
                code, extended_hours=extended_hours, start=close, end=close + timedelta(days=400)
            )
            next_open = next((p.start for p in beyond if p.start > close), None)
        phase = "open" if current.kind == REGULAR else KINDS[current.kind]
        return SessionState(code, at, True, phase, current.session, next_open, close)
    before = [p for p in periods if p.end <= at]
    in_break = bool(before and later and before[-1].session == later[0].session)
    next_close = later[0].end if later else None
    if later:
        for p in later[1:]:
            if p.start == next_close:
                next_close = p.end
            else:
                break
    return SessionState(
        code, at, False, "break" if in_break else "closed", None, next_open, next_close
    )


def trading_days(code: str, *, start: date, end: date) -> list[TradingDay]:
    """The sessions from ``start`` to ``end`` (both included), in order. 24/7: every day,
    00:00 to 24:00 UTC."""
    check_calendar(code)
    if end < start:
        return []
    if is_always_open(code):
        days, day = [], start
        while day <= end:
            opens = datetime(day.year, day.month, day.day, tzinfo=UTC)
            closes = opens + timedelta(days=1)
            days.append(TradingDay(day, opens, closes, opens, closes, day + timedelta(days=1)))
            day += timedelta(days=1)
        return days
    extended = has_extended_hours(code)
    periods = open_periods(
        code,
        extended_hours=extended,
        start=datetime(start.year, start.month, start.day, tzinfo=UTC) - timedelta(days=1),
        end=datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=12),
    )
    by_session: dict[date, list[Period]] = {}
    for p in periods:
        by_session.setdefault(p.session, []).append(p)
    sessions = sorted(by_session)
    out = []
    for i, day in enumerate(sessions):
        if not start <= day <= end:
            continue
        ps = by_session[day]
        regular = [p for p in ps if p.kind == REGULAR]
        settlement = sessions[i + 1] if i + 1 < len(sessions) else day + timedelta(days=1)
        out.append(
            TradingDay(
                day=day,
                open=regular[0].start,
                close=regular[-1].end,
                session_open=ps[0].start,
                session_close=ps[-1].end,
                settlement=settlement,
            )
        )
    return out
