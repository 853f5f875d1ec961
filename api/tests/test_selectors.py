"""Statistics read from bars plus the open bucket equal those computed from every tick."""

from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from api import selectors
from api.directory import directory
from ticks.backfill import plan_backfill, rollup_range, write_plan
from ticks.models import Ticker

pytestmark = pytest.mark.django_db


@pytest.fixture
def backfilled():
    """SYNTH: two hours and a half of 10 Hz GBM ticks up to now, bars rolled up."""
    now = timezone.now()
    ticker = Ticker.objects.get(symbol="SYNTH")
    plan = plan_backfill(
        tickers=[ticker], duration=timedelta(hours=2, minutes=30), end=now, now=now
    )
    write_plan(plan)
    rollup_range(plan)
    return directory.get("SYNTH")


def brute_force(ticker_id, start, end):
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*), (array_agg(price ORDER BY time))[1], max(price), min(price),
                      (array_agg(price ORDER BY time DESC))[1], sum(price * volume) / sum(volume),
                      sum(volume)
               FROM ticks_tick WHERE ticker_id = %s AND time >= %s AND time < %s""",
            [ticker_id, start, end],
        )
        return cursor.fetchone()


@pytest.mark.parametrize("period", ["1h", "1d", "7d", "30d"])
def test_stats_match_the_ticks(backfilled, period):
    now = selectors.now_ms(timezone.now())
    data, meta = selectors.stats_get(ticker=backfilled, period=period, now=now)
    span = selectors.STAT_PERIODS[period][0]
    count, first, high, low, last, vwap, volume = brute_force(backfilled.id, now - span, now)
    assert data["tick_count"] == count and count > 30_000
    assert (data["open"], data["high"], data["low"], data["close"]) == tuple(
        f"{v:.2f}" for v in (first, high, low, last)
    )
    assert data["total_volume"] == volume
    # Bars keep their VWAP to 4 decimals: the average may differ by rounding only.
    assert abs(float(data["avg_price"]) - float(vwap)) <= 0.01
    assert data["change"] == f"{last - first:.2f}"
    assert data["change_pct"] == round(float((last - first) / first * 100), 4)
    assert meta == {
        "ticker": "SYNTH",
        "period": period,
        "start": selectors.iso_ms(now - span),
        "end": selectors.iso_ms(now),
    }


@pytest.mark.parametrize("period", ["1h", "1d"])
def test_volatility_is_the_annualized_volatility_of_the_path(backfilled, period):
    """SYNTH is configured at 20% a year; 60-150 one-minute returns estimate it within ~10%
    (one standard error), so 35% is a wide margin that still catches a wrong annualization."""
    data, _ = selectors.stats_get(ticker=backfilled, period=period, now=timezone.now())
    assert 0.13 < data["volatility"] < 0.27


@pytest.mark.parametrize("period", ["1h", "1d", "7d", "30d"])
@pytest.mark.parametrize("offset_s", [0, 0.001, 59.999, 1234.5678, 3599.9])
def test_a_stats_read_never_scans_more_than_a_minute_of_ticks(period, offset_s):
    """The window splits into contiguous pieces: ticks for under a minute at each edge, 1m bars
    for under one bucket, whole buckets of the coarse bars for the rest."""
    from datetime import datetime

    from ticks.selectors import stats_bounds

    end = datetime(2024, 1, 15, 10, tzinfo=UTC) + timedelta(seconds=offset_s)
    span, coarse = selectors.STAT_PERIODS[period]
    b = stats_bounds(start=end - span, end=end, coarse=coarse)
    assert b["start"] <= b["m0"] <= b["c0"] <= b["c1"] <= b["m1"] <= b["end"]
    minute = timedelta(minutes=1)
    assert b["m0"] - b["start"] < minute and b["end"] - b["m1"] < minute
    assert b["c0"] - b["m0"] < b["coarse_width"] and b["m1"] - b["c1"] < b["coarse_width"]
    for edge in ("m0", "m1"):
        assert b[edge].second == 0 and b[edge].microsecond == 0
