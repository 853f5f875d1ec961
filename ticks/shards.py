"""Sharded generation: which tickers one generation task advances, and what each shard last did.

``GENERATION_SHARDS=N`` splits the active tickers into N shards; beat sends one ``ticks.generate``
task per shard (its ``shard`` and ``shards`` in the task's arguments) and any generator worker
may take any of them. The rule, stable and documented:

    ticker -> shard ``ticker.id % N``

Ticker ids never change and a new ticker gets a new id, so adding (or removing) a ticker never
moves another; ids being consecutive, the shards stay balanced. Changing N moves tickers between
shards, which is safe: a ticker's state lives in one Redis hash whatever the shard, and every
write is a compare-and-set on it (``ticks.live_store``), so whichever cycle reaches a ticker next
continues its series exactly where it stands, and two cycles that both planned it (an old N and a
new N running side by side for a moment) cannot both write it.

Each shard has its own lease (``Shard.lease_name``): one writer per shard at a time, a killed
holder delays its shard by the lease's TTL at most, then any worker catches the shard up. One
shard (N=1) keeps the lease name of the unsharded generator, ``generate``.

After each cycle the shard's bookkeeping (``record_cycle``) says which worker ran it, when, and
what it wrote, for ``market_status``.
"""

import logging
import os
import socket
from dataclasses import dataclass

import orjson
import redis

from .redis_store import get_redis, key

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (``0 <= index < count``)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.count, int) or not isinstance(self.index, int):
            raise ValueError("a shard is two integers: index and count")
        if self.count < 1:
            raise ValueError(f"the number of shards must be at least 1, not {self.count}")
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} does not exist among {self.count}")

    @property
    def name(self) -> str:
        """``index/count``, e.g. ``1/2``."""
        return f"{self.index}/{self.count}"

    @property
    def lease_name(self) -> str:
        """The lease its cycles hold: ``generate`` for a single shard (as before sharding),
        ``generate:<index>/<count>`` otherwise."""
        return "generate" if self.count == 1 else f"generate:{self.name}"

    def owns(self, ticker_id: int) -> bool:
        return shard_of(ticker_id, self.count) == self.index

    def members(self, tickers) -> list[int]:
        """Positions in ``tickers`` (objects with ``pk``) of the ones this shard advances."""
        if self.count == 1:
            return list(range(len(tickers)))
        return [i for i, t in enumerate(tickers) if t.pk % self.count == self.index]


ALL = Shard(0, 1)


def shard_of(ticker_id: int, count: int) -> int:
    """The shard of ticker ``ticker_id`` among ``count``: ``ticker_id % count``."""
    return int(ticker_id) % count


def all_shards(count: int) -> list[Shard]:
    return [Shard(i, count) for i in range(count)]


def _records_key() -> str:
    return key("generation", "shards")


def worker_name(node: str | None = None) -> str:
    """Who runs a cycle: the Celery node name when known (``generator1@host``), else the host;
    with the process id either way."""
    return f"{node or socket.gethostname()}:{os.getpid()}"


def record_cycle(shard: Shard, *, worker: str, now_ms: int, ticks: int, tickers: int) -> None:
    """Note that ``worker`` ran a cycle of ``shard`` at ``now_ms`` (best effort: a lost note
    only makes ``market_status`` show an older one)."""
    record = {"worker": worker, "at": now_ms, "ticks": ticks, "tickers": tickers}
    try:
        get_redis().hset(_records_key(), shard.name, orjson.dumps(record))
    except redis.RedisError:
        logger.warning("could not record shard %s's cycle", shard.name, exc_info=True)


def cycle_records(count: int) -> dict[str, dict | None]:
    """Each shard's last cycle (``worker``, ``at``, ``ticks``, ``tickers``) among ``count``, by
    ``Shard.name``; None for a shard that never ran."""
    names = [s.name for s in all_shards(count)]
    values = get_redis().hmget(_records_key(), names)
    return {name: (orjson.loads(v) if v else None) for name, v in zip(names, values)}
