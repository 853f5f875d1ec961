"""Bounds: prices kept in [min_price, max_price] by reflecting the log price in log space (see
the package docstring, "Bounds"). The state keeps the unreflected log price; only outputs are
reflected."""

from __future__ import annotations

from typing import Any

import numpy as np

from .params import TickerParams

__all__ = ["log_bounds", "reflect", "reflect_inplace"]


def log_bounds(params: TickerParams) -> tuple[np.ndarray, np.ndarray]:
    """Per-ticker [log(min_price), log(max_price)], -inf / +inf where a bound is disabled."""
    lo, hi = params.min_price, params.max_price
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lo = np.where(lo > 0, np.log(np.where(lo > 0, lo, 1.0)), -np.inf)
        log_hi = np.where(np.isfinite(hi), np.log(np.where(np.isfinite(hi), hi, 1.0)), np.inf)
    return log_lo, log_hi


def _fold(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Fold ``x`` in place into [lo, hi] (lo/hi: (rows, 1); all rows have the same bound kind)."""
    lo_f, hi_f = np.isfinite(lo[0, 0]), np.isfinite(hi[0, 0])
    if lo_f and hi_f:
        # period-2L folding: u = (x - lo) mod 2L, y = lo + L - |u - L|. floor() instead of np.mod
        # (5x faster); an off-by-one-period floor near a fold point lands a hair outside, clipped.
        span = hi - lo
        x -= lo
        q = x * (0.5 / span)
        np.floor(q, out=q)
        q *= 2.0 * span
        x -= q
        x -= span
        np.abs(x, out=x)
        np.subtract(span, x, out=x)
        x += lo
        np.clip(x, lo, hi, out=x)
    elif lo_f:
        x -= lo
        np.abs(x, out=x)
        x += lo
    elif hi_f:
        x -= hi
        np.abs(x, out=x)
        np.subtract(hi, x, out=x)


def _reflect_rows(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    """Reflect rows of ``x`` in place (lo/hi: one value per row, all with the same kind of bound).

    A value already inside [lo, hi] is kept as it is, bit for bit (the fold formula would round),
    so the result for one tick never depends on the other ticks of the batch; rows that stay
    inside cost only a min/max scan.
    """
    out = (x.min(axis=1) < lo) | (x.max(axis=1) > hi)
    rows = np.flatnonzero(out)
    if len(rows) == 0:
        return
    sub = x[rows]
    folded = sub.copy()
    _fold(folded, lo[rows, None], hi[rows, None])
    np.copyto(folded, sub, where=(sub >= lo[rows, None]) & (sub <= hi[rows, None]))
    x[rows] = folded


def reflect_inplace(x2: np.ndarray, log_lo: np.ndarray, log_hi: np.ndarray) -> None:
    kind = np.isfinite(log_lo).astype(np.int8) + 2 * np.isfinite(log_hi).astype(np.int8)
    for k in np.unique(kind):
        if k == 0:
            continue
        if np.all(kind == k):
            _reflect_rows(x2, log_lo, log_hi)
        else:
            rows = np.flatnonzero(kind == k)
            sub = x2[rows]
            _reflect_rows(sub, log_lo[rows], log_hi[rows])
            x2[rows] = sub


def reflect(x: Any, log_lo: Any, log_hi: Any) -> np.ndarray:
    """Log prices reflected into [log_lo, log_hi] (a new array; values inside are kept as is).

    ``x`` is 1-D (one value per ticker) or 2-D (one row per ticker); ``log_lo``/``log_hi`` have one
    value per ticker, -inf / +inf for no bound. Never clamps: the path folds at the bound.
    """
    log_lo = np.asarray(log_lo, dtype=np.float64).reshape(-1)
    log_hi = np.asarray(log_hi, dtype=np.float64).reshape(-1)
    y = np.array(x, dtype=np.float64)
    reflect_inplace(y.reshape(len(log_lo), -1), log_lo, log_hi)
    return y
