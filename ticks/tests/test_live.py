"""Live generation (ticks.live) against the real Redis and PostgreSQL, in process: the grid,
catch-up, Redis loss, ticker edits, publishing."""

import asyncio
from datetime import UTC, timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.test import override_settings

from streaming.publish import ticks_group
from ticks import live, live_configs, live_store
from ticks.config_version import bump_config_version
from ticks.flush import ticks_flush
from ticks.lease import Lease
from ticks.live import ticks_generate
from ticks.live_store import KEYS, LiveState, TickerWrite
from ticks.models import Ticker

from .live_helpers import as_db_rows, db_ticks, replay

pytestmark = pytest.mark.django_db
UTC = UTC


def test_first_cycle_starts_every_active_ticker_on_the_grid(live_redis, t0):
    report = ticks_generate(now=t0 + timedelta(milliseconds=50))
    assert (report.ticks, report.tickers, report.skipped) == (5, 5, None)
    tick = replay(live_redis, "SYNTH")[0]
    assert tick["seq"] == 0 and tick["timestamp"] == int(t0.timestamp() * 1000)
    assert set(tick) == {"ticker", "price", "volume", "bid", "ask", "timestamp", "seq"}
    assert tick["bid"] < tick["price"] < tick["ask"]
    assert abs(tick["price"] - 150) < 1


def test_late_missed_and_doubled_beats_make_no_gap_and_no_duplicate(live_redis, t0):
    ticks_generate(now=t0)
    ticks_generate(now=t0 + timedelta(milliseconds=1_000))  # 9 beats missed
    ticks_generate(now=t0 + timedelta(milliseconds=1_000))  # doubled
    ticks_generate(now=t0 + timedelta(milliseconds=1_099))  # early: nothing due
    ticks_generate(now=t0 + timedelta(milliseconds=1_100))
    for symbol in ("SYNTH", "HEALTH"):
        ticks = replay(live_redis, symbol)
        assert [t["seq"] for t in ticks] == list(range(12))
        assert [t["timestamp"] for t in ticks] == [
            int(t0.timestamp() * 1000) + 100 * k for k in range(12)
        ]


def test_the_path_does_not_depend_on_beat_timing(live_redis, t0):
    for k in range(1, 21):
        ticks_generate(now=t0 + timedelta(milliseconds=100 * k))
    stepwise = replay(live_redis, "TECH")
    live_redis.delete(*live_redis.keys(f"{KEYS.state.rsplit(':', 1)[0]}:*"))
    live_configs.reset_config_cache()
    ticks_generate(now=t0 + timedelta(milliseconds=100))
    ticks_generate(now=t0 + timedelta(milliseconds=2000))
    assert replay(live_redis, "TECH") == stepwise


def test_a_held_lock_or_a_stale_state_writes_nothing(live_redis, t0):
    other = Lease("generate")
    assert other.acquire()
    assert ticks_generate(now=t0).skipped == "locked"
    assert live_redis.hlen(KEYS.state) == 0
    other.release()
    ticks_generate(now=t0)
    synth = Ticker.objects.get(symbol="SYNTH")
    current = live_redis.hget(KEYS.state, str(synth.pk)).decode()
    stale = LiveState.loads(current)
    # A second writer that read an older state loses the compare-and-set, entirely.
    ok = live_store.commit_cycle(
        tickers=[
            TickerWrite(
                id=str(synth.pk),
                expected=LiveState(stale.seq - 1, stale.time_ms - 100, stale.log_price).dumps(),
                state=LiveState(stale.seq + 1, stale.time_ms + 100, 0.0),
                symbol="SYNTH",
                records=[(stale.time_ms + 100, "{}")],
            )
        ],
        rows=b"junk",
        meta={"n": 1},
        count=1,
        now_ms=stale.time_ms + 100,
    )
    assert ok is False
    assert live_redis.hget(KEYS.state, str(synth.pk)).decode() == current
    assert live_redis.xlen(KEYS.buffer) == 1 and len(replay(live_redis, "SYNTH")) == 1


