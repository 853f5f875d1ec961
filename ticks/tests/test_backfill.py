"""`manage.py backfill`: exact grid coverage, re-runs, joining history, interrupts, bars."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ticks.backfill import plan_backfill, write_plan
from ticks.models import Tick, Ticker, TickerState

pytestmark = pytest.mark.django_db
UTC = UTC


def end_time() -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=5)).replace(second=0, microsecond=0)


def query(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def grid_report(ticker_ids=None):
    """Per ticker: count, distinct times, seq span, off-grid times, non-consecutive neighbours."""
    return query(
        """
        WITH t AS (
            SELECT ticker_id, time, seq,
                   seq - lag(seq) OVER w AS dseq,
                   time - lag(time) OVER w AS dtime
            FROM ticks_tick WINDOW w AS (PARTITION BY ticker_id ORDER BY time)
        )
        SELECT ticker_id, count(*), count(DISTINCT time), min(seq), max(seq),
               count(*) FILTER (WHERE (extract(epoch FROM time) * 1000)::bigint %% 100 <> 0),
               count(*) FILTER (WHERE dseq <> 1 OR dtime <> interval '100 ms')
        FROM t GROUP BY ticker_id ORDER BY ticker_id
        """
    )


def bar_mismatches(timeframe: str, width: str) -> int:
    """Bars that differ from an aggregate recomputed from scratch from the ticks."""
    return query(
        f"""
        WITH fresh AS (
            SELECT ticker_id, date_bin(interval '{width}', time, timestamptz '2000-01-01') AS b,
                   (array_agg(price ORDER BY time))[1] AS o, max(price) AS h, min(price) AS l,
                   (array_agg(price ORDER BY time DESC))[1] AS c, sum(volume) AS v,
                   count(*) AS n, sum(price * volume) / sum(volume) AS vwap
            FROM ticks_tick GROUP BY 1, 2
        )
        SELECT count(*) FROM fresh f FULL JOIN
            (SELECT * FROM ticks_bar WHERE timeframe = %s) bar
            ON bar.ticker_id = f.ticker_id AND bar.time = f.b
        WHERE bar.time IS NULL OR f.b IS NULL OR (f.o, f.h, f.l, f.c, f.v, f.n)
              IS DISTINCT FROM (bar.open, bar.high, bar.low, bar.close, bar.volume,
                                bar.trade_count::bigint)
              OR abs(f.vwap - bar.vwap) > 0.0002
        """,
        [timeframe],
    )[0][0]


@pytest.mark.slow
def test_one_day_on_an_empty_database_fills_every_grid_point_once():
    end = end_time()
    call_command("backfill", days=1, end=end.isoformat(), no_progress=True)
    report = grid_report()
    assert len(report) == 5
    for _, count, distinct, low, high, off_grid, broken in report:
        assert (count, distinct, low, high, off_grid, broken) == (
            864_000,
            864_000,
            -864_000,
            -1,
            0,
            0,
        )
    assert Tick.objects.count() == 4_320_000
    bounds = query("SELECT min(time), max(time) FROM ticks_tick")[0]
    assert bounds == (end - timedelta(days=1), end - timedelta(milliseconds=100))
    # Bars equal aggregates recomputed from the ticks (1m exactly; derived levels too).
    for tf, width in [("1m", "1 minute"), ("5m", "5 minutes"), ("1h", "1 hour"), ("1d", "1 day")]:
        assert bar_mismatches(tf, width) == 0, tf
    # The engine's exact state is kept at each ticker's newest tick, for live generation.
    assert {s.seq for s in TickerState.objects.all()} == {-1}
    # Re-running adds nothing.
    call_command("backfill", days=1, end=end.isoformat(), no_progress=True)
    assert Tick.objects.count() == 4_320_000


def test_the_written_ticks_have_planner_statistics():
    # Partitions and TimescaleDB chunks alike inherit from ticks_tick.
    end = end_time()
    call_command("backfill", hours=1, end=end.isoformat(), no_progress=True)
    analyzed = query("""
        SELECT sum(c.reltuples) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'ticks_tick'::regclass""")[0][0]
    assert analyzed == pytest.approx(Tick.objects.count(), rel=0.05)


def _series(symbol):
    return list(
        Tick.objects.filter(ticker__symbol=symbol)
        .order_by("time")
        .values_list("time", "seq", "price")
    )


def test_another_day_before_joins_without_gap_or_jump():
    end = end_time()
    call_command("backfill", hours=2, end=end.isoformat(), tickers="synth,tech", no_progress=True)
    seam = Tick.objects.filter(ticker__symbol="SYNTH").order_by("time").first()
    call_command("backfill", hours=4, end=end.isoformat(), tickers="SYNTH", no_progress=True)
    ((_, count, distinct, low, high, off_grid, broken),) = [
        r for r in grid_report() if r[0] == Ticker.objects.get(symbol="SYNTH").pk
    ]
    assert (count, distinct, low, high, off_grid, broken) == (144_000, 144_000, -144_000, -1, 0, 0)
    series = _series("SYNTH")
    i = next(k for k, row in enumerate(series) if row[0] == seam.time)
    returns = [math.log(float(b[2]) / float(a[2])) for a, b in zip(series, series[1:])]
    step_sd = 0.20 * math.sqrt(0.1 / (365 * 86400))
    # The join is one ordinary step: within 6 sigma of one step's noise plus a cent's rounding.
    assert abs(returns[i - 1]) <= 6 * step_sd + 0.01 / float(seam.price)
    assert max(abs(r) for r in returns) <= 6 * step_sd + 0.011 / 140
    # TECH was not asked for and is untouched.
    assert Tick.objects.filter(ticker__symbol="TECH").count() == 72_000


def test_an_interrupted_backfill_leaves_no_hole_and_resumes():
    end = end_time()
    tickers = list(Ticker.objects.filter(symbol__in=["SYNTH", "ENERGY"]))
    plan = plan_backfill(tickers=tickers, duration=timedelta(hours=3), end=end)
    seen = []

    def stop_after_two_chunks(count):
        seen.append(count)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_plan(plan, chunk=timedelta(minutes=30), on_progress=stop_after_two_chunks)
    partial = grid_report()
    # Newest chunks were written first, each committed: contiguous up to the end.
    for _, count, _distinct, low, high, off_grid, broken in partial:
        assert count == -low and high == -1 and broken == 0 and off_grid == 0
        assert 0 < count < 108_000
    call_command("backfill", hours=3, end=end.isoformat(), tickers="SYNTH,ENERGY", no_progress=True)
    for _, count, distinct, low, high, off_grid, broken in grid_report():
        assert (count, distinct, low, high, off_grid, broken) == (
            108_000,
            108_000,
            -108_000,
            -1,
            0,
            0,
        )


def test_backfill_is_reproducible():
    end = end_time()
    call_command("backfill", hours=0.5, end=end.isoformat(), tickers="FINANCE", no_progress=True)
    first = _series("FINANCE")
    Tick.objects.filter(ticker__symbol="FINANCE").delete()
    TickerState.objects.all().delete()
    call_command("backfill", hours=0.5, end=end.isoformat(), tickers="FINANCE", no_progress=True)
    assert _series("FINANCE") == first


@pytest.mark.parametrize(
    "options,message",
    [
        ({"days": 31}, "older than the retention of 30 days"),
        ({"hours": 1, "tickers": "SYNTH,NOPE"}, "Unknown ticker(s): NOPE"),
        ({"hours": 1, "tickers": " , "}, "--tickers needs at least one symbol"),
        ({"hours": 1, "end": "yesterday-ish"}, "is not an ISO 8601 date-time"),
        ({"hours": 1, "end": "2999-01-01T00:00:00Z"}, "is in the future"),
        ({"hours": -2}, "must be a positive number"),
        ({"days": 0}, "must be a positive number"),
    ],
)
def test_bad_requests_are_refused_and_write_nothing(options, message):
    with pytest.raises(CommandError) as info:
        call_command("backfill", no_progress=True, **options)
    assert message in str(info.value)
    assert Tick.objects.count() == 0


def test_days_and_hours_are_mutually_exclusive():
    with pytest.raises(CommandError, match="not allowed with"):
        call_command("backfill", "--days", "1", "--hours", "1")
