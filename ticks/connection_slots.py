"""How many streaming connections each API key holds open, counted across every server process.

Each open connection opened with a key holds a slot: an entry in a Redis sorted set per key,
scored with the time it expires. A process refreshes its connections' entries while they are
open (every ``REFRESH_S``) and removes them when they close; the entries of a process that
crashed expire after ``SLOT_TTL_S`` on their own, so a crash never locks a key out for longer.
Taking a slot is one script (expired entries dropped, count checked, entry added), so two
processes racing for a key's last slot cannot both get it.

When Redis does not answer, slots are not enforced (``slot_acquire`` says yes): the stream needs
Redis anyway, and refusing every client over a bookkeeping failure would be worse.
"""

import logging
import time

import redis

from .redis_store import key, loop_redis

logger = logging.getLogger(__name__)

SLOT_TTL_S = 60.0
REFRESH_S = 20.0

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local limit = tonumber(ARGV[4])
if limit > 0 and redis.call('ZCARD', KEYS[1]) >= limit
   and not redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


def slots_key(key_id: int, pool: str = "wsconn") -> str:
    """The sorted set of a key's slots in ``pool`` (stream connections; playbacks: "playback")."""
    return key(pool, int(key_id))


def _now_ms() -> int:
    return int(time.time() * 1000)


async def slot_acquire(*, key_id: int, connection: str, limit: int, pool: str = "wsconn") -> bool:
    """Take a slot of key ``key_id`` for ``connection`` (an id unique to it): False when the key
    already holds ``limit`` live ones (``limit`` 0: no limit)."""
    now, ttl = _now_ms(), int(SLOT_TTL_S * 1000)
    try:
        taken = await loop_redis().eval(
            _ACQUIRE, 1, slots_key(key_id, pool), now, now + ttl, connection, int(limit), ttl
        )
    except redis.RedisError:
        logger.warning("could not count the connections of API key %s; allowing", key_id)
        return True
    return bool(taken)


async def slots_refresh(*, slots: list[tuple[int, str]], pool: str = "wsconn") -> None:
    """Keep the given ``(key id, connection)`` slots alive for another ``SLOT_TTL_S``."""
    if not slots:
        return
    now, ttl = _now_ms(), int(SLOT_TTL_S * 1000)
    pipe = loop_redis().pipeline(transaction=False)
    for key_id, connection in slots:
        pipe.zadd(slots_key(key_id, pool), {connection: now + ttl})
        pipe.pexpire(slots_key(key_id, pool), ttl)
    try:
        await pipe.execute()
    except redis.RedisError:
        logger.warning("could not refresh %d streaming connection slots", len(slots))


async def slot_release(*, key_id: int, connection: str, pool: str = "wsconn") -> None:
    try:
        await loop_redis().zrem(slots_key(key_id, pool), connection)
    except redis.RedisError:
        logger.warning("could not release a connection slot of API key %s", key_id)


async def slots_held(*, key_id: int, pool: str = "wsconn") -> int:
    """Live slots of key ``key_id`` (expired ones not counted)."""
    return await loop_redis().zcount(slots_key(key_id, pool), _now_ms(), "+inf")
