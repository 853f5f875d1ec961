"""Readiness checks: can this process reach its database and Redis, and is the feed live?

Every check is bounded, so the probe answers within about 2 s whatever the servers do: the
database read runs with a 1 s deadline (``ticks.deadline``: a hung PostgreSQL never answers, and
no server-side timeout can fire then), Redis with 1 s socket timeouts. ``generation`` fails when
an active ticker whose market is open has had no new tick for ``GENERATION_STALE_SECONDS`` after
one was due (``ticks.freshness``).
"""

import time

import redis
from django.conf import settings

from ticks.deadline import read_within
from ticks.freshness import active_feeds, generation_check
from ticks.market_time import market_now_ms

DATABASE_DEADLINE_S = 1.0
REDIS_TIMEOUT_S = 1.0


def _timed(check) -> tuple[dict, object]:
    """``(check result, the check's value or None)``."""
    started = time.perf_counter()
    try:
        value = check()
    except Exception as exc:  # a readiness probe reports every failure, whatever its kind
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}, None
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}, value


def _check_database():
    """The active tickers (which the generation check needs): proves a query is answered."""
    return read_within(
        active_feeds, key="readyz", timeout=DATABASE_DEADLINE_S, what="readiness check"
    )


def _generation(client: redis.Redis, feeds, now_ms: int) -> dict:
    result, found = _timed(lambda: generation_check(feeds=feeds, now_ms=now_ms, client=client))
    if found is None:
        return result
    if found["ok"]:
        return {**result, "stale_after_s": found["stale_after_s"], "stale": []}
    return {
        "ok": False,
        "error": (
            f"no new tick for over {found['stale_after_s']:g} s: " + ", ".join(found["stale"])
        )[:300],
        "stale_after_s": found["stale_after_s"],
        "stale": found["stale"],
    }


def readiness(*, now_ms: int | None = None) -> dict:
    """``{"ready": bool, "checks": {"database": {...}, "redis": {...}, "generation": {...}}}``."""
    now_ms = market_now_ms() if now_ms is None else now_ms
    database, feeds = _timed(_check_database)
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
    )
    try:
        redis_check, _ = _timed(client.ping)
        if redis_check["ok"]:
            generation = _generation(client, feeds, now_ms)
        else:
            generation = {"ok": False, "error": "Redis unreachable: the feed cannot be checked"}
    finally:
        client.close()
    checks = {"database": database, "redis": redis_check, "generation": generation}
    return {"ready": all(c["ok"] for c in checks.values()), "checks": checks}
