"""/healthz (liveness) and /readyz (database and Redis readiness), also under the HTTPS redirect."""

import threading
import time
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client, override_settings
from django.urls import reverse

from config.settings import base
from ticks.live_store import KEYS, LiveState
from ticks.models import Ticker
from ticks.redis_store import get_redis

pytestmark = pytest.mark.django_db

HEALTHZ = "/healthz"
READYZ = "/readyz"


def _latency_ok(check: dict) -> None:
    """A passing check is exactly ``{"ok": True, "latency_ms": <non-negative number>}``."""
    assert set(check) == {"ok", "latency_ms"}
    assert check["ok"] is True
    assert isinstance(check["latency_ms"], (int, float)) and check["latency_ms"] >= 0


def test_urls_are_the_documented_paths():
    assert reverse("marketsite:healthz") == HEALTHZ
    assert reverse("marketsite:readyz") == READYZ


def test_healthz_answers_ok(client):
    response = client.get(HEALTHZ)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_healthz_touches_neither_database_nor_redis(client, django_assert_num_queries):
    with mock.patch("marketsite.views.readiness") as readiness:
        with django_assert_num_queries(0):
            response = client.get(HEALTHZ)
    assert response.status_code == 200
    readiness.assert_not_called()


def test_readyz_with_database_and_redis_up(client):
    response = client.get(READYZ)
    assert response.status_code == 200
    body = response.json()
    _latency_ok(body["checks"]["database"])
    _latency_ok(body["checks"]["redis"])
    latencies = {name: check["latency_ms"] for name, check in body["checks"].items()}
    assert body == {
        "ready": True,
        "status": "ready",
        "checks": {
            "database": {"ok": True, "latency_ms": latencies["database"]},
            "redis": {"ok": True, "latency_ms": latencies["redis"]},
            "generation": {
                "ok": True,
                "latency_ms": latencies["generation"],
                "stale_after_s": 10.0,
                "stale": [],
            },
        },
    }


def test_readyz_with_redis_unreachable(client, closed_port):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port}/0"):
        response = client.get(READYZ)
    assert response.status_code == 503
    body = response.json()
    _latency_ok(body["checks"]["database"])
    error = body["checks"]["redis"]["error"]
    assert error.startswith("ConnectionError: ")
    assert str(closed_port) in error
    assert body == {
        "ready": False,
        "status": "not_ready",
        "checks": {
            "database": {"ok": True, "latency_ms": body["checks"]["database"]["latency_ms"]},
            "redis": {"ok": False, "error": error},
            "generation": {"ok": False, "error": "Redis unreachable: the feed cannot be checked"},
        },
    }


def test_readyz_with_database_unreachable(client):
    refused = OperationalError('connection to server at "127.0.0.1", port 5432 failed')
    with mock.patch("marketsite.health._check_database", side_effect=refused):
        response = client.get(READYZ)
    assert response.status_code == 503
    body = response.json()
    _latency_ok(body["checks"]["redis"])
    assert body == {
        "ready": False,
        "status": "not_ready",
        "checks": {
            "database": {
                "ok": False,
                "error": 'OperationalError: connection to server at "127.0.0.1", port 5432 failed',
            },
            "redis": {"ok": True, "latency_ms": body["checks"]["redis"]["latency_ms"]},
            "generation": {
                "ok": True,
                "latency_ms": body["checks"]["generation"]["latency_ms"],
                "stale_after_s": 10.0,
                "stale": [],
            },
        },
    }


def test_readyz_error_text_is_bounded(client):
    with mock.patch("marketsite.health._check_database", side_effect=OperationalError("x" * 5000)):
        response = client.get(READYZ)
    error = response.json()["checks"]["database"]["error"]
    assert error == ("OperationalError: " + "x" * 5000)[:300]


@pytest.mark.parametrize("path", [HEALTHZ, READYZ])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_health_endpoints_only_answer_get(client, path, method):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET"


def test_probes_and_metrics_are_exempt_from_the_https_redirect():
    assert base.SECURE_REDIRECT_EXEMPT == [r"^healthz$", r"^readyz$", r"^metrics$"]
    with override_settings(
        SECURE_SSL_REDIRECT=True, SECURE_REDIRECT_EXEMPT=base.SECURE_REDIRECT_EXEMPT
    ):
        client = Client()  # middleware is loaded on its first request, under these settings
        healthz = client.get(HEALTHZ)
        readyz = client.get(READYZ)
        metrics = client.get("/metrics")  # Prometheus scrapes like a probe
        login = client.get("/admin/login/")
        almost = client.get("/healthz/extra")
    assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})
    assert readyz.status_code == 200 and readyz.json()["ready"] is True
    assert metrics.status_code == 200 and b"market_" in metrics.content
    assert login.status_code == 301
    assert login["Location"] == "https://testserver/admin/login/"
    # The exemption is anchored: only the probe paths themselves skip the redirect.
    assert almost.status_code == 301
    assert almost["Location"] == "https://testserver/healthz/extra"


# --- generation: a stale feed is not ready ------------------------------------------------------


