"""Stylized facts of the ``stochastic`` model and of jumps, on the engine directly.

One step per simulated minute (a 60 s interval at time scale 1), so that day-long half-lives
are visible, over 1,000,000 steps (694 days) per path, bounds off, on ``log_price``. Each test
also runs on a path that lacks the property (plain GBM, or the classic mistake) and must fail
there: its power. The stochastic paths are tested forwards AND as backfilled history
(``rewind``), which must show the same facts, the leverage effect included (a forward path
merely read backwards shows the opposite sign, also checked).

The statistics are ``ticks.stylized_facts``'s, the ones ``market_report`` prints.
"""

import math

import numpy as np
import pytest

from ticks.engine import EngineState, MarketConfig, TickerParams, advance, rewind
from ticks.engine.jumps import jumps_between, poisson_interval
from ticks.stylized_facts import (
    acf,
    excess_kurtosis,
    exponential_fit,
    hill_tail_index,
    leverage,
    realized_volatility,
)

STEPS = 1_000_000
INTERVAL_MS = 60_000
DT = 60 / (365 * 86_400)  # years per step
ANCHOR = 1_700_000_040_000 // INTERVAL_MS * INTERVAL_MS
LIMIT = 3 / math.sqrt(STEPS)  # the "significant" / "inside" band for autocorrelations
SIGMA = 0.2
VOL_OF_VOL = 0.5


def path(backwards=False, steps=STEPS, time_scale=1.0, **row):
    """Log returns of one ticker, oldest first (a rewind's are in time order too)."""
    params = TickerParams.from_rows(
        [{"seed": 7, "drift": 0.05, "volatility": SIGMA, "sector": "A",
          "interval_ms": INTERVAL_MS, **row}]
    )  # fmt: skip
    market = MarketConfig(market_seed=1, time_scale=time_scale)
    start = EngineState.initial(start_price=100.0, anchor_time_ms=ANCHOR)
    if backwards:
        batch, _ = rewind(params, start, steps, market)
        x = np.concatenate([batch.log_price, start.log_price])
    else:
        batch, _ = advance(params, start, steps, market)
        x = np.concatenate([start.log_price, batch.log_price])
    return np.diff(x)


STOCHASTIC = {"volatility_model": "stochastic", "vol_of_vol": VOL_OF_VOL, "leverage": -0.5}
JUMPS = {"jump_rate": 500.0, "jump_mean": -0.002, "jump_spread": 0.01}


@pytest.fixture(scope="module")
def runs():
    """Every path once per module (each about a second)."""
    return {
        "forward": path(**STOCHASTIC),
        "backfilled": path(backwards=True, **STOCHASTIC),
        "gbm": path(),
        # the normalization of sigma_t forgotten: E[sigma_t²] = sigma² e^(2v), i.e. a stochastic
        # path whose configured volatility is sigma e^v
        "unnormalized": path(
            **{**STOCHASTIC, "volatility": SIGMA * math.exp(VOL_OF_VOL**2)}, seed=8
        ),
        # one component: both half-lives equal (an exponentially decaying ACF)
        "one_component": path(**STOCHASTIC, vol_half_lives=[1800, 1800]),
        "jumps": path(**JUMPS),
        "stochastic_jumps": path(**STOCHASTIC, **JUMPS),
    }


BOTH = pytest.mark.parametrize("direction", ["forward", "backfilled"])


def kurtosis_ok(r):
    return excess_kurtosis(r) > 1


def abs_acf_ok(r):
    return bool(np.all(acf(np.abs(r), [1, 10, 100]) > LIMIT))


def slow_decay_ok(r):
    """ACF of |r| at 100 minutes above twice what one exponential fitted to lags 1-10 predicts."""
    lags = np.arange(1, 11)
    first = acf(np.abs(r), lags)
    if np.any(first <= 0):
        return False
    a, b = exponential_fit(first, lags)
    return bool(acf(np.abs(r), [100])[0] > 2 * a * b**100 + LIMIT)


def returns_uncorrelated(r):
    return bool(np.all(np.abs(acf(r, [2, 3, 4, 5])) < LIMIT))


def vol_ok(r):
    return abs(realized_volatility(r, DT) / SIGMA - 1) <= 0.10


def leverage_ok(r):
    corr, se = leverage(r, 10)
    return corr < -3 * se


