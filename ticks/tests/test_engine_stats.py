"""Statistical tests of the engine's paths: drift, volatility, normality, correlation.

At 10 ticks/s a million steps is about a day, far too short to estimate an annual drift, so these
run at a time scale where one 100 ms step is one simulated day (time_scale = 86400 * 10), bounds
off, on ``log_price`` (cents would overflow on such horizons).

Power: the drift estimate's standard error is sigma / sqrt(n dt). With n = 1e6 daily steps
(n dt = 2740 years) a wrong drift off by sigma^2/2 (the Euler/Ito mistake) lies only 3.9 standard
errors away for FINANCE (sigma 0.15), so a 99% test would miss it about 1 time in 11. We use
n = 2e6 steps: every seed ticker's wrong drift is then >= 5.5 standard errors away (power > 99.8%,
checked in ``test_drift_test_has_power``).
"""

import math

import numpy as np
import pytest
from scipy import stats

from ticks.engine import EngineState, MarketConfig, TickerParams, advance
from ticks.engine.speed import SEED_TICKERS

INTERVAL_MS = 100
TIME_SCALE = 86_400 * 10  # one 100 ms step = one simulated day
DT = 1 / 365  # years per step
STEPS = 2_000_000
CHUNK = 100_000
Z99 = stats.norm.ppf(0.995)  # 2.5758: two-sided 99%
NORMALITY_SAMPLE = 1_000_000
SYMBOLS = [t[0] for t in SEED_TICKERS]
DRIFT = np.array([t[3] for t in SEED_TICKERS])
VOL = np.array([t[4] for t in SEED_TICKERS])


class Moments:
    """Streaming sums of per-step log returns of N tickers (memory: a few chunks, not all steps)."""

    def __init__(self, n, keep):
        self.count = 0
        self.total = np.zeros(n)
        self.squares = np.zeros(n)
        self.cross = np.zeros((n, n))
        self.keep = keep
        self.kept = []

    def add(self, r):  # r: (n, steps) returns
        # raw sums are accurate here: |mean| ~ 1e-4 is small next to the std ~ 1e-2
        self.count += r.shape[1]
        self.total += r.sum(axis=1)
        self.squares += np.einsum("ij,ij->i", r, r)
        self.cross += r @ r.T
        have = sum(k.shape[1] for k in self.kept)
        if have < self.keep:
            self.kept.append(r[:, : self.keep - have].copy())

    @property
    def mean(self):
        return self.total / self.count

    @property
    def std(self):
        n = self.count
        return np.sqrt((self.squares - n * self.mean**2) / (n - 1))

    @property
    def corr(self):
        n = self.count
        cov = (self.cross - n * np.outer(self.mean, self.mean)) / (n - 1)
        sd = np.sqrt(np.diag(cov))
        return cov / np.outer(sd, sd)

    @property
    def sample(self):
        return np.concatenate(self.kept, axis=1)


def simulate(drift, vol, sectors, market, steps=STEPS, seed0=1000, keep=0):
    """Log-return moments of ``steps`` daily steps of tickers with the given parameters."""
    n = len(drift)
    params = TickerParams.from_rows(
        {
            "seed": seed0 + i,
            "drift": drift[i],
            "volatility": vol[i],
            "sector": sectors[i],
            "interval_ms": INTERVAL_MS,
        }
        for i in range(n)
    )
    state = EngineState.initial(start_price=100.0, anchor_time_ms=[1_700_000_000_000] * n)
    moments = Moments(n, keep)
    done = 0
    while done < steps:
        k = min(CHUNK, steps - done)
        prev = state.log_price
        batch, state = advance(params, state, k, market)
        x = batch.log_price.reshape(n, k)  # grouped by ticker, equal step counts
        moments.add(np.diff(np.concatenate([prev[:, None], x], axis=1), axis=1))
        done += k
    return moments


