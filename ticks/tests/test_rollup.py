"""Bars: buckets labelled by their start, equal to aggregates of their ticks, idempotent."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ticks.models import Bar, Tick, Ticker
from ticks.rollup import bars_rollup, ceil_to, floor_to

pytestmark = pytest.mark.django_db
UTC = UTC


def hour_start() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def add_ticks(ticker, start, prices_volumes, step=timedelta(seconds=20)):
    ticks = []
    for i, (price, volume) in enumerate(prices_volumes):
        p = Decimal(price)
        ticks.append(
            Tick(
                ticker=ticker,
                time=start + i * step,
                seq=i,
                price=p,
                bid=p - Decimal("0.01"),
                ask=p + Decimal("0.01"),
                volume=volume,
            )
        )
    Tick.objects.bulk_create(ticks)


def bars(ticker, timeframe):
    return [
        (b.time, b.open, b.high, b.low, b.close, b.volume, b.trade_count, b.vwap)
        for b in Bar.objects.filter(ticker=ticker, timeframe=timeframe).order_by("time")
    ]


def test_floor_and_ceil_align_to_utc_buckets():
    t = datetime(2026, 11, 28, 13, 47, 12, tzinfo=UTC)
    assert floor_to(t, timedelta(minutes=5)) == datetime(2026, 11, 28, 13, 45, tzinfo=UTC)
    assert ceil_to(t, timedelta(hours=1)) == datetime(2026, 11, 28, 14, tzinfo=UTC)
    assert ceil_to(datetime(2026, 11, 28, tzinfo=UTC), timedelta(days=1)) == datetime(
        2026, 11, 28, tzinfo=UTC
    )


def test_bars_are_ohlcv_of_their_bucket_at_every_level():
    synth = Ticker.objects.get(symbol="SYNTH")
    start = hour_start()
    # Three ticks a minute (every 20 s) over 2 minutes.
    add_ticks(
        synth,
        start,
        [("10.00", 1), ("12.00", 3), ("9.00", 2), ("11.00", 4), ("11.50", 1), ("10.50", 5)],
    )
    bars_rollup(start=start, end=start + timedelta(minutes=2))
    m1 = Decimal("10.6667")  # (10*1 + 12*3 + 9*2) / 6
    m2 = Decimal("10.8000")  # (11*4 + 11.5*1 + 10.5*5) / 10 = 10.8
    assert bars(synth, "1m") == [
        (start, Decimal("10.00"), Decimal("12.00"), Decimal("9.00"), Decimal("9.00"), 6, 3, m1),
        (
            start + timedelta(minutes=1),
            Decimal("11.00"),
            Decimal("11.50"),
            Decimal("10.50"),
            Decimal("10.50"),
            10,
            3,
            m2,
        ),
    ]
    combined = Decimal("10.7500")  # (64 + 108) / 16
    for tf in ("5m", "1h"):
        assert bars(synth, tf) == [
            (
                start,
                Decimal("10.00"),
                Decimal("12.00"),
                Decimal("9.00"),
                Decimal("10.50"),
                16,
                6,
                combined,
            )
        ]
    day = start.replace(hour=0)
    assert bars(synth, "1d") == [
        (
            day,
            Decimal("10.00"),
            Decimal("12.00"),
            Decimal("9.00"),
            Decimal("10.50"),
            16,
            6,
            combined,
        )
    ]
    assert Bar.objects.exclude(ticker=synth).count() == 0


def test_rollup_is_idempotent_and_late_runs_converge():
    synth = Ticker.objects.get(symbol="SYNTH")
    start = hour_start()
    add_ticks(synth, start, [("10.00", 1), ("12.00", 3)])
    bars_rollup(start=start, end=start + timedelta(seconds=30))
    snapshot = {tf: bars(synth, tf) for tf in ("1m", "5m", "1h", "1d")}
    bars_rollup(start=start, end=start + timedelta(seconds=30))
    assert {tf: bars(synth, tf) for tf in snapshot} == snapshot
    # More ticks arrive in the open bucket; a later run over a narrower window refreshes it.
    add_ticks(synth, start + timedelta(seconds=40), [("8.00", 2)])
    bars_rollup(start=start + timedelta(seconds=40), end=start + timedelta(seconds=41))
    assert bars(synth, "1m")[0][1:7] == (
        Decimal("10.00"),
        Decimal("12.00"),
        Decimal("8.00"),
        Decimal("8.00"),
        6,
        3,
    )
    assert bars(synth, "1d")[0][3] == Decimal("8.00")


def test_rollup_can_be_limited_to_some_tickers_and_ignores_empty_windows():
    synth, tech = Ticker.objects.get(symbol="SYNTH"), Ticker.objects.get(symbol="TECH")
    start = hour_start()
    add_ticks(synth, start, [("10.00", 1)])
    add_ticks(tech, start, [("20.00", 1)])
    bars_rollup(start=start, end=start + timedelta(minutes=1), tickers=[tech.pk])
    assert bars(synth, "1m") == [] and len(bars(tech, "1m")) == 1
    assert bars_rollup(start=start, end=start) == {"1m": 0, "5m": 0, "1h": 0, "1d": 0}
