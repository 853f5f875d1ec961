"""Reads for the Alpaca Market Data v2 dialect: pages of bars, trades and quotes over several
tickers, and the latest trade, quote and bars of each (selectors; shapes from
``ticks.alpaca_shapes``).

Pages hold the rows of several tickers sorted by symbol, then by time (ascending, or
descending with ``descending``), at most ``limit`` rows counted across the tickers. One SQL
statement reads a page: a lateral join over the tickers (in symbol order), each side a range
scan of the primary key limited to ``limit + 1`` rows. The next page starts after a cursor
``(symbol, epoch ms)``: the tickers before the cursor's are left out and the cursor's ticker
starts just after it (keyset paging), so pages stay exact while new rows arrive. Windows are
``start <= time <= end`` (Alpaca's ``end`` is inclusive).

Bar rows come back from PostgreSQL as JSON texts in Alpaca's bar shape (one text per row, no
per-row Python objects: a page of 10,000 bars is a join); trades and quotes are built from
the ticks by ``ticks.alpaca_shapes`` (quotes need their sizes, which are computed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import orjson
import redis
from django.db import connection

from .alpaca_bars import BarFrame
from .alpaca_shapes import bar_fields, quote_fields, rfc3339_ns, tick_sizes, trade_fields
from .live_reads import latest_quote_records
from .payloads import BarPayload, TickPayload

__all__ = [
    "PageWindow",
    "SeriesPage",
    "bars_page",
    "latest_bars",
    "latest_quotes",
    "latest_trades",
    "quotes_page",
    "rfc3339_s",
    "snapshots",
    "trades_page",
]

_MS = timedelta(milliseconds=1)


class TickerRef(Protocol):
    id: int
    symbol: str
    seed: int


@dataclass(frozen=True)
class PageWindow:
    start: datetime
    end: datetime  # inclusive
    limit: int
    descending: bool = False
    after: tuple[str, int] | None = None  # the previous page's last row: (symbol, epoch ms)


@dataclass
class SeriesPage:
    rows: dict[str, bytes]  # symbol -> its rows as one JSON array, symbols in order
    next: tuple[str, int] | None  # cursor of the next page, None on the last one
    count: int = 0  # rows on this page, all tickers together


def rfc3339_s(time_ms: int) -> str:
    """``2026-12-02T10:00:00Z``: a bar's label as Alpaca writes it (whole seconds)."""
    return rfc3339_ns(time_ms)[:19] + "Z"


# --- the page statement ---------------------------------------------------------------------------

_EPOCH_MS = """floor(extract(epoch FROM {col}) * 1000)::bigint"""
_BAR_TEXT = """'{{"t":"' || to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    || '","o":' || {o} || ',"h":' || {h} || ',"l":' || {l} || ',"c":' || {c} || ',"v":' || {v}
    || ',"n":' || {n} || ',"vw":' || {vw} || '}}'"""

_STORED_BARS = (
    """SELECT "time" AS ts, """
    + _BAR_TEXT.format(
        col='"time"', o="open", h="high", l="low", c="close", v="volume", n="trade_count", vw="vwap"
    )
    + """ AS txt FROM ticks_bar
    WHERE ticker_id = s.id AND timeframe = %(tf)s AND "time" >= s.lo AND "time" <= s.hi
    ORDER BY "time" {dir} LIMIT %(limit)s"""
)

_AGGREGATED_BARS = (
    "SELECT bucket AS ts, "
    + _BAR_TEXT.format(col="bucket", o="o", h="h", l="lo", c="c", v="v", n="n", vw="vw")
    + """ AS txt FROM (
        SELECT {bucket} AS bucket, (array_agg(open ORDER BY "time"))[1] AS o, max(high) AS h,
               min(low) AS lo, (array_agg(close ORDER BY "time" DESC))[1] AS c,
               sum(volume) AS v, sum(trade_count) AS n,
               coalesce(round(sum(vwap * volume) / nullif(sum(volume), 0), 4),
                        (array_agg(close ORDER BY "time" DESC))[1]) AS vw
          FROM ticks_bar
         WHERE ticker_id = s.id AND timeframe = %(tf)s AND "time" >= s.lo AND "time" < s.src_hi
         GROUP BY bucket
    ) g WHERE bucket <= s.hi ORDER BY bucket {dir} LIMIT %(limit)s"""
)

_TICKS = (
    """SELECT "time" AS ts, """
    + _EPOCH_MS.format(col='"time"')
    + """ AS ms, (price * 100)::bigint AS p, volume AS v, (bid * 100)::bigint AS b,
           (ask * 100)::bigint AS a, seq
      FROM ticks_tick WHERE ticker_id = s.id AND "time" >= s.lo AND "time" <= s.hi
     ORDER BY "time" {dir} LIMIT %(limit)s"""
)

