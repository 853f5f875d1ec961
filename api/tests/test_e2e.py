"""The API through a real daphne process (``testsupport.stack``), as clients reach it."""

import json
import os
import socket
import urllib.error
import urllib.request

import pytest
import redis
from django.db import connection

from testsupport.stack import Stack
from ticks.api_keys import api_key_create

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# The session's Redis: REDIS_URL, or the embedded Valkey the test session started.
REDIS_URL = os.environ["REDIS_URL"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Web:
    def __init__(self, port: int, key: str | None = None):
        self.base, self.key = f"http://127.0.0.1:{port}", key

    def get(self, path: str, *, key: bool = True, headers: dict | None = None):
        request = urllib.request.Request(self.base + path, headers=headers or {})
        if key and self.key:
            request.add_header("X-API-Key", self.key)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def json(self, path: str, **kwargs):
        status, headers, body = self.get(path, **kwargs)
        return status, headers, json.loads(body)


@pytest.fixture
def web():
    """daphne on a free port, API keys required, 40 requests a minute per key."""
    _, key = api_key_create(name="e2e")
    port = free_port()
    stack = Stack(
        database_url=database_url(),
        redis_url=REDIS_URL,
        web_port=port,
        env={
            "API_KEYS_REQUIRED": "true",
            "API_RATE_LIMIT_KEY": "40/minute",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        },
    )
    try:
        stack.start("web")
        client = Web(port, key)
        stack.wait_for(lambda: _answers(client), timeout=30, what="daphne answering")
        yield stack, client
    finally:
        stack.close()


def _answers(client: Web) -> bool:
    try:
        return client.get("/healthz", key=False)[0] == 200
    except OSError:
        return False


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_api_through_daphne(web, recent_ticks):
    stack, client = web
    r = redis.Redis.from_url(REDIS_URL)
    r.hset(
        f"{stack.redis_prefix}:quotes",
        "SYNTH",
        json.dumps(
            {
                "ticker": "SYNTH",
                "price": 152.34,
                "volume": 12500,
                "bid": 152.28,
                "ask": 152.4,
                "timestamp": 1705314645123,
                "seq": 7,
            }
        ),
    )

    status, headers, body = client.json("/api/v1/tickers", key=False)
    assert status == 401 and body["error"]["code"] == "authentication_required"

    status, headers, body = client.json("/api/v1/quote/synth")
    assert status == 200 and body["data"] == {
        "time": "2024-01-15T10:30:45.123Z",
        "ticker": "SYNTH",
        "price": "152.34",
        "volume": 12500,
        "bid": "152.28",
        "ask": "152.40",
        "seq": 7,
        "status": "trading",
    }
    assert headers["X-RateLimit-Limit"] == "40"

    status, _, body = client.json("/api/v1/history/SYNTH?limit=600")
    assert status == 200 and [row["seq"] for row in body["data"]] == list(range(600))

    status, headers, body = client.get("/api/v1/history/SYNTH?limit=600&format=csv")
    assert status == 200 and headers["Content-Type"] == "text/csv; charset=utf-8"
    assert body.decode().count("\r\n") == 601

    status, _, body = client.json("/api/v1/bars/SYNTH?timeframe=1m")
    assert status == 200 and body["meta"]["count"] == 10
    status, _, body = client.json("/api/v1/stats/SYNTH?period=1h")
    assert status == 200 and body["data"]["tick_count"] == 600

    status, _, body = client.json("/api/v1/nope")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _, body = client.json("/api/v1/bars/SYNTH?timeframe=2m")
    assert status == 400 and body["error"]["code"] == "invalid_timeframe"

    status, _, page = client.get("/api/v1/docs/", key=False)
    assert status == 200 and b"swagger-ui-bundle.js" in page
    asset = page.decode().split('src="')[1].split('"')[0]
    assert client.get(asset, key=False)[0] == 200

    statuses = [client.get("/api/v1/time")[0] for _ in range(40)]
    assert 429 in statuses
    status, headers, body = client.json("/api/v1/time")
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert headers["X-RateLimit-Remaining"] == "0" and body["error"]["code"] == "rate_limited"
    assert all(stack.alive().values()), stack.logs()
