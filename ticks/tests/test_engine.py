"""The NumPy engine (``ticks.engine``): reproducibility, grid, quotes, bounds, rewind, validation.

No Django, no database: the engine is arrays in, arrays out.
"""

import json

import numpy as np
import pytest

from ticks.engine import (
    YEAR_MS,
    EngineState,
    MarketConfig,
    TickBatch,
    TickerParams,
    advance,
    noise,
    rewind,
    sector_id,
    steps_due,
)
from ticks.engine.noise import BLOCK

FIELDS = (
    "ticker_index",
    "seq",
    "time_ms",
    "price_cents",
    "bid_cents",
    "ask_cents",
    "volume",
    "log_price",
)
ANCHOR = 1_700_000_000_000  # a multiple of every interval used below
DAY_PER_100MS = 86_400 * 10  # time scale at which a 100 ms step is one simulated day


def make_params(rows):
    return TickerParams.from_rows(rows)


@pytest.fixture
def mixed():
    """Four tickers on three intervals, two sharing a sector, one with bounds."""
    params = make_params(
        [
            {
                "seed": 11,
                "drift": 0.05,
                "volatility": 0.2,
                "interval_ms": 100,
                "sector": "Technology",
                "min_price": 10,
                "max_price": 1000,
            },
            {
                "seed": 12,
                "drift": 0.08,
                "volatility": 0.3,
                "interval_ms": 100,
                "sector": "Technology",
            },
            {
                "seed": 13,
                "drift": -0.03,
                "volatility": 0.15,
                "interval_ms": 250,
                "sector": "Finance",
            },
            {
                "seed": 14,
                "drift": 0.02,
                "volatility": 0.6,
                "interval_ms": 1000,
                "sector": "Energy",
                "min_price": 50,
                "max_price": 80,
            },
        ]
    )
    state = EngineState.initial(start_price=[150.0, 320.0, 85.0, 65.0], anchor_time_ms=ANCHOR)
    return params, state, MarketConfig(market_seed=3, time_scale=50_000.0)


def per_ticker(batches, n, newest_first=False):
    """Concatenate each ticker's ticks over batches (in call order, or reversed for rewinds)."""
    batches = list(reversed(batches)) if newest_first else list(batches)
    out = []
    for i in range(n):
        parts = [b.take(b.ticker_index == i) for b in batches]
        out.append({f: np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS})
    return out


def assert_same_ticks(left, right):
    for a, b in zip(left, right, strict=True):
        for f in FIELDS:
            assert a[f].dtype == b[f].dtype, f
            assert np.array_equal(a[f], b[f]), f


def roundtrip(state):
    return EngineState.from_dict(json.loads(json.dumps(state.to_dict())))


# ------------------------------------------------------------------------------------------------
# reproducibility


def test_noise_blocks_are_keyed_by_index_not_by_history():
    noise.cache_clear()
    k0, k1 = 123, noise.idiosyncratic_stream()
    whole = noise.normals(k0, k1, -2 * BLOCK - 5, 5 * BLOCK)
    # any sub-range, in any order, from a cold or a warm cache, gives the same draws
    noise.cache_clear()
    part = noise.normals(k0, k1, 17, 3000)
    assert np.array_equal(part, whole[2 * BLOCK + 5 + 17 :][:3000])
    assert np.array_equal(noise.normals(k0, k1, -1, 2), whole[2 * BLOCK + 4 : 2 * BLOCK + 6])
    # the documented definition: block b = Philox(key=[k0, k1], counter=[0, 0, 0, b]) normals
    for block in (-1, 0, 1):
        gen = np.random.Generator(
            np.random.Philox(
                key=np.array([k0, k1], dtype=np.uint64),
                counter=np.array([0, 0, 0, block % 2**64], dtype=np.uint64),
            )
        )
        start = (block + 2) * BLOCK + 5
        assert np.array_equal(gen.standard_normal(BLOCK), whole[start : start + BLOCK])
    # other key words, other draws
    assert not np.array_equal(noise.normals(k0 + 1, k1, 0, 8), whole[2 * BLOCK + 5 :][:8])
    assert not np.array_equal(
        noise.normals(k0, noise.volume_stream(), 0, 8), whole[2 * BLOCK + 5 :][:8]
    )


