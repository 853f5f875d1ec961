"""Reads for the Alpaca Market Data v2 dialect: pages of bars, trades and quotes over several
tickers, and the latest trade, quote and bars of each (selectors over ``ticks.series_reads``,
which the Massive dialect shares; shapes from ``ticks.alpaca_shapes``).

Pages hold the rows of several tickers sorted by symbol, then by time, at most ``limit`` rows
counted across the tickers, one SQL statement each, with keyset cursors ``(symbol, epoch ms)``
(``ticks.series_reads``). Windows are ``start <= time <= end`` (Alpaca's ``end`` is
inclusive).

Bar rows come back from PostgreSQL as JSON texts in Alpaca's bar shape (``_bar_text``); trades
and quotes are built from the ticks by ``ticks.alpaca_shapes`` (quotes need their sizes, which
are computed).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from .alpaca_shapes import bar_fields, quote_fields, rfc3339_ns, tick_sizes, trade_fields
from .bar_frames import BarFrame
from .payloads import BarPayload, TickPayload
from .series_reads import PageWindow, SeriesPage, TickerRef, latest_bar_rows, latest_ticks
from .series_reads import bars_page as _bars_page
from .series_reads import ticks_page as _ticks_page

__all__ = [
    "PageWindow",
    "SeriesPage",
    "bars_page",
    "latest_bars",
    "latest_quotes",
    "latest_quotes_from",
    "latest_ticks",
    "latest_trades",
    "latest_trades_from",
    "quotes_page",
    "rfc3339_s",
    "snapshots",
    "trades_page",
]


def rfc3339_s(time_ms: int) -> str:
    """``2026-12-02T10:00:00Z``: a bar's label as Alpaca writes it (whole seconds)."""
    return rfc3339_ns(time_ms)[:19] + "Z"


def _bar_text(*, col, o, h, l, c, v, n, vw) -> str:  # noqa: E741
    """SQL of one Alpaca bar's JSON text (``bar_fields``' shape)."""
    return (
        f"""'{{"t":"' || to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
        f""" || '","o":' || {o} || ',"h":' || {h} || ',"l":' || {l} || ',"c":' || {c}"""
        f""" || ',"v":' || {v} || ',"n":' || {n} || ',"vw":' || {vw} || '}}'"""
    )


def bars_page(*, tickers: Sequence[TickerRef], frame: BarFrame, window: PageWindow) -> SeriesPage:
    """A page of ``frame`` bars of ``tickers`` (sorted by symbol)."""
    return _bars_page(tickers=tickers, frame=frame, window=window, text=_bar_text)


def _tick_page(tickers, window: PageWindow, build) -> SeriesPage:
    page = _ticks_page(tickers=tickers, window=window)
    rows = {s: orjson.dumps(build(page.tickers[s], ticks)) for s, ticks in page.ticks.items()}
    return SeriesPage(rows=rows, next=page.next, count=page.count)


def trades_page(*, tickers: Sequence[TickerRef], window: PageWindow) -> SeriesPage:
    """A page of trades (one per stored tick) of ``tickers`` (sorted by symbol)."""
    return _tick_page(tickers, window, _trades)


def quotes_page(*, tickers: Sequence[TickerRef], window: PageWindow) -> SeriesPage:
    """A page of quotes (one per stored tick, sizes computed) of ``tickers``."""
    return _tick_page(tickers, window, _quotes)


def _trades(ticker, ticks: list[TickPayload]) -> list[dict]:
    return [trade_fields(tick, rfc3339_ns(tick.time_ms)) for tick in ticks]


def _quotes(ticker, ticks: list[TickPayload]) -> list[dict]:
    bids, asks = tick_sizes(ticker.seed, ticks)
    return [
        quote_fields(tick, rfc3339_ns(tick.time_ms), bid, ask)
        for tick, bid, ask in zip(ticks, bids, asks)
    ]


# --- latest -----------------------------------------------------------------------------------------


def latest_trades(tickers: Sequence[TickerRef]) -> dict[str, dict]:
    """Alpaca's latest trade of each ticker that has one."""
    return latest_trades_from(latest_ticks(tickers))


def latest_trades_from(ticks: dict[str, TickPayload]) -> dict[str, dict]:
    """``latest_trades`` from the latest ticks (``latest_ticks`` or ``alatest_ticks``)."""
    return {s: trade_fields(tick, rfc3339_ns(tick.time_ms)) for s, tick in ticks.items()}


def latest_quotes(tickers: Sequence[TickerRef]) -> dict[str, dict]:
    """Alpaca's latest quote of each ticker that has one."""
    return latest_quotes_from(tickers, latest_ticks(tickers))


def latest_quotes_from(
    tickers: Sequence[TickerRef], ticks: dict[str, TickPayload]
) -> dict[str, dict]:
    """``latest_quotes`` from the tickers' latest ticks."""
    return {t.symbol: _quotes(t, [ticks[t.symbol]])[0] for t in tickers if t.symbol in ticks}


def _shaped(bar: BarPayload) -> dict:
    return bar_fields(bar, rfc3339_s(bar.time_ms))


def latest_bars(tickers: Sequence[TickerRef]) -> dict[str, dict]:
    """Alpaca's latest minute bar of each ticker that has one."""
    bars = latest_bar_rows(tickers, daily=False)
    return {s: _shaped(frames["1m"][0]) for s, frames in bars.items() if frames.get("1m")}


def snapshots(tickers: Sequence[TickerRef]) -> dict[str, dict]:
    """Alpaca's snapshot of each ticker: latest trade and quote, the latest minute bar, the
    latest daily bar (the day so far) and the one before it; a part with no data is null."""
    ticks = latest_ticks(tickers)
    bars = latest_bar_rows(tickers, daily=True)
    out = {}
    for ticker in tickers:
        tick = ticks.get(ticker.symbol)
        frames = bars.get(ticker.symbol, {})
        daily = frames.get("1d", [])
        out[ticker.symbol] = {
            "latestTrade": trade_fields(tick, rfc3339_ns(tick.time_ms)) if tick else None,
            "latestQuote": _quotes(ticker, [tick])[0] if tick else None,
            "minuteBar": _shaped(frames["1m"][0]) if frames.get("1m") else None,
            "dailyBar": _shaped(daily[0]) if daily else None,
            "prevDailyBar": _shaped(daily[1]) if len(daily) > 1 else None,
        }
    return out
