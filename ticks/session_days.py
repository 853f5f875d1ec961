"""A ticker's day, as its daily bars count it: the UTC day for a 24/7 ticker (as always), the
exchange's local date for a ticker on an exchange calendar, labelled at that local midnight in
UTC (as Alpaca labels daily bars: XNYS's 2026-11-27 is ``2026-11-27T05:00:00Z``, XTKS's
``2026-11-26T15:00:00Z``). A session lies within one local day on every exchange calendar
except the futures-style ones that open the evening before (CMES, IEPA, us_futures): their
daily bar is the local calendar day, not the session.

One owner for every reader that buckets days: the rollup (``ticks.rollup``), the bar frames
(``ticks.bar_frames``: days, weeks and months), the daily bars the streams send and the day so
far of the Massive ``AM``/``A`` messages, the previous close and grouped daily bars, the
dashboard's day open. The time zone comes from ``ticks.calendars.timezone_of``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .calendars import ALWAYS_OPEN, CalendarError, timezone_of
from .models import Ticker

__all__ = [
    "DAY_MS",
    "UTC_ZONE",
    "day_label",
    "day_start",
    "day_start_ms",
    "next_day_start",
    "ticker_zones",
    "zone_name",
]

DAY_MS = 86_400_000
UTC_ZONE = "UTC"


@functools.cache
def zone_name(calendar: str) -> str:
    """The IANA name of ``calendar``'s time zone (``UTC`` for 24/7 and for a calendar the
    library cannot build)."""
    if calendar == ALWAYS_OPEN:
        return UTC_ZONE
    try:
        return timezone_of(calendar).key
    except CalendarError:
        return UTC_ZONE


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def day_label(day: date, zone: str) -> datetime:
    """The label of ``day`` in ``zone``: its local midnight, in UTC."""
    if zone == UTC_ZONE:
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return datetime.combine(day, time(0), tzinfo=_zone(zone)).astimezone(UTC)


def day_start(moment: datetime, zone: str) -> datetime:
    """The label (local midnight, UTC) of the day in ``zone`` holding ``moment``."""
    if zone == UTC_ZONE:
        moment = moment.astimezone(UTC)
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day_label(moment.astimezone(_zone(zone)).date(), zone)


def next_day_start(moment: datetime, zone: str) -> datetime:
    """The label of the day after the one holding ``moment`` (its end, exclusive)."""
    if zone == UTC_ZONE:
        return day_start(moment, zone) + timedelta(days=1)
    return day_label(moment.astimezone(_zone(zone)).date() + timedelta(days=1), zone)


def day_start_ms(ms: int, zone: str) -> int:
    """``day_start`` in epoch milliseconds (fast for UTC)."""
    if zone == UTC_ZONE:
        return ms - ms % DAY_MS
    start = day_start(datetime.fromtimestamp(ms / 1000, UTC), zone)
    return int(start.timestamp() * 1000)


def ticker_zones(
    *,
    ids: Iterable[int] | None = None,
    symbols: Iterable[str] | None = None,
    by_symbol: bool = False,
) -> dict:
    """The day zone of every ticker on an exchange calendar (24/7 tickers are left out: their
    zone is UTC), by id (by symbol with ``by_symbol``, or when ``symbols`` is given);
    ``ids``/``symbols`` narrow the tickers read. One query."""
    rows = Ticker.objects.exclude(calendar=ALWAYS_OPEN)
    if ids is not None:
        rows = rows.filter(id__in=list(ids))
    if symbols is not None:
        rows = rows.filter(symbol__in=list(symbols))
    key = "symbol" if by_symbol or symbols is not None else "id"
    out = {}
    for ident, calendar in rows.values_list(key, "calendar"):
        zone = zone_name(calendar)
        if zone != UTC_ZONE:
            out[ident] = zone
    return out