def test_live_calls_hit_the_block_cache():
    noise.cache_clear()
    params = make_params([{"seed": 1, "drift": 0.0, "volatility": 0.2, "sector": "X"}])
    state = EngineState.initial(start_price=100.0, anchor_time_ms=ANCHOR)
    market = MarketConfig()
    for _ in range(200):
        _, state = advance(params, state, 1, market)
    # E, V, market factor and sector factor: one block each for 200 ticks
    assert noise.cache_info()["misses"] == 4


def test_forward_is_bit_identical_across_batch_sizes_and_restores(mixed):
    params, start, market = mixed
    n, total = len(params), 3000
    # start in backfilled history (negative seq) so that the run crosses seq 0 and several
    # noise blocks; each variant starts from a cold block cache
    start = EngineState(seq=start.seq - 1500, time_ms=start.time_ms, log_price=start.log_price)
    noise.cache_clear()
    whole, end_whole = advance(params, start, total, market)

    noise.cache_clear()
    tens, state = [], start
    for _ in range(10):
        batch, state = advance(params, state, total // 10, market)
        tens.append(batch)
    assert_same_ticks(per_ticker([whole], n), per_ticker(tens, n))

    # ragged calls: a different number of steps per ticker per call (0 allowed), with the state
    # saved to JSON and restored between calls, as through Redis
    noise.cache_clear()
    rng = np.random.default_rng(5)
    ragged, state, done = [], roundtrip(start), np.zeros(n, dtype=np.int64)
    while np.any(done < total):
        steps = np.minimum(rng.integers(0, 700, size=n), total - done)
        batch, state = advance(params, state, steps, market)
        state = roundtrip(state)
        done += steps
        ragged.append(batch)
    assert len(ragged) > 5
    assert_same_ticks(per_ticker([whole], n), per_ticker(ragged, n))
    for f in ("seq", "time_ms", "log_price"):
        assert np.array_equal(getattr(state, f), getattr(end_whole, f))
    assert len(whole) == n * total
    assert whole.ticker_index.dtype == np.int32
    assert np.array_equal(whole.ticker_index, np.repeat(np.arange(n), total))
    assert np.array_equal(whole.seq, np.tile(np.arange(-1499, 1501), n))


def test_live_single_steps_equal_one_bulk_call(mixed):
    params, start, market = mixed
    params, start = params.take([0, 2]), start.take([0, 2])
    noise.cache_clear()
    bulk, _ = advance(params, start, 1100, market)
    noise.cache_clear()
    live, state = [], start
    for _ in range(1100):  # crosses the block boundary at seq 1024
        batch, state = advance(params, state, 1, market)
        live.append(batch)
    assert_same_ticks(per_ticker([bulk], 2), per_ticker(live, 2))


def test_rewind_is_bit_identical_across_chunks(mixed):
    params, anchor, market = mixed
    n, total = len(params), 2500
    noise.cache_clear()
    whole, earliest = rewind(params, anchor, total, market)
    noise.cache_clear()
    chunks, state = [], anchor
    for steps in ([1000] * n, [700, 0, 1000, 37], [800, 1500, 500, 1463]):
        batch, state = rewind(params, state, steps, market)
        state = roundtrip(state)
        chunks.append(batch)
    assert_same_ticks(per_ticker([whole], n), per_ticker(chunks, n, newest_first=True))
    for f in ("seq", "time_ms", "log_price"):
        assert np.array_equal(getattr(state, f), getattr(earliest, f))
    # ascending in time per ticker, seq counting down from the anchor, on each ticker's grid
    for i, ticks in enumerate(per_ticker([whole], n)):
        iv = params.interval_ms[i]
        assert np.array_equal(ticks["seq"], np.arange(-total, 0))
        assert np.array_equal(ticks["time_ms"], ANCHOR - iv * np.arange(total, 0, -1))


def test_state_dict_roundtrip_is_exact():
    state = EngineState(
        seq=[-5, 7],
        time_ms=[ANCHOR, ANCHOR + 3],
        log_price=[np.log(150.0), np.nextafter(np.log(3.2), 10)],
    )
    back = roundtrip(state)
    assert np.array_equal(back.seq, state.seq)
    assert np.array_equal(back.time_ms, state.time_ms)
    assert back.log_price.tobytes() == state.log_price.tobytes()


def test_empty_requests():
    params = make_params([{"seed": 1, "drift": 0.0, "volatility": 0.2, "sector": "X"}])
    state = EngineState.initial(start_price=100.0, anchor_time_ms=ANCHOR)
    batch, after = advance(params, state, 0, MarketConfig())
    assert len(batch) == 0 and isinstance(batch, TickBatch)
    assert after.seq[0] == 0 and after.time_ms[0] == ANCHOR and after is not state
    batch, after = rewind(params, state, [0], MarketConfig())
    assert len(batch) == 0


# ------------------------------------------------------------------------------------------------
# grid, intervals, dt


def test_steps_due_on_and_off_grid():
    params = make_params(
        [{"seed": 1, "drift": 0.0, "volatility": 0.2, "interval_ms": 100, "sector": "X"}] * 2
    )
    state = EngineState(seq=[0, 0], time_ms=[1000, 1050], log_price=[0.0, 0.0])
    expected = {
        900: [0, 0],
        1000: [0, 0],
        1099: [0, 0],
        1100: [1, 1],
        1250: [2, 2],
        1999: [9, 9],
        2000: [10, 10],
    }
    for now, due in expected.items():
        assert steps_due(state, params, now).tolist() == due, now
    assert steps_due(state, params, np.array([1100, 1099])).tolist() == [1, 0]
    batch, after = advance(params, state, steps_due(state, params, 1250), MarketConfig())
    assert batch.time_ms.tolist() == [1100, 1200, 1100, 1200]
    assert after.time_ms.tolist() == [1200, 1200]
    assert steps_due(after, params, 1250).tolist() == [0, 0]


def _implied_noise(params, prev_x, x, dt_ms, market):
    """Z of one step, recovered from the log prices (bounds off): (dx - (mu - s²/2) dt) / s√dt."""
    dt = dt_ms * market.time_scale / YEAR_MS
    mu, s = params.drift[0], params.volatility[0]
    return (x - prev_x - (mu - 0.5 * s * s) * dt) / (s * np.sqrt(dt))


def test_interval_change_keeps_seq_and_uses_the_real_gap():
    # correlations 0 => Z is the ticker's own draw at its seq, which the test can recompute
    market = MarketConfig(market_correlation=0, sector_correlation=0, time_scale=DAY_PER_100MS)
    row = {"seed": 77, "drift": 0.1, "volatility": 0.3, "sector": "X"}
    fast = make_params([{**row, "interval_ms": 100}])
    state = EngineState.initial(start_price=100.0, anchor_time_ms=1000)
    first, state = advance(fast, state, 5, market)
    assert first.time_ms.tolist() == [1100, 1200, 1300, 1400, 1500]
    for interval, times in ((250, [1750, 2000, 2250]), (400, [2400, 2800, 3200])):
        params = make_params([{**row, "interval_ms": interval}])
        before = state
        batch, state = advance(params, state, 3, market)
        assert batch.time_ms.tolist() == times
        assert batch.seq.tolist() == list(range(before.seq[0] + 1, before.seq[0] + 4))
        gaps = np.diff(np.concatenate([[before.time_ms[0]], batch.time_ms]))
        xs = np.concatenate([[before.log_price[0]], batch.log_price])
        implied = _implied_noise(params, xs[:-1], xs[1:], gaps, market)
        drawn = noise.normals(77, noise.idiosyncratic_stream(), before.seq[0] + 1, 3)
        np.testing.assert_allclose(implied, drawn, rtol=0, atol=1e-8)
    # 2250 -> 2400 on the 400 ms grid is a 150 ms step, not 400
    assert gaps[0] == 150


def test_first_step_from_off_grid_anchor_is_the_real_gap():
    market = MarketConfig(market_correlation=0, sector_correlation=0, time_scale=DAY_PER_100MS)
    params = make_params(
        [{"seed": 9, "drift": 0.0, "volatility": 0.2, "interval_ms": 100, "sector": "X"}]
    )
    state = EngineState.initial(start_price=50.0, anchor_time_ms=1030)
    batch, _ = advance(params, state, 2, market)
    assert batch.time_ms.tolist() == [1100, 1200]
    implied = _implied_noise(params, state.log_price[0], batch.log_price[0], 70, market)
    drawn = noise.normals(9, noise.idiosyncratic_stream(), 1, 1)[0]
    assert implied == pytest.approx(drawn, abs=1e-8)


def test_tickers_sharing_an_interval_share_factor_draws():
    """Same interval and sector, zero idiosyncratic weight => identical noise, identical paths."""
    market = MarketConfig(market_correlation=0.4, sector_correlation=0.6)
    rows = [{"seed": s, "drift": 0.0, "volatility": 0.2, "sector": "Same"} for s in (1, 2)]
    state = EngineState.initial(start_price=100.0, anchor_time_ms=[ANCHOR, ANCHOR])
    batch, _ = advance(make_params(rows), state, 50, market)
    a, b = (batch.log_price[batch.ticker_index == i] for i in (0, 1))
    assert np.array_equal(a, b)
    rows[1]["sector"] = "Other"  # only the market factor is shared now
    batch, _ = advance(make_params(rows), state, 50, market)
    a, b = (batch.log_price[batch.ticker_index == i] for i in (0, 1))
    assert not np.array_equal(a, b)


# ------------------------------------------------------------------------------------------------
# quotes


def test_quotes_are_int_cents_with_bid_below_price_below_ask():
    rows = [
        {"seed": 1, "drift": 0.0, "volatility": 0.0, "sector": "A"},
        {"seed": 2, "drift": 0.0, "volatility": 0.05, "sector": "A"},
        {"seed": 3, "drift": 0.0, "volatility": 0.4, "sector": "B"},
        {"seed": 4, "drift": 0.0, "volatility": 3.0, "sector": "B"},  # wide spread
        {"seed": 5, "drift": -2.0, "volatility": 1.0, "sector": "C"},  # towards 2 cents
        {"seed": 6, "drift": 4.0, "volatility": 1.0, "sector": "C"},  # large prices
    ]
    state = EngineState.initial(start_price=[100, 100, 100, 100, 0.05, 1e6], anchor_time_ms=ANCHOR)
    market = MarketConfig(time_scale=DAY_PER_100MS)
    batch, _ = advance(make_params(rows), state, 5000, market)
    for f in ("seq", "time_ms", "price_cents", "bid_cents", "ask_cents", "volume"):
        assert getattr(batch, f).dtype == np.int64, f
    assert batch.log_price.dtype == np.float64
    assert np.all(batch.bid_cents < batch.price_cents)
    assert np.all(batch.price_cents < batch.ask_cents)
    assert np.all(batch.bid_cents >= 1) and np.all(batch.price_cents >= 2)
    assert np.all(batch.volume >= 1)
    assert batch.price_cents[batch.ticker_index == 4].min() == 2  # reached the 2-cent floor
    # half-spread = max(1, round(price * bps_eff / 2e4)), bps_eff = 5 * max(vol, 0.01) / 0.2
    half = (batch.ask_cents - batch.bid_cents) / 2
    vol = np.array([r["volatility"] for r in rows])[batch.ticker_index]
    fraction = 5.0 * np.maximum(vol, 0.01) / 0.2 / 2.0 / 1e4
    expected = np.maximum(1, np.rint(batch.price_cents * fraction))
    expected = np.minimum(expected, batch.price_cents - 1)
    assert np.array_equal(half, expected)
    # wider with volatility
    rel = (batch.ask_cents - batch.bid_cents) / batch.price_cents
    medians = [np.median(rel[batch.ticker_index == i]) for i in range(4)]
    assert medians == sorted(medians) and medians[3] > 10 * medians[1]


def test_prices_are_exp_of_log_price_on_the_cent_grid():
    params = make_params([{"seed": 3, "drift": 0.05, "volatility": 0.3, "sector": "A"}])
    state = EngineState.initial(start_price=123.45, anchor_time_ms=ANCHOR)
    batch, _ = advance(params, state, 2000, MarketConfig(time_scale=DAY_PER_100MS))
    assert np.array_equal(batch.price_cents, np.rint(np.exp(batch.log_price) * 100).astype(int))


def test_huge_prices_do_not_overflow():
    params = make_params([{"seed": 3, "drift": 5.0, "volatility": 1.0, "sector": "A"}])
    state = EngineState.initial(start_price=1e9, anchor_time_ms=ANCHOR)
    batch, _ = advance(params, state, 20_000, MarketConfig(time_scale=1e9))
    assert batch.log_price.max() > 100  # way beyond what int64 cents can hold
    assert np.all(batch.price_cents > 0) and np.all(batch.ask_cents > batch.price_cents)
    assert batch.price_cents.max() == 10**17


def test_volume_grows_with_absolute_return():
    market = MarketConfig(time_scale=DAY_PER_100MS)
    params = make_params(
        [{"seed": s, "drift": 0.0, "volatility": 0.25, "sector": "A"} for s in (1, 2)]
    )
    state = EngineState.initial(start_price=100.0, anchor_time_ms=[ANCHOR, ANCHOR])
    batch, _ = advance(params, state, 50_000, market)
    abs_r, volume = [], []
    for i in range(2):
        x = np.concatenate([[state.log_price[i]], batch.log_price[batch.ticker_index == i]])
        abs_r.append(np.abs(np.diff(x)))
        volume.append(batch.volume[batch.ticker_index == i])
    abs_r, volume = np.concatenate(abs_r), np.concatenate(volume)
    order = np.argsort(abs_r)
    means = [v.mean() for v in np.array_split(volume[order], 10)]  # deciles of |return|
    assert np.all(np.diff(means) > 0), means
    assert means[-1] > 2 * means[0]
    rank_r, rank_v = np.argsort(order), np.argsort(np.argsort(volume))
    assert np.corrcoef(rank_r, rank_v)[0, 1] > 0.3  # Spearman


# ------------------------------------------------------------------------------------------------
# bounds


BAND_WIDTH = np.log(1.005)


def _band_fractions(log_price, lo, hi, width=BAND_WIDTH):
    mid = 0.5 * (lo + hi)
    return {
        "low": np.mean(log_price <= lo + width),
        "high": np.mean(log_price >= hi - width),
        "interior": np.mean(np.abs(log_price - mid) <= width / 2),
    }


def test_bounds_reflect_without_piling_up_where_clamping_would():
    lo_p, hi_p = 50.0, 200.0
    rows = [
        {"seed": 21, "drift": 0.0, "volatility": 0.6, "sector": "A"},
        {"seed": 22, "drift": 0.5, "volatility": 0.6, "sector": "A"},
    ]
    bounded = make_params([{**r, "min_price": lo_p, "max_price": hi_p} for r in rows])
    free = make_params(rows)
    market = MarketConfig(time_scale=DAY_PER_100MS)
    state = EngineState.initial(start_price=100.0, anchor_time_ms=[ANCHOR, ANCHOR])
    steps = 200_000
    on, end_on = advance(bounded, state, steps, market)
    off, end_off = advance(free, state, steps, market)
    lo, hi = np.log(lo_p), np.log(hi_p)

    # never crossed, in cents and in log space; the state is the unreflected x either way
    assert on.price_cents.min() >= 5000 and on.price_cents.max() <= 20000
    assert on.log_price.min() >= lo and on.log_price.max() <= hi
    assert np.array_equal(end_on.log_price, end_off.log_price)
    assert np.ptp(off.log_price) > 5 * (hi - lo)  # the free path wandered far beyond the band
    # it is the free path folded with period 2L
    span = hi - lo
    u = np.mod(off.log_price - lo, 2 * span)
    np.testing.assert_allclose(on.log_price, lo + span - np.abs(u - span), rtol=0, atol=1e-9)

    for i in range(2):
        reflected = _band_fractions(on.log_price[on.ticker_index == i], lo, hi)
        clamped = _band_fractions(np.clip(off.log_price[off.ticker_index == i], lo, hi), lo, hi)
        for side in ("low", "high"):
            ratio = reflected[side] / reflected["interior"]
            assert 0.3 < ratio < 3, (i, side, reflected)
        # clamping the same path piles mass at the bounds
        assert clamped["low"] + clamped["high"] > 10 * (reflected["low"] + reflected["high"])
        assert clamped["low"] + clamped["high"] > 0.5


def test_one_sided_bounds_are_never_crossed():
    params = make_params(
        [
            {"seed": 31, "drift": 0.0, "volatility": 0.8, "sector": "A", "min_price": 50.0},
            {"seed": 32, "drift": 0.0, "volatility": 0.8, "sector": "A", "max_price": 200.0},
        ]
    )
    state = EngineState.initial(start_price=[60.0, 180.0], anchor_time_ms=ANCHOR)
    batch, end = advance(params, state, 20_000, MarketConfig(time_scale=DAY_PER_100MS))
    low, high = (batch.ticker_index == i for i in (0, 1))
    assert batch.price_cents[low].min() >= 5000 and batch.log_price[low].min() >= np.log(50)
    assert batch.price_cents[high].max() <= 20000 and batch.log_price[high].max() <= np.log(200)
    # the free path went past the bound (so the reflection did work)
    free, _ = advance(
        make_params(
            [
                {**r, "min_price": None, "max_price": None}
                for r in (
                    {"seed": 31, "drift": 0.0, "volatility": 0.8, "sector": "A"},
                    {"seed": 32, "drift": 0.0, "volatility": 0.8, "sector": "A"},
                )
            ]
        ),
        state,
        20_000,
        MarketConfig(time_scale=DAY_PER_100MS),
    )
    assert free.log_price[low].min() < np.log(50)
    assert free.log_price[high].max() > np.log(200)


def test_rounding_to_the_cent_stays_inside_the_bounds():
    # [50.004, 50.026] holds the cents 50.01 and 50.02 only: 50.00 and 50.03 would be outside
    params = make_params(
        [
            {
                "seed": 33,
                "drift": 0.0,
                "volatility": 1.0,
                "sector": "A",
                "min_price": 50.004,
                "max_price": 50.026,
            }
        ]
    )
    state = EngineState.initial(start_price=50.01, anchor_time_ms=ANCHOR)
    batch, _ = advance(params, state, 2000, MarketConfig(time_scale=DAY_PER_100MS))
    assert set(batch.price_cents.tolist()) == {5001, 5002}
    assert np.log(50.004) <= batch.log_price.min() and batch.log_price.max() <= np.log(50.026)


# ------------------------------------------------------------------------------------------------
# rewind


def test_advance_then_rewind_returns_to_the_start(mixed):
    params, a, market = mixed
    k = 700
    forward, b = advance(params, a, k, market)
    back, a2 = rewind(params, b, k, market)
    assert np.array_equal(a2.seq, a.seq) and np.array_equal(a2.time_ms, a.time_ms)
    np.testing.assert_allclose(a2.log_price, a.log_price, rtol=0, atol=1e-12)
    fw, bw = per_ticker([forward], len(params)), per_ticker([back], len(params))
    for i in range(len(params)):
        # back holds seqs 0..k-1, forward 1..k: they share 1..k-1
        assert bw[i]["seq"][0] == 0 and bw[i]["time_ms"][0] == ANCHOR
        for f in ("seq", "time_ms", "price_cents", "bid_cents", "ask_cents", "volume"):
            assert np.array_equal(bw[i][f][1:], fw[i][f][:-1]), f
        np.testing.assert_allclose(bw[i]["log_price"][1:], fw[i]["log_price"][:-1], atol=1e-12)
        assert bw[i]["price_cents"][0] == round(np.exp(a.log_price[i]) * 100)


def test_rewind_then_advance_returns_to_the_anchor(mixed):
    params, anchor, market = mixed
    k = 500
    back, earliest = rewind(params, anchor, k, market)
    forward, end = advance(params, earliest, k, market)
    assert np.array_equal(end.seq, anchor.seq) and np.array_equal(end.time_ms, anchor.time_ms)
    np.testing.assert_allclose(end.log_price, anchor.log_price, rtol=0, atol=1e-12)
    bw, fw = per_ticker([back], len(params)), per_ticker([forward], len(params))
    for i in range(len(params)):
        for f in ("seq", "time_ms", "price_cents", "volume"):
            assert np.array_equal(fw[i][f][:-1], bw[i][f][1:]), f


def test_rewind_joins_the_forward_path_without_a_jump():
    market = MarketConfig(time_scale=DAY_PER_100MS)
    params = make_params(
        [{"seed": s, "drift": 0.05, "volatility": 0.3, "sector": "A"} for s in (41, 42, 43)]
    )
    anchor = EngineState.initial(start_price=[100.0, 20.0, 500.0], anchor_time_ms=ANCHOR)
    back, _ = rewind(params, anchor, 2000, market)
    forward, _ = advance(params, anchor, 2000, market)
    step_sd = 0.3 * np.sqrt(1 / 365)
    for i in range(3):
        x = np.concatenate(
            [
                back.log_price[back.ticker_index == i],
                anchor.log_price[i : i + 1],
                forward.log_price[forward.ticker_index == i],
            ]
        )
        t = np.concatenate(
            [
                back.time_ms[back.ticker_index == i],
                [ANCHOR],
                forward.time_ms[forward.ticker_index == i],
            ]
        )
        assert np.all(np.diff(t) == 100)  # one continuous grid through the anchor
        r = np.diff(x)
        seam = r[1999:2001]  # into and out of the anchor
        assert np.all(np.abs(seam) < 5 * step_sd)
        assert np.std(r) == pytest.approx(step_sd, rel=0.05)


def test_rewind_from_an_off_grid_anchor_lands_on_the_grid():
    params = make_params(
        [{"seed": 5, "drift": 0.0, "volatility": 0.2, "interval_ms": 100, "sector": "A"}]
    )
    anchor = EngineState.initial(start_price=10.0, anchor_time_ms=1050, seq=7)
    batch, earliest = rewind(params, anchor, 3, MarketConfig())
    assert batch.time_ms.tolist() == [800, 900, 1000]
    assert batch.seq.tolist() == [4, 5, 6]
    assert earliest.seq.tolist() == [4] and earliest.time_ms.tolist() == [800]


# ------------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"market_correlation": -0.1}, "correlations must be >= 0"),
        ({"sector_correlation": -0.01}, "correlations must be >= 0"),
        ({"market_correlation": 0.6, "sector_correlation": 0.5}, "must be <= 1"),
        ({"market_correlation": float("nan")}, "market_correlation must be finite"),
        ({"time_scale": 0}, "time_scale .* must be > 0"),
        ({"time_scale": -5}, "time_scale .* must be > 0"),
        ({"spread_bps": -1}, "spread_bps must be >= 0"),
        ({"base_volume": 0}, "base_volume must be > 0"),
        ({"market_seed": -1}, "market_seed must be in"),
        ({"market_seed": 2**63}, "market_seed must be in"),
    ],
)
def test_market_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MarketConfig(**kwargs)


