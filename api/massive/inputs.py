"""Parameters of the Massive dialect, parsed as Massive documents them; every bad value is a
clear 400 in Massive's form (``api.massive.errors``) naming the parameter and what it accepts.
Parameters we do not know are ignored, as Massive does (the ``massive`` client sends some of
its own, such as ``include_otc``, ``locale`` and ``market_type``).

Aggregates (``/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}``):

- ``multiplier``: a whole number from 1 to ``MAX_MULTIPLIER``; ``timespan``: ``second``,
  ``minute``, ``hour``, ``day``, ``week``, ``month``, ``quarter`` (3 months), ``year`` (12);
- ``from``/``to``: a date (``2024-01-15``: its start for ``from``, its last millisecond for
  ``to``) or epoch milliseconds; both inclusive, of the bars' start times;
- ``adjusted``: ``true``/``false`` (no corporate actions here: the same bars either way);
  ``sort``: ``asc`` (default) or ``desc``;
- ``limit``: 1 to 50,000 (default 5,000) base aggregates: a page holds at most ``limit //
  (base aggregates per bar)`` bars, at least one (``BASE``: seconds count seconds, minutes and
  hours count minutes, days and longer count days, a month 31, a quarter 92, a year 366).

Trades and quotes (``/v3/trades/{ticker}``, ``/v3/quotes/{ticker}``): ``timestamp`` (a date:
that whole UTC day; or epoch nanoseconds: that instant) and ``timestamp.gte/.gt/.lte/.lt``
(epoch nanoseconds, a date meaning its midnight, or RFC 3339); ``order`` ``desc`` (default) or
``asc``; ``sort`` ``timestamp``; ``limit`` 1 to 50,000 (default 1,000).
"""

import re
from datetime import UTC, date, datetime, timedelta

from api.alpaca.inputs import parse_time
from api.directory import SYMBOL, TickerInfo, directory
from ticks.bar_frames import BarFrame

from .errors import bad_request, not_found

MAX_MULTIPLIER = 10_000
MAX_MONTHS = 1200  # a bar of at most a century
AGG_LIMIT, MAX_LIMIT, TICK_LIMIT = 5000, 50_000, 1000
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_NS_PER_MS = 1_000_000

#: timespan -> (our frame unit, amount per multiplier, base aggregates per bar)
TIMESPANS = {
    "second": ("Sec", 1, 1),
    "minute": ("Min", 1, 1),
    "hour": ("Hour", 1, 60),
    "day": ("Day", 1, 1),
    "week": ("Week", 1, 7),
    "month": ("Month", 1, 31),
    "quarter": ("Month", 3, 92),
    "year": ("Month", 12, 366),
}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT = re.compile(r"-?[0-9]{1,20}")
_DIGITS = re.compile(r"[0-9]{1,6}")


def ticker(symbol: str) -> TickerInfo:
    """The ticker named ``symbol`` (any case), or a 400 (malformed) or 404 (unknown)."""
    name = symbol.strip().upper()
    if not SYMBOL.fullmatch(name):
        shown = name if len(name) <= 20 else name[:20] + "..."
        raise bad_request(f"invalid ticker: {shown!r} (1-12 of A-Z 0-9 . -)")
    info = directory.get(name)
    if info is None:
        raise not_found(f"unknown ticker: {name} (our tickers: /v3/reference/tickers)")
    return info


def frame_params(multiplier: str, timespan: str) -> tuple[BarFrame, int]:
    """The frame of ``multiplier``/``timespan`` and its base aggregates per bar."""
    if not _DIGITS.fullmatch(multiplier) or not 1 <= int(multiplier) <= MAX_MULTIPLIER:
        raise bad_request(f"invalid multiplier: a whole number from 1 to {MAX_MULTIPLIER}")
    if timespan not in TIMESPANS:
        raise bad_request(f"invalid timespan: must be one of {', '.join(TIMESPANS)}")
    unit, amount, base = TIMESPANS[timespan]
    count = int(multiplier)
    if unit == "Month" and count * amount > MAX_MONTHS:
        raise bad_request(f"invalid multiplier: a {timespan} bar spans at most {MAX_MONTHS} months")
    return BarFrame(count * amount, unit), count * base


