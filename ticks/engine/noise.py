"""Counter-based standard normal noise: any draw can be recomputed from its key and index.

A *stream* is a pair of 64-bit words ``(k0, k1)``: ``k0`` is a seed (a ticker's seed for its own
streams, the market seed for the shared factors) and ``k1`` names the purpose of the stream (see the
``*_stream`` functions). Draw number ``i`` of a stream (``i`` may be negative) is element
``i mod BLOCK`` of block ``floor(i / BLOCK)``, and block ``b`` is::

    Generator(Philox(key=[k0, k1], counter=[0, 0, 0, b as uint64])).standard_normal(BLOCK)

So a draw depends on nothing but ``(k0, k1, i)``: "advance by k" is exactly "k steps", and a batch
can be split anywhere. (``standard_normal`` consumes a variable number of raw words, which is why
the position is fixed by the block counter instead of by advancing one generator.) Philox steps the
low counter word inside a block, and a block consumes far fewer than 2**64 words, so blocks never
overlap.

Blocks are kept in a small thread-safe LRU cache, so a live caller asking for one draw per ticker
every 100 ms generates each block once, not once per call.

A few streams hold uniform draws on [0, 1) instead (``fill_uniform``: the same blocks with
``random(BLOCK)`` in place of ``standard_normal(BLOCK)``, cached separately): the jump counts,
which only compare a draw with a small probability.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np

__all__ = [
    "BLOCK",
    "CACHE_BLOCKS",
    "cache_clear",
    "cache_info",
    "fill",
    "fill_uniform",
    "idiosyncratic_stream",
    "jump_position_stream",
    "jump_size_stream",
    "jump_stream",
    "market_stream",
    "quote_size_stream",
    "normals",
    "normals_at",
    "normals_sparse",
    "uniforms_sparse",
    "sector_id",
    "sector_stream",
    "set_cache_blocks",
    "vol_init_stream",
    "vol_stream",
    "volume_stream",
]

#: Draws per block. Part of the definition of every path: changing it changes all prices.
BLOCK = 1024
#: Default capacity of the block cache (each block is BLOCK float64s = 8 KiB; 4096 blocks = 32 MiB).
CACHE_BLOCKS = 4096

_U64 = (1 << 64) - 1
_PERSON = b"ticks.engine"


def _hash64(text: str) -> int:
    """A stable 64-bit hash (blake2b), independent of Python's per-process hash seed."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "little")


def sector_id(name: str) -> int:
    """Stable int64 (>= 0) id of a sector name: blake2b of the stripped, upper-cased name."""
    if not isinstance(name, str):
        raise TypeError(f"sector name must be a str, not {type(name).__name__}")
    return _hash64("sector-name/" + name.strip().upper()) & ((1 << 63) - 1)


# Stream ids (the Philox key's second word). Each encodes its purpose, so two streams never share
# a key even when their first words (seeds) coincide.
_IDIOSYNCRATIC = _hash64("stream/idiosyncratic")
_VOLUME = _hash64("stream/volume")
_QUOTE_SIZE = _hash64("stream/quote-size")


def idiosyncratic_stream() -> int:
    """k1 of a ticker's own return noise E (indexed by the tick's seq)."""
    return _IDIOSYNCRATIC


def volume_stream() -> int:
    """k1 of a ticker's volume noise V (indexed by the tick's seq)."""
    return _VOLUME


def quote_size_stream() -> int:
    """k1 of a ticker's quote-size noise (draws 2*seq and 2*seq + 1: bid and ask size)."""
    return _QUOTE_SIZE


_VOL = tuple(_hash64(f"stream/vol/{j}") for j in range(8))
_VOL_INIT = _hash64("stream/vol-init")
_JUMP = _hash64("stream/jump")
_JUMP_SIZE = _hash64("stream/jump-size")
_JUMP_POSITION = _hash64("stream/jump-position")


def vol_stream(component: int) -> int:
    """k1 of the shocks of a ticker's volatility component ``component`` (indexed by seq)."""
    return _VOL[component]


def vol_init_stream() -> int:
    """k1 of the stationary draws that start an unknown volatility state (draw
    ``n_components * seq + j`` for component j at a state of sequence number ``seq``)."""
    return _VOL_INIT


def jump_stream() -> int:
    """k1 of a ticker's UNIFORM jump-count draws (``fill_uniform``; one per block of seqs)."""
    return _JUMP


