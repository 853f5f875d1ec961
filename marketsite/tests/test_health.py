"""/healthz (liveness) and /readyz (database and Redis readiness), also under the HTTPS redirect."""

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client, override_settings
from django.urls import reverse

from config.settings import base

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


def test_probes_are_exempt_from_the_https_redirect():
    assert base.SECURE_REDIRECT_EXEMPT == [r"^healthz$", r"^readyz$"]
    with override_settings(
        SECURE_SSL_REDIRECT=True, SECURE_REDIRECT_EXEMPT=base.SECURE_REDIRECT_EXEMPT
    ):
        client = Client()  # middleware is loaded on its first request, under these settings
        healthz = client.get(HEALTHZ)
        readyz = client.get(READYZ)
        login = client.get("/admin/login/")
        almost = client.get("/healthz/extra")
    assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})
    assert readyz.status_code == 200 and readyz.json()["ready"] is True
    assert login.status_code == 301
    assert login["Location"] == "https://testserver/admin/login/"
    # The exemption is anchored: only the probe paths themselves skip the redirect.
    assert almost.status_code == 301
    assert almost["Location"] == "https://testserver/healthz/extra"