_PAGE = """SELECT s.ord, r.* FROM unnest(%(ids)s::bigint[], %(lo)s::timestamptz[],
    %(hi)s::timestamptz[], %(src_hi)s::timestamptz[]) WITH ORDINALITY AS s(id, lo, hi, src_hi, ord)
CROSS JOIN LATERAL ({inner}) r
ORDER BY s.ord, r.ts {dir} LIMIT %(limit)s"""


def _bounds(tickers: Sequence[TickerRef], window: PageWindow) -> tuple[list, dict]:
    """The tickers this page reads (from the cursor's on) and their ``lo``/``hi`` times."""
    chosen, lo, hi = [], [], []
    after_symbol, after_ms = window.after or (None, None)
    for ticker in tickers:
        if after_symbol is not None and ticker.symbol < after_symbol:
            continue
        start, end = window.start, window.end
        if ticker.symbol == after_symbol:
            at = datetime.fromtimestamp(after_ms / 1000, start.tzinfo)
            if window.descending:
                end = min(end, at - _MS)
            else:
                start = max(start, at + _MS)
        if start > end:
            continue
        chosen.append(ticker)
        lo.append(start)
        hi.append(end)
    params = {"ids": [t.id for t in chosen], "lo": lo, "hi": hi, "src_hi": hi}
    return chosen, params


# Bar pages are joined in PostgreSQL too: one row per ticker (its JSON array, its row count
# and its last row's time) instead of one per bar, and how many rows the page read (limit + 1
# means there is a next page).
_JOINED = """WITH page AS ({page}), numbered AS (
    SELECT ord, ts, txt, row_number() OVER (ORDER BY ord, ts {dir}) AS rn FROM page)
SELECT ord, '[' || string_agg(txt, ',' ORDER BY rn) || ']', count(*),
       {last_ms}, (SELECT count(*) FROM page)
  FROM numbered WHERE rn < %(limit)s GROUP BY ord ORDER BY ord""".replace(
    "{last_ms}", _EPOCH_MS.format(col="(array_agg(ts ORDER BY rn DESC))[1]")
)


def _statement(inner: str, descending: bool, joined: bool = False) -> str:
    direction = "DESC" if descending else "ASC"
    sql = _PAGE.replace("{inner}", inner)
    if joined:
        sql = _JOINED.replace("{page}", sql)
    return sql.replace("{dir}", direction)


def _read(inner: str, tickers, window: PageWindow, extra: dict, src_hi=None, joined=False):
    """``(tickers read, rows)`` of one page statement; rows are ``(ord, time, ...)``, or with
    ``joined`` ``(ord, JSON array, count, last ms, rows read)``."""
    chosen, params = _bounds(tickers, window)
    if not chosen:
        return chosen, []
    if src_hi is not None:
        params["src_hi"] = [src_hi(hi) for hi in params["hi"]]
    params.update(limit=window.limit + 1, **extra)
    with connection.cursor() as cursor:
        cursor.execute(_statement(inner, window.descending, joined), params)
        return chosen, cursor.fetchall()


def _next(chosen, rows: list, limit: int) -> tuple[str, int] | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return chosen[last[0] - 1].symbol, last[2]


def _grouped(chosen, rows: list) -> dict[int, list]:
    groups: dict[int, list] = {}
    for row in rows:
        groups.setdefault(row[0], []).append(row)
    return groups


def bars_page(*, tickers: Sequence[TickerRef], frame: BarFrame, window: PageWindow) -> SeriesPage:
    """A page of ``frame`` bars of ``tickers`` (sorted by symbol)."""
    if frame.stored:
        chosen, rows = _read(_STORED_BARS, tickers, window, {"tf": frame.stored}, joined=True)
    else:
        # A bucket labelled at ``hi`` reaches past it: its source bars are read to its end.
        chosen, rows = _read(
            _AGGREGATED_BARS.replace("{bucket}", frame.bucket_sql()),
            tickers,
            window,
            {"tf": frame.source, "stride": frame.stride()},
            src_hi=frame.bucket_end,
            joined=True,
        )
    out = {chosen[ord_ - 1].symbol: text.encode() for ord_, text, _, _, _ in rows}
    cursor = None
    if rows and rows[-1][4] > window.limit:
        ord_, _, _, last_ms, _ = rows[-1]
        cursor = (chosen[ord_ - 1].symbol, last_ms)
    return SeriesPage(rows=out, next=cursor, count=sum(row[2] for row in rows))


def _tick_page(tickers, window: PageWindow, build) -> SeriesPage:
    chosen, rows = _read(_TICKS, tickers, window, {})
    page_rows = rows[: window.limit]
    out = {}
    for ord_, group in _grouped(chosen, page_rows).items():
        ticker = chosen[ord_ - 1]
        ticks = [
            TickPayload(ticker.symbol, p, v, b, a, ms, seq) for _, _, ms, p, v, b, a, seq in group
        ]
        out[ticker.symbol] = orjson.dumps(build(ticker, ticks))
    page = SeriesPage(rows=out, next=_next(chosen, rows, window.limit))
    page.count = len(page_rows)
    return page


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

