"""Stylized facts of a return series, in plain NumPy (no Django): what ``market_report`` measures
on stored 1-minute data and what the engine's statistical tests check on generated paths.

Every function accepts NaN for missing observations (a gap in the stored data): a lag or a
window that touches one is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Check",
    "acf",
    "excess_kurtosis",
    "exponential_fit",
    "hill_tail_index",
    "leverage",
    "log_returns",
    "realized_volatility",
]


def log_returns(closes: np.ndarray) -> np.ndarray:
    """Log returns of a price series (NaN where a price is missing)."""
    closes = np.asarray(closes, dtype=np.float64)
    return np.diff(np.log(closes))


def _valid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[np.isfinite(x)]


def realized_volatility(r: np.ndarray, dt_years: float) -> float:
    """Annualized volatility: the standard deviation of the returns over sqrt(dt)."""
    v = _valid(r)
    return float(np.std(v, ddof=1) / math.sqrt(dt_years)) if len(v) > 1 else math.nan


def excess_kurtosis(r: np.ndarray) -> float:
    """m4 / m2² - 3 (0 for normal returns)."""
    v = _valid(r)
    if len(v) < 4:
        return math.nan
    d = v - v.mean()
    m2 = np.mean(d * d)
    return float(np.mean(d**4) / (m2 * m2) - 3.0) if m2 > 0 else math.nan


def acf(x: np.ndarray, lags) -> np.ndarray:
    """Sample autocorrelation at ``lags`` (pairs with a NaN left out)."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    d = np.where(ok, x - (x[ok].mean() if ok.any() else 0.0), np.nan)
    var = np.nanmean(d * d) if ok.any() else math.nan
    out = []
    for lag in lags:
        lag = int(lag)
        if lag >= len(d) or not var > 0:
            out.append(math.nan)
            continue
        prod = d[:-lag] * d[lag:] if lag else d * d
        prod = prod[np.isfinite(prod)]
        out.append(float(prod.mean() / var) if len(prod) else math.nan)
    return np.array(out)


def hill_tail_index(x: np.ndarray, fraction: float = 0.01) -> float:
    """Hill estimator of the tail index of |x| over its largest ``fraction`` of observations
    (k = fraction * n, at least 10): 1 / mean(log(x_(i) / x_(k+1))), i = 1..k."""
    v = np.abs(_valid(x))
    v = v[v > 0]
    k = max(10, int(len(v) * fraction))
    if len(v) <= k:
        return math.nan
    top = np.partition(v, len(v) - k - 1)[len(v) - k - 1 :]
    top.sort()
    threshold, tail = top[0], top[1:]
    mean_log = np.mean(np.log(tail / threshold))
    return float(1.0 / mean_log) if mean_log > 0 else math.nan


def leverage(r: np.ndarray, horizon: int = 10) -> tuple[float, float]:
    """corr(r_t, |r_{t+1}| + ... + |r_{t+horizon}|) and its heteroskedasticity-robust standard
    error (volatility clusters, so the textbook 1/sqrt(n) would be too small)."""
    r = np.asarray(r, dtype=np.float64)
    a = np.abs(r)
    c = np.concatenate([[0.0], np.cumsum(np.where(np.isfinite(a), a, 0.0))])
    bad = np.concatenate([[0], np.cumsum(~np.isfinite(a))])
    n = len(r) - horizon
    if n < 3:
        return math.nan, math.nan
    t = np.arange(n)
    future = c[t + horizon + 1] - c[t + 1]
    ok = (bad[t + horizon + 1] - bad[t + 1] == 0) & np.isfinite(r[:n])
    x, y = r[:n][ok], future[ok]
    if len(x) < 3:
        return math.nan, math.nan
    dx, dy = x - x.mean(), y - y.mean()
    sx, sy = math.sqrt(np.mean(dx * dx)), math.sqrt(np.mean(dy * dy))
    if not (sx > 0 and sy > 0):
        return math.nan, math.nan
    corr = float(np.mean(dx * dy) / (sx * sy))
    se = float(math.sqrt(np.mean((dx * dy) ** 2)) / (sx * sy) / math.sqrt(len(x)))
    return corr, se


def exponential_fit(values: np.ndarray, lags: np.ndarray) -> tuple[float, float]:
    """Least-squares fit of a * b**lag to positive ``values`` (in log space): (a, b)."""
    values, lags = np.asarray(values, dtype=np.float64), np.asarray(lags, dtype=np.float64)
    slope, intercept = np.polyfit(lags, np.log(values), 1)
    return float(math.exp(intercept)), float(math.exp(slope))


@dataclass(frozen=True)
class Check:
    """One measured figure next to its target range: ``low <= value <= high`` passes."""

    name: str
    value: float
    low: float
    high: float

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.value) and self.low <= self.value <= self.high)

    def target(self) -> str:
        if self.low == -math.inf:
            return f"<= {self.high:.4g}"
        if self.high == math.inf:
            return f">= {self.low:.4g}"
        return f"{self.low:.4g} .. {self.high:.4g}"
