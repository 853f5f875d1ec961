"""The API's reads (selectors): the latest quote, pages of history and bars, statistics,
server time.

The data comes from the domain's selectors (``ticks.selectors`` for the database,
``ticks.live_reads`` for the live quote in Redis); these functions pick the source, resolve
windows and shape the results for the API.
"""

import math
from datetime import datetime, timedelta
from functools import partial

import orjson
import redis
from asgiref.sync import sync_to_async
from rest_framework import status

from ticks.events import trading_status
from ticks.freshness import age_ms, is_stale
from ticks.live_reads import alatest_quote_record, latest_quote_record
from ticks.market import to_ms
from ticks.market_time import market_now_ms
from ticks.selectors import (
    bar_range,
    row_time_ms,
    series_neighbour_ms,
    tick_latest,
    tick_range,
    ticker_stats,
)

from .directory import TickerInfo
from .errors import ApiError
from .inputs import TIMEFRAME_WIDTH
from .paging import Page, page_read
from .shapes import iso_ms, price, quote_from_live, quote_from_row

SECONDS_PER_YEAR = 365 * 86_400  # the market trades 24/7: a 365-day year, as the engine
# Periods of /stats: their length and the bars whose whole buckets they are read from.
STAT_PERIODS = {
    "1h": (timedelta(hours=1), "1m"),
    "1d": (timedelta(days=1), "1m"),
    "7d": (timedelta(days=7), "1h"),
    "30d": (timedelta(days=30), "1h"),
}


def bar_width(timeframe: str) -> timedelta:
    return TIMEFRAME_WIDTH[timeframe]


def now_ms(moment: datetime) -> datetime:
    """``moment`` truncated to the millisecond (the precision of every time we show)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


NOT_FETCHED = object()


def quote_get(*, ticker: TickerInfo, prefetched=NOT_FETCHED) -> tuple[dict, str]:
    """The latest quote and where it came from: the live cache, else the newest stored tick.

    ``prefetched``: the cache entry when already read (the rate limiter's round trip brings it).
    """
    raw = prefetched
    if raw is NOT_FETCHED:
        try:
            raw = latest_quote_record(ticker.symbol)
        except redis.RedisError:
            raw = None
    live = _live_quote(raw)
    quote, source = (live, "live") if live is not None else _stored_quote(ticker)
    return _with_status(quote, ticker), source


async def quote_get_async(
    *, ticker: TickerInfo, client, prefetched=NOT_FETCHED
) -> tuple[dict, str]:
    """``quote_get`` on an event loop: the cache through ``client`` (redis.asyncio), the
    database fallback in a thread."""
    raw = prefetched
    if raw is NOT_FETCHED:
        try:
            raw = await alatest_quote_record(ticker.symbol, client)
        except redis.RedisError:
            raw = None
    live = _live_quote(raw)
    if live is not None:
        return _with_status(live, ticker), "live"
    quote, source = await sync_to_async(_stored_quote)(ticker)
    return _with_status(quote, ticker), source


def _with_status(quote: dict, ticker: TickerInfo) -> dict:
    """The quote with its ticker's ``status``: ``halted`` (deactivated, or in a halt event)
    or ``trading``."""
    quote["status"] = trading_status(
        symbol=ticker.symbol, active=ticker.is_active, at_ms=market_now_ms()
    )
    return quote


def quote_meta(*, ticker: TickerInfo, quote: dict, source: str, now: datetime) -> dict:
    """The quote's ``meta``: where it came from, how old it is (``age_ms``: now minus its
    time) and whether the feed is ``stale`` (``ticks.freshness``: its market is open and no new
    tick came for ``GENERATION_STALE_SECONDS`` after one was due)."""
    now_ms = to_ms(now)
    time_ms = to_ms(datetime.fromisoformat(quote["time"].replace("Z", "+00:00")))
    return {
        "ticker": ticker.symbol,
        "source": source,
        "age_ms": age_ms(time_ms, now_ms),
        "stale": is_stale(
            symbol=ticker.symbol,
            last_tick_ms=time_ms,
            tick_interval_ms=ticker.tick_interval_ms,
            now_ms=now_ms,
            calendar=ticker.calendar,
            extended_hours=ticker.extended_hours,
        ),
    }


def _live_quote(raw) -> dict | None:
    if not raw:
        return None
    try:
        return quote_from_live(orjson.loads(raw))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # a malformed entry: the database has the answer


def _stored_quote(ticker: TickerInfo) -> tuple[dict, str]:
    row = tick_latest(ticker_id=ticker.id)
    if row is None:
        raise ApiError(status.HTTP_404_NOT_FOUND, "no_data", f"{ticker.symbol} has no quotes yet.")
    return quote_from_row(ticker.symbol, row), "database"


def _series_page(*, fetch, ticker: TickerInfo, timeframe: str | None, fmt: str, **window) -> Page:
    """One page of a ticker's ticks (``timeframe`` None) or bars, read by ``fetch``."""

    def neighbour(**where):
        return series_neighbour_ms(ticker_id=ticker.id, timeframe=timeframe, **where)

    return page_read(
        fetch=fetch, row_ms=partial(row_time_ms, fmt=fmt), neighbour=neighbour, **window
    )


