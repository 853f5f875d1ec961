"""Live generation, flush and bar refresh against the real Redis and PostgreSQL (in-process)."""

import asyncio
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import OperationalError
from django.test import override_settings

from streaming.publish import ticks_group
from ticks import live, live_configs, live_store
from ticks.config_version import bump_config_version
from ticks.flush import ticks_flush
from ticks.lease import Lease
from ticks.live import ticks_generate
from ticks.live_store import KEYS, LiveState, TickerWrite
from ticks.models import Bar, Tick, Ticker, TickerState
from ticks.refresh import bars_refresh

pytestmark = pytest.mark.django_db
UTC = timezone.utc


@pytest.fixture
def t0():
    """A grid-aligned instant early today (so its day partition exists)."""
    return datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0)


def replay(r, symbol):
    return [json.loads(fields[b"d"]) for _, fields in r.xrange(KEYS.replay(symbol))]


def db_ticks(symbol):
    return list(Tick.objects.filter(ticker__symbol=symbol).order_by("time")
                .values_list("seq", "time", "price", "bid", "ask", "volume"))


def as_db_rows(ticks):
    return [(t["seq"], datetime.fromtimestamp(t["timestamp"] / 1000, UTC),
             Decimal(str(t["price"])).quantize(Decimal("0.01")),
             Decimal(str(t["bid"])).quantize(Decimal("0.01")),
             Decimal(str(t["ask"])).quantize(Decimal("0.01")), t["volume"]) for t in ticks]


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
            int(t0.timestamp() * 1000) + 100 * k for k in range(12)]


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
        tickers=[TickerWrite(id=str(synth.pk),
                             expected=LiveState(stale.seq - 1, stale.time_ms - 100,
                                                stale.log_price).dumps(),
                             state=LiveState(stale.seq + 1, stale.time_ms + 100, 0.0),
                             symbol="SYNTH", records=[(stale.time_ms + 100, "{}")])],
        rows=b"junk", meta={"n": 1}, count=1, now_ms=stale.time_ms + 100)
    assert ok is False
    assert live_redis.hget(KEYS.state, str(synth.pk)).decode() == current
    assert live_redis.xlen(KEYS.buffer) == 1 and len(replay(live_redis, "SYNTH")) == 1


def test_flush_stores_exactly_the_streamed_ticks_and_the_exact_state(live_redis, t0):
    for k in range(0, 31, 3):
        ticks_generate(now=t0 + timedelta(milliseconds=100 * k))
    report = ticks_flush()
    assert (report.ticks, report.skipped) == (5 * 31, None)
    assert live_redis.xlen(KEYS.buffer) == 0 and int(live_redis.get(KEYS.buffer_ticks)) == 0
    for symbol in ("SYNTH", "ENERGY"):
        assert db_ticks(symbol) == as_db_rows(replay(live_redis, symbol))
        ticker = Ticker.objects.get(symbol=symbol)
        state = LiveState.loads(live_redis.hget(KEYS.state, str(ticker.pk)))
        stored = TickerState.objects.get(ticker=ticker)
        assert (stored.seq, stored.log_price) == (state.seq, state.log_price)
        assert json.loads(live_redis.hget(KEYS.quotes, symbol)) == replay(live_redis, symbol)[-1]
    assert ticks_flush().ticks == 0


def test_a_flush_that_died_before_acknowledging_is_merged_without_duplicates(live_redis, t0):
    ticks_generate(now=t0)
    ticks_generate(now=t0 + timedelta(seconds=1))
    entry_id, fields = live_redis.xrange(KEYS.buffer)[-1]
    ticks_flush()
    live_redis.xadd(KEYS.buffer, {b"rows": fields[b"rows"], b"meta": fields[b"meta"]})
    live_redis.incrby(KEYS.buffer_ticks, json.loads(fields[b"meta"])["n"])
    ticks_generate(now=t0 + timedelta(seconds=2))
    report = ticks_flush()
    assert report.merged and live_redis.xlen(KEYS.buffer) == 0
    assert [row[0] for row in db_ticks("SYNTH")] == list(range(21))


def test_a_flusher_whose_lease_was_taken_over_leaves_its_entries_to_the_new_holder(
        live_redis, t0):
    from ticks import flush

    ticks_generate(now=t0)
    ticks_generate(now=t0 + timedelta(seconds=1))
    stalled = Lease(flush.LEASE_NAME)
    assert stalled.acquire()
    live_redis.delete(KEYS.lock(flush.LEASE_NAME))  # it expired while the flusher stalled
    taker = Lease(flush.LEASE_NAME)
    assert taker.acquire()
    report = flush._flush(600, stalled)  # its rows commit, its acknowledgement is refused
    assert report.skipped == "lease lost"
    assert live_redis.xlen(KEYS.buffer) == 2 and int(live_redis.get(KEYS.buffer_ticks)) == 55
    taker.release()
    assert ticks_flush().merged
    assert live_redis.xlen(KEYS.buffer) == 0 and int(live_redis.get(KEYS.buffer_ticks)) == 0
    assert [row[0] for row in db_ticks("SYNTH")] == list(range(11))


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
    minute = Tick.objects.filter(ticker__symbol="SYNTH", time__gte=t0,
                                 time__lt=t0 + timedelta(minutes=1)).order_by("time")
    assert bar.trade_count == minute.count() == 600
    assert bar.close == minute.last().price


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


def test_generation_continues_on_cached_configs_when_the_database_is_down(
        live_redis, t0, monkeypatch):
    ticks_generate(now=t0)
    bump_config_version()  # forces a reload, which fails

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    calls = []
    monkeypatch.setattr(Ticker.objects, "filter", lambda *a, **k: calls.append(1) or down())
    report = ticks_generate(now=t0 + timedelta(seconds=1))
    assert report.ticks == 50
    # The database is not asked again on every beat while it is down.
    for k in range(2, 12):
        ticks_generate(now=t0 + timedelta(seconds=1, milliseconds=100 * k))
    assert len(calls) == 1


def test_with_no_active_ticker_the_database_is_not_read_every_beat(live_redis, t0, monkeypatch):
    Ticker.objects.update(is_active=False)
    assert ticks_generate(now=t0).skipped == "no active tickers"
    calls = []
    real_filter = Ticker.objects.filter
    monkeypatch.setattr(Ticker.objects, "filter",
                        lambda *a, **k: calls.append(1) or real_filter(*a, **k))
    for k in range(1, 11):
        ticks_generate(now=t0 + timedelta(milliseconds=100 * k))
    assert calls == []


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


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_hung_config_reload_never_delays_a_cycle(live_redis, t0, monkeypatch, settings):
    """The reload runs in a background thread: while the database answers nothing, every cycle
    generates on the cached configs at once; the new configs apply once it answers."""
    import threading
    import time

    settings.GENERATION_CONFIG_RELOAD_S = 0.2
    ticks_generate(now=t0)  # the first configs: read by the cycle itself
    release = threading.Event()
    real_filter = Ticker.objects.filter
    monkeypatch.setattr(Ticker.objects, "filter",
                        lambda *a, **k: release.wait(20) and real_filter(*a, **k))
    bump_config_version()
    took = []
    try:
        for k in range(1, 11):
            started = time.monotonic()
            report = ticks_generate(now=t0 + timedelta(milliseconds=100 * k))
            took.append(time.monotonic() - started)
            assert report.ticks == 5
            time.sleep(0.1)
    finally:
        release.set()
    assert max(took) < 0.5, took