@pytest.fixture
def feed_states():
    """``set(symbol, last_tick_ms, active=True)`` writes a ticker's generator state in Redis."""
    r = get_redis()
    r.delete(KEYS.state)

    def put(symbol: str, last_tick_ms: int, active: bool = True) -> None:
        pk = Ticker.objects.get(symbol=symbol).pk
        r.hset(KEYS.state, str(pk), LiveState(1, last_tick_ms, 4.0, active).dumps())

    yield put
    r.delete(KEYS.state)


def _all_ticking(feed_states, at_ms: int) -> None:
    for symbol in ("ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH"):
        feed_states(symbol, at_ms)


def test_readyz_fails_when_an_active_ticker_has_no_new_tick_past_the_threshold(client, feed_states):
    now_ms = int(time.time() * 1000)
    _all_ticking(feed_states, now_ms)
    feed_states("SYNTH", now_ms - 10_101 - 500)  # 100 ms ticker: 10 s + its interval, passed
    feed_states("TECH", now_ms - 20_000)
    response = client.get(READYZ)
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False and body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    assert body["checks"]["generation"] == {
        "ok": False,
        "error": "no new tick for over 10 s: SYNTH, TECH",
        "stale_after_s": 10.0,
        "stale": ["SYNTH", "TECH"],
    }


def test_readyz_passes_within_the_threshold_and_for_paused_tickers(client, feed_states):
    now_ms = int(time.time() * 1000)
    _all_ticking(feed_states, now_ms - 8_000)  # 8 s old: within the default 10 s
    feed_states("ENERGY", now_ms - 600_000, active=False)  # deactivated: not a stale feed
    Ticker.objects.filter(symbol="ENERGY").update(is_active=False)
    response = client.get(READYZ)
    assert response.status_code == 200
    assert response.json()["checks"]["generation"]["stale"] == []


def test_the_threshold_is_the_documented_setting(client, feed_states):
    now_ms = int(time.time() * 1000)
    _all_ticking(feed_states, now_ms - 3_000)
    assert base.GENERATION_STALE_SECONDS == 10.0
    with override_settings(GENERATION_STALE_SECONDS=2):
        response = client.get(READYZ)
    assert response.status_code == 503
    assert response.json()["checks"]["generation"]["stale_after_s"] == 2
    assert client.get(READYZ).status_code == 200


def test_a_closed_market_is_never_stale(client, feed_states):
    now_ms = int(time.time() * 1000)
    _all_ticking(feed_states, now_ms - 60_000)
    with mock.patch("ticks.freshness.market_open", return_value=False):
        response = client.get(READYZ)
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_readyz_answers_503_within_2_s_when_the_database_hangs(client, feed_states):
    """A hung PostgreSQL answers no query (no server-side timeout can fire): the probe's read
    has a 1 s deadline. The feed is still checked, on the tickers last read."""
    now_ms = int(time.time() * 1000)
    _all_ticking(feed_states, now_ms)
    assert client.get(READYZ).status_code == 200  # the tickers are now known
    release = threading.Event()

    def hung():
        release.wait(15)
        return []

    try:
        with mock.patch("marketsite.health.active_feeds", side_effect=hung):
            started = time.monotonic()
            response = client.get(READYZ)
            elapsed = time.monotonic() - started
    finally:
        release.set()
    assert response.status_code == 503 and elapsed < 2.0
    body = response.json()
    assert body["checks"]["database"] == {
        "ok": False,
        "error": "DatabaseDeadlineExceeded: the database did not answer within 1 s",
    }
    assert body["checks"]["generation"]["ok"] is True


# --- Trading sessions: a closed calendar ticker is not unhealthy -----------------------------------


@pytest.mark.parametrize(
    "now,stale",
    [
        ((2026, 11, 26, 15), []),  # Thanksgiving: XNYS closed, its last ticks are from the close
        ((2026, 11, 27, 14, 30, 5), []),  # 5 s after the open: no tick due long enough
        ((2026, 11, 27, 15), ["SYNTH", "TECH"]),  # open for 30 minutes: late
        ((2026, 11, 28, 12), []),  # Saturday
    ],
)
def test_readyz_follows_the_calendar_of_each_ticker(client, settings, feed_states, now, stale):
    from datetime import UTC, datetime

    from testsupport.market_clock import market_at

    Ticker.objects.filter(symbol__in=["SYNTH", "TECH"]).update(calendar="XNYS")
    close_ms = int(datetime(2026, 11, 25, 21, tzinfo=UTC).timestamp() * 1000) - 100
    market_at(settings, datetime(*now, tzinfo=UTC))
    market_ms = int((time.time() + settings.MARKET_CLOCK_OFFSET_SECONDS) * 1000)
    for symbol in ("ENERGY", "FINANCE", "HEALTH"):  # 24/7: ticking now
        feed_states(symbol, market_ms - 500)
    feed_states("SYNTH", close_ms)
    feed_states("TECH", close_ms)
    response = client.get(READYZ)
    assert response.json()["checks"]["generation"]["stale"] == stale
    assert response.status_code == (503 if stale else 200)