GOOD_ROW = {
    "seed": 1,
    "drift": 0.05,
    "volatility": 0.2,
    "interval_ms": 100,
    "sector": "A",
    "min_price": 10,
    "max_price": 1000,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"volatility": -0.1}, "volatility must be finite and >= 0"),
        ({"volatility": float("inf")}, "volatility must be finite and >= 0"),
        ({"drift": float("nan")}, "drift must be finite"),
        ({"interval_ms": 0}, r"interval_ms must be in \[1, 60000\]"),
        ({"interval_ms": 60_001}, r"interval_ms must be in \[1, 60000\]"),
        ({"seed": -3}, r"seed must be in \[0, 2\*\*63\)"),
        ({"seed": 2**63}, r"seed must be in \[0, 2\*\*63\)"),
        ({"seed": 2**64}, "seed is out of the int64 range"),
        ({"min_price": 2000}, "min_price must be below max_price"),
        ({"min_price": -1}, "min_price must be >= 0"),
        ({"max_price": 0}, "max_price must be > 0"),
    ],
)
def test_ticker_params_validation(change, message):
    with pytest.raises(ValueError, match=message):
        make_params([{**GOOD_ROW, **change}])


def test_call_validation():
    params = make_params([GOOD_ROW, GOOD_ROW])
    state = EngineState.initial(start_price=100.0, anchor_time_ms=[ANCHOR, ANCHOR])
    market = MarketConfig()
    with pytest.raises(ValueError, match="steps must be >= 0"):
        advance(params, state, [1, -1], market)
    with pytest.raises(ValueError, match="steps must be an int or an array of 2 ints"):
        advance(params, state, [1, 2, 3], market)
    with pytest.raises(ValueError, match="steps must be integers"):
        rewind(params, state, 1.5, market)
    with pytest.raises(ValueError, match="params has 2 tickers but state has 1"):
        advance(params, state.take([0]), 1, market)
    with pytest.raises(ValueError, match="start_price must be finite and > 0"):
        EngineState.initial(start_price=0.0, anchor_time_ms=ANCHOR)


def test_sector_id_is_stable_and_case_insensitive():
    assert sector_id("Technology") == sector_id(" technology ")
    assert sector_id("Technology") != sector_id("Finance")
    assert 0 <= sector_id("Energy") < 2**63
    assert sector_id("Technology") == 1525172441488624836  # pinned: paths depend on it
