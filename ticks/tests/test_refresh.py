"""The bar refresh (ticks.refresh): flushed ticks rolled up and announced."""

from datetime import UTC, timedelta

import pytest

from ticks import live_configs
from ticks.flush import ticks_flush
from ticks.live import ticks_generate
from ticks.live_store import KEYS
from ticks.models import Bar, Tick
from ticks.refresh import bars_refresh

pytestmark = pytest.mark.django_db
UTC = UTC


def test_after_redis_loses_the_refresh_range_the_bars_are_still_completed(live_redis, t0):
    ticks_generate(now=t0)
    ticks_generate(now=t0 + timedelta(seconds=50))
    ticks_flush()
    bars_refresh()  # 00:30 rolled up to :50
    ticks_generate(now=t0 + timedelta(seconds=70))  # :50.1 to 00:31:10
    ticks_flush()  # stored, their bars due at the next refresh...
    live_redis.delete(*live_redis.keys(f"{KEYS.state.rsplit(':', 1)[0]}:*"))  # ...Redis forgets
    live_configs.reset_config_cache()
    ticks_generate(now=t0 + timedelta(seconds=72))  # continues from the database after 31:10
    ticks_flush()
    bars_refresh()
    bar = Bar.objects.get(ticker__symbol="SYNTH", timeframe="1m", time=t0)
    minute = Tick.objects.filter(
        ticker__symbol="SYNTH", time__gte=t0, time__lt=t0 + timedelta(minutes=1)
    ).order_by("time")
    assert bar.trade_count == minute.count() == 600
    assert bar.close == minute.last().price


def test_bar_refresh_rolls_up_flushed_ticks_and_publishes_bars(live_redis, t0):
    ticks_generate(now=t0)
    ticks_generate(now=t0 + timedelta(seconds=70))
    ticks_flush()
    report = bars_refresh()
    assert report.bars["1m"] == 10  # two minutes touched x 5 tickers
    assert Bar.objects.filter(timeframe="1m", ticker__symbol="SYNTH").count() == 2
    assert bars_refresh().skipped == "nothing new"


def test_after_a_long_gap_only_the_recent_bars_are_streamed(live_redis, t0, announced):
    """Ten minutes flushed at once (e.g. after a database outage): all bars are rolled up, but
    only the open bar and the one before it are announced (and so go out to live clients)."""
    published = announced.bars
    ticks_generate(now=t0)
    ticks_generate(now=t0 + timedelta(minutes=10, seconds=30))
    ticks_flush()
    report = bars_refresh()
    assert report.bars["1m"] == 11 * 5
    minute = 60_000
    base = int(t0.timestamp() * 1000)
    assert sorted({bar.time_ms for bar in published}) == [base + k * minute for k in (8, 9, 10)]
    assert len(published) == 3 * 5
