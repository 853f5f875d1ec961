"""OHLCV bars: 1m from ticks, then 5m from 1m, 1h from 5m and 1d from 1h.

Each level recomputes every bucket that overlaps the requested window, from scratch, and
upserts it, so running twice, late, or over overlapping windows always gives the same table,
and a 1m bar always equals the aggregate of its ticks. Buckets are ``[t, t + width)`` labelled
by their start in UTC. Derived levels combine VWAPs weighted by volume (exact up to the 4
stored decimals of each input VWAP).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Level:
    timeframe: str
    width: timedelta
    source: str | None  # None: from ticks


LEVELS = (
    Level("1m", timedelta(minutes=1), None),
    Level("5m", timedelta(minutes=5), "1m"),
    Level("1h", timedelta(hours=1), "5m"),
    Level("1d", timedelta(days=1), "1h"),
)

_UPSERT = """
ON CONFLICT (ticker_id, timeframe, "time") DO UPDATE SET
    open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume, trade_count = EXCLUDED.trade_count, vwap = EXCLUDED.vwap
"""

_FROM_TICKS = (
    """
INSERT INTO ticks_bar (ticker_id, timeframe, "time", open, high, low, close, volume,
                       trade_count, vwap)
SELECT ticker_id, %(timeframe)s, date_bin(%(width)s, "time", %(origin)s) AS bucket,
       (array_agg(price ORDER BY "time"))[1], max(price), min(price),
       (array_agg(price ORDER BY "time" DESC))[1], sum(volume), count(*),
       round(sum(price * volume) / sum(volume), 4)
FROM ticks_tick
WHERE "time" >= %(start)s AND "time" < %(end)s {ticker_filter}
GROUP BY ticker_id, bucket
"""
    + _UPSERT
)

_FROM_BARS = (
    """
INSERT INTO ticks_bar (ticker_id, timeframe, "time", open, high, low, close, volume,
                       trade_count, vwap)
SELECT ticker_id, %(timeframe)s, date_bin(%(width)s, "time", %(origin)s) AS bucket,
       (array_agg(open ORDER BY "time"))[1], max(high), min(low),
       (array_agg(close ORDER BY "time" DESC))[1], sum(volume), sum(trade_count),
       round(sum(vwap * volume) / sum(volume), 4)
FROM ticks_bar
WHERE timeframe = %(source)s AND "time" >= %(start)s AND "time" < %(end)s {ticker_filter}
GROUP BY ticker_id, bucket
"""
    + _UPSERT
)


def floor_to(moment: datetime, width: timedelta) -> datetime:
    return ORIGIN + ((moment - ORIGIN) // width) * width


def ceil_to(moment: datetime, width: timedelta) -> datetime:
    floored = floor_to(moment, width)
    return floored if floored == moment else floored + width


def bars_rollup(
    *, start: datetime, end: datetime, tickers: Sequence[int] | None = None
) -> dict[str, int]:
    """Recompute every bar overlapping ``[start, end)``; return rows upserted per timeframe.

    ``tickers`` is a list of ticker ids (all tickers when None).
    """
    if end <= start:
        return {level.timeframe: 0 for level in LEVELS}
    counts = {}
    ticker_filter = "AND ticker_id = ANY(%(tickers)s)" if tickers is not None else ""
    with transaction.atomic(), connection.cursor() as cursor:
        for level in LEVELS:
            sql = (_FROM_TICKS if level.source is None else _FROM_BARS).format(
                ticker_filter=ticker_filter
            )
            cursor.execute(
                sql,
                {
                    "timeframe": level.timeframe,
                    "source": level.source,
                    "width": level.width,
                    "origin": ORIGIN,
                    "start": floor_to(start, level.width),
                    "end": ceil_to(end, level.width),
                    "tickers": list(tickers) if tickers is not None else None,
                },
            )
            counts[level.timeframe] = cursor.rowcount
    return counts
