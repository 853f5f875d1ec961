"""Scenario events in the engine (``ticks.engine.events``): moves, gaps, volatility, halts;
reproducible whatever the split, forwards and backwards; no events = the engine bit for bit."""

import math

import numpy as np
import pytest
from scipy import stats

from ticks.engine import EngineState, MarketConfig, TickerParams, advance
from ticks.engine import events as ev
from ticks.engine.events import GAP, HALT, MOVE, VOLATILITY, EventSchedule

T0 = 1_700_000_000_000  # on every grid used here
MINUTE = 60_000
FIELDS = ("seq", "time_ms", "price_cents", "bid_cents", "ask_cents", "volume", "log_price")


def _market(n_sectors: int = 3, tickers_per: int = 4, interval: int = 100, **kw):
    rows = [
        {
            "seed": 100 + 10 * s + i,
            "drift": 0.05,
            "volatility": 0.2 + 0.05 * i,
            "interval_ms": interval,
            "sector": f"S{s}",
        }
        for s in range(n_sectors)
        for i in range(tickers_per)
    ]
    params = TickerParams.from_rows(rows)
    state = EngineState.initial(start_price=100.0, anchor_time_ms=np.full(len(rows), T0))
    return params, state, MarketConfig(market_seed=7, **kw)


def _ticks(batch, i):
    rows = batch.ticker_index == i
    return {name: getattr(batch, name)[rows] for name in FIELDS}


def _same(a, b) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def _everyone(params, kind, start, end, value):
    return EventSchedule.from_effects((r, kind, start, end, value) for r in range(len(params)))


def test_no_events_is_the_engine_bit_for_bit():
    params, state, market = _market()
    plain, s1 = advance(params, state, 3000, market)
    for events in (None, EventSchedule.empty()):
        with_none, s2 = ev.advance(params, state, 3000, market, events)
        _same(plain, with_none)
        np.testing.assert_array_equal(s1.log_price, s2.log_price)


def test_tickers_without_events_keep_their_exact_path():
    params, state, market = _market()
    plain, _ = advance(params, state, 3000, market)
    events = EventSchedule.from_effects([(0, MOVE, T0 + 10_000, T0 + 70_000, -0.2)])
    moved, _ = ev.advance(params, state, 3000, market, events)
    for i in range(1, len(params)):
        for name in FIELDS:
            np.testing.assert_array_equal(_ticks(plain, i)[name], _ticks(moved, i)[name])


def test_market_wide_move_of_minus_10_percent_over_5_minutes():
    """Every ticker moves by log(0.9) ± its own noise over the window (99.99% interval of the
    Gaussian increment over 5 minutes); before it the path is the same bit for bit, after it
    the returns are the same and the level is 0.9 times."""
    params, state, market = _market(time_scale=50.0)  # the noise: a few % of the move
    start, end = T0 + MINUTE, T0 + 6 * MINUTE
    steps = 8 * MINUTE // 100
    plain, _ = advance(params, state, steps, market)
    moved, _ = ev.advance(params, state, steps, market, _everyone(params, MOVE, start, end, -0.1))
    dt_window = 5 * MINUTE * market.time_scale / (365 * 86_400_000)
    z99 = stats.norm.ppf(1 - 0.0001 / 2)
    for i in range(len(params)):
        a, b = _ticks(plain, i), _ticks(moved, i)
        before, inside = a["time_ms"] <= start, (a["time_ms"] > start) & (a["time_ms"] <= end)
        for name in FIELDS:
            np.testing.assert_array_equal(a[name][before], b[name][before])
        at_start = b["log_price"][a["time_ms"] == start][0]
        at_end = b["log_price"][a["time_ms"] == end][0]
        sigma, mu = params.volatility[i], params.drift[i]
        expected = math.log(0.9) + (mu - sigma**2 / 2) * dt_window
        assert abs(at_end - at_start - expected) < z99 * sigma * math.sqrt(dt_window)
        # the move is exactly the overlay: the same noise, shifted by log(0.9) at the end
        np.testing.assert_allclose(
            (b["log_price"] - a["log_price"])[a["time_ms"] >= end], math.log(0.9), atol=1e-9
        )
        ramp = (b["log_price"] - a["log_price"])[inside]
        assert np.all(np.diff(ramp) < 0)  # spread over the window, not at once
        after = a["time_ms"] > end
        np.testing.assert_allclose(
            np.diff(b["log_price"][after]), np.diff(a["log_price"][after]), atol=1e-9
        )


