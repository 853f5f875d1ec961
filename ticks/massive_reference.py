"""Massive's reference data for our tickers: ``/v3/reference/tickers`` (a filtered, sorted
list) and ``/v3/reference/tickers/{ticker}`` (one ticker's details).

Every ticker is a US common stock (``market`` ``stocks``, ``locale`` ``us``, ``type`` ``CS``,
``currency_name`` ``usd``) listed on ``PRIMARY_EXCHANGE`` (XNAS, the Alpaca dialect's
``NASDAQ``), ``active`` while the ticker is active. Filters follow Massive's: ``ticker`` (and
``.gt/.gte/.lt/.lte``), ``type``, ``market``, ``exchange``, ``active`` (default: active ones
only), ``search`` (in the symbol or the name, any case); sort by ``ticker`` or ``name`` (the
other fields are the same for every ticker here: they sort by ticker), either order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "MARKET",
    "PRIMARY_EXCHANGE",
    "TYPE",
    "TickerFilter",
    "ticker_details",
    "ticker_list",
    "ticker_result",
]

MARKET = "stocks"
LOCALE = "us"
TYPE = "CS"
PRIMARY_EXCHANGE = "XNAS"
CURRENCY = "usd"
SORTS = ("ticker", "name", "market", "locale", "primary_exchange", "type", "currency_name")


class TickerLike(Protocol):
    symbol: str
    name: str
    sector: str
    is_active: bool


@dataclass(frozen=True)
class TickerFilter:
    ticker: str | None = None
    ticker_gt: str | None = None
    ticker_gte: str | None = None
    ticker_lt: str | None = None
    ticker_lte: str | None = None
    type: str | None = None
    market: str | None = None
    exchange: str | None = None
    active: bool = True
    search: str | None = None
    sort: str = "ticker"
    descending: bool = False


def ticker_result(info: TickerLike) -> dict:
    return {
        "ticker": info.symbol,
        "name": info.name,
        "market": MARKET,
        "locale": LOCALE,
        "primary_exchange": PRIMARY_EXCHANGE,
        "type": TYPE,
        "active": bool(info.is_active),
        "currency_name": CURRENCY,
    }


def ticker_details(info: TickerLike) -> dict:
    return {
        **ticker_result(info),
        "description": f"{info.name}: a synthetic {info.sector or 'market'} stock.",
        "sic_description": info.sector,
    }


def _kept(info: TickerLike, f: TickerFilter) -> bool:
    s = info.symbol
    checks = (
        f.ticker is None or s == f.ticker,
        f.ticker_gt is None or s > f.ticker_gt,
        f.ticker_gte is None or s >= f.ticker_gte,
        f.ticker_lt is None or s < f.ticker_lt,
        f.ticker_lte is None or s <= f.ticker_lte,
        f.type is None or f.type == TYPE,
        f.market is None or f.market == MARKET,
        f.exchange is None or f.exchange == PRIMARY_EXCHANGE,
        bool(info.is_active) == f.active,
        not f.search or f.search.lower() in s.lower() or f.search.lower() in info.name.lower(),
    )
    return all(checks)


def ticker_list(tickers: Iterable[TickerLike], f: TickerFilter) -> list[dict]:
    """The tickers ``f`` keeps, as ``/v3/reference/tickers`` results, in ``f``'s order."""
    kept = [info for info in tickers if _kept(info, f)]
    if f.sort == "name":
        kept.sort(key=lambda i: (i.name, i.symbol), reverse=f.descending)
    else:
        kept.sort(key=lambda i: i.symbol, reverse=f.descending)
    return [ticker_result(info) for info in kept]