def drift_test(mean_r, sigma_hat, n, mu, sigma, dt=DT, z=Z99):
    """Is mu the drift? mu_hat = mean(r)/dt + sigma_hat²/2 against a 99% interval around mu.

    se(mean(r)) = sigma sqrt(dt) / sqrt(n), so se(mean(r)/dt) = sigma / sqrt(n dt); the sigma_hat²/2
    term adds sigma² / sqrt(2n) / 2 (delta method), negligible but included.
    Returns (accepted, mu_hat, half_width).
    """
    mu_hat = mean_r / dt + sigma_hat**2 / 2
    se = math.sqrt(sigma**2 / (n * dt) + (sigma**2 / math.sqrt(2 * n) / 2) ** 2)
    return abs(mu_hat - mu) <= z * se, mu_hat, z * se


def vol_test(std_r, n, sigma, dt=DT, z=Z99):
    """Is sigma the volatility? sigma_hat = std(r)/sqrt(dt), se ~ sigma / sqrt(2n)."""
    sigma_hat = std_r / math.sqrt(dt)
    se = sigma / math.sqrt(2 * n)
    return abs(sigma_hat - sigma) <= z * se, sigma_hat, z * se


def normality_test(sample, alpha=0.01):
    """D'Agostino-Pearson (skew and kurtosis): True when normality is NOT rejected at alpha."""
    return stats.normaltest(sample).pvalue > alpha


@pytest.fixture(scope="module")
def seed_run():
    """The five seed tickers, default correlations, 2e6 daily steps each."""
    sectors = [t[1] for t in SEED_TICKERS]
    return simulate(
        DRIFT,
        VOL,
        sectors,
        MarketConfig(market_seed=7, time_scale=TIME_SCALE),
        keep=NORMALITY_SAMPLE,
    )


@pytest.fixture(scope="module")
def euler_run():
    """The classic mistake: paths whose log drift is mu instead of mu - sigma²/2 (configured drift
    mu + sigma²/2 gives exactly that), independent seeds."""
    sectors = [t[1] for t in SEED_TICKERS]
    return simulate(
        DRIFT + VOL**2 / 2,
        VOL,
        sectors,
        MarketConfig(market_seed=8, time_scale=TIME_SCALE),
        seed0=5000,
    )


def test_one_step_is_one_day():
    assert INTERVAL_MS / 1000 * TIME_SCALE / (365 * 86_400) == pytest.approx(DT, rel=1e-15)


@pytest.mark.parametrize("i", range(5), ids=SYMBOLS)
def test_drift_and_volatility_match_the_configuration(seed_run, i):
    m = seed_run
    ok_vol, sigma_hat, vol_hw = vol_test(m.std[i], m.count, VOL[i])
    assert ok_vol, f"{SYMBOLS[i]}: sigma_hat {sigma_hat:.5f} vs {VOL[i]} ± {vol_hw:.5f}"
    ok, mu_hat, hw = drift_test(m.mean[i], sigma_hat, m.count, DRIFT[i], VOL[i])
    assert ok, f"{SYMBOLS[i]}: mu_hat {mu_hat:.5f} vs {DRIFT[i]} ± {hw:.5f}"


@pytest.mark.parametrize("i", range(5), ids=SYMBOLS)
def test_drift_test_has_power(seed_run, euler_run, i):
    n = seed_run.count
    # the expected distance of the Euler mistake from the truth, in standard errors
    shift = VOL[i] ** 2 / 2 / (VOL[i] / math.sqrt(n * DT))
    power = stats.norm.sf(Z99 - shift) + stats.norm.cdf(-Z99 - shift)
    assert power > 0.998, f"{SYMBOLS[i]}: only {power:.4f} power at n = {n}"
    # the same data, tested against the wrong drift: rejected
    sigma_hat = seed_run.std[i] / math.sqrt(DT)
    assert not drift_test(seed_run.mean[i], sigma_hat, n, DRIFT[i] + VOL[i] ** 2 / 2, VOL[i])[0]
    # a path generated with the mistake, tested against the configured drift: rejected
    e = euler_run
    sigma_hat = e.std[i] / math.sqrt(DT)
    ok, mu_hat, hw = drift_test(e.mean[i], sigma_hat, e.count, DRIFT[i], VOL[i])
    assert not ok, f"{SYMBOLS[i]}: Euler path's mu_hat {mu_hat:.5f} within {DRIFT[i]} ± {hw:.5f}"


