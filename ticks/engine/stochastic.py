"""Stochastic volatility: the log-volatility factor, a sum of independent AR(1) components.

See the package docstring ("Stochastic volatility", "Backward") for the model; this module holds
its constants and the per-component arithmetic: the exact AR(1) coefficients of an
Ornstein-Uhlenbeck component over a step, the stationary draws that start an unknown state, and
the filters that run a component forwards or backwards over a block of steps.

The filters are ``scipy.signal.lfilter`` on ``y[n] = x[n] + phi * y[n-1]`` with the initial
condition ``zi = phi * y_prev``: element n is computed as ``x[n] + phi * y[n-1]`` whatever the
split of the run, so a run cut anywhere (the state carried exactly) gives bit-identical floats.
``scipy.signal`` is imported on the first filter, not with the module: it costs most of a Celery
worker's start (about 0.7 s, several seconds on a loaded host) and a market of GBM tickers never
needs it, so a killed generator is back sooner.
"""

from __future__ import annotations

import math

import numpy as np

from . import noise

__all__ = [
    "DEFAULT_HALF_LIVES_S",
    "DEFAULT_LEVERAGE",
    "DEFAULT_VOL_OF_VOL",
    "MODELS",
    "N_COMPONENTS",
    "ar_coefficients",
    "initial_factors",
    "run_filter",
]

#: Volatility models, by their index in ``TickerParams.vol_model``.
MODELS = ("constant", "stochastic")
#: Components of the log-volatility factor.
N_COMPONENTS = 2
#: Half-lives of the components in SIMULATED seconds: 5 minutes and 2 days.
DEFAULT_HALF_LIVES_S = (300.0, 172_800.0)
#: Standard deviation of the stationary log-volatility (split equally over the components).
DEFAULT_VOL_OF_VOL = 0.5
#: Correlation of the ticker's own price shock with its volatility shock (see the docstring).
DEFAULT_LEVERAGE = -0.5

_LN2 = math.log(2.0)


def ar_coefficients(
    half_lives_s: np.ndarray, component_sd: np.ndarray, step_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact AR(1) step of each OU component over ``step_s`` simulated seconds.

    ``half_lives_s``: (n, J); ``component_sd``: (n,) stationary sd of each component; ``step_s``:
    (n,). Returns (phi, s, q), each (n, J): ``y' = phi*y + s*eta`` keeps the stationary law
    N(0, sd²) (s = sd sqrt(1 - phi²)), and q = sqrt(1 - phi²) / sd (0 where sd is 0) recovers a
    forward shock from a backward step (``eta = q*y' - phi*xi``, see ``backward_shocks``).
    """
    a = (_LN2 / half_lives_s) * step_s[:, None]
    phi = np.exp(-a)
    one_minus = -np.expm1(-2.0 * a)  # 1 - phi², accurate when the step is tiny
    root = np.sqrt(one_minus)
    sd = component_sd[:, None]
    s = sd * root
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(sd > 0, root / np.where(sd > 0, sd, 1.0), 0.0)
    return phi, s, q


def initial_factors(seed: int, seq: int, component_sd: float) -> np.ndarray:
    """A stationary draw of the J components for a state whose factors are unknown (a new
    ticker, a ticker switched to ``stochastic``, a state rebuilt from a stored price): draws
    ``J*seq + j`` of the ticker's vol-init stream, times the components' sd. Deterministic, so
    the same state always starts the same path."""
    idx = N_COMPONENTS * int(seq) + np.arange(N_COMPONENTS, dtype=np.int64)
    return noise.normals_at(int(seed), noise.vol_init_stream(), idx) * component_sd


def run_filter(
    shocks: np.ndarray,
    y_prev: np.ndarray,
    phi: float,
    s: np.ndarray,
    phi0: np.ndarray,
    s0: np.ndarray,
) -> np.ndarray:
    """One component over K steps: ``y[:, c] = phi*y[:, c-1] + s*shocks[:, c]`` (rows: tickers
    sharing ``phi``), column 0 continuing from ``y_prev`` with the first step's own (phi0, s0)
    (its time step may differ: an off-grid anchor, an interval change). Returns y (n, K).
    """
    from scipy.signal import lfilter  # see the module docstring: not at import time

    x = shocks * s[:, None]
    if np.all(phi0 == phi) and np.all(s0 == s):  # the usual case: one filter over everything
        return lfilter([1.0], [1.0, -phi], x, axis=1, zi=(phi * y_prev)[:, None])[0]
    col0 = shocks[:, 0] * s0
    col0 += phi0 * y_prev
    x[:, 0] = col0
    if x.shape[1] > 1:
        x[:, 1:] = lfilter([1.0], [1.0, -phi], x[:, 1:], axis=1, zi=(phi * col0)[:, None])[0]
    return x


def backward_shocks(
    y_after: np.ndarray, xi: np.ndarray, phi: np.ndarray, q: np.ndarray, sd_zero: np.ndarray
) -> np.ndarray:
    """The forward shock eta of a step that a backward draw ``y_before = phi*y_after + s*xi``
    implies: eta = (y_after - phi*y_before) / s = q*y_after - phi*xi (no cancellation). Where a
    component has sd 0 its factor is always 0 and eta = -xi (still a standard normal
    independent of the past)."""
    eta = q * y_after
    eta -= phi * xi
    if sd_zero.any():
        eta[sd_zero] = -xi[sd_zero]
    return eta
