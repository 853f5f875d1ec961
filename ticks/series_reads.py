"""Pages of bars and ticks, and the latest tick and bars, for the vendor dialects (selectors):
the reading half that the Alpaca (``ticks.alpaca_reads``) and Massive (``ticks.massive_reads``)
dialects share; each brings its own row shapes.

Pages hold the rows of several tickers sorted by symbol, then by time (ascending, or
descending with ``descending``), at most ``limit`` rows counted across the tickers. One SQL
statement reads a page: a lateral join over the tickers (in symbol order), each side a range
scan of the primary key limited to ``limit + 1`` rows. The next page starts after a cursor
``(symbol, epoch ms)``: the tickers before the cursor's are left out and the cursor's ticker
starts just after it (keyset paging), so pages stay exact while new rows arrive. Windows are
``start <= time <= end``.

Bar rows come back from PostgreSQL as JSON texts in the dialect's bar shape (one text per row,
no per-row Python objects: a page of 10,000 bars is a join): the dialect gives a ``BarText``,
the SQL of one row's text from its columns. Ticks come back as ``TickPayload``s, which the
dialect shapes (quotes need their sizes, which are computed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import orjson
import redis
from asgiref.sync import sync_to_async
from django.db import connection

from .bar_frames import BarFrame
from .calendars import ALWAYS_OPEN
from .live_reads import alatest_quote_records, latest_quote_records
from .payloads import BarPayload, TickPayload
from .session_days import zone_name

__all__ = [
    "EPOCH_MS",
    "BarText",
    "PageWindow",
    "SeriesPage",
    "TickPage",
    "alatest_ticks",
    "bars_page",
    "latest_bar_rows",
    "latest_ticks",
    "ticks_page",
]

_MS = timedelta(milliseconds=1)

#: SQL of a timestamptz column as epoch milliseconds.
EPOCH_MS = """floor(extract(epoch FROM {col}) * 1000)::bigint"""

#: ``text(col=, o=, h=, l=, c=, v=, n=, vw=)``: the SQL of one bar's JSON text, from the SQL of
#: its label (timestamptz) and values.
BarText = Callable[..., str]


class TickerRef(Protocol):
    id: int
    symbol: str
    seed: int
    calendar: str  # its days (``ticks.session_days``); "24/7" when the object has none


def _zone(ticker: TickerRef) -> str:
    return zone_name(getattr(ticker, "calendar", ALWAYS_OPEN))


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
    sources: int = 0  # the stored bars (or ticks) the rows were made of


@dataclass
class TickPage:
    ticks: dict[str, list[TickPayload]]  # symbol -> its ticks, symbols in order
    tickers: dict[str, TickerRef]
    next: tuple[str, int] | None
    count: int = 0


# --- the page statement ---------------------------------------------------------------------------

_STORED_BARS = """SELECT "time" AS ts, {text} AS txt, 1 AS k FROM ticks_bar
    WHERE ticker_id = s.id AND timeframe = %(tf)s AND "time" >= s.lo AND "time" <= s.hi
    ORDER BY "time" {dir} LIMIT %(limit)s"""

_AGGREGATED_BARS = """SELECT bucket AS ts, {text} AS txt, k FROM (
        SELECT {bucket} AS bucket, (array_agg(open ORDER BY "time"))[1] AS o, max(high) AS h,
               min(low) AS lo, (array_agg(close ORDER BY "time" DESC))[1] AS c,
               sum(volume) AS v, sum(trade_count) AS n,
               coalesce(round(sum(vwap * volume) / nullif(sum(volume), 0), 4),
                        (array_agg(close ORDER BY "time" DESC))[1]) AS vw, count(*) AS k
          FROM ticks_bar
         WHERE ticker_id = s.id AND timeframe = %(tf)s AND "time" >= s.lo AND "time" < s.src_hi
         GROUP BY bucket
    ) g WHERE bucket <= s.hi ORDER BY bucket {dir} LIMIT %(limit)s"""

# Seconds are aggregated from the ticks as the rollup makes 1m bars of them.
_TICK_BARS = """SELECT bucket AS ts, {text} AS txt, k FROM (
        SELECT {bucket} AS bucket, (array_agg(price ORDER BY "time"))[1] AS o, max(price) AS h,
               min(price) AS lo, (array_agg(price ORDER BY "time" DESC))[1] AS c,
               sum(volume) AS v, count(*) AS n,
               coalesce(round(sum(price * volume) / nullif(sum(volume), 0), 4),
                        (array_agg(price ORDER BY "time" DESC))[1]) AS vw, count(*) AS k
          FROM ticks_tick
         WHERE ticker_id = s.id AND "time" >= s.lo AND "time" < s.src_hi
         GROUP BY bucket
    ) g WHERE bucket <= s.hi ORDER BY bucket {dir} LIMIT %(limit)s"""

_TICKS = (
    """SELECT "time" AS ts, """
    + EPOCH_MS.format(col='"time"')
    + """ AS ms, (price * 100)::bigint AS p, volume AS v, (bid * 100)::bigint AS b,
           (ask * 100)::bigint AS a, seq
      FROM ticks_tick WHERE ticker_id = s.id AND "time" >= s.lo AND "time" <= s.hi
     ORDER BY "time" {dir} LIMIT %(limit)s"""
)

_PAGE = """SELECT s.ord, r.* FROM unnest(%(ids)s::bigint[], %(lo)s::timestamptz[],
    %(hi)s::timestamptz[], %(src_hi)s::timestamptz[], %(zone)s::text[])
    WITH ORDINALITY AS s(id, lo, hi, src_hi, zone, ord)
