"""Reads for the Massive (formerly Polygon.io) dialect: aggregates, trades and quotes pages,
the last trade and quote, snapshots, the previous close, grouped daily bars and the market
status (selectors over ``ticks.series_reads``, the statements the Alpaca dialect runs too;
shapes from ``ticks.massive_shapes``).

Aggregate rows come back from PostgreSQL as JSON texts in Massive's shape (``agg_text``);
trades and quotes are built from the ticks. Days (previous close, grouped daily, the day so
far) are each ticker's days (``ticks.session_days``): its stored daily bars, UTC days for a
24/7 ticker, the exchange's local dates (labelled at local midnight) for a calendar ticker; the
previous close is the last trading day of the ticker's calendar before its current local date
(``ticks.market_clock``). The market status is that of ``MARKET_CALENDAR``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from django.db import connection

from . import calendars
from .alpaca_shapes import tick_sizes, time_ns
from .bar_frames import BarFrame
from .calendars import ALWAYS_OPEN
from .market import from_ms
from .market_clock import TradingDay, default_calendar, ticker_session
from .market_clock import previous_trading_day as market_clock_previous_day
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
from .session_days import UTC_ZONE, day_label, day_start, next_day_start, ticker_zones, zone_name

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

_DAY_BARS = """SELECT b.ticker_id, {ms}, b.open, b.high, b.low, b.close, b.volume, b.trade_count,
       b.vwap
  FROM unnest(%(ids)s::bigint[], %(labels)s::timestamptz[]) AS d(id, label)
  JOIN ticks_bar b ON b.ticker_id = d.id AND b.timeframe = '1d' AND b."time" = d.label
""".replace("{ms}", EPOCH_MS.format(col='b."time"'))


def _calendar(ticker) -> str:
    return getattr(ticker, "calendar", ALWAYS_OPEN)


def _day_bars(tickers: Sequence[TickerRef], days: dict[int, date]) -> list[dict]:
    """The stored daily bar of each ticker's day ``days[id]`` (none when it has none), by
    symbol."""
    by_id = {t.id: t for t in tickers if t.id in days}
    if not by_id:
        return []
    labels = [day_label(days[i], zone_name(_calendar(by_id[i]))) for i in by_id]
    with connection.cursor() as cursor:
        cursor.execute(_DAY_BARS, {"ids": list(by_id), "labels": labels})
        rows = cursor.fetchall()
    bars = [BarPayload(by_id[row[0]].symbol, "1d", *row[1:]) for row in rows]
    return [agg_fields(bar, ticker=True) for bar in sorted(bars, key=lambda b: b.ticker)]


def previous_trading_day(*, now: datetime, calendar: str | None = None) -> TradingDay | None:
    """The last trading day of ``calendar`` (default ``MARKET_CALENDAR``) before the
    exchange's local date at ``now`` (``ticks.market_clock``)."""
    return market_clock_previous_day(now=now, calendar=calendar)


def previous_close(*, ticker: TickerRef, now: datetime) -> list[dict]:
    """The bar of the previous trading day of ``ticker``'s calendar (none when it has none)."""
    day = previous_trading_day(now=now, calendar=_calendar(ticker))
    return [] if day is None else _day_bars([ticker], {ticker.id: day.day})


def grouped_daily(*, tickers: Sequence[TickerRef], day: date) -> list[dict]:
    """The bar of ``day`` (each ticker's day of that date) of every ticker that has one: none
    for a ticker whose calendar did not trade that day."""
    return _day_bars(tickers, {t.id: day for t in tickers})


def market_status(*, now: datetime) -> dict:
    """``/v1/marketstatus/now`` at market time ``now``: the session of ``MARKET_CALENDAR``
    for the stock exchanges and the market as a whole (``extended-hours`` with ``earlyHours``
    in a pre-market, ``afterHours`` in a post-market, where the exchange has them; 24/7: always
    open); currencies trade around the clock."""
    code = default_calendar()
    session = ticker_session(
        calendar=code, extended_hours=calendars.has_extended_hours(code), at=now
    )
    phase = session.phase
    state = {"open": "open", "pre": "extended-hours", "post": "extended-hours"}.get(phase, "closed")
    shown = now.astimezone(MARKET_ZONE) if MARKET_ZONE is not None else now
    return {
        "afterHours": phase == "post",
        "currencies": {"crypto": "open", "fx": "open"},
        "earlyHours": phase == "pre",
        "exchanges": {"nasdaq": state, "nyse": state, "otc": state},
        "market": state,
        "serverTime": shown.isoformat(timespec="seconds"),
    }


_DAY_TOTALS = """
SELECT t.symbol, d.open, d.volume - coalesce(sum(m.volume), 0),
       d.vwap * d.volume - coalesce(sum(m.vwap * m.volume), 0)
FROM unnest(%(symbols)s::text[], %(days)s::timestamptz[], %(day_ends)s::timestamptz[])
     AS w(symbol, day, day_end)
JOIN ticks_ticker t ON t.symbol = w.symbol
JOIN ticks_bar d ON d.ticker_id = t.id AND d.timeframe = '1d' AND d."time" = w.day
LEFT JOIN ticks_bar m
       ON m.ticker_id = d.ticker_id AND m.timeframe = '1m'
      AND m."time" > %(minute)s AND m."time" < w.day_end
GROUP BY t.symbol, d.open, d.volume, d.vwap
"""


def day_totals_through(
    *, minute_ms: int, symbols: Sequence[str], zones: dict[str, str] | None = None
) -> dict[str, DayTotals]:
    """The day so far of ``symbols`` through the minute starting at ``minute_ms`` (each
    ticker's day, as its daily bars count it: ``zones`` maps a calendar ticker's symbol to its
    day zone, read when not given): the day's ``1d`` bar less the day's ``1m`` bars after that
    minute, in one statement, so from one snapshot of the rollup (which writes both in one
    transaction). Symbols without a daily bar are left out."""
    symbols = list(symbols)
    if zones is None:
        zones = ticker_zones(symbols=symbols)
    minute = from_ms(minute_ms)
    days, ends = [], []
    for symbol in symbols:
        zone = zones.get(symbol, UTC_ZONE)
        days.append(day_start(minute, zone))
        ends.append(next_day_start(minute, zone))
    params = {"minute": minute, "symbols": symbols, "days": days, "day_ends": ends}
    with connection.cursor() as cursor:
        cursor.execute(_DAY_TOTALS, params)
        rows = cursor.fetchall()
    return {
        symbol: DayTotals(float(open_), int(volume), float(price_volume))
        for symbol, open_, volume, price_volume in rows
        if volume > 0
    }
