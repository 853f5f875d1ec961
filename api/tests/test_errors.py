"""The error envelope for every error Django or DRF answers: 404, 405, 406, 500, 503."""

import pytest
import redis
from django.db import OperationalError
from django.test import RequestFactory
from rest_framework import status

from api import errors, selectors, views

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope",
        "/api/v1/quote",
        "/api/v1/quote/SYNTH/x",
        "/api/",
        "/api/v2/tickers",
        "/api/v1/tickers//",
    ],
)
def test_unknown_paths_under_the_api(client, path):
    response = client.get(path)
    assert response.status_code == status.HTTP_404_NOT_FOUND
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "success": False,
        "error": {"code": "not_found", "message": "No such endpoint. The list is at /api/v1/."},
    }


def test_unknown_paths_elsewhere_keep_django_pages(client):
    response = client.get("/no-such-page")
    assert response.status_code == status.HTTP_404_NOT_FOUND
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_methods_other_than_get(client, method):
    response = getattr(client, method)(
        "/api/v1/quote/SYNTH", data="{}", content_type="application/json"
    )
    assert response.status_code == status.HTTP_405_METHOD_NOT_ALLOWED
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json() == {
        "success": False,
        "error": {
            "code": "method_not_allowed",
            "message": f"Method {method.upper()} is not allowed here; use GET.",
        },
    }


def test_an_unsatisfiable_accept_header(client):
    response = client.get("/api/v1/tickers", HTTP_ACCEPT="application/xml")
    assert response.status_code == status.HTTP_406_NOT_ACCEPTABLE
    assert response.json()["error"]["code"] == "not_acceptable"


def test_an_unexpected_error_is_a_500_envelope_without_a_trace(client, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "server_time", broken)
    response = client.get("/api/v1/time")
    assert response.status_code == status.HTTP_500_INTERNAL_SERVER_ERROR
    assert response.json() == {
        "success": False,
        "error": {"code": "internal_error", "message": "Internal error."},
    }
    assert b"secret" not in response.content and b"Traceback" not in response.content


def test_an_unreachable_database_is_a_503(client, monkeypatch):
    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(selectors, "tick_range", down)
    response = client.get("/api/v1/history/SYNTH")
    assert response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"


class DeadRedis:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise redis.ConnectionError("Redis is down")

        return fail


def test_without_redis_quotes_come_from_the_database_and_nothing_is_limited(
    client, recent_ticks, monkeypatch, settings
):
    settings.API_RATE_LIMIT_ANON = "1/minute"
    for module in ("ticks.live_reads", "api.throttling", "ticks.config_version"):
        monkeypatch.setattr(f"{module}.get_redis", lambda: DeadRedis())
    monkeypatch.setattr("api.throttling._gcra", lambda: DeadRedis().script)
    for _ in range(3):
        response = client.get("/api/v1/quote/SYNTH")
        assert response.status_code == status.HTTP_200_OK
        assert response.json()["meta"]["source"] == "database"


def test_a_malformed_live_quote_falls_back_to_the_database(client, recent_ticks):
    from ticks.live_store import KEYS
    from ticks.redis_store import get_redis

    get_redis().hset(KEYS.quotes, "SYNTH", b"{not json")
    assert client.get("/api/v1/quote/SYNTH").json()["meta"]["source"] == "database"


def test_django_handlers_answer_api_paths_with_the_envelope():
    request = RequestFactory().get("/api/v1/anything")
    response = errors.handler500(request)
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert errors.handler404(request, None).status_code == 404
    page = errors.handler500(RequestFactory().get("/dashboard"))
    assert page.status_code == 500 and not page["Content-Type"].startswith("application/json")


def test_a_bad_host_under_the_api_is_an_envelope(client):
    response = client.get("/api/v1/tickers", HTTP_HOST="evil.example")
    assert response.status_code == status.HTTP_400_BAD_REQUEST
    assert response.json() == {
        "success": False,
        "error": {"code": "bad_request", "message": "Bad request."},
    }


def test_the_root_urlconf_uses_the_handlers():
    from config import urls

    assert urls.handler400 == "api.errors.handler400"
    assert urls.handler404 == "api.errors.handler404"
    assert urls.handler500 == "api.errors.handler500"


def test_every_view_is_get_only():
    for view in (
        views.TickerListApi,
        views.QuoteDetailApi,
        views.HistoryListApi,
        views.BarListApi,
        views.StatsDetailApi,
        views.ServerTimeApi,
    ):
        assert {m for m in view.http_method_names if hasattr(view, m)} <= {"get", "options"}
