"""The market's Redis connection and key names (one place owns the prefix)."""

import asyncio
import weakref
from functools import lru_cache

import redis
import redis.asyncio
from django.conf import settings


@lru_cache(maxsize=1)
def get_redis() -> redis.Redis:
    """A process-wide client (thread-safe connection pool) for ``REDIS_URL``."""
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )


def key(*parts: object) -> str:
    """``<MARKET_REDIS_PREFIX>:part:part...`` — every market key is built here."""
    return ":".join([settings.MARKET_REDIS_PREFIX, *map(str, parts)])


# --- asyncio clients: one registry, one client per event loop ---------------------------------
# A redis.asyncio client belongs to one event loop. ``async_redis()`` hands one out only on loops
# that serve requests for the life of the process (daphne's, marked by config.asgi): a
# short-lived loop, such as the one asgiref starts for each async_to_sync call, would leave its
# connections behind, so the REST API's fast path falls back to sync code there. ``loop_redis()``
# hands one out on any running loop, for code that has no sync fallback (the /ws replay reads);
# it is the same client as ``async_redis()``'s on a serving loop, and a short-lived loop's is
# dropped with the loop.

_serving_loops: "weakref.WeakSet[asyncio.AbstractEventLoop]" = weakref.WeakSet()
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis]" = (
    weakref.WeakKeyDictionary()
)


def mark_serving_loop(loop: asyncio.AbstractEventLoop) -> None:
    """``loop`` runs for the life of the process: code on it may use ``async_redis()``."""
    _serving_loops.add(loop)


def async_redis() -> "redis.asyncio.Redis | None":
    """The running loop's asyncio client for ``REDIS_URL``; None off a serving loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    if loop not in _serving_loops:
        return None
    return _client_for(loop)


def loop_redis() -> redis.asyncio.Redis:
    """The running loop's asyncio client for ``REDIS_URL``, on any loop."""
    return _client_for(asyncio.get_running_loop())


def _client_for(loop: asyncio.AbstractEventLoop) -> redis.asyncio.Redis:
    client = _async_clients.get(loop)
    if client is None:
        client = _async_clients[loop] = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
        )
    return client


async def close_async_redis() -> None:
    """Close and forget the running loop's client and serving mark (tests end their loops)."""
    loop = asyncio.get_running_loop()
    _serving_loops.discard(loop)
    client = _async_clients.pop(loop, None)
    if client is not None:
        await client.aclose()
