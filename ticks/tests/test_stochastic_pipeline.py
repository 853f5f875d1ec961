"""Stochastic volatility and jumps through the product: the live state in Redis and PostgreSQL
carries the volatility factors exactly (and reads states stored before they existed), lost
ticks are regenerated identically, and a backfill joins a stochastic live series, its
volatility included."""

import math
from datetime import UTC, timedelta

import numpy as np
import orjson
import pytest

from ticks import live_configs
from ticks.backfill import plan_backfill, write_plan
from ticks.flush import ticks_flush
from ticks.live import ticks_generate
from ticks.live_store import KEYS, LiveState
from ticks.market import stored_state_at_oldest, vol_loads
from ticks.models import Tick, Ticker, TickerState

from .live_helpers import as_db_rows, db_ticks, replay

pytestmark = pytest.mark.django_db
UTC = UTC

STOCHASTIC = {
    "volatility_model": "stochastic",
    "vol_of_vol": 0.8,
    "vol_half_life_short": 600.0,
    "vol_half_life_long": 86_400.0,
    "leverage": -0.6,
    "jump_rate": 10_000.0,  # at an hour a second: a jump every ten ticks or so
    "jump_mean": -0.001,
    "jump_spread": 0.002,
}


@pytest.fixture
def stochastic_synth(settings):
    settings.MARKET_TIME_SCALE = 3600.0  # an hour a second: volatility moves from tick to tick
    Ticker.objects.filter(symbol="SYNTH").update(**STOCHASTIC)
    Ticker.objects.exclude(symbol="SYNTH").update(is_active=False)
    return Ticker.objects.get(symbol="SYNTH")


def redis_state(r, ticker):
    return r.hget(KEYS.state, str(ticker.pk))


def test_the_live_state_carries_the_factors_and_constant_ones_keep_their_format(
    live_redis, t0, stochastic_synth
):
    Ticker.objects.filter(symbol="TECH").update(is_active=True)
    ticks_generate(now=t0 + timedelta(seconds=1))
    raw = orjson.loads(redis_state(live_redis, stochastic_synth))
    assert set(raw) == {"seq", "t", "x", "on", "v"} and len(raw["v"]) == 2
    state = LiveState.loads(redis_state(live_redis, stochastic_synth))
    assert state.vol == tuple(float.fromhex(v) for v in raw["v"])
    tech = Ticker.objects.get(symbol="TECH")
    assert set(orjson.loads(redis_state(live_redis, tech))) == {"seq", "t", "x", "on"}
    # a state stored before the factors existed still loads (factors unknown)
    old = LiveState.loads(orjson.dumps({"seq": 3, "t": 100, "x": (1.5).hex(), "on": 1}))
    assert old.vol is None and old.dumps() == '{"seq":3,"t":100,"x":"0x1.8000000000000p+0","on":1}'


def test_lost_stochastic_ticks_are_regenerated_identically_from_the_database(
    live_redis, t0, stochastic_synth
):
    ticks_generate(now=t0 + timedelta(seconds=1))
    ticks_flush()
    checkpoint = TickerState.objects.get(ticker=stochastic_synth)
    assert (
        vol_loads(checkpoint.vol_state)
        == LiveState.loads(redis_state(live_redis, stochastic_synth)).vol
    )
    flushed = {t["seq"] for t in replay(live_redis, "SYNTH")}
    ticks_generate(now=t0 + timedelta(seconds=3))  # never flushed...
    lost = [t for t in replay(live_redis, "SYNTH") if t["seq"] not in flushed]
    assert len(lost) == 20
    live_redis.delete(*live_redis.keys(f"{KEYS.state.rsplit(':', 1)[0]}:*"))  # ...Redis loses them
    live_configs.reset_config_cache()
    ticks_generate(now=t0 + timedelta(seconds=4))
    again = {t["seq"]: t for t in replay(live_redis, "SYNTH")}
    assert [again[t["seq"]] for t in lost] == lost  # the same prices, spreads and volumes
    ticks_flush()
    stored = {row[0]: row for row in db_ticks("SYNTH")}
    assert [stored[t["seq"]] for t in lost] == as_db_rows(lost)


def test_a_backfill_joins_the_stochastic_live_series_volatility_included(
    live_redis, t0, stochastic_synth
):
    ticks_generate(now=t0 + timedelta(seconds=20))
    ticks_generate(now=t0 + timedelta(seconds=40))
    ticks_flush()
    # the first live tick's factors, recomputed exactly from its fresh start
    first = Tick.objects.filter(ticker=stochastic_synth).order_by("time").first()
    assert first.seq == 0
    live_state = stored_state_at_oldest(stochastic_synth)
    assert live_state[3] is not None

    def backfill(minutes):
        plan = plan_backfill(
            tickers=[stochastic_synth],
            duration=timedelta(minutes=minutes),
            end=t0,
            now=t0 + timedelta(minutes=1),
        )
        write_plan(plan, chunk=timedelta(minutes=1))
        return plan

    backfill(5)
    checkpoint = TickerState.objects.get(ticker=stochastic_synth)
    # from t0 - 5 min to the first live tick at t0 + 20 s
    assert checkpoint.oldest_seq == -3200 and vol_loads(checkpoint.oldest_vol_state) is not None
    backfill(10)  # further back: continues from the stored factors of the oldest tick
    assert TickerState.objects.get(ticker=stochastic_synth).oldest_seq == -6200
    rows = list(
        Tick.objects.filter(ticker=stochastic_synth)
        .order_by("time")
        .values_list("seq", "time", "price", "bid", "ask")
    )
    seqs = [r[0] for r in rows]
    assert seqs == list(range(-6200, 201))
    assert all(
        b - a == timedelta(milliseconds=100)
        for a, b in zip([r[1] for r in rows], [r[1] for r in rows][1:])
    )
    x = np.log([float(r[2]) for r in rows])
    r = np.diff(x)
    sd = np.std(r)
    for seam in (2999, 6199):  # into the first backfill's oldest tick, into the live series
        assert abs(r[seam]) < 6 * sd
    spread = np.array([float(r[4] - r[3]) for r in rows]) / np.exp(x)
    change = np.abs(np.diff(np.log(spread)))
    assert max(change[2999], change[6199]) <= np.quantile(change, 0.999)
    assert math.isfinite(sd) and sd > 0


def test_generate_continues_a_stochastic_path_exactly(stochastic_synth):
    from datetime import datetime

    from ticks.generation import ticks_generate_steps

    def series():
        return list(
            Tick.objects.filter(ticker=stochastic_synth)
            .order_by("time")
            .values_list("seq", "price", "bid", "ask", "volume")
        )

    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    ticks_generate_steps(now=now, max_steps=400)
    once = series()
    Tick.objects.all().delete()
    TickerState.objects.all().delete()
    start = now - timedelta(seconds=40)
    ticks_generate_steps(now=start + timedelta(seconds=10), max_steps=100)
    assert vol_loads(TickerState.objects.get(ticker=stochastic_synth).vol_state) is not None
    for k in (20, 30, 40):
        ticks_generate_steps(now=start + timedelta(seconds=k), max_steps=400)
    assert series() == once
