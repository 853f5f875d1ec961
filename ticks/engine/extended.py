"""The per-step arithmetic of tickers that are not plain GBM (stochastic volatility, jumps).

``gbm`` runs such tickers in groups of their own, one model per group (a plain ticker never goes
through this module, so the ``constant`` model stays today's GBM bit for bit). For a group it
computes, from the counter-based draws, the volatility factor path (forwards or backwards),
mixes the leverage into the ticker's own return noise, then the log-price increments (with the
jumps), the half-spreads and the volume multipliers. The model is in the package docstring.
"""

from __future__ import annotations

import math

import numpy as np

from . import noise
from .jumps import compensator, jumps_between
from .stochastic import N_COMPONENTS, ar_coefficients, backward_shocks, initial_factors, run_filter

__all__ = ["JUMP_VOLUME", "Extended"]

#: A step with N jumps trades (1 + JUMP_VOLUME * N) times the volume it would have without.
JUMP_VOLUME = 4.0


def _sum_components(parts) -> np.ndarray:
    """parts[0] + parts[1] + ... in this order (h's sum, the same everywhere: bit-identical)."""
    total = parts[0] + parts[1]
    for j in range(2, N_COMPONENTS):
        total += parts[j]
    return total


class Extended:
    """Stochastic-volatility and jump arrays of one group (rows = the group's tickers, all on
    the same volatility model)."""

    def __init__(self, grp, params, state, g: np.ndarray) -> None:
        self.grp = grp
        self.stochastic = bool(params.vol_model[g[0]] == 1)
        self.jr = np.flatnonzero(params.jump_rate[g] > 0)  # rows with jumps
        self.sigma = grp.sigma
        self.rate = params.jump_rate[g]
        self.jump_mean = params.jump_mean[g]
        self.jump_spread = params.jump_spread[g]
        # drift compensated for the jumps: E[S_{t+dt} / S_t] = exp(mu dt) with them too
        self.mu_c = grp.mu - compensator(self.rate, self.jump_mean, self.jump_spread)
        self.sim_s_per_ms = grp.market.time_scale / 1000.0
        self.vol_last = None
        self.counts = None
        self.level = None  # (n, cols) sigma_t / sigma at the factors of each column
        if not self.stochastic:
            return
        self.sd = params.component_sd[g]
        self.total_var = params.vol_of_vol[g] ** 2
        self.half_lives = params.vol_half_lives[g]
        lev = params.leverage[g]
        self.lev_own = np.sqrt(1.0 - lev * lev)[:, None]
        self.lev_vol = (lev / math.sqrt(N_COMPONENTS))[:, None]
        vol = state.vol[g].copy()
        for r in np.flatnonzero(np.isnan(vol).any(axis=1)).tolist():
            vol[r] = initial_factors(int(grp.seed[r]), int(grp.seq0[r]), float(self.sd[r]))
        self.vol0 = vol  # (n, J): the factors at the state (unknown ones drawn)

    # ----------------------------------------------------------------------------------------
    # volatility factors

    def _shocks(self, cols: int, start: np.ndarray, count: np.ndarray, reverse: bool):
        grp, n = self.grp, len(self.grp.g)
        shape = (N_COMPONENTS, n, cols)
        shocks = np.zeros(shape) if grp.ragged else np.empty(shape)
        seeds = grp.seed.tolist()
        for j in range(N_COMPONENTS):
            grp.fill(shocks[j], seeds, [noise.vol_stream(j)] * n, start, count, reverse)
        return shocks

    def _filter(self, shocks: np.ndarray, y_prev: np.ndarray, dt_ms, dt0_ms) -> np.ndarray:
        """The J component paths (J, n, cols) from ``shocks``; column 0 from ``y_prev``."""
        phi, s, q = ar_coefficients(self.half_lives, self.sd, dt_ms * self.sim_s_per_ms)
        phi0, s0, q0 = ar_coefficients(self.half_lives, self.sd, dt0_ms * self.sim_s_per_ms)
        self.coef = (phi, q, phi0, q0)
        y = np.empty_like(shocks)
        for j in range(N_COMPONENTS):
            values = np.unique(phi[:, j])
            if len(values) == 1:
                y[j] = run_filter(
                    shocks[j], y_prev[:, j], float(values[0]), s[:, j], phi0[:, j], s0[:, j]
                )
                continue
            for value in values.tolist():  # rows on other intervals or half-lives
                rows = np.flatnonzero(phi[:, j] == value)
                y[j, rows] = run_filter(
                    shocks[j, rows], y_prev[rows, j], value, s[rows, j], phi0[rows, j], s0[rows, j]
                )
        return y

    def _mix_leverage(self, z: np.ndarray, eta: np.ndarray) -> None:
        """E becomes sqrt(1 - rho²) E + rho (eta_1 + ... + eta_J) / sqrt(J), in place."""
        total = _sum_components(eta)
        total *= self.lev_vol
        z *= self.lev_own
        z += total

    def _set_levels(self, h: np.ndarray) -> None:
        """level = exp(h - v), sigma_t = sigma * level: E[sigma_t²] = sigma² (v = Var h)."""
        h -= self.total_var[:, None]
        np.exp(h, out=h)
        self.level = h

    def forward_factors(self, z: np.ndarray, seq1: np.ndarray, dt_ms, dt0_ms):
        """Factor path over the steps into seq1, seq1+1, ...; leverage mixed into ``z`` (E).
        Returns the volume noise of the ticks (the first component's shocks; None when not
        stochastic: the volume stream's)."""
        grp, K = self.grp, z.shape[1]
        # level columns: c = the factors before the step into tick c (= at tick c - 1)
        self.tick_cols, self.volume_cols = slice(1, K + 1), slice(0, K)
        if not self.stochastic:
            self.tick_cols = self.volume_cols  # (jump counts: one column per tick)
            return None
        eta = self._shocks(K, seq1, grp.k, False)
        y = self._filter(eta, self.vol0, dt_ms, dt0_ms)
        self._mix_leverage(z, eta)
        h = np.empty((len(grp.g), K + 1))  # column c: the factors before the step into c
        h[:, 0] = _sum_components(self.vol0.T)
        h[:, 1:] = _sum_components(y)
        self._set_levels(h)
        self.vol_last = y[:, np.arange(len(grp.g)), grp.k - 1].T.copy()
        return eta[0]

    def backward_factors(self, z: np.ndarray, start: np.ndarray, dt_ms, dt0_ms):
        """Factor path backwards from the anchor (columns: the steps into seq0, seq0-1, ...,
        seq0-K); leverage mixed into ``z`` (E, K+1 columns). Returns the volume noise of the
        ticks seq0-1, ..., seq0-K (the first component's shocks of the steps into them; None
        when not stochastic)."""
        grp, cols = self.grp, z.shape[1]
        # column c: the step into seq0 - c, from the factors of the tick at column c
        self.tick_cols, self.volume_cols = slice(0, cols - 1), slice(1, cols)
        if not self.stochastic:
            return None
        xi = self._shocks(cols, start, grp.k + 1, True)
        y = self._filter(xi, self.vol0, dt_ms, dt0_ms)  # column c: the factors before step c
        phi, q, phi0, q0 = self.coef
        zero = self.sd == 0
        eta = np.empty_like(xi)
        for j in range(N_COMPONENTS):
            after = np.empty_like(y[j])  # the factors after each step
            after[:, 0] = self.vol0[:, j]
            after[:, 1:] = y[j][:, :-1]
            eta[j] = backward_shocks(after, xi[j], phi[:, j, None], q[:, j, None], zero)
            eta[j][:, 0] = backward_shocks(
                after[:, :1], xi[j][:, :1], phi0[:, j, None], q0[:, j, None], zero
            )[:, 0]
        self._mix_leverage(z, eta)
        # the step in column c starts from the factors y[:, :, c], which are also those of the
        # tick at column c (seq0 - 1 - c)
        self._set_levels(_sum_components(y))
        self.vol_last = y[:, np.arange(len(grp.g)), grp.k - 1].T.copy()
        return eta[0][:, 1:]

    # ----------------------------------------------------------------------------------------
    # increments, jumps, quotes

    def _step_terms(self, dt_ms: np.ndarray):
        dt = dt_ms.astype(np.float64) * self.grp.dt_per_ms
        return np.sqrt(dt), -0.5 * dt, self.mu_c * dt

    @staticmethod
    def _increment(sig, z, sqdt, half_dt, drift_dt):
        """(mu_c - sig²/2) dt + sig sqrt(dt) Z, in one fixed order of operations."""
        inc = np.multiply(sig * sqdt, z)
        tmp = sig * sig
        tmp *= half_dt
        inc += tmp
        inc += drift_dt
        return inc

    def increments(
        self, z: np.ndarray, first_seq: np.ndarray, dt_ms, dt0_ms, reverse: bool, dt_years=None
    ):
        """Log-price increments of the K columns of ``z``: column 0 is the first step (dt0), then
        steps of dt; jumps at seqs first_seq, first_seq ± 1, ... (minus when ``reverse``).
        ``dt_years`` (n, K): trading sessions, each step's own dt on the business clock."""
        K = z.shape[1]
        if self.stochastic:
            sig = self.level[:, :K] * self.sigma[:, None]
            sig0 = sig[:, 0].copy()
        else:
            sig, sig0 = self.sigma[:, None], self.sigma
        if dt_years is not None:
            inc = np.sqrt(dt_years)
            inc *= sig
            inc *= z
            inc -= 0.5 * (sig * sig) * dt_years
            inc += self.mu_c[:, None] * dt_years
            self._add_jumps(inc, first_seq, reverse)
            return inc
        sqdt, half_dt, drift_dt = self._step_terms(dt_ms)
        inc = self._increment(sig, z, sqdt[:, None], half_dt[:, None], drift_dt[:, None])
        sqdt0, half0, drift0 = self._step_terms(dt0_ms)
        inc[:, 0] = self._increment(sig0, z[:, 0], sqdt0, half0, drift0)
        self._add_jumps(inc, first_seq, reverse)
        return inc

    def _add_jumps(self, inc, first_seq, reverse: bool) -> None:
        """Jumps of the steps in the columns (forward: seqs first_seq + c; backward:
        first_seq - c, one column more than ``inc``, for the volume of the last tick)."""
        grp = self.grp
        cols = inc.shape[1] + (1 if reverse else 0)
        per_tick = self.rate * grp.iv * grp.jump_dt_per_ms
        counts = None
        for row in self.jr.tolist():
            k, first = int(grp.k[row]) + (1 if reverse else 0), int(first_seq[row])
            lo, hi = (first - k + 1, first) if reverse else (first, first + k - 1)
            seqs, sizes = jumps_between(
                int(grp.seed[row]),
                float(per_tick[row]),
                lo,
                hi,
                float(self.jump_mean[row]),
                float(self.jump_spread[row]),
            )
            if len(seqs) == 0:
                continue
            c = (first - seqs) if reverse else (seqs - first)
            if counts is None:
                counts = np.zeros((len(grp.g), cols), dtype=np.int64)
            np.add.at(counts[row], c, 1)
            keep = c < inc.shape[1]
            np.add.at(inc[row], c[keep], sizes[keep])
        self.counts = counts

    def half_spreads(self, spread_bps: float) -> np.ndarray:
        """Half-spread fractions at each tick: spread_bps * max(sigma_t, 0.01) / 0.2 / 2e4."""
        if not self.stochastic:
            sig = self.sigma[:, None]
        else:
            sig = self.level[:, self.tick_cols] * self.sigma[:, None]
        out = np.maximum(sig, 0.01)
        out *= spread_bps / 4000.0
        return out

    def volume_scale(self) -> np.ndarray | None:
        """Volume multipliers of the ticks: exp(h - v/2) of their step (mean 1), and
        (1 + JUMP_VOLUME * jumps); None for none."""
        scale = None
        if self.stochastic:
            scale = self.level[:, self.volume_cols] * np.exp(0.5 * self.total_var)[:, None]
        if self.counts is not None:
            counts = self.counts[:, self.volume_cols]
            if counts.any():
                bump = counts * JUMP_VOLUME
                bump += 1.0
                scale = bump if scale is None else scale * bump
        return scale
