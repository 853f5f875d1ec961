"""Jumps: a compound Poisson process on a ticker's ticks, placed by counter-based draws.

Jumps are drawn per block of ``JUMP_BLOCK`` consecutive seqs (block b holds seqs
b*JUMP_BLOCK .. (b+1)*JUMP_BLOCK - 1), which costs nothing per tick:

- the block's number of jumps C is Poisson(rate * dt * JUMP_BLOCK), by inverse CDF from the
  ticker's uniform draw number b of ``noise.jump_stream`` (dt: the ticker's interval in years);
- jump i (0 <= i < C) lands on the block's seq floor(U_i * JUMP_BLOCK), U_i the uniform draw
  number b*MAX_JUMPS + i of ``noise.jump_position_stream`` (several may land on one seq);
- its log size is mean + spread * G_i, G_i the normal draw number b*MAX_JUMPS + i of
  ``noise.jump_size_stream``.

A Poisson number of jumps placed independently and uniformly on the block's ticks is the same
law as an independent Poisson(rate * dt) number of jumps on every tick, so this is exactly
compound Poisson on the tick grid. Jumps belong to seqs: a tick has the same jump whether it is
generated forwards, backwards or again, in any split. The intensity uses the nominal interval,
also for the first step after an off-grid anchor or an interval change.

``scipy.stats`` is imported when jumps are first drawn, not with the module: it costs about 0.6 s
of every worker's start and a market without jumps never needs it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import noise

__all__ = ["JUMP_BLOCK", "MAX_JUMPS", "compensator", "jumps_between", "poisson_interval"]

#: Consecutive seqs whose jumps are drawn together.
JUMP_BLOCK = 1024
#: Most jumps in one block (index space of the position and size draws).
MAX_JUMPS = 1 << 20


def compensator(rate: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """rate * kappa, kappa = E[e^Y] - 1 = exp(mean + spread²/2) - 1: subtracted from the drift
    so that E[S_{t+dt} / S_t] = exp(drift * dt) with the jumps as without them."""
    return rate * np.expm1(mean + 0.5 * spread * spread)


def jumps_between(
    seed: int, per_tick: float, lo: int, hi: int, mean: float, spread: float
) -> tuple[np.ndarray, np.ndarray]:
    """The jumps of ticks ``lo .. hi`` (seqs, inclusive) of ticker ``seed`` with ``per_tick``
    expected jumps per tick: (seqs, log sizes), one entry per jump, ascending seq."""
    if per_tick <= 0 or hi < lo:
        return np.empty(0, dtype=np.int64), np.empty(0)
    first, last = lo // JUMP_BLOCK, hi // JUMP_BLOCK
    if first == last:  # the live case (a few ticks per call): the block's jumps, cached
        seqs, sizes = _block_jumps(int(seed), float(per_tick), first, float(mean), float(spread))
        keep = (seqs >= lo) & (seqs <= hi)
        return seqs[keep], sizes[keep]
    return _jumps(seed, per_tick, lo, hi, mean, spread)


@lru_cache(maxsize=4096)
def _block_jumps(seed: int, per_tick: float, block: int, mean: float, spread: float):
    lo = block * JUMP_BLOCK
    seqs, sizes = _jumps(seed, per_tick, lo, lo + JUMP_BLOCK - 1, mean, spread)
    seqs.flags.writeable = sizes.flags.writeable = False
    return seqs, sizes


def _jumps(seed: int, per_tick: float, lo: int, hi: int, mean: float, spread: float):
    from scipy.stats import poisson  # see the module docstring: not at import time

    first, last = lo // JUMP_BLOCK, hi // JUMP_BLOCK
    u = np.empty(last - first + 1)
    noise.fill_uniform(int(seed), noise.jump_stream(), first, len(u), u)
    counts = poisson.ppf(u, per_tick * JUMP_BLOCK).astype(np.int64)
    np.minimum(counts, MAX_JUMPS, out=counts)
    blocks = np.flatnonzero(counts) + first
    if len(blocks) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    n = counts[blocks - first]
    index = np.repeat(blocks * MAX_JUMPS, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    where = noise.uniforms_sparse(int(seed), noise.jump_position_stream(), index)
    seqs = np.repeat(blocks * JUMP_BLOCK, n) + (where * JUMP_BLOCK).astype(np.int64)
    keep = (seqs >= lo) & (seqs <= hi)
    seqs, index = seqs[keep], index[keep]
    sizes = mean + spread * noise.normals_sparse(int(seed), noise.jump_size_stream(), index)
    order = np.argsort(seqs, kind="stable")
    return seqs[order], sizes[order]


def poisson_interval(expected: float, level: float = 0.99) -> tuple[int, int]:
    """Central ``level`` interval of a Poisson count with mean ``expected``."""
    from scipy.stats import poisson

    tail = (1.0 - level) / 2.0
    return int(poisson.ppf(tail, expected)), int(poisson.isf(tail, expected))