def test_after_redis_loses_everything_the_lost_ticks_are_regenerated_identically(live_redis, t0):
    ticks_generate(now=t0 + timedelta(seconds=1))
    ticks_flush()
    ticks_generate(now=t0 + timedelta(seconds=3))  # these 20 ticks are never flushed...
    lost = replay(live_redis, "FINANCE")[1:]
    assert [t["seq"] for t in lost] == list(range(1, 21))
    live_redis.delete(*live_redis.keys(f"{KEYS.state.rsplit(':', 1)[0]}:*"))  # ...Redis loses them
    live_configs.reset_config_cache()
    ticks_generate(now=t0 + timedelta(seconds=4))
    again = replay(live_redis, "FINANCE")
    assert again[:20] == lost
    ticks_flush()
    assert [row[0] for row in db_ticks("FINANCE")] == list(range(31))
    assert db_ticks("FINANCE")[1:21] == as_db_rows(lost)


def test_deactivation_stops_a_ticker_and_reactivation_resumes_it_from_now(live_redis, t0):
    ticks_generate(now=t0)
    energy = Ticker.objects.get(symbol="ENERGY")
    energy.is_active = False
    energy.save()
    bump_config_version()
    ticks_generate(now=t0 + timedelta(seconds=1))
    assert len(replay(live_redis, "ENERGY")) == 1
    assert LiveState.loads(live_redis.hget(KEYS.state, str(energy.pk))).active is False
    last_price = replay(live_redis, "ENERGY")[-1]["price"]
    energy.is_active = True
    energy.save()
    bump_config_version()
    ticks_generate(now=t0 + timedelta(seconds=60))
    ticks = replay(live_redis, "ENERGY")
    assert [t["seq"] for t in ticks] == [0, 1]  # resumed: no catch-up over the pause
    assert ticks[1]["timestamp"] == int((t0 + timedelta(seconds=60)).timestamp() * 1000)
    assert abs(ticks[1]["price"] - last_price) < 0.5
    assert len(replay(live_redis, "SYNTH")) == 601


def test_edits_apply_from_the_next_step(live_redis, t0):
    ticks_generate(now=t0)
    synth = Ticker.objects.get(symbol="SYNTH")
    synth.volatility = 0.0
    synth.drift = 0.0
    synth.tick_interval_ms = 250
    synth.save()
    bump_config_version()
    ticks_generate(now=t0 + timedelta(seconds=2))
    ticks = replay(live_redis, "SYNTH")
    assert [t["seq"] for t in ticks] == list(range(9))
    assert [t["timestamp"] - ticks[0]["timestamp"] for t in ticks] == [250 * k for k in range(9)]
    assert len({t["price"] for t in ticks[1:]}) == 1  # no volatility: no moves
    assert len(replay(live_redis, "TECH")) == 21


def test_a_long_catch_up_is_generated_in_bounded_slices(live_redis, t0, monkeypatch):
    monkeypatch.setattr(live, "MAX_TICKS_PER_CYCLE", 500)
    ticks_generate(now=t0)
    later = t0 + timedelta(minutes=1)
    sizes = [ticks_generate(now=later).ticks for _ in range(7)]
    assert sizes == [500] * 6 + [0]  # 100 steps per ticker per cycle, 600 due
    ticks = replay(live_redis, "SYNTH")
    assert [t["seq"] for t in ticks] == list(range(601))
    assert ticks[-1]["timestamp"] == int(later.timestamp() * 1000)


@override_settings(MAX_CATCHUP_SECONDS=2)
def test_a_gap_longer_than_the_catch_up_limit_is_skipped_with_seq_consecutive(live_redis, t0):
    ticks_generate(now=t0)
    report = ticks_generate(now=t0 + timedelta(seconds=30))
    assert set(report.gaps) == {"SYNTH", "TECH", "FINANCE", "ENERGY", "HEALTH"}
    ticks = replay(live_redis, "SYNTH")
    assert [t["seq"] for t in ticks] == list(range(21))
    assert ticks[1]["timestamp"] - ticks[0]["timestamp"] == 28_100


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_each_cycle_is_published_to_the_ticker_groups(live_redis, t0):
    layer = get_channel_layer()

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add(ticks_group("SYNTH"), channel)
        try:
            await sync_to_async(ticks_generate)(now=t0 + timedelta(milliseconds=200))
            return await asyncio.wait_for(layer.receive(channel), timeout=5)
        finally:
            await layer.group_discard(ticks_group("SYNTH"), channel)

    message = async_to_sync(scenario)()
    assert message["type"] == "market.ticks"
    assert [t["seq"] for t in message["ticks"]] == [0]
    assert message["ticks"] == replay(live_redis, "SYNTH")
