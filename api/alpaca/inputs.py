"""Query parameters of the Alpaca dialect, parsed as Alpaca documents them; every bad value is a
clear error in Alpaca's form (``api.alpaca.errors``) naming the parameter and what it accepts.

- ``symbols``: comma-separated (any case, blanks ignored); every one must be one of our tickers.
- ``timeframe``: ``ticks.alpaca_bars`` grammar (``1Min``, ``15T``, ``1Hour``, ``1Day``,
  ``1Week``, ``3Month`` ...); required, as Alpaca's.
- ``start``/``end``: RFC 3339 (``Z`` or an offset; fractions up to nanoseconds; a ``+`` that
  arrived as a space is read as ``+``) or a date (``2024-01-15``: its start for ``start``, its
  last millisecond for ``end``). ``end`` is inclusive. Defaults: the start of the current UTC
  day, and now.
- ``limit``: 1 to 10,000, default 1,000, counted across symbols. ``sort``: ``asc``/``desc``.
- ``feed``: ``iex``, ``sip``, ``delayed_sip`` (one simulated tape serves them all);
  ``adjustment``: ``raw``, ``split``, ``dividend``, ``all`` (no corporate actions here: all are
  raw); ``asof``: a date or ``-`` (symbols never change here); ``currency``: ``USD``.
"""

import re
from datetime import UTC, datetime, timedelta

from api.directory import SYMBOL, TickerInfo, directory
from ticks.alpaca_bars import BarFrame, parse_frame

from .errors import bad_request, invalid, not_found

DEFAULT_LIMIT, MAX_LIMIT = 1000, 10_000
FEEDS = ("iex", "sip", "delayed_sip")
ADJUSTMENTS = ("raw", "split", "dividend", "all")
CURRENCIES = ("USD",)
SORTS = ("asc", "desc")
MAX_SYMBOLS = 200
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}(?::[0-9]{2})?)(?:[.,]([0-9]{1,9}))?"
    r"(Z|z|[+\- ][0-9]{2}:?[0-9]{2})?"
)
_DIGITS = re.compile(r"[0-9]{1,6}")


def _text(params, name: str) -> str | None:
    value = params.get(name)
    return None if value is None else str(value)


def parse_time(text: str, *, end_of_day: bool = False) -> datetime | None:
    """An aware UTC datetime of an RFC 3339 time or a date, or None."""
    text = text.strip()
    if len(text) > 64:
        return None
    try:
        if _DATE.fullmatch(text):
            moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
            if end_of_day:
                moment += timedelta(days=1, milliseconds=-1)
            return moment if EARLIEST <= moment < LATEST else None
        match = _DATETIME.fullmatch(text)
        if match is None:
            return None
        day, clock, fraction, offset = match.groups()
        offset = offset or "Z"
        if offset in ("Z", "z"):
            offset = "+00:00"
        elif offset[0] == " ":  # a "+" sent unencoded in a URL arrives as a space
            offset = "+" + offset[1:]
        fraction = f".{(fraction or '0')[:6]}"
        moment = datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}").astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment if EARLIEST <= moment < LATEST else None


def symbols_param(params) -> list[TickerInfo]:
    """The tickers named by ``symbols``, sorted by symbol, each once."""
    raw = _text(params, "symbols")
    if raw is None or not raw.strip():
        raise bad_request("missing symbols: give symbols=SYM1,SYM2 (our tickers: /v2/assets)")
    names = sorted({name.strip().upper() for name in raw.split(",") if name.strip()})
    if len(names) > MAX_SYMBOLS:
        raise invalid(f"too many symbols: at most {MAX_SYMBOLS} per request")
    return [ticker(name) for name in names]


def ticker(symbol: str) -> TickerInfo:
    """The ticker named ``symbol`` (any case), or a 400 (malformed) or 404 (unknown)."""
    name = symbol.strip().upper()
    if not SYMBOL.fullmatch(name):
        shown = name if len(name) <= 20 else name[:20] + "..."
        raise bad_request(f"invalid symbol: {shown!r} (1-12 of A-Z 0-9 . -)")
    info = directory.get(name)
    if info is None:
        raise not_found(f"unknown symbol: {name} (our tickers: /v2/assets)")
    return info


def timeframe_param(params) -> BarFrame:
    raw = _text(params, "timeframe")
    frame = parse_frame(raw) if raw is not None else None
    if frame is None:
        raise invalid(
            "invalid timeframe: use [1-59]Min (or T), [1-23]Hour (or H), 1Day (D), 1Week (W) "
            "or [1,2,3,4,6,12]Month (M)"
        )
    return frame


def limit_param(params) -> int:
    raw = _text(params, "limit")
    if raw is None:
        return DEFAULT_LIMIT
    value = int(raw.strip()) if _DIGITS.fullmatch(raw.strip()) else 0
    if not 1 <= value <= MAX_LIMIT:
        raise invalid(f"invalid limit: must be a whole number from 1 to {MAX_LIMIT}")
    return value


def _choice(params, name: str, choices: tuple[str, ...], note: str = "") -> str | None:
    raw = _text(params, name)
    if raw is None:
        return None
    if raw not in choices:
        raise invalid(f"invalid {name}: must be one of {', '.join(choices)}{note}")
    return raw


def window_params(params, *, now: datetime) -> tuple[datetime, datetime]:
    """``(start, end)``, ``end`` inclusive."""
    moments = {}
    for name, default in (("start", None), ("end", now)):
        raw = _text(params, name)
        if raw is None:
            moments[name] = default
            continue
        moment = parse_time(raw, end_of_day=name == "end")
        if moment is None:
            raise invalid(
                f"invalid {name}: use RFC 3339 (2024-01-15T10:30:00Z, "
                "2024-01-15T05:30:00-05:00) or a date (2024-01-15)"
            )
        moments[name] = moment
    start = moments["start"] or now.replace(hour=0, minute=0, second=0, microsecond=0)
    end = moments["end"]
    if end < start:
        raise invalid("end should not be before start")
    return start, end


def sort_param(params) -> bool:
    """True for ``sort=desc``."""
    return _choice(params, "sort", SORTS) == "desc"


def common_params(params) -> None:
    """``feed``, ``currency``: accepted when we serve them."""
    _choice(params, "feed", FEEDS, " (otc, boats and overnight are not simulated)")
    _choice(params, "currency", CURRENCIES, " (prices are in US dollars only)")


def series_params(params) -> None:
    """``feed``, ``currency``, ``adjustment`` and ``asof`` of the historical series."""
    common_params(params)
    _choice(params, "adjustment", ADJUSTMENTS)
    asof = _text(params, "asof")
    if asof is not None and asof != "-" and not (_DATE.fullmatch(asof) and parse_time(asof)):
        raise invalid("invalid asof: a date (2024-01-15) or '-'")
