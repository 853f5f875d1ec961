"""Reads for the Massive (formerly Polygon.io) dialect: aggregates, trades and quotes pages,
the last trade and quote, snapshots, the previous close, grouped daily bars and the market
status (selectors over ``ticks.series_reads``, the statements the Alpaca dialect runs too;
shapes from ``ticks.massive_shapes``).

Aggregate rows come back from PostgreSQL as JSON texts in Massive's shape (``agg_text``);
trades and quotes are built from the ticks. Days (previous close, grouped daily) are the
trading days of ``ticks.market_clock``: a session that is a whole UTC day is its stored daily
bar, any other session the aggregate of its minute bars, labelled at the session's open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from django.db import connection

from .alpaca_shapes import tick_sizes, time_ns
from .bar_frames import BarFrame
from .market import from_ms
from .market_clock import TradingDay, market_clock, trading_days
from .massive_shapes import (
    DayTotals,
    agg_fields,
    last_quote_fields,
    last_trade_fields,
    quote_fields,
    trade_fields,
)
from .payloads import BarPayload, TickPayload
from .series_reads import (
    EPOCH_MS,
    PageWindow,
    SeriesPage,
    TickerRef,
    bars_page,
    latest_bar_rows,
    latest_ticks,
    ticks_page,
)

__all__ = [
    "aggregates_page",
    "day_totals_through",
    "grouped_daily",
    "last_quote",
    "last_quote_from",
    "last_trade",
    "last_trade_from",
    "market_status",
    "previous_close",
    "previous_trading_day",
    "quotes_page",
    "snapshots",
    "trades_page",
]

#: How far back the previous trading day is looked for (long holidays included).
PREVIOUS_DAY_SEARCH = timedelta(days=14)
try:
    MARKET_ZONE = ZoneInfo("America/New_York")  # Massive writes its server time in New York's
except ZoneInfoNotFoundError:  # pragma: no cover - a system without time zone data
    MARKET_ZONE = None


def agg_text(*, col, o, h, l, c, v, n, vw) -> str:  # noqa: E741
    """SQL of one aggregate's JSON text (``agg_fields``' shape, ``t`` in epoch ms)."""
    t = EPOCH_MS.format(col=col)
    return (
        f"""'{{"v":' || {v} || ',"vw":' || {vw} || ',"o":' || {o} || ',"c":' || {c}"""
        f""" || ',"h":' || {h} || ',"l":' || {l} || ',"t":' || {t} || ',"n":' || {n}"""
        """ || '}'"""
    )


def aggregates_page(*, ticker: TickerRef, frame: BarFrame, window: PageWindow) -> SeriesPage:
    """A page of ``frame`` aggregates of ``ticker``."""
    return bars_page(tickers=[ticker], frame=frame, window=window, text=agg_text)


def _tick_rows(ticker: TickerRef, window: PageWindow, build) -> tuple[bytes, int, int | None]:
    """``(JSON array, count, epoch ms of the next page's cursor or None)``."""
    page = ticks_page(tickers=[ticker], window=window)
    ticks = page.ticks.get(ticker.symbol, [])
    after = page.next[1] if page.next else None
    return orjson.dumps(build(ticker, ticks)), page.count, after


def trades_page(*, ticker: TickerRef, window: PageWindow) -> tuple[bytes, int, int | None]:
    """A page of trades (one per stored tick) of ``ticker``."""
    return _tick_rows(ticker, window, lambda _, ticks: [trade_fields(t) for t in ticks])


def _quotes(ticker: TickerRef, ticks: list[TickPayload]) -> list[dict]:
    bids, asks = tick_sizes(ticker.seed, ticks)
    return [quote_fields(t, bid, ask) for t, bid, ask in zip(ticks, bids, asks)]


def quotes_page(*, ticker: TickerRef, window: PageWindow) -> tuple[bytes, int, int | None]:
    """A page of quotes (one per stored tick, sizes computed) of ``ticker``."""
    return _tick_rows(ticker, window, _quotes)


# --- latest and snapshots ---------------------------------------------------------------------------


def last_trade(ticker: TickerRef) -> dict | None:
    return last_trade_from(latest_ticks([ticker]).get(ticker.symbol))


def last_trade_from(tick: TickPayload | None) -> dict | None:
    """``last_trade`` from the ticker's latest tick (``latest_ticks`` or ``alatest_ticks``)."""
    return None if tick is None else last_trade_fields(tick)


def last_quote(ticker: TickerRef) -> dict | None:
    return last_quote_from(ticker, latest_ticks([ticker]).get(ticker.symbol))


def last_quote_from(ticker: TickerRef, tick: TickPayload | None) -> dict | None:
    """``last_quote`` from the ticker's latest tick."""
    if tick is None:
        return None
    bids, asks = tick_sizes(ticker.seed, [tick])
    return last_quote_fields(tick, bids[0], asks[0])


def _day(bar: BarPayload | None) -> dict:
    if bar is None:
        return {"o": 0, "h": 0, "l": 0, "c": 0, "v": 0, "vw": 0}
    return {k: v for k, v in agg_fields(bar).items() if k not in ("t", "n")}


def snapshots(tickers: Sequence[TickerRef]) -> list[dict]:
    """Massive's ticker snapshot of each ticker: ``day`` (the latest daily bar, the day so far),
    ``prevDay`` (the one before), ``min`` (the latest minute bar, ``av`` the day's volume so
    far), ``lastTrade``, ``lastQuote``, the change since the previous close and ``updated``
    (ns). A part with no data yet is all zeros, as Massive's are before a ticker trades."""
    ticks = latest_ticks(tickers)
    bars = latest_bar_rows(tickers, daily=True)
    out = []
    for ticker in tickers:
        tick = ticks.get(ticker.symbol)
        frames = bars.get(ticker.symbol, {})
        daily = frames.get("1d", [])
        day, prev = (daily + [None, None])[:2]
        minute = (frames.get("1m") or [None])[0]
        snap = {"ticker": ticker.symbol, "day": _day(day), "prevDay": _day(prev)}
        snap["min"] = {**_day(minute), "av": day.volume if day else 0, "t": 0, "n": 0}
        if minute is not None:
            snap["min"].update(t=minute.time_ms, n=minute.trade_count)
        change = 0.0
        if tick is not None:
            bids, asks = tick_sizes(ticker.seed, [tick])
            trade = last_trade_fields(tick)
            quote = last_quote_fields(tick, bids[0], asks[0])
            snap["lastTrade"] = {k: trade[k] for k in ("c", "i", "p", "s", "t", "x")}
            snap["lastQuote"] = {k: quote[k] for k in ("P", "S", "p", "s", "t")}
            snap["updated"] = time_ns(tick.time_ms)
            if prev is not None:
                change = round(tick.price_cents / 100 - float(prev.close), 2)
        snap["todaysChange"] = change
        snap["todaysChangePerc"] = (
            round(change / float(prev.close) * 100, 4) if prev is not None and prev.close else 0.0
        )
        out.append(snap)
    return out


# --- trading days --------------------------------------------------------------------------------

_WHOLE_DAY = """SELECT ticker_id, {ms}, open, high, low, close, volume, trade_count, vwap
  FROM ticks_bar WHERE ticker_id = ANY(%(ids)s) AND timeframe = '1d' AND "time" = %(open)s
""".replace("{ms}", EPOCH_MS.format(col='"time"'))

_SESSION = """SELECT ticker_id, {ms}, (array_agg(open ORDER BY "time"))[1], max(high), min(low),
       (array_agg(close ORDER BY "time" DESC))[1], sum(volume), sum(trade_count),
       coalesce(round(sum(vwap * volume) / nullif(sum(volume), 0), 4),
                (array_agg(close ORDER BY "time" DESC))[1])
  FROM ticks_bar WHERE ticker_id = ANY(%(ids)s) AND timeframe = '1m'
   AND "time" >= %(open)s AND "time" < %(close)s GROUP BY ticker_id
""".replace("{ms}", EPOCH_MS.format(col="%(open)s::timestamptz"))


def _session_bars(tickers: Sequence[TickerRef], day: TradingDay) -> list[dict]:
    whole = day.close - day.open == timedelta(days=1) and day.open.hour == 0
    by_id = {t.id: t.symbol for t in tickers}
    params = {"ids": list(by_id), "open": day.open, "close": day.close}
    with connection.cursor() as cursor:
        cursor.execute(_WHOLE_DAY if whole else _SESSION, params)
        rows = cursor.fetchall()
    bars = [BarPayload(by_id[row[0]], "1d", *row[1:]) for row in rows]
    return [agg_fields(bar, ticker=True) for bar in sorted(bars, key=lambda b: b.ticker)]


def previous_trading_day(*, now: datetime) -> TradingDay | None:
    """The last trading day before ``now``'s (``ticks.market_clock``)."""
    today = now.date()
    days = trading_days(start=today - PREVIOUS_DAY_SEARCH, end=today - timedelta(days=1))
    return days[-1] if days else None


def previous_close(*, ticker: TickerRef, now: datetime) -> list[dict]:
    """The previous trading day's bar of ``ticker`` (none when it has none)."""
    day = previous_trading_day(now=now)
    return [] if day is None else _session_bars([ticker], day)


def grouped_daily(*, tickers: Sequence[TickerRef], day: date) -> list[dict]:
    """The bar of ``day`` of every ticker that has one; none when ``day`` is not a trading
    day."""
    days = trading_days(start=day, end=day)
    return _session_bars(tickers, days[0]) if days and tickers else []


def market_status(*, now: datetime) -> dict:
    """``/v1/marketstatus/now``: open or closed as ``ticks.market_clock`` says, for the stock
    exchanges and the market as a whole (no extended hours here); currencies trade around the
    clock."""
    state = "open" if market_clock(now=now).is_open else "closed"
    shown = now.astimezone(MARKET_ZONE) if MARKET_ZONE is not None else now
    return {
        "afterHours": False,
        "currencies": {"crypto": "open", "fx": "open"},
        "earlyHours": False,
        "exchanges": {"nasdaq": state, "nyse": state, "otc": state},
        "market": state,
        "serverTime": shown.isoformat(timespec="seconds"),
    }


_DAY_TOTALS = """
SELECT t.symbol, d.open, d.volume - coalesce(sum(m.volume), 0),
       d.vwap * d.volume - coalesce(sum(m.vwap * m.volume), 0)
FROM ticks_bar d
JOIN ticks_ticker t ON t.id = d.ticker_id
LEFT JOIN ticks_bar m
       ON m.ticker_id = d.ticker_id AND m.timeframe = '1m'
      AND m."time" > %(minute)s AND m."time" < %(day_end)s
WHERE d.timeframe = '1d' AND d."time" = %(day)s AND t.symbol = ANY(%(symbols)s)
GROUP BY t.symbol, d.open, d.volume, d.vwap
"""


def day_totals_through(*, minute_ms: int, symbols: Sequence[str]) -> dict[str, DayTotals]:
    """The day so far of ``symbols`` through the minute starting at ``minute_ms`` (its UTC day,
    as the daily bars count it): the day's ``1d`` bar less the day's ``1m`` bars after that
    minute, in one statement, so from one snapshot of the rollup (which writes both in one
    transaction). Symbols without a daily bar are left out."""
    day_ms = minute_ms - minute_ms % 86_400_000
    params = {
        "minute": from_ms(minute_ms),
        "day": from_ms(day_ms),
        "day_end": from_ms(day_ms + 86_400_000),
        "symbols": list(symbols),
    }
    with connection.cursor() as cursor:
        cursor.execute(_DAY_TOTALS, params)
        rows = cursor.fetchall()
    return {
        symbol: DayTotals(float(open_), int(volume), float(price_volume))
        for symbol, open_, volume, price_volume in rows
        if volume > 0
    }
