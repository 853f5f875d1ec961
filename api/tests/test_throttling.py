"""Rate limits per key or per IP on Redis: 429 with Retry-After and the X-RateLimit headers."""

import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework import status

from api.apps import check_rate_limits
from api.throttling import parse_rate
from ticks.api_keys import api_key_create

pytestmark = pytest.mark.django_db


def test_a_client_over_its_limit_gets_429(client, settings):
    settings.API_RATE_LIMIT_ANON = "3/minute"
    remaining = []
    for _ in range(3):
        response = client.get("/api/v1/time")
        assert response.status_code == status.HTTP_200_OK
        assert response["X-RateLimit-Limit"] == "3"
        remaining.append(response["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    response = client.get("/api/v1/quote/SYNTH")
    assert response.status_code == status.HTTP_429_TOO_MANY_REQUESTS
    assert 1 <= int(response["Retry-After"]) <= 20  # one request's worth: 60 s / 3
    assert response["X-RateLimit-Remaining"] == "0"
    assert response.json() == {
        "success": False,
        "error": {
            "code": "rate_limited",
            "message": f"Too many requests; retry in {response['Retry-After']} s.",
        },
    }


def test_the_limit_refills_smoothly(client, settings):
    """30 a minute: a burst of 30, then one request every 2 s (no reset at a window edge)."""
    settings.API_RATE_LIMIT_ANON = "30/minute"
    statuses = [client.get("/api/v1/time").status_code for _ in range(31)]
    assert statuses == [200] * 30 + [429]
    time.sleep(2.1)
    assert [client.get("/api/v1/time").status_code for _ in range(2)] == [200, 429]


def test_keys_and_addresses_have_their_own_budgets(client, settings):
    settings.API_RATE_LIMIT_ANON = "1/minute"
    settings.API_RATE_LIMIT_KEY = "2/minute"
    _, first = api_key_create(name="one")
    _, second = api_key_create(name="two")
    assert client.get("/api/v1/time").status_code == 200
    assert client.get("/api/v1/time").status_code == 429
    assert client.get("/api/v1/time", REMOTE_ADDR="10.0.0.2").status_code == 200
    for key in (first, second):
        got = [client.get("/api/v1/time", HTTP_X_API_KEY=key).status_code for _ in range(3)]
        assert got == [200, 200, 429]
    response = client.get("/api/v1/time", HTTP_AUTHORIZATION=f"Bearer {first}")
    assert response["X-RateLimit-Limit"] == "2"


def test_a_forged_forwarded_for_does_not_escape_the_limit(client, settings):
    settings.API_RATE_LIMIT_ANON = "1/minute"
    assert client.get("/api/v1/time", HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 200
    assert client.get("/api/v1/time", HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429


def test_behind_a_proxy_the_forwarded_client_counts(client, settings):
    settings.API_RATE_LIMIT_ANON = "1/minute"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert client.get("/api/v1/time", HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 200
    assert client.get("/api/v1/time", HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 200
    assert client.get("/api/v1/time", HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429


def test_an_empty_rate_is_unlimited(client, settings):
    settings.API_RATE_LIMIT_ANON = ""
    response = client.get("/api/v1/time")
    assert response.status_code == 200 and "X-RateLimit-Limit" not in response


@pytest.mark.parametrize(
    "rate, parsed",
    [
        ("600/minute", (600, 60_000)),
        ("5/s", (5, 1_000)),
        ("10/hour", (10, 3_600_000)),
        ("1/day", (1, 86_400_000)),
        ("", None),
    ],
)
def test_rates(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["600", "x/minute", "10/fortnight", "0/minute", "-1/s"])
def test_malformed_rates_stop_start_up(rate, settings):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(rate)
    settings.API_RATE_LIMIT_KEY = rate
    assert [e.id for e in check_rate_limits()] == ["api.E001"]


def test_the_quote_rides_on_the_limiter_round_trip_or_comes_alone(client, settings):
    from .conftest import set_live_quote

    set_live_quote("SYNTH", price=1.5, bid=1.4, ask=1.6, volume=3, timestamp=0, seq=1)
    for rate in ("100/minute", ""):
        settings.API_RATE_LIMIT_ANON = rate
        body = client.get("/api/v1/quote/SYNTH").json()
        assert body["meta"]["source"] == "live" and body["data"]["price"] == "1.50"


def test_rejections_are_counted_by_the_limit_that_refused_them(client, settings):
    from prometheus_client import REGISTRY

    def rejected(limit: str) -> float:
        return (
            REGISTRY.get_sample_value("market_rate_limit_rejections_total", {"limit": limit}) or 0
        )

    settings.API_RATE_LIMIT_ANON = "1/minute"
    settings.API_RATE_LIMIT_KEY = "1/minute"
    _, key = api_key_create(name="counted")
    anon, keyed = rejected("anon"), rejected("key")
    statuses = [client.get("/api/v1/time").status_code for _ in range(3)]
    statuses += [client.get("/api/v1/time", HTTP_X_API_KEY=key).status_code for _ in range(2)]
    assert statuses == [200, 429, 429, 200, 429]
    assert (rejected("anon") - anon, rejected("key") - keyed) == (2, 1)