@BOTH
def test_fat_tails(runs, direction):
    assert kurtosis_ok(runs[direction]), excess_kurtosis(runs[direction])
    assert not kurtosis_ok(runs["gbm"])


@BOTH
def test_volatility_clusters_at_1_10_and_100_minutes(runs, direction):
    r = runs[direction]
    assert abs_acf_ok(r), acf(np.abs(r), [1, 10, 100])
    assert not abs_acf_ok(runs["gbm"])


@BOTH
def test_clustering_decays_more_slowly_than_one_exponential(runs, direction):
    assert slow_decay_ok(runs[direction])
    assert abs_acf_ok(runs["one_component"])  # it clusters, but decays exponentially
    assert not slow_decay_ok(runs["one_component"])
    assert not slow_decay_ok(runs["gbm"])


@BOTH
def test_returns_are_uncorrelated_beyond_lag_1(runs, direction):
    r = runs[direction]
    assert returns_uncorrelated(r), acf(r, [2, 3, 4, 5])
    # power: a 2% echo of the return two steps back is caught
    echo = r.copy()
    echo[2:] += 0.02 * r[:-2]
    assert not returns_uncorrelated(echo)


@BOTH
def test_realized_volatility_is_the_configured_one(runs, direction):
    r = runs[direction]
    assert vol_ok(r), realized_volatility(r, DT)
    assert vol_ok(runs["gbm"])
    assert not vol_ok(runs["unnormalized"]), realized_volatility(runs["unnormalized"], DT)


@BOTH
def test_leverage_effect(runs, direction):
    r = runs[direction]
    assert leverage_ok(r), leverage(r, 10)
    assert not leverage_ok(runs["gbm"])
    # a forward path merely read backwards in time loses it (its volatility then rises BEFORE
    # the down moves: backfill cannot just undo the forward recursion)
    assert not leverage_ok(-runs["forward"][::-1])


@pytest.mark.parametrize("name", ["jumps", "stochastic_jumps"])
def test_jumps_fatten_the_tail(runs, name):
    alpha = hill_tail_index(np.abs(runs[name]), 0.01)
    assert 2 <= alpha <= 5, alpha
    gaussian = hill_tail_index(np.abs(runs["gbm"]), 0.01)
    assert not 2 <= gaussian <= 5 and gaussian > 7, gaussian  # about 8.5 at k = 1%


def test_number_of_jumps_is_poisson():
    per_tick = JUMPS["jump_rate"] * DT
    seqs, sizes = jumps_between(7, per_tick, 1, STEPS, JUMPS["jump_mean"], JUMPS["jump_spread"])
    low, high = poisson_interval(per_tick * STEPS, 0.99)
    assert low <= len(seqs) <= high, (len(seqs), low, high)
    assert abs(np.mean(sizes) - JUMPS["jump_mean"]) < 4 * JUMPS["jump_spread"] / math.sqrt(
        len(sizes)
    )
    # power: the same test rejects a count off by a tenth
    assert not low <= 1.1 * len(seqs) <= high
    # and the jumps are in the path: the largest moves are at their seqs
    r = path(**{**JUMPS, "jump_mean": 0.05, "jump_spread": 0.0})
    at = np.unique(seqs)  # two jumps may land on one tick
    assert set((np.argsort(np.abs(r))[-len(at) :] + 1).tolist()) == set(at.tolist())


def drift_hat(r, dt):
    """drift from E[S_{t+dt}/S_t] = exp(drift dt), with its standard error."""
    g = np.exp(r)
    return math.log(g.mean()) / dt, g.std() / g.mean() / math.sqrt(len(g)) / dt


def test_drift_keeps_its_meaning_with_jumps_and_stochastic_volatility():
    """One step per simulated day (the drift needs years), jumps of -3% on average."""
    row = {**STOCHASTIC, "jump_rate": 50.0, "jump_mean": -0.03, "jump_spread": 0.02}
    day = {"steps": 400_000, "time_scale": 1440.0}
    mu_hat, se = drift_hat(path(**row, **day), 1 / 365)
    assert abs(mu_hat - 0.05) < 3.3 * se, (mu_hat, se)
    # power: without the compensation (the configured drift is then off by rate * kappa) the
    # same test rejects
    kappa = math.expm1(-0.03 + 0.5 * 0.02**2)
    wrong, se = drift_hat(path(**{**row, "drift": 0.05 - 50 * kappa}, **day), 1 / 365)
    assert abs(wrong - 0.05) > 3.3 * se, (wrong, se)