CROSS JOIN LATERAL ({inner}) r
ORDER BY s.ord, r.ts {dir} LIMIT %(limit)s"""

# Bar pages are joined in PostgreSQL too: one row per ticker (its JSON array, its row count,
# its last row's time and the source rows they were made of) instead of one per bar, and how
# many rows the page read (limit + 1 means there is a next page).
_JOINED = """WITH page AS ({page}), numbered AS (
    SELECT ord, ts, txt, k, row_number() OVER (ORDER BY ord, ts {dir}) AS rn FROM page)
SELECT ord, '[' || string_agg(txt, ',' ORDER BY rn) || ']', count(*),
       {last_ms}, (SELECT count(*) FROM page), sum(k)
  FROM numbered WHERE rn < %(limit)s GROUP BY ord ORDER BY ord""".replace(
    "{last_ms}", EPOCH_MS.format(col="(array_agg(ts ORDER BY rn DESC))[1]")
)


def _bounds(tickers: Sequence[TickerRef], window: PageWindow, align=None) -> tuple[list, dict]:
    """The tickers this page reads (from the cursor's on) and their ``lo``/``hi`` times;
    ``align(moment, zone)`` moves a ``lo`` to the first whole bucket at or after it."""
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
        if align is not None:
            start = align(start, _zone(ticker))
        if start > end:
            continue
        chosen.append(ticker)
        lo.append(start)
        hi.append(end)
    params = {
        "ids": [t.id for t in chosen],
        "lo": lo,
        "hi": hi,
        "src_hi": hi,
        "zone": [_zone(t) for t in chosen],
    }
    return chosen, params


def _statement(inner: str, descending: bool, joined: bool = False) -> str:
    direction = "DESC" if descending else "ASC"
    sql = _PAGE.replace("{inner}", inner)
    if joined:
        sql = _JOINED.replace("{page}", sql)
    return sql.replace("{dir}", direction)


def _read(inner: str, tickers, window: PageWindow, extra: dict, frame=None, joined=False):
    """``(tickers read, rows)`` of one page statement; rows are ``(ord, time, ...)``, or with
    ``joined`` ``(ord, JSON array, count, last ms, rows read, source rows)``. With an
    aggregated ``frame`` the window holds whole buckets and their sources are read to their end."""
    align = frame.ceil if frame is not None else None
    chosen, params = _bounds(tickers, window, align)
    if not chosen:
        return chosen, []
    if frame is not None:
        params["src_hi"] = [
            frame.bucket_end(hi, zone) for hi, zone in zip(params["hi"], params["zone"])
        ]
    params.update(limit=window.limit + 1, **extra)
    with connection.cursor() as cursor:
        cursor.execute(_statement(inner, window.descending, joined), params)
        return chosen, cursor.fetchall()


def bars_page(
    *, tickers: Sequence[TickerRef], frame: BarFrame, window: PageWindow, text: BarText
) -> SeriesPage:
    """A page of ``frame`` bars of ``tickers`` (sorted by symbol), each row ``text``."""
    if frame.stored:
        inner = _STORED_BARS.replace(
            "{text}",
            text(col='"time"', o="open", h="high", l="low", c="close", v="volume",
                 n="trade_count", vw="vwap"),
        )  # fmt: skip
        chosen, rows = _read(inner, tickers, window, {"tf": frame.stored}, joined=True)
    else:
        template = _AGGREGATED_BARS if frame.source else _TICK_BARS
        inner = template.replace(
            "{text}", text(col="bucket", o="o", h="h", l="lo", c="c", v="v", n="n", vw="vw")
        ).replace("{bucket}", frame.bucket_sql(zone="s.zone"))
        chosen, rows = _read(
            inner,
            tickers,
            window,
            {"tf": frame.source, "stride": frame.stride()},
            frame=frame,
            joined=True,
        )
    out = {chosen[row[0] - 1].symbol: row[1].encode() for row in rows}
    cursor = None
    if rows and rows[-1][4] > window.limit:
        cursor = (chosen[rows[-1][0] - 1].symbol, rows[-1][3])
    return SeriesPage(
        rows=out,
        next=cursor,
        count=sum(row[2] for row in rows),
        sources=int(sum(row[5] for row in rows)),
    )


def ticks_page(*, tickers: Sequence[TickerRef], window: PageWindow) -> TickPage:
    """A page of ticks of ``tickers`` (sorted by symbol)."""
    chosen, rows = _read(_TICKS, tickers, window, {})
    page_rows = rows[: window.limit]
    out: dict[str, list[TickPayload]] = {}
    for ord_, _, ms, p, v, b, a, seq in page_rows:
        symbol = chosen[ord_ - 1].symbol
        out.setdefault(symbol, []).append(TickPayload(symbol, p, v, b, a, ms, seq))
    cursor = None
    if len(rows) > window.limit:
        last = rows[window.limit - 1]
        cursor = (chosen[last[0] - 1].symbol, last[2])
    return TickPage(
        ticks=out, tickers={t.symbol: t for t in chosen}, next=cursor, count=len(page_rows)
    )


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
) r ORDER BY s.ord, r.timeframe, r.ms DESC""".replace("{ms}", EPOCH_MS.format(col='"time"'))


def latest_ticks(tickers: Sequence[TickerRef]) -> dict[str, TickPayload]:
    """The newest tick of each ticker that has one: the live store's (Redis), else the newest
    stored one (the database)."""
    try:
        records = latest_quote_records([t.symbol for t in tickers])
    except redis.RedisError:
        records = {}
    found = _live_ticks(tickers, records)
    missing = [t for t in tickers if t.symbol not in found]
    if missing:
        found.update(_stored_latest_ticks(missing))
    return {t.symbol: found[t.symbol] for t in tickers if t.symbol in found}


async def alatest_ticks(
    tickers: Sequence[TickerRef], *, client=None, prefetched: dict | None = None
) -> dict[str, TickPayload]:
    """``latest_ticks`` on an event loop: the live records through ``client`` (redis.asyncio;
    the loop's by default), or ``prefetched`` (``{symbol: record}``, already read for all of
    ``tickers``), and the database's for the others, in a thread."""
    records = prefetched
    if records is None:
        try:
            records = await alatest_quote_records([t.symbol for t in tickers], client)
        except redis.RedisError:
            records = {}
    found = _live_ticks(tickers, records)
    missing = [t for t in tickers if t.symbol not in found]
    if missing:
        found.update(await sync_to_async(_stored_latest_ticks)(missing))
    return {t.symbol: found[t.symbol] for t in tickers if t.symbol in found}


def _live_ticks(tickers: Sequence[TickerRef], records: dict) -> dict[str, TickPayload]:
    found: dict[str, TickPayload] = {}
    for ticker in tickers:
        record = records.get(ticker.symbol)
        if record is not None:
            try:
                found[ticker.symbol] = _from_record(ticker.symbol, orjson.loads(record))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass  # a malformed entry: the database has the answer
    return found


def _stored_latest_ticks(tickers: Sequence[TickerRef]) -> dict[str, TickPayload]:
    found: dict[str, TickPayload] = {}
    with connection.cursor() as cursor:
        cursor.execute(_LATEST_TICKS, {"ids": [t.id for t in tickers], "limit": 1})
        for ord_, _, ms, p, v, b, a, seq in cursor.fetchall():
            symbol = tickers[ord_ - 1].symbol
            found[symbol] = TickPayload(symbol, p, v, b, a, ms, seq)
    return found


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


def latest_bar_rows(tickers: Sequence[TickerRef], daily: bool) -> dict[str, dict[str, list]]:
    """``{symbol: {"1m": [newest], "1d": [newest, the one before]}}`` (``1d`` with ``daily``)."""
    out: dict[str, dict[str, list]] = {}
    if not tickers:
        return out
    with connection.cursor() as cursor:
        cursor.execute(_LATEST_BARS, {"ids": [t.id for t in tickers], "daily": daily})
        for ord_, tf, ms, o, h, low, c, v, n, vw in cursor.fetchall():
            symbol = tickers[ord_ - 1].symbol
            bar = BarPayload(symbol, tf, ms, o, h, low, c, v, n, vw)
            out.setdefault(symbol, {}).setdefault(tf, []).append(bar)
    return out