def jump_position_stream() -> int:
    """k1 of a ticker's UNIFORM jump-position draws (``uniforms_sparse``; see ``jumps``)."""
    return _JUMP_POSITION


def jump_size_stream() -> int:
    """k1 of a ticker's jump-size noise (``normals_sparse``; see ``jumps``)."""
    return _JUMP_SIZE


@lru_cache(maxsize=4096)
def market_stream(interval_ms: int) -> int:
    """k1 of the market factor M on the grid of ``interval_ms`` (indexed by time_ms // interval)."""
    return _hash64(f"stream/market/{int(interval_ms)}")


@lru_cache(maxsize=65536)
def sector_stream(interval_ms: int, sector: int) -> int:
    """k1 of the factor S of sector id ``sector`` on the grid of ``interval_ms``."""
    return _hash64(f"stream/sector/{int(interval_ms)}/{int(sector)}")


class _BlockCache:
    """LRU cache of read-only blocks keyed by (k0, k1, block index), guarded by a lock."""

    def __init__(self, capacity: int, uniform: bool = False) -> None:
        self.capacity = capacity
        self.uniform = uniform
        self._blocks: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()
        self.hits = 0
        self.misses = 0

    def _generator(self) -> tuple[np.random.Philox, np.random.Generator, dict]:
        # One Philox per thread, re-keyed by assigning its state: several times cheaper than
        # constructing a bit generator per block, and bit-identical to it (the output buffer is
        # emptied on every re-key; a test checks it against the fresh construction).
        local = self._local
        if not hasattr(local, "bitgen"):
            local.bitgen = np.random.Philox(key=np.zeros(2, dtype=np.uint64))
            local.gen = np.random.Generator(local.bitgen)
            local.state = local.bitgen.state
        return local.bitgen, local.gen, local.state

    def _rekey(self, k0: int, k1: int, block: int) -> np.random.Generator:
        bitgen, gen, state = self._generator()
        inner = state["state"]
        inner["key"][0] = k0
        inner["key"][1] = k1
        inner["counter"][:] = (0, 0, 0, block & _U64)
        state["buffer_pos"] = 4  # empty Philox output buffer, as in a fresh generator
        state["has_uint32"] = 0
        state["uinteger"] = 0
        bitgen.state = state
        return gen

    def generate(self, k0: int, k1: int, block: int) -> np.ndarray:
        gen = self._rekey(k0, k1, block)
        out = gen.random(BLOCK) if self.uniform else gen.standard_normal(BLOCK)
        out.flags.writeable = False
        return out

    def generate_into(self, k0: int, k1: int, block: int, out: np.ndarray) -> None:
        """Block straight into ``out`` (BLOCK float64s), bypassing the cache."""
        gen = self._rekey(k0, k1, block)
        draw = gen.random if self.uniform else gen.standard_normal
        if out.flags.c_contiguous:
            draw(out=out)
        else:
            out[:] = draw(BLOCK)

    def peek(self, key: tuple[int, int, int]) -> np.ndarray | None:
        with self._lock:
            found = self._blocks.get(key)
            if found is not None:
                self._blocks.move_to_end(key)
                self.hits += 1
            return found

    def get(self, k0: int, k1: int, block: int) -> np.ndarray:
        key = (k0, k1, block)
        found = self.peek(key)
        if found is not None:
            return found
        values = self.generate(k0, k1, block)
        with self._lock:
            self.misses += 1
            self._blocks[key] = values
            while len(self._blocks) > self.capacity:
                self._blocks.popitem(last=False)
        return values

    def clear(self) -> None:
        with self._lock:
            self._blocks.clear()
            self.hits = self.misses = 0


