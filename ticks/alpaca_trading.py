"""The Alpaca Trading-API reads that data clients call (``/v2/clock``, ``/v2/calendar``,
``/v2/assets``), in Alpaca's shapes.

Assets: every ticker is an ``us_equity`` asset, ``active`` while the ticker is active, with a
stable ``id`` (UUID 5 of the symbol in ``ASSET_NAMESPACE``, so it never changes and is the same
on every installation) and the fixed listing exchange ``ASSET_EXCHANGE`` (alpaca-py accepts only
real exchange names there; documented in the README). Tradable, marginable, shortable, easy to
borrow and fractionable are all true: nothing of ours refuses an order's asset.

The clock and the calendar come from ``ticks.market_clock`` (the one place that decides when
the market is open), for the ``MARKET_CALENDAR`` setting; times are RFC 3339 UTC, calendar
times ``HH:MM`` in the exchange's local time as Alpaca writes New York's (UTC for 24/7).
"""

from __future__ import annotations

import uuid
from datetime import date

from .market_clock import default_calendar, market_clock, trading_days, zone_of
from .models import Ticker

__all__ = [
    "ASSET_CLASS",
    "ASSET_EXCHANGE",
    "ASSET_NAMESPACE",
    "asset_get",
    "asset_id",
    "asset_list",
    "calendar",
    "clock",
]

ASSET_CLASS = "us_equity"
ASSET_EXCHANGE = "NASDAQ"
ASSET_NAMESPACE = uuid.UUID("5b0e6a3e-3c5d-5c1a-9a53-73796e746821")


def asset_id(symbol: str) -> str:
    return str(uuid.uuid5(ASSET_NAMESPACE, symbol))


def _asset(symbol: str, name: str, active: bool) -> dict:
    return {
        "id": asset_id(symbol),
        "class": ASSET_CLASS,
        "exchange": ASSET_EXCHANGE,
        "symbol": symbol,
        "name": name,
        "status": "active" if active else "inactive",
        "tradable": True,
        "marginable": True,
        "maintenance_margin_requirement": 30,
        "margin_requirement_long": "30",
        "margin_requirement_short": "100",
        "shortable": True,
        "easy_to_borrow": True,
        "fractionable": True,
        "attributes": [],
    }


def _rows():
    return Ticker.objects.order_by("symbol").values_list("symbol", "name", "is_active")


def asset_list(
    *, status: str | None = None, asset_class: str | None = None, exchange: str | None = None
) -> list[dict]:
    """Every ticker as an asset, by symbol; ``status`` (active/inactive), ``asset_class`` and
    ``exchange`` filter as Alpaca's do (another class or exchange has no assets here)."""
    if asset_class not in (None, ASSET_CLASS) or exchange not in (None, ASSET_EXCHANGE):
        return []
    assets = [_asset(*row) for row in _rows()]
    return [a for a in assets if status is None or a["status"] == status]


def asset_get(symbol_or_id: str) -> dict | None:
    """The asset named by its symbol (any case) or its ``id``, or None."""
    wanted = symbol_or_id.strip()
    for symbol, name, active in _rows():
        if symbol == wanted.upper() or asset_id(symbol) == wanted.lower():
            return _asset(symbol, name, active)
    return None


def _rfc3339(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def clock(*, now) -> dict:
    """``/v2/clock`` at market time ``now``: the regular session of ``MARKET_CALENDAR``."""
    state = market_clock(now=now)
    return {
        "timestamp": _rfc3339(state.now),
        "is_open": state.is_open,
        "next_open": _rfc3339(state.next_open),
        "next_close": _rfc3339(state.next_close),
    }


def _hhmm(moment, day: date, zone) -> str:
    """``HH:MM`` of a session edge on ``day`` in the exchange's local time (UTC for 24/7); the
    midnight that ends a day is ``23:59`` (alpaca-py parses ``%H:%M``, which has no ``24:00``)."""
    local = moment.astimezone(zone)
    if local.date() > day:
        return "23:59"
    return local.strftime("%H:%M")


def calendar(*, start: date, end: date) -> list[dict]:
    """``/v2/calendar``: the trading days of ``MARKET_CALENDAR``, times in the exchange's local
    time as Alpaca writes New York's: ``open``/``close`` the regular session (``HH:MM``),
    ``session_open``/``session_close`` the pre-market's start and the post-market's end where
    the exchange has them (``HHMM``), ``settlement_date`` the next trading day (T+1)."""
    code = default_calendar()
    zone = zone_of(code)
    return [
        {
            "date": day.day.isoformat(),
            "open": _hhmm(day.open, day.day, zone),
            "close": _hhmm(day.close, day.day, zone),
            "session_open": _hhmm(day.session_open, day.day, zone).replace(":", ""),
            "session_close": _hhmm(day.session_close, day.day, zone).replace(":", ""),
            "settlement_date": day.settlement.isoformat(),
        }
        for day in trading_days(start=start, end=end, calendar=code)
    ]