def test_the_move_test_has_power():
    """The same interval rejects a move of -5% when -10% is claimed."""
    params, state, market = _market(time_scale=50.0)
    start, end = T0 + MINUTE, T0 + 6 * MINUTE
    half, _ = ev.advance(
        params, state, 7 * MINUTE // 100, market, _everyone(params, MOVE, start, end, -0.05)
    )
    dt_window = 5 * MINUTE * market.time_scale / (365 * 86_400_000)
    z99 = stats.norm.ppf(1 - 0.0001 / 2)
    rejected = 0
    for i in range(len(params)):
        b = _ticks(half, i)
        change = b["log_price"][b["time_ms"] == end][0] - b["log_price"][b["time_ms"] == start][0]
        sigma = params.volatility[i]
        rejected += abs(change - math.log(0.9)) >= z99 * sigma * math.sqrt(dt_window)
    assert rejected == len(params)


def test_sector_gap_moves_only_that_sector_at_the_events_tick():
    params, state, market = _market()
    at = T0 + 30_000 + 50  # between two grid points: the gap is at the next one
    sector = params.sector[4]
    rows = np.flatnonzero(params.sector == sector)
    events = EventSchedule.from_effects((int(r), GAP, at, at, 0.05) for r in rows)
    plain, _ = advance(params, state, 600, market)
    gapped, _ = ev.advance(params, state, 600, market, events)
    for i in range(len(params)):
        a, b = _ticks(plain, i), _ticks(gapped, i)
        diff = b["log_price"] - a["log_price"]
        if i in rows:
            assert np.all(diff[a["time_ms"] < at] == 0)
            np.testing.assert_allclose(diff[a["time_ms"] >= at], math.log(1.05), atol=1e-9)
            first = np.flatnonzero(a["time_ms"] >= at)[0]
            assert a["time_ms"][first] == T0 + 30_100
            ratio = b["price_cents"][first] / a["price_cents"][first]
            assert abs(ratio - 1.05) < 0.001
        else:
            assert np.all(diff == 0)


def _sd_ratio_interval(n1: int, n2: int, ratio: float, level: float = 0.9999):
    """Interval of the sample sd ratio when the true ratio is ``ratio`` (F distribution)."""
    lo, hi = stats.f.ppf([(1 - level) / 2, (1 + level) / 2], n1 - 1, n2 - 1)
    return ratio * math.sqrt(lo), ratio * math.sqrt(hi)


def test_volatility_times_3_triples_realized_volatility_inside_only():
    params, state, market = _market(n_sectors=1, tickers_per=3, market_correlation=0.0)
    start, end = T0 + 2 * MINUTE, T0 + 7 * MINUTE
    steps = 9 * MINUTE // 100
    plain, _ = advance(params, state, steps, market)
    spiky, _ = ev.advance(
        params, state, steps, market, _everyone(params, VOLATILITY, start, end, 3)
    )
    for i in range(len(params)):
        a, b = _ticks(plain, i), _ticks(spiky, i)
        t = b["time_ms"][1:]
        r_plain, r_spiky = np.diff(a["log_price"]), np.diff(b["log_price"])
        inside = (t > start) & (t <= end)
        outside = ~inside
        np.testing.assert_array_equal(
            r_plain[outside & (t < start)], r_spiky[outside & (t < start)]
        )
        ratio = r_spiky[inside].std() / r_spiky[outside].std()
        lo, hi = _sd_ratio_interval(inside.sum(), outside.sum(), 3.0)
        assert lo < ratio < hi, (ratio, lo, hi)
        # and not outside: the returns after it are the plain ones
        np.testing.assert_allclose(r_spiky[t > end], r_plain[t > end], atol=1e-12)
        # the same noise: inside, each return's diffusion part is 3 times the plain one's
        dt = 100 * market.time_scale / (365 * 86_400_000)
        drift = (params.drift[i] - params.volatility[i] ** 2 / 2) * dt
        np.testing.assert_allclose(
            r_spiky[inside] - drift, 3 * (r_plain[inside] - drift), rtol=1e-6
        )


def test_halt_skips_its_grid_points_and_seq_stays_consecutive():
    params, state, market = _market(n_sectors=1, tickers_per=2)
    halt = (T0 + 10_000, T0 + 40_000)
    events = EventSchedule.from_effects([(0, HALT, *halt, 0.0)])
    now = T0 + 60_000
    due = ev.steps_due(state, params, now, events)
    assert due.tolist() == [600 - 300, 600]
    batch, new = ev.advance(params, state, due, market, events)
    a = _ticks(batch, 0)
    assert not np.any((a["time_ms"] >= halt[0]) & (a["time_ms"] < halt[1]))
    np.testing.assert_array_equal(np.diff(a["seq"]), 1)
    gap = np.flatnonzero(np.diff(a["time_ms"]) > 100)
    assert a["time_ms"][gap[0]] == halt[0] - 100 and a["time_ms"][gap[0] + 1] == halt[1]
    assert new.time_ms.tolist() == [now, now]
    # catch-up across the halt generates nothing for it
    assert ev.steps_due(new, params, now, events).tolist() == [0, 0]


