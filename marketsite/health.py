"""Readiness checks: can this process reach its database and Redis?"""

import time

import redis
from django.conf import settings
from django.db import connection

_CHECK_TIMEOUT_S = 2.0


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # a readiness probe reports every failure, whatever its kind
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=_CHECK_TIMEOUT_S,
        socket_timeout=_CHECK_TIMEOUT_S,
    )
    try:
        client.ping()
    finally:
        client.close()


def readiness() -> dict:
    """``{"ready": bool, "checks": {"database": {...}, "redis": {...}}}``."""
    checks = {"database": _timed(_check_database), "redis": _timed(_check_redis)}
    return {"ready": all(c["ok"] for c in checks.values()), "checks": checks}