@pytest.mark.parametrize("i", range(5), ids=SYMBOLS)
def test_log_returns_are_normal(seed_run, i):
    sample = seed_run.sample[i]
    assert len(sample) == NORMALITY_SAMPLE
    assert normality_test(sample)


def test_normality_test_rejects_fat_tails_and_skew():
    rng = np.random.default_rng(42)
    n = NORMALITY_SAMPLE
    sd = 0.2 * math.sqrt(DT)
    fat = stats.t.rvs(df=6, size=n, random_state=rng) * sd * math.sqrt(4 / 6)  # same variance
    assert not normality_test(fat)
    skewed = (rng.gamma(50.0, size=n) - 50.0) / math.sqrt(50.0) * sd  # skewness 0.28
    assert not normality_test(skewed)
    assert normality_test(rng.standard_normal(n) * sd)


def test_pairwise_correlations(seed_run):
    corr = seed_run.corr
    n = seed_run.count
    sectors = [t[1] for t in SEED_TICKERS]
    for i in range(5):
        for j in range(i + 1, 5):
            expected = 0.3 if sectors[i] == sectors[j] else 0.1
            pair = f"{SYMBOLS[i]}/{SYMBOLS[j]}"
            assert abs(corr[i, j] - expected) <= 0.05, (pair, corr[i, j])
            # and, much tighter, within 99.9% of sampling error: se(r) ~ (1 - rho²) / sqrt(n)
            se = (1 - expected**2) / math.sqrt(n)
            assert abs(corr[i, j] - expected) <= 3.3 * se, (pair, corr[i, j], se)
    assert sectors[0] == sectors[1] == "Technology"


def test_no_correlation_when_both_are_zero():
    sectors = [t[1] for t in SEED_TICKERS]
    market = MarketConfig(
        market_seed=9, market_correlation=0.0, sector_correlation=0.0, time_scale=TIME_SCALE
    )
    m = simulate(DRIFT, VOL, sectors, market, steps=1_000_000, seed0=9000)
    off_diagonal = m.corr[~np.eye(5, dtype=bool)]
    assert np.all(np.abs(off_diagonal) < 0.01), m.corr


def test_tickers_on_different_intervals_are_uncorrelated():
    """Factors are keyed by interval: a 100 ms and a 200 ms ticker share none."""
    rows = [
        {"seed": 1, "drift": 0.0, "volatility": 0.2, "sector": "Technology", "interval_ms": 100},
        {"seed": 2, "drift": 0.0, "volatility": 0.2, "sector": "Technology", "interval_ms": 200},
    ]
    params = TickerParams.from_rows(rows)
    market = MarketConfig(
        market_seed=3, market_correlation=0.3, sector_correlation=0.5, time_scale=TIME_SCALE
    )
    state = EngineState.initial(start_price=100.0, anchor_time_ms=[0, 0])
    batch, _ = advance(params, state, [400_000, 200_000], market)
    fast = batch.log_price[batch.ticker_index == 0][1::2]  # on the 200 ms grid
    slow = batch.log_price[batch.ticker_index == 1]
    r_fast, r_slow = np.diff(fast), np.diff(slow)
    assert abs(np.corrcoef(r_fast, r_slow)[0, 1]) < 0.01
    # while two 100 ms tickers of the same sector correlate 0.8
    same = TickerParams.from_rows([{**r, "interval_ms": 100} for r in rows])
    batch, _ = advance(same, state, 200_000, market)
    a, b = (np.diff(batch.log_price[batch.ticker_index == i]) for i in (0, 1))
    assert np.corrcoef(a, b)[0, 1] == pytest.approx(0.8, abs=0.01)
