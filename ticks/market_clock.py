"""When the market is open: the clock and the calendar of trading days, in one place.

Today the synthetic market trades around the clock, every day: the clock is always open, and
each calendar day is one session from 00:00 to 24:00 UTC. Readers (the Alpaca Trading-API
``/v2/clock`` and ``/v2/calendar``) ask only these functions, so sessions on real exchange
calendars change this module and nothing else.

A session that runs to midnight still has a "next close" and a "next open": both are the next
UTC midnight, where one day's session ends and the next begins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

__all__ = ["MarketClock", "TradingDay", "market_clock", "trading_days"]

#: Calendar dates we answer for (the span of Python's and PostgreSQL's dates we use).
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(2099, 12, 31)


@dataclass(frozen=True)
class MarketClock:
    now: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


@dataclass(frozen=True)
class TradingDay:
    day: date
    open: datetime  # UTC
    close: datetime  # UTC, exclusive (the next midnight for a whole day)
    settlement: date  # T+1: the next trading day


def market_clock(*, now: datetime) -> MarketClock:
    """Whether the market is open at ``now`` and when it next opens and closes."""
    now = now.astimezone(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
    return MarketClock(now=now, is_open=True, next_open=midnight, next_close=midnight)


def trading_days(*, start: date, end: date) -> list[TradingDay]:
    """The trading days from ``start`` to ``end`` (both included), in order."""
    days = []
    day = max(start, FIRST_DATE)
    while day <= min(end, LAST_DATE):
        opens = datetime.combine(day, time(0), tzinfo=UTC)
        days.append(
            TradingDay(
                day=day,
                open=opens,
                close=opens + timedelta(days=1),
                settlement=day + timedelta(days=1),
            )
        )
        day += timedelta(days=1)
    return days
