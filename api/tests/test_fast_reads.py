"""Quote, tickers and time answered on the serving event loop (``api.fast``): the same answers as
DRF's ordinary dispatch, the fast path taken only when nothing would block, and the ordinary
path for everything else.

The requests go through daphne's HTTP application (``config.asgi.http_application``) on one event loop, as under
daphne; their sync code runs on the handler's threads, so the data they read is committed
(``transaction=True``)."""

import time
from datetime import UTC, datetime

import orjson
import pytest

from api import fast
from ticks.api_keys import api_key_create
from ticks.market import from_ms
from ticks.models import Ticker

from .conftest import on_the_loop, set_live_quote, store_ticks

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

COMPARED_HEADERS = (
    "Content-Type",
    "Allow",
    "Vary",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "Retry-After",
    "WWW-Authenticate",
)


@pytest.fixture(autouse=True)
def fast_reads_on(settings):
    """These tests are of the shortcut itself: on, whatever the environment says."""
    settings.FAST_HTTP_ASYNC_READS = True


@pytest.fixture
def paths_taken(monkeypatch):
    """Which requests the views answered in a thread (DRF's ordinary dispatch)."""
    threaded = []
    real = fast.AsyncReadApi._sync_dispatch

    def recording(self, request, *args, **kwargs):
        threaded.append(f"{request.method} {request.get_full_path()}")
        return real(self, request, *args, **kwargs)

    monkeypatch.setattr(fast.AsyncReadApi, "_sync_dispatch", recording)
    return threaded


def comparable(reply: tuple) -> tuple:
    status, headers, body = reply
    kept = {name: headers.get(name.lower()) for name in COMPARED_HEADERS}
    if kept["X-RateLimit-Remaining"] is not None:
        kept["X-RateLimit-Remaining"] = "n"  # one more request was counted by then
    return status, kept, orjson.loads(body) if body else body


def test_the_fast_path_answers_as_the_ordinary_dispatch_does(settings, paths_taken, monkeypatch):
    settings.API_RATE_LIMIT_ANON = "1000/minute"
    set_live_quote(
        "SYNTH", price=151.2, bid=151.15, ask=151.25, volume=12, timestamp=1_767_225_600_123, seq=42
    )
    # One clock for both runs, so the quotes' meta.age_ms compare equal.
    monkeypatch.setattr("api.views.now", lambda: from_ms(1_767_225_601_123))
    # TECH: no live quote, the database has one tick.
    store_ticks("TECH", [(datetime(2026, 1, 1, tzinfo=UTC), "250.50", 3)])
    Ticker.objects.create(
        symbol="EMPTY",
        name="Empty",
        sector="Test",
        start_price="10.00",
        min_price="1.00",
        max_price="100.00",
        drift=0.0,
        volatility=0.2,
        tick_interval_ms=100,
    )
    cases = [
        ("GET", "/api/v1/quote/SYNTH", {}),
        ("GET", "/api/v1/quote/synth", {}),  # any case
        ("GET", "/api/v1/quote/TECH", {}),  # database fallback
        ("GET", "/api/v1/quote/EMPTY", {}),  # 404 no_data
        ("GET", "/api/v1/quote/NOPE", {}),  # 404 unknown_ticker
        ("GET", "/api/v1/quote/SYNTH?format=xml", {}),  # 406
        ("HEAD", "/api/v1/quote/SYNTH", {}),
        ("GET", "/api/v1/tickers", {}),
        ("GET", "/api/v1/quote/SYNTH", {"X-API-Key": "sm_not-a-key"}),  # 401 invalid_api_key
    ]
    fast_replies = on_the_loop(cases)
    # Only the invalid key needed the database (a key is looked up once, then cached).
    assert paths_taken == ["GET /api/v1/quote/SYNTH"]
    monkeypatch.setattr(fast.AsyncReadApi, "_may_be_fast", staticmethod(lambda request: False))
    slow_replies = on_the_loop(cases)
    assert len(paths_taken) == 1 + len(cases)
    for case, fast_reply, slow_reply in zip(cases, fast_replies, slow_replies):
        assert comparable(fast_reply) == comparable(slow_reply), case
    assert [reply[0] for reply in fast_replies] == [200, 200, 200, 404, 404, 406, 200, 200, 401]
    assert orjson.loads(fast_replies[0][2])["meta"] == {
        "ticker": "SYNTH",
        "source": "live",
        "age_ms": 1_000,
        "stale": False,
    }
    tech_meta = orjson.loads(fast_replies[2][2])["meta"]
    assert tech_meta == {
        "ticker": "TECH",
        "source": "database",
        "age_ms": tech_meta["age_ms"],
        "stale": tech_meta["stale"],
    }


