"""What the end-to-end tests assert about stored ticks and bars, as SQL on any connection."""

GRID_SQL = """
WITH t AS (
    SELECT ticker_id, time, seq,
           seq - lag(seq) OVER w AS dseq,
           time - lag(time) OVER w AS dtime
    FROM ticks_tick WINDOW w AS (PARTITION BY ticker_id ORDER BY time)
)
SELECT k.symbol, count(*), count(DISTINCT t.time), min(t.seq), max(t.seq), min(t.time),
       max(t.time),
       count(*) FILTER (WHERE (extract(epoch FROM t.time) * 1000)::bigint %% k.tick_interval_ms <> 0),
       count(*) FILTER (WHERE t.dseq <> 1 OR t.dtime <> k.tick_interval_ms * interval '1 ms')
FROM t JOIN ticks_ticker k ON k.id = t.ticker_id
GROUP BY k.symbol ORDER BY k.symbol
"""

BAR_MISMATCH_SQL = """
WITH fresh AS (
    SELECT ticker_id, date_bin(interval '1 minute', time, timestamptz '2000-01-01') AS b,
           (array_agg(price ORDER BY time))[1] AS o, max(price) AS h, min(price) AS l,
           (array_agg(price ORDER BY time DESC))[1] AS c, sum(volume) AS v, count(*) AS n,
           round(sum(price * volume) / sum(volume), 4) AS vwap
    FROM ticks_tick GROUP BY 1, 2
)
SELECT count(*) FROM fresh f FULL JOIN (SELECT * FROM ticks_bar WHERE timeframe = '1m') bar
    ON bar.ticker_id = f.ticker_id AND bar.time = f.b
WHERE bar.time IS NULL OR f.b IS NULL
   OR (f.o, f.h, f.l, f.c, f.v, f.n, f.vwap) IS DISTINCT FROM
      (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count::bigint, bar.vwap)
"""


def grid_report(cursor) -> dict[str, dict]:
    """Per symbol: count, distinct times, seq range, time range, off-grid and broken neighbours
    (a neighbour is broken when seq does not step by 1 or time by the ticker's interval)."""
    cursor.execute(GRID_SQL.replace("%%", "%"))
    return {
        row[0]: {
            "count": row[1],
            "distinct": row[2],
            "seq": (row[3], row[4]),
            "time": (row[5], row[6]),
            "off_grid": row[7],
            "broken": row[8],
        }
        for row in cursor.fetchall()
    }


def bar_mismatches(cursor) -> int:
    cursor.execute(BAR_MISMATCH_SQL)
    return cursor.fetchone()[0]


def assert_gap_free(report: dict[str, dict], symbols, *, min_count: int) -> None:
    for symbol in symbols:
        row = report[symbol]
        low, high = row["seq"]
        assert row["broken"] == 0 and row["off_grid"] == 0, (symbol, row)
        assert row["count"] == row["distinct"] == high - low + 1, (symbol, row)
        assert row["count"] >= min_count, (symbol, row)
