"""OHLCV bars: 1m from ticks, then 5m from 1m, 1h from 5m and 1d from 1h.

Each level recomputes every bucket that overlaps the requested window, from scratch, and
upserts it, so running twice, late, or over overlapping windows always gives the same table,
and a 1m bar always equals the aggregate of its ticks. Buckets are ``[t, t + width)`` labelled
by their start in UTC. Derived levels combine VWAPs weighted by volume (exact up to the 4
stored decimals of each input VWAP).

Days are a ticker's days (``ticks.session_days``): UTC days for a 24/7 ticker, exactly as
before; the exchange's local dates for a ticker on an exchange calendar, each the aggregate of
the 1h bars that start in it, labelled at its local midnight in UTC. Their statement reads the
hours of the local days the window touches whole (a local day reaches at most 14 h past a UTC
one, 25 h long at a DST change).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from .session_days import ticker_zones

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


# A calendar ticker's days: its 1h bars bucketed by their local date (the zone joined per
# ticker), the days overlapping the window kept; they are read whole from the wider window.
_DAYS_ZONED = (
    """
INSERT INTO ticks_bar (ticker_id, timeframe, "time", open, high, low, close, volume,
                       trade_count, vwap)
SELECT ticker_id, '1d', bucket, o, h, l, c, v, n, vw FROM (
    SELECT b.ticker_id, date_trunc('day', b."time", z.zone) AS bucket, z.zone,
           (array_agg(b.open ORDER BY b."time"))[1] AS o, max(b.high) AS h, min(b.low) AS l,
           (array_agg(b.close ORDER BY b."time" DESC))[1] AS c, sum(b.volume) AS v,
           sum(b.trade_count) AS n, round(sum(b.vwap * b.volume) / sum(b.volume), 4) AS vw
    FROM ticks_bar b
    JOIN unnest(%(zone_ids)s::bigint[], %(zones)s::text[]) AS z(id, zone) ON z.id = b.ticker_id
    WHERE b.timeframe = '1h' AND b."time" >= %(read_start)s AND b."time" < %(read_end)s
    GROUP BY b.ticker_id, bucket, z.zone
) d
WHERE bucket < %(end)s AND ((bucket AT TIME ZONE zone) + interval '1 day') AT TIME ZONE zone > %(start)s
"""
    + _UPSERT
)
#: How far a local day can reach beyond the UTC window it overlaps (UTC+14 and a 25 h day).
_ZONED_MARGIN = timedelta(hours=40)


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
        zones = ticker_zones(ids=tickers)
        for level in LEVELS:
            day_filter = ticker_filter
            if level.timeframe == "1d" and zones:
                day_filter += " AND NOT (ticker_id = ANY(%(zone_ids)s))"
            sql = (_FROM_TICKS if level.source is None else _FROM_BARS).format(
                ticker_filter=day_filter
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
                    "zone_ids": list(zones),
                },
            )
            counts[level.timeframe] = cursor.rowcount
        if zones:
            counts["1d"] += _zoned_days(cursor, zones, start, end)
    return counts


def _zoned_days(cursor, zones: dict, start: datetime, end: datetime) -> int:
    """Upsert the local days of the zoned tickers that overlap ``[start, end)``."""
    hour = timedelta(hours=1)
    cursor.execute(
        _DAYS_ZONED,
        {
            "zone_ids": list(zones),
            "zones": list(zones.values()),
            "start": start,
            "end": end,
            "read_start": floor_to(start - _ZONED_MARGIN, hour),
            "read_end": ceil_to(end + _ZONED_MARGIN, hour),
        },
    )
    return cursor.rowcount