def test_the_time_is_the_servers_clock():
    before = int(time.time() * 1000)
    ((status, _, body),) = on_the_loop([("GET", "/api/v1/time", {})])
    data = orjson.loads(body)["data"]
    assert status == 200 and before <= data["timestamp"] <= int(time.time() * 1000)


def test_what_may_block_goes_to_a_thread(paths_taken, settings):
    set_live_quote(
        "SYNTH", price=151.2, bid=151.15, ask=151.25, volume=12, timestamp=1_767_225_600_123, seq=42
    )
    replies = on_the_loop(
        [
            ("GET", "/api/v1/quote/SYNTH", {"Accept": "text/html"}),  # the browsable API
            ("GET", "/api/v1/quote/SYNTH", {"Cookie": f"{settings.SESSION_COOKIE_NAME}=abc"}),
            ("POST", "/api/v1/quote/SYNTH", {}),
            ("OPTIONS", "/api/v1/quote/SYNTH", {}),
            ("GET", "/api/v1/quote/SYNTH", {}),
        ]
    )
    assert [reply[0] for reply in replies] == [200, 200, 405, 200, 200]
    assert replies[0][1]["content-type"].startswith("text/html")
    assert paths_taken == [
        "GET /api/v1/quote/SYNTH",
        "GET /api/v1/quote/SYNTH",
        "POST /api/v1/quote/SYNTH",
        "OPTIONS /api/v1/quote/SYNTH",
    ]


def test_keys_and_rate_limits_on_the_fast_path(settings, paths_taken):
    settings.API_KEYS_REQUIRED = True
    settings.API_RATE_LIMIT_KEY = "2/minute"
    _, key = api_key_create(name="bot")
    with_key = {"X-API-Key": key}
    replies = on_the_loop(
        [
            ("GET", "/api/v1/tickers", {}),  # 401: a key is required
            ("GET", "/api/v1/tickers", with_key),  # looked up in a thread, then cached
            ("GET", "/api/v1/tickers", with_key),  # fast
            ("GET", "/api/v1/tickers", with_key),  # fast, and over the limit
        ]
    )
    assert [reply[0] for reply in replies] == [401, 200, 200, 429]
    assert orjson.loads(replies[0][2])["error"]["code"] == "authentication_required"
    assert replies[2][1]["x-ratelimit-remaining"] == "0"
    assert int(replies[3][1]["retry-after"]) >= 1
    assert orjson.loads(replies[3][2])["error"]["code"] == "rate_limited"
    assert paths_taken == ["GET /api/v1/tickers"]


def test_without_redis_the_fast_path_serves_from_the_database(settings, paths_taken):
    settings.API_RATE_LIMIT_ANON = "1000/minute"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    store_ticks("TECH", [(datetime(2026, 1, 1, tzinfo=UTC), "250.50", 3)])
    ((status, headers, body),) = on_the_loop([("GET", "/api/v1/quote/TECH", {})])
    assert status == 200 and orjson.loads(body)["meta"]["source"] == "database"
    assert "x-ratelimit-limit" not in headers  # not applied, logged
    assert paths_taken == []


def test_switched_off_every_request_takes_drfs_dispatch(settings, paths_taken):
    settings.FAST_HTTP_ASYNC_READS = False
    settings.API_RATE_LIMIT_ANON = "1000/minute"
    replies = on_the_loop([("GET", "/api/v1/tickers", {}), ("GET", "/api/v1/time", {})])
    assert [reply[0] for reply in replies] == [200, 200]
    assert paths_taken == ["GET /api/v1/tickers", "GET /api/v1/time"]
