"""The market's Redis connection and key names (one place owns the prefix)."""

from functools import lru_cache

import redis
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
