"""Rate limits per API key, per dashboard token, or per client IP without either, on the shared
Redis.

A DRF throttle running the generic cell rate algorithm (GCRA) in one Lua script: one round trip
and one small key per client, a smooth limit (no double burst at window edges, unlike fixed
windows), and exact ``Retry-After`` and remaining counts. Rates are ``"<n>/<period>"`` in
``API_RATE_LIMIT_KEY`` / ``API_RATE_LIMIT_ANON`` (empty: unlimited). If Redis is unreachable
requests are let through (logged): a limiter must not take the API down with it.
"""

import logging
import weakref
from functools import lru_cache

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

from ticks import metrics
from ticks.redis_store import get_redis, key

from .authentication import DashboardCredential, KeyCredential

logger = logging.getLogger(__name__)

PERIODS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

# KEYS[1]: the client's key. ARGV: limit, period in ms. Returns {allowed, remaining, retry_ms}.
# With KEYS[2] and ARGV[3] it also returns HGET KEYS[2] ARGV[3] when allowed: a view that reads
# one Redis hash field (the quote) gets it in the same round trip (``throttle_prefetch``).
GCRA_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if now < allow_at then
  return {0, 0, math.ceil(allow_at - now)}
end
local ttl = math.max(1, math.ceil(new_tat - now))
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', ttl)
local remaining = math.floor((now - allow_at) / interval)
if KEYS[2] then
  return {1, remaining, 0, redis.call('HGET', KEYS[2], ARGV[3])}
end
return {1, remaining, 0}
"""


@lru_cache(maxsize=1)
def _gcra():
    return get_redis().register_script(GCRA_LUA)


def _gcra_async(client):
    """The script on the running loop's asyncio client (``ticks.redis_store.async_redis``)."""
    script = _async_scripts.get(client)
    if script is None:
        script = _async_scripts[client] = client.register_script(GCRA_LUA)
    return script


_async_scripts: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"600/minute"`` -> ``(600, 60000)``; empty -> None (unlimited)."""
    if not rate:
        return None
    count, _, period = rate.partition("/")
    try:
        limit = int(count)
        period_ms = PERIODS_MS[period.strip()[:1].lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(
            f"Rate {rate!r}: expected '<n>/<second|minute|hour|day>', e.g. '600/minute'."
        ) from None
    if limit < 1:
        raise ImproperlyConfigured(f"Rate {rate!r}: the count must be at least 1.")
    return limit, period_ms


def client_ip(request) -> str | None:
    """The client's address as the rate limits see it: ``REMOTE_ADDR``, or the entry of
    ``X-Forwarded-For`` that ``API_NUM_PROXIES`` trusted proxies name (DRF's ``get_ident``).
    Also django-axes' ``AXES_CLIENT_IP_CALLABLE``, so login lockouts count the same clients."""
    return BaseThrottle().get_ident(request)


class ClientRateThrottle(BaseThrottle):
    """Allows a request or not, in one Redis round trip: ``allow_request`` blocks (sync views),
    ``allow_request_async`` awaits the running loop's asyncio client (``api.fast``)."""

    def __init__(self):
        self.retry_ms = 0
        self.limit_name = "anon"  # which limit applies: key, dashboard or anon (set by _plan)

    def _plan(self, request, view) -> tuple | None:
        """``(limit, keys, args, prefetching)`` of the script call; None when unlimited."""
        if isinstance(request.auth, KeyCredential):
            rate, ident = settings.API_RATE_LIMIT_KEY, f"key:{request.auth.key_id}"
            self.limit_name = "key"
        elif isinstance(request.auth, DashboardCredential):
            rate = settings.API_RATE_LIMIT_DASHBOARD
            ident = f"dashboard:{request.auth.token_id}"
            self.limit_name = "dashboard"
        else:
            rate, ident = settings.API_RATE_LIMIT_ANON, f"ip:{self.get_ident(request)}"
            self.limit_name = "anon"
        parsed = parse_rate(rate)
        if parsed is None:
            return None
        limit, period_ms = parsed
        keys, args = [key("throttle", ident)], [limit, period_ms]
        prefetch = getattr(view, "throttle_prefetch", None)
        wanted = prefetch(request, view) if prefetch else None
        if wanted:
            keys.append(wanted[0])
            args.append(wanted[1])
        return limit, keys, args, bool(wanted)

    def _apply(self, request, limit: int, prefetching: bool, reply) -> bool:
        allowed, remaining, self.retry_ms = reply[:3]
        if prefetching and allowed:
            request.prefetched = reply[3] if len(reply) > 3 else None
        request.rate_limit = (limit, int(remaining))
        if not allowed:
            metrics.rate_limited(self.limit_name)  # the 429's limit, for the metrics
        return bool(allowed)

    def allow_request(self, request, view) -> bool:
        plan = self._plan(request, view)
        if plan is None:
            return True
        limit, keys, args, prefetching = plan
        try:
            reply = _gcra()(keys=keys, args=args)
        except redis.RedisError as exc:
            logger.warning("rate limit not applied, Redis failed: %s", exc)
            return True
        return self._apply(request, limit, prefetching, reply)

    async def allow_request_async(self, request, view, client) -> bool:
        plan = self._plan(request, view)
        if plan is None:
            return True
        limit, keys, args, prefetching = plan
        try:
            reply = await _gcra_async(client)(keys=keys, args=args)
        except redis.RedisError as exc:
            logger.warning("rate limit not applied, Redis failed: %s", exc)
            return True
        return self._apply(request, limit, prefetching, reply)

    def wait(self) -> float:
        return self.retry_ms / 1000
