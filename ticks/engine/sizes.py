"""Quote sizes: the bid and ask size of every tick, in round lots, derived from (seed, seq).

The engine's tick carries a price, a bid, an ask and a volume; real feeds also quote how much is
offered at the bid and the ask. Those sizes are not stored: they are a pure function of the
ticker's ``seed`` and the tick's ``seq`` on a noise stream of their own
(``noise.quote_size_stream``; draws ``2 * seq`` for the bid and ``2 * seq + 1`` for the ask), so
every tick ever generated, history included, has them, they are the same on every read, and no
table needs a column. They never change the prices: the price path draws from other streams.

Distribution
    lots = clip(rint(exp(log(MEDIAN_LOTS) + SIZE_SPREAD * Z)), 1, MAX_LOTS): log-normal around a
    median of 4 round lots (one round lot = 100 shares, as real US quotes count them), mostly
    1 to 20 lots, independent between bid and ask and from tick to tick.
"""

from __future__ import annotations

import math

import numpy as np

from . import noise

__all__ = ["MAX_LOTS", "MEDIAN_LOTS", "SIZE_SPREAD", "quote_sizes"]

#: Median quoted size, in round lots.
MEDIAN_LOTS = 4
#: Standard deviation of the log size.
SIZE_SPREAD = 0.75
#: Largest quoted size, in round lots.
MAX_LOTS = 10_000

_LOG_MEDIAN = math.log(MEDIAN_LOTS)


def quote_sizes(seed: int, seqs: np.ndarray | list[int] | int) -> tuple[np.ndarray, np.ndarray]:
    """Bid and ask sizes (int64 round lots, at least 1) of the ticks ``seqs`` of ticker ``seed``.

    ``seqs`` may be any integers (negative for backfilled history), in any order, repeated.
    """
    seqs = np.asarray(seqs, dtype=np.int64)
    flat = seqs.reshape(-1)
    if flat.size == 0:
        empty = np.empty(seqs.shape, dtype=np.int64)
        return empty, empty.copy()
    k0, k1 = int(seed), noise.quote_size_stream()
    lo, hi = int(flat.min()), int(flat.max())
    if hi - lo < max(4 * noise.BLOCK, 8 * flat.size):  # a page of consecutive ticks: one range
        pairs = noise.normals(k0, k1, 2 * lo, 2 * (hi - lo) + 2).reshape(-1, 2)[flat - lo]
    else:  # scattered seqs: only the blocks that hold them
        pairs = _scattered(k0, k1, flat)
    pairs *= SIZE_SPREAD
    pairs += _LOG_MEDIAN
    np.exp(pairs, out=pairs)
    np.rint(pairs, out=pairs)
    np.clip(pairs, 1.0, MAX_LOTS, out=pairs)
    lots = pairs.astype(np.int64)
    return lots[:, 0].reshape(seqs.shape), lots[:, 1].reshape(seqs.shape)


def _scattered(k0: int, k1: int, flat: np.ndarray) -> np.ndarray:
    """(n, 2) draws for seqs far apart: one cached block fetch per distinct block."""
    index = 2 * flat
    blocks = np.floor_divide(index, noise.BLOCK)
    out = np.empty((flat.size, 2), dtype=np.float64)
    for block in np.unique(blocks).tolist():
        rows = np.flatnonzero(blocks == block)
        start = block * noise.BLOCK  # BLOCK is even, so a bid/ask pair never straddles blocks
        span = noise.normals(k0, k1, start, noise.BLOCK)
        offsets = index[rows] - start
        out[rows, 0] = span[offsets]
        out[rows, 1] = span[offsets + 1]
    return out
