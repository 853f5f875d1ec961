"""A counter in Redis that moves whenever any ticker's configuration changes.

Processes that cache ticker configurations (the generator) compare it on every beat, which costs
one Redis GET instead of a database query, and reload only when it moved.
"""

import logging

import redis

from .redis_store import get_redis, key

logger = logging.getLogger(__name__)


def config_version() -> int:
    value = get_redis().get(key("config", "version"))
    return int(value) if value is not None else 0


def bump_config_version() -> None:
    try:
        get_redis().incr(key("config", "version"))
    except redis.RedisError:
        # The edit is saved; the generator also reloads configs periodically as a fallback.
        logger.warning("could not signal a ticker config change to Redis", exc_info=True)