_cache = _BlockCache(CACHE_BLOCKS)
_uniform_cache = _BlockCache(CACHE_BLOCKS // 8, uniform=True)


def _after_fork_in_child() -> None:
    # a forked worker (Celery prefork) must not inherit a lock held by another parent thread
    for cache in (_cache, _uniform_cache):
        cache._lock = threading.Lock()
        cache._local = threading.local()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def set_cache_blocks(capacity: int) -> None:
    """Change the block cache's capacity (0 disables caching)."""
    if capacity < 0:
        raise ValueError("cache capacity must be >= 0")
    with _cache._lock:
        _cache.capacity = int(capacity)
        while len(_cache._blocks) > _cache.capacity:
            _cache._blocks.popitem(last=False)


def cache_clear() -> None:
    _cache.clear()
    _uniform_cache.clear()


def cache_info() -> dict[str, int]:
    return {
        "blocks": len(_cache._blocks),
        "capacity": _cache.capacity,
        "hits": _cache.hits,
        "misses": _cache.misses,
    }


def _check_key(k0: int, k1: int) -> tuple[int, int]:
    k0, k1 = int(k0), int(k1)
    if not (0 <= k0 <= _U64 and 0 <= k1 <= _U64):
        raise ValueError("stream keys must be in [0, 2**64)")
    return k0, k1


def normals(k0: int, k1: int, start: int, count: int, out: np.ndarray | None = None) -> np.ndarray:
    """Draws ``start .. start + count - 1`` of stream ``(k0, k1)`` (``start`` may be negative).

    Writes into ``out`` (a 1-D float64 array of length ``count``, may be a strided view) if given.
    """
    k0, k1 = _check_key(k0, k1)
    start, count = int(start), int(count)
    if count < 0:
        raise ValueError("count must be >= 0")
    if out is None:
        out = np.empty(count, dtype=np.float64)
    elif out.shape != (count,):
        raise ValueError(f"out has shape {out.shape}, expected ({count},)")
    fill(k0, k1, start, count, out)
    return out


def fill(k0: int, k1: int, start: int, count: int, out: np.ndarray) -> None:
    """``normals`` without the argument checks (ints in range, ``out`` of length ``count``).

    Blocks that the request covers entirely and that are not cached are generated straight into
    ``out`` without being cached (bulk requests would only flush the cache); the partly used
    blocks at either end, which the next live call continues from, go through the cache.
    """
    _fill(_cache, k0, k1, start, count, out)


def fill_uniform(k0: int, k1: int, start: int, count: int, out: np.ndarray) -> None:
    """``fill`` for a uniform stream: draws on [0, 1), block b = ``random(BLOCK)`` of the same
    Philox key and counter."""
    _fill(_uniform_cache, k0, k1, start, count, out)


def _fill(cache: _BlockCache, k0: int, k1: int, start: int, count: int, out: np.ndarray) -> None:
    block, offset = divmod(start, BLOCK)  # floor division: negative indices work too
    if offset + count <= BLOCK:  # the common live case: one block
        out[:] = cache.get(k0, k1, block)[offset : offset + count]
        return
    pos = 0
    while pos < count:
        take = min(BLOCK - offset, count - pos)
        if take == BLOCK:
            found = cache.peek((k0, k1, block))
            if found is None:
                cache.generate_into(k0, k1, block, out[pos : pos + BLOCK])
            else:
                out[pos : pos + BLOCK] = found
        else:
            out[pos : pos + take] = cache.get(k0, k1, block)[offset : offset + take]
        pos += take
        block += 1
        offset = 0


def normals_at(k0: int, k1: int, indices: np.ndarray) -> np.ndarray:
    """Draws at arbitrary integer ``indices`` (fetches the covering range once, then gathers)."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        return np.empty(indices.shape, dtype=np.float64)
    lo = int(indices.min())
    span = normals(k0, k1, lo, int(indices.max()) - lo + 1)
    return span[indices - lo]


def normals_sparse(k0: int, k1: int, indices: np.ndarray) -> np.ndarray:
    """Draws at ``indices`` far apart (say jump times): only the blocks holding them are read,
    through the cache, instead of the whole covering range."""
    return _sparse(_cache, k0, k1, indices)


def uniforms_sparse(k0: int, k1: int, indices: np.ndarray) -> np.ndarray:
    """``normals_sparse`` of a uniform stream."""
    return _sparse(_uniform_cache, k0, k1, indices)


def _sparse(cache: _BlockCache, k0: int, k1: int, indices: np.ndarray) -> np.ndarray:
    indices = np.asarray(indices, dtype=np.int64)
    out = np.empty(indices.shape, dtype=np.float64)
    if indices.size == 0:
        return out
    flat, dest = indices.reshape(-1), out.reshape(-1)
    blocks = np.floor_divide(flat, BLOCK)
    for block in np.unique(blocks).tolist():
        rows = np.flatnonzero(blocks == block)
        dest[rows] = cache.get(int(k0), int(k1), block)[flat[rows] - block * BLOCK]
    return out