def _moment(ms: int) -> datetime | None:
    try:
        moment = EARLIEST + timedelta(milliseconds=ms)
    except OverflowError:
        return None
    return moment if EARLIEST <= moment < LATEST else None


def agg_time(raw: str, name: str, *, end: bool) -> datetime:
    """``from``/``to``: a date or epoch milliseconds."""
    moment = None
    if _DATE.fullmatch(raw):
        try:
            day = datetime.fromisoformat(raw).replace(tzinfo=UTC)
        except ValueError:
            day = None
        if day is not None:
            moment = day + timedelta(days=1) - _MS if end else day
            moment = moment if EARLIEST <= moment < LATEST else None
    elif _INT.fullmatch(raw):
        moment = _moment(int(raw))
    if moment is None:
        raise bad_request(
            f"Could not parse the time parameter: '{name}'. Use YYYY-MM-DD or Unix MS Timestamps"
        )
    return moment


def day_param(raw: str) -> date:
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise bad_request("invalid date: use YYYY-MM-DD") from None


def _text(params, name: str) -> str | None:
    value = params.get(name)
    return None if value is None else str(value)


def choice(params, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    raw = _text(params, name)
    if raw is None:
        return default
    if raw.lower() not in choices:
        raise bad_request(f"invalid {name}: must be one of {', '.join(choices)}")
    return raw.lower()


def bool_param(params, name: str, default: bool) -> bool:
    value = choice(params, name, ("true", "false"))
    return default if value is None else value == "true"


def limit_param(params, *, default: int, maximum: int = MAX_LIMIT) -> int:
    raw = _text(params, "limit")
    if raw is None:
        return default
    value = int(raw.strip()) if _DIGITS.fullmatch(raw.strip()) else 0
    if not 1 <= value <= maximum:
        raise bad_request(f"invalid limit: must be a whole number from 1 to {maximum}")
    return value


def _ns_time(raw: str, name: str) -> tuple[int, bool]:
    """``(epoch ms, exact)``: ``exact`` is False when a nanosecond value lies inside a
    millisecond (then it is the millisecond's floor)."""
    raw = raw.strip()
    if _INT.fullmatch(raw):
        ns = int(raw)
        ms, rest = divmod(ns, _NS_PER_MS)
        if _moment(ms) is not None:
            return ms, rest == 0
    else:
        moment = parse_time(raw)
        if moment is not None:
            ms, rest = divmod(moment - EARLIEST, _MS)
            return ms, not rest
    raise bad_request(
        f"invalid {name}: epoch nanoseconds, a date (2024-01-15) or RFC 3339 (2024-01-15T10:30:00Z)"
    )


def timestamp_window(params) -> tuple[datetime, datetime]:
    """``(start, end)`` (inclusive, in whole milliseconds) of ``timestamp`` and its
    ``.gte/.gt/.lte/.lt`` filters, all applied together."""
    lo, hi = 0, int((LATEST - EARLIEST) // _MS) - 1
    raw = _text(params, "timestamp")
    if raw is not None:
        if _DATE.fullmatch(raw.strip()):
            start = int((datetime.combine(day_param(raw.strip()), datetime.min.time(), UTC)
                         - EARLIEST) // _MS)  # fmt: skip
            lo, hi = start, start + 86_400_000 - 1
        else:
            ms, exact = _ns_time(raw, "timestamp")
            lo, hi = (ms, ms) if exact else (1, 0)  # inside a millisecond: no tick is there
    for suffix in ("gte", "gt", "lte", "lt"):
        raw = _text(params, f"timestamp.{suffix}")
        if raw is None:
            continue
        ms, exact = _ns_time(raw, f"timestamp.{suffix}")
        if suffix == "gte":
            lo = max(lo, ms if exact else ms + 1)
        elif suffix == "gt":
            lo = max(lo, ms + 1)
        elif suffix == "lte":
            hi = min(hi, ms)
        else:
            hi = min(hi, ms - 1 if exact else ms)
    return EARLIEST + lo * _MS, EARLIEST + max(hi, lo - 1) * _MS
