"""Stochastic volatility and jumps in the engine: reproducibility across batch sizes and
save/restore (every model), the state's new part, rewind joining without a jump, spread and
volume following the volatility, jumps placed by seq, validation."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticks.engine import (
    N_COMPONENTS,
    EngineState,
    MarketConfig,
    TickerParams,
    advance,
    noise,
    rewind,
)
from ticks.engine.jumps import JUMP_BLOCK, jumps_between

FIELDS = ("seq", "time_ms", "price_cents", "bid_cents", "ask_cents", "volume", "log_price")
ANCHOR = 1_700_000_000_000
MINUTE_SCALE = 600.0  # a 100 ms step is one simulated minute

ROWS = [
    # every model side by side: stochastic + jumps (bounded), stochastic, constant + jumps,
    # constant (plain GBM), stochastic without vol-of-vol and with full leverage, on 3 intervals
    {"seed": 21, "drift": 0.05, "volatility": 0.2, "sector": "Tech", "min_price": 10,
     "max_price": 1000, "volatility_model": "stochastic", "jump_rate": 20_000,
     "jump_mean": -0.01, "jump_spread": 0.02},
    {"seed": 22, "drift": 0.05, "volatility": 0.3, "sector": "Tech",
     "volatility_model": "stochastic", "vol_half_lives": [60, 3600]},
    {"seed": 23, "drift": 0.0, "volatility": 0.25, "sector": "Fin", "interval_ms": 250,
     "jump_rate": 50_000, "jump_mean": 0.0, "jump_spread": 0.05},
    {"seed": 24, "drift": 0.0, "volatility": 0.25, "sector": "Fin", "interval_ms": 250},
    {"seed": 25, "drift": 0.02, "volatility": 0.6, "sector": "E", "interval_ms": 1000,
     "volatility_model": "stochastic", "vol_of_vol": 0.0, "leverage": -1.0},
]  # fmt: skip


@pytest.fixture
def models():
    params = TickerParams.from_rows(ROWS)
    state = EngineState.initial(start_price=[150.0, 320.0, 85.0, 65.0, 70.0], anchor_time_ms=ANCHOR)
    return params, state, MarketConfig(market_seed=3, time_scale=5_000.0)


def roundtrip(state):
    return EngineState.from_dict(json.loads(json.dumps(state.to_dict())))


def per_ticker(batches, n, newest_first=False):
    batches = list(reversed(batches)) if newest_first else list(batches)
    return [
        {f: np.concatenate([getattr(b, f)[b.ticker_index == i] for b in batches]) for f in FIELDS}
        for i in range(n)
    ]


def assert_same(left, right):
    for a, b in zip(left, right, strict=True):
        for f in FIELDS:
            assert np.array_equal(a[f], b[f]), f


def assert_same_state(a, b):
    for f in ("seq", "time_ms", "log_price"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert a.vol.tobytes() == b.vol.tobytes()  # nan (constant tickers) compare equal as bytes


@pytest.mark.parametrize("step_fn", [advance, rewind], ids=["advance", "rewind"])
def test_every_model_is_bit_identical_across_ragged_batches_and_restores(models, step_fn):
    params, start, market = models
    n, total = len(params), 3000
    start = EngineState(seq=start.seq - 1500, time_ms=start.time_ms, log_price=start.log_price)
    noise.cache_clear()
    whole, end = step_fn(params, start, total, market)
    noise.cache_clear()
    rng = np.random.default_rng(5)
    parts, state, done = [], roundtrip(start), np.zeros(n, dtype=np.int64)
    while np.any(done < total):
        steps = np.minimum(rng.integers(0, 700, size=n), total - done)
        batch, state = step_fn(params, state, steps, market)
        state = roundtrip(state)
        done += steps
        parts.append(batch)
    reverse = step_fn is rewind
    assert_same(per_ticker([whole], n), per_ticker(parts, n, newest_first=reverse))
    assert_same_state(state, end)
    # one step at a time (the live generator), across noise-block and jump-block boundaries
    single, state = [], start
    for _ in range(1100):
        batch, state = step_fn(params, state, 1, market)
        single.append(batch)
    first, _ = step_fn(params, start, 1100, market)
    assert_same(per_ticker([first], n), per_ticker(single, n, newest_first=reverse))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(["constant", "stochastic"]),
    jump_rate=st.sampled_from([0.0, 1e5]),
    interval=st.sampled_from([1, 100, 250, 60_000]),
    splits=st.lists(st.integers(0, 400), min_size=1, max_size=6),
    backwards=st.booleans(),
    seq0=st.integers(-5000, 5000),
)
def test_any_split_gives_the_same_ticks(model, jump_rate, interval, splits, backwards, seq0):
    params = TickerParams.from_rows(
        [
            {"seed": 7, "drift": 0.1, "volatility": 0.4, "sector": "S", "interval_ms": interval,
             "volatility_model": model, "jump_rate": jump_rate, "jump_mean": -0.002,
             "jump_spread": 0.01, "vol_half_lives": [30, 3000]},
        ]
    )  # fmt: skip
    market = MarketConfig(market_seed=2, time_scale=1_000.0)
    start = EngineState.initial(start_price=50.0, anchor_time_ms=ANCHOR, seq=seq0)
    step_fn = rewind if backwards else advance
    whole, end = step_fn(params, start, sum(splits), market)
    parts, state = [], start
    for k in splits:
        batch, state = step_fn(params, roundtrip(state), k, market)
        parts.append(batch)
    assert_same(per_ticker([whole], 1), per_ticker(parts, 1, newest_first=backwards))
    assert_same_state(state, end)


def test_state_carries_the_volatility_factors_and_reads_old_dicts(models):
    params, start, market = models
    _, after = advance(params, start, 10, market)
    stochastic = params.vol_model == 1
    assert after.vol.shape == (len(params), N_COMPONENTS)
    assert np.all(np.isfinite(after.vol[stochastic & (params.vol_of_vol > 0)]))
    assert np.all(after.vol[params.vol_of_vol == 0] == 0)
    assert np.all(np.isnan(after.vol[~stochastic]))  # constant tickers carry theirs unchanged
    back = roundtrip(after)
    assert back.vol.tobytes() == after.vol.tobytes()
    old = after.to_dict()
    del old["vol"]  # a state saved before stochastic volatility existed
    assert np.all(np.isnan(EngineState.from_dict(old).vol))


def test_unknown_factors_start_from_the_same_stationary_draw(models):
    params, start, market = models
    a, _ = advance(params, start, 50, market)
    noise.cache_clear()
    b, _ = advance(params, start, 50, market)
    assert np.array_equal(a.price_cents, b.price_cents)
    # and a different seq is a different draw
    shifted = EngineState(seq=start.seq + 1, time_ms=start.time_ms, log_price=start.log_price)
    _, x = advance(params.take([1]), start.take([1]), 1, market)
    _, y = advance(params.take([1]), shifted.take([1]), 1, market)
    assert not np.array_equal(x.vol, y.vol)


def test_stochastic_rewind_joins_the_forward_path_without_a_jump():
    params = TickerParams.from_rows(
        [{"seed": s, "drift": 0.05, "volatility": 0.3, "sector": "A",
          "volatility_model": "stochastic"} for s in (41, 42, 43)]
    )  # fmt: skip
    market = MarketConfig(time_scale=MINUTE_SCALE)
    _, anchor = advance(
        params, EngineState.initial(start_price=5000.0, anchor_time_ms=[ANCHOR] * 3), 500, market
    )
    back, earliest = rewind(params, anchor, 3000, market)
    forward, _ = advance(params, anchor, 3000, market)
    for i in range(3):
        x = np.concatenate(
            [back.log_price[back.ticker_index == i], anchor.log_price[i : i + 1],
             forward.log_price[forward.ticker_index == i]]
        )  # fmt: skip
        t = np.concatenate(
            [back.time_ms[back.ticker_index == i], anchor.time_ms[i : i + 1],
             forward.time_ms[forward.ticker_index == i]]
        )  # fmt: skip
        assert np.all(np.diff(t) == 100)
        r = np.diff(x)
        sd = np.std(r)
        assert np.all(np.abs(r[2990:3010]) < 6 * sd)  # the seam is an ordinary step
        # the volatility joins too: the spread (sigma_t) changes at the seam as from one tick
        # to the next anywhere else
        sel_b, sel_f = back.ticker_index == i, forward.ticker_index == i
        spread = np.concatenate(
            [back.ask_cents[sel_b] - back.bid_cents[sel_b],
             forward.ask_cents[sel_f] - forward.bid_cents[sel_f]]
        ) / np.concatenate([back.price_cents[sel_b], forward.price_cents[sel_f]])  # fmt: skip
        change = np.abs(np.diff(np.log(spread)))
        assert change[2999] <= np.quantile(change, 0.999)
    # the earliest state continues forward as a valid state of its own
    assert np.all(np.isfinite(earliest.vol))


def test_spread_widens_and_volume_rises_with_the_instantaneous_volatility():
    params = TickerParams.from_rows(
        [{"seed": 3, "drift": 0.0, "volatility": 0.4, "sector": "A",
          "volatility_model": "stochastic", "vol_of_vol": 0.8}]
    )  # fmt: skip
    market = MarketConfig(time_scale=MINUTE_SCALE, spread_bps=50.0)
    state = EngineState.initial(start_price=1000.0, anchor_time_ms=ANCHOR)
    batch, _ = advance(params, state, 200_000, market)
    spread = (batch.ask_cents - batch.bid_cents) / batch.price_cents
    r = np.abs(np.diff(batch.log_price))
    local_vol = np.convolve(r, np.ones(60) / 60, mode="same")  # the last hour's |r|
    assert np.corrcoef(local_vol, spread[1:])[0, 1] > 0.5
    assert np.corrcoef(local_vol, batch.volume[1:])[0, 1] > 0.2
    assert np.std(spread) / np.mean(spread) > 0.2
    # a constant-volatility ticker quotes one relative spread (up to the rounding to the cent)
    flat = TickerParams.from_rows([{"seed": 3, "drift": 0.0, "volatility": 0.4, "sector": "A"}])
    batch, _ = advance(flat, state, 1000, market)
    relative = (batch.ask_cents - batch.bid_cents) / batch.price_cents
    assert np.ptp(relative) <= 4 / batch.price_cents.min()


def test_jumps_belong_to_seqs_and_show_in_the_path():
    rate, iv = 2_000.0, 100
    params = TickerParams.from_rows(
        [{"seed": 9, "drift": 0.0, "volatility": 0.1, "sector": "A", "jump_rate": rate,
          "jump_mean": 0.05, "jump_spread": 0.0, "interval_ms": iv}]
    )  # fmt: skip
    market = MarketConfig(time_scale=MINUTE_SCALE)
    per_tick = rate * iv * MINUTE_SCALE / (365 * 86_400 * 1000)
    state = EngineState.initial(start_price=100.0, anchor_time_ms=ANCHOR, seq=-3000)
    batch, _ = advance(params, state, 6000, market)
    seqs, sizes = jumps_between(9, per_tick, -2999, 3000, 0.05, 0.0)
    assert len(seqs) > 5 and np.all(sizes == 0.05)
    r = np.diff(np.concatenate([state.log_price, batch.log_price]))
    big = np.flatnonzero(r > 0.03) - 2999
    assert np.array_equal(np.unique(big), np.unique(seqs))
    # backwards, the same seqs jump (a 5% jump down when read forwards in time is a jump up)
    back, _ = rewind(
        params,
        EngineState.initial(start_price=100.0, anchor_time_ms=ANCHOR, seq=3001),
        6000,
        market,
    )
    rb = np.diff(back.log_price)
    assert np.array_equal(np.unique(np.flatnonzero(rb > 0.03) + back.seq[1]), np.unique(seqs))
    # block-aligned: splitting a block's range splits its jumps
    lo, hi = (
        jumps_between(9, per_tick, 0, JUMP_BLOCK // 2 - 1, 0.05, 0.0),
        jumps_between(9, per_tick, JUMP_BLOCK // 2, JUMP_BLOCK - 1, 0.05, 0.0),
    )
    both = jumps_between(9, per_tick, 0, JUMP_BLOCK - 1, 0.05, 0.0)
    assert np.array_equal(np.concatenate([lo[0], hi[0]]), both[0])


def test_constant_model_ignores_the_volatility_parameters():
    base = {"seed": 5, "drift": 0.03, "volatility": 0.2, "sector": "A"}
    plain = TickerParams.from_rows([base])
    tuned = TickerParams.from_rows(
        [{**base, "vol_of_vol": 1.2, "leverage": 0.7, "vol_half_lives": [10, 20]}]
    )
    state = EngineState.initial(start_price=10.0, anchor_time_ms=ANCHOR)
    a, _ = advance(plain, state, 500, MarketConfig())
    b, _ = advance(tuned, state, 500, MarketConfig())
    assert np.array_equal(a.log_price, b.log_price) and np.array_equal(a.volume, b.volume)


GOOD = {"seed": 1, "drift": 0.0, "volatility": 0.2, "sector": "A"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"volatility_model": "garch"}, "volatility_model must be one of constant, stochastic"),
        ({"vol_of_vol": -0.1}, r"vol_of_vol must be in \[0, 3\]"),
        ({"vol_of_vol": float("nan")}, r"vol_of_vol must be in \[0, 3\]"),
        ({"vol_half_lives": [0, 10]}, "vol_half_lives must be finite and > 0"),
        ({"vol_half_lives": [1, 2, 3]}, "vol_half_lives must be 2 numbers per ticker"),
        ({"leverage": -1.5}, r"leverage must be in \[-1, 1\]"),
        ({"jump_rate": -1}, "jump_rate must be finite and >= 0"),
        ({"jump_mean": float("inf")}, "jump_mean must be finite"),
        ({"jump_spread": -0.1}, "jump_spread must be finite and >= 0"),
    ],
)
def test_model_parameter_validation(change, message):
    with pytest.raises(ValueError, match=message):
        TickerParams.from_rows([{**GOOD, **change}])


def test_state_validation():
    with pytest.raises(ValueError, match="vol must hold 2 numbers per ticker"):
        EngineState(seq=[0], time_ms=[0], log_price=[0.0], vol=[[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="vol must be finite"):
        EngineState(seq=[0], time_ms=[0], log_price=[0.0], vol=[[np.inf, 0.0]])