def _schedule(params):
    return EventSchedule.from_effects(
        [
            (0, MOVE, T0 + 5_000, T0 + 35_000, -0.1),
            (1, GAP, T0 + 12_345, T0 + 12_345, 0.05),
            (0, VOLATILITY, T0 + 20_000, T0 + 50_000, 3.0),
            (1, HALT, T0 + 15_000, T0 + 25_050, 0.0),
            (2, HALT, T0 + 30_000, T0 + 31_000, 0.0),
            (2, MOVE, T0 + 28_000, T0 + 40_000, 0.2),
        ]
    )


@pytest.mark.parametrize("splits", [[1, 7, 150, 1, 99], [250, 250], [13] * 40])
def test_events_are_batch_invariant(splits):
    """Any split of the same steps gives bit-identical ticks (catch-up, lost state)."""
    params, state, market = _market(n_sectors=1, tickers_per=3)
    events = _schedule(params)
    now = T0 + 60_000
    whole, end_state = ev.advance(
        params, state, ev.steps_due(state, params, now, events), market, events
    )
    parts, cur = [], state
    t = T0
    for n in splits + [10_000]:
        t = min(now, t + n * 100)
        due = ev.steps_due(cur, params, t, events)
        batch, cur = ev.advance(params, cur, due, market, events)
        parts.append(batch)
    joined = ev._merge(parts)
    _same(whole, joined)
    np.testing.assert_array_equal(end_state.log_price, cur.log_price)


def test_rewind_reproduces_the_forward_path_through_events():
    """History rewound from the newest tick over a window with events is the forward path
    (equal cents, times and seqs): a backfill over a past event reproduces it."""
    params, state, market = _market(n_sectors=1, tickers_per=3)
    events = _schedule(params)
    now = T0 + 60_000
    forward, last = ev.advance(
        params, state, ev.steps_due(state, params, now, events), market, events
    )
    back, first = ev.rewind(
        params, last, ev.steps_due(state, params, now, events) - 1, market, events
    )
    for i in range(len(params)):
        f, b = _ticks(forward, i), _ticks(back, i)
        for name in ("seq", "time_ms", "price_cents"):
            np.testing.assert_array_equal(f[name][:-1], b[name], err_msg=name)
        np.testing.assert_allclose(f["log_price"][:-1], b["log_price"], atol=1e-9)
    # a backfill plan over the same range counts the same ticks (grid points minus halts)
    grid = [(now - (T0 + 100)) // 100] * len(params)
    steps = ev.steps_back(last, params, T0 + 100, grid, events)
    assert steps.tolist() == (ev.steps_due(state, params, now, events) - 1).tolist()


def test_steps_back_counts_ticks_outside_halts():
    params, state, market = _market(n_sectors=1, tickers_per=2)
    events = EventSchedule.from_effects([(0, HALT, T0 - 30_000, T0 - 10_000, 0.0)])
    grid = 600  # [T0 - 60 s, T0)
    k = ev.steps_back(state, params, T0 - 60_000, [grid, grid], events)
    assert k.tolist() == [grid - 200, grid]
    batch, new = ev.rewind(params, state, k, market, events)
    a = _ticks(batch, 0)
    assert a["time_ms"][0] == T0 - 60_000 and new.time_ms[0] == T0 - 60_000
    assert not np.any((a["time_ms"] >= T0 - 30_000) & (a["time_ms"] < T0 - 10_000))


def test_schedule_validation_and_take():
    with pytest.raises(ValueError):
        EventSchedule.from_effects([(0, MOVE, 10, 5, 0.1)])
    with pytest.raises(ValueError):
        EventSchedule.from_effects([(0, HALT, 10, 10, 0.0)])
    with pytest.raises(ValueError):
        EventSchedule.from_effects([(0, GAP, 10, 10, -1.0)])
    with pytest.raises(ValueError):
        EventSchedule.from_effects([(0, VOLATILITY, 10, 20, 0.0)])
    sched = EventSchedule.from_effects([(0, MOVE, 1, 2, 0.1), (2, GAP, 5, 5, 0.1)])
    sub = sched.take(np.array([2, 1]), 3)
    assert sub.row.tolist() == [0] and sub.kind.tolist() == [GAP]