def history_page(
    *,
    ticker: TickerInfo,
    start,
    end,
    limit: int,
    now: datetime,
    default_span: timedelta,
    max_span: timedelta,
    fmt: str = "json",
) -> Page:
    """A page of ticks; ``page.rows`` are texts per ``fmt`` (JSON objects or CSV lines, see
    ``ticks.selectors.tick_range``)."""

    def fetch(**window):
        return tick_range(ticker_id=ticker.id, symbol=ticker.symbol, fmt=fmt, **window)

    return _series_page(
        fetch=fetch,
        ticker=ticker,
        timeframe=None,
        fmt=fmt,
        start=start,
        end=end,
        limit=limit,
        now=now,
        default_span=default_span,
        max_span=max_span,
    )


def bars_page(
    *,
    ticker: TickerInfo,
    timeframe: str,
    start,
    end,
    limit: int,
    now: datetime,
    default_span: timedelta,
    max_span: timedelta,
    fmt: str = "json",
) -> Page:
    """A page of bars, rows as ``history_page``'s."""

    def fetch(**window):
        return bar_range(
            ticker_id=ticker.id, symbol=ticker.symbol, timeframe=timeframe, fmt=fmt, **window
        )

    return _series_page(
        fetch=fetch,
        ticker=ticker,
        timeframe=timeframe,
        fmt=fmt,
        start=start,
        end=end,
        limit=limit,
        now=now,
        default_span=default_span,
        max_span=max_span,
    )


def stats_get(*, ticker: TickerInfo, period: str, now: datetime) -> tuple[dict, dict]:
    """Statistics of the ticks in ``[now - period, now)``: ``(data, meta)``.

    ``avg_price`` is the volume-weighted average price; ``volatility`` the annualized realized
    volatility of the log returns between consecutive closes (1m bars, 1h bars for 7d/30d),
    ``sqrt(sum r^2 / elapsed years)``; ``change_pct`` a percentage.
    """
    span, coarse = STAT_PERIODS[period]
    end = now
    start = end - span
    agg = ticker_stats(ticker_id=ticker.id, start=start, end=end, coarse=coarse)
    first, last = agg["open"], agg["close"]
    change = last - first if first is not None and last is not None else None
    volatility = None
    if agg["sum_r2"] is not None and agg["seconds"]:
        volatility = round(math.sqrt(agg["sum_r2"] / agg["seconds"] * SECONDS_PER_YEAR), 6)
    data = {
        "ticker": ticker.symbol,
        "period": period,
        "tick_count": int(agg["tick_count"]),
        "open": price(first),
        "high": price(agg["high"]),
        "low": price(agg["low"]),
        "close": price(last),
        "avg_price": price(agg["vwap"]),
        "total_volume": int(agg["volume"]),
        "volatility": volatility,
        "change": price(change),
        "change_pct": (
            round(float(change / first * 100), 4) if change is not None and first else None
        ),
    }
    meta = {"ticker": ticker.symbol, "period": period, "start": iso_ms(start), "end": iso_ms(end)}
    return data, meta


def server_time(*, now: datetime) -> dict:
    return {"time": iso_ms(now), "timestamp": to_ms(now)}