_LATEST_TICKS = (
    "SELECT s.ord, r.* FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS s(id, ord) "
    "CROSS JOIN LATERAL ("
    + _TICKS.replace('AND "time" >= s.lo AND "time" <= s.hi', "").replace("{dir}", "DESC")
    + ") r"
)

_LATEST_BARS = """SELECT s.ord, r.* FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS s(id, ord)
CROSS JOIN LATERAL (
    (SELECT timeframe, {ms} AS ms, open, high, low, close, volume, trade_count, vwap
       FROM ticks_bar WHERE ticker_id = s.id AND timeframe = '1m'
      ORDER BY "time" DESC LIMIT 1)
    UNION ALL
    (SELECT timeframe, {ms} AS ms, open, high, low, close, volume, trade_count, vwap
       FROM ticks_bar WHERE ticker_id = s.id AND timeframe = '1d' AND %(daily)s
      ORDER BY "time" DESC LIMIT 2)
) r ORDER BY s.ord, r.timeframe, r.ms DESC""".replace("{ms}", _EPOCH_MS.format(col='"time"'))


def latest_ticks(tickers: Sequence[TickerRef]) -> dict[str, TickPayload]:
    """The newest tick of each ticker that has one: the live store's (Redis), else the newest
    stored one (the database)."""
    found: dict[str, TickPayload] = {}
    try:
        records = latest_quote_records([t.symbol for t in tickers])
    except redis.RedisError:
        records = {}
    for ticker in tickers:
        record = records.get(ticker.symbol)
        if record is not None:
            try:
                found[ticker.symbol] = _from_record(ticker.symbol, orjson.loads(record))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass  # a malformed entry: the database has the answer
    missing = [t for t in tickers if t.symbol not in found]
    if missing:
        with connection.cursor() as cursor:
            cursor.execute(_LATEST_TICKS, {"ids": [t.id for t in missing], "limit": 1})
            for ord_, _, ms, p, v, b, a, seq in cursor.fetchall():
                symbol = missing[ord_ - 1].symbol
                found[symbol] = TickPayload(symbol, p, v, b, a, ms, seq)
    return {t.symbol: found[t.symbol] for t in tickers if t.symbol in found}


def _from_record(symbol: str, record: dict) -> TickPayload:
    return TickPayload(
        symbol,
        round(float(record["price"]) * 100),
        int(record["volume"]),
        round(float(record["bid"]) * 100),
        round(float(record["ask"]) * 100),
        int(record["timestamp"]),
        int(record["seq"]),
    )


def latest_trades(tickers: Sequence[TickerRef]) -> dict[str, dict]:
    """Alpaca's latest trade of each ticker that has one."""
    ticks = latest_ticks(tickers)
    return {s: trade_fields(tick, rfc3339_ns(tick.time_ms)) for s, tick in ticks.items()}


def latest_quotes(tickers: Sequence[TickerRef]) -> dict[str, dict]:
    """Alpaca's latest quote of each ticker that has one."""
    ticks = latest_ticks(tickers)
    return {t.symbol: _quotes(t, [ticks[t.symbol]])[0] for t in tickers if t.symbol in ticks}


def _bars_by_ticker(tickers: Sequence[TickerRef], daily: bool) -> dict[str, dict[str, list]]:
    out: dict[str, dict[str, list]] = {}
    if not tickers:
        return out
    with connection.cursor() as cursor:
        cursor.execute(_LATEST_BARS, {"ids": [t.id for t in tickers], "daily": daily})
        for ord_, tf, ms, o, h, low, c, v, n, vw in cursor.fetchall():
            symbol = tickers[ord_ - 1].symbol
            bar = BarPayload(symbol, tf, ms, o, h, low, c, v, n, vw)
            out.setdefault(symbol, {}).setdefault(tf, []).append(bar_fields(bar, rfc3339_s(ms)))
    return out


def latest_bars(tickers: Sequence[TickerRef]) -> dict[str, dict]:
    """Alpaca's latest minute bar of each ticker that has one."""
    bars = _bars_by_ticker(tickers, daily=False)
    return {s: frames["1m"][0] for s, frames in bars.items() if frames.get("1m")}


def snapshots(tickers: Sequence[TickerRef]) -> dict[str, dict]:
    """Alpaca's snapshot of each ticker: latest trade and quote, the latest minute bar, the
    latest daily bar (the day so far) and the one before it; a part with no data is null."""
    ticks = latest_ticks(tickers)
    bars = _bars_by_ticker(tickers, daily=True)
    out = {}
    for ticker in tickers:
        tick = ticks.get(ticker.symbol)
        frames = bars.get(ticker.symbol, {})
        daily = frames.get("1d", [])
        out[ticker.symbol] = {
            "latestTrade": trade_fields(tick, rfc3339_ns(tick.time_ms)) if tick else None,
            "latestQuote": _quotes(ticker, [tick])[0] if tick else None,
            "minuteBar": frames["1m"][0] if frames.get("1m") else None,
            "dailyBar": daily[0] if daily else None,
            "prevDailyBar": daily[1] if len(daily) > 1 else None,
        }
    return out
