"""The hot reads (``api.hot``, ``config.hot_reads``): the live quote and the dialects' latest trade
and quote answered on the event loop without Django's ASGI handler give exactly the answers of
the ordinary path (status, every header, body), count each request once against its rate limit
and log it once; whatever a hot read will not take goes the ordinary way untouched.

The requests go through daphne's HTTP application (``config.asgi.http_application``) on one event
loop, as under daphne, with the hot reads on and then off (``FAST_HTTP_HOT_READS``)."""

import logging
from datetime import UTC, datetime

import orjson
import pytest

from api import fast
from config.asgi import http_application
from ticks.api_keys import api_key_create
from ticks.market import from_ms
from ticks.models import Ticker

from .conftest import on_the_loop, set_live_quote, store_ticks

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

NOW_MS = 1_767_225_601_123


@pytest.fixture(autouse=True)
def hot_reads_on(settings):
    settings.FAST_HTTP_ASYNC_READS = True
    settings.FAST_HTTP_HOT_READS = True


@pytest.fixture
def hot_answers(monkeypatch):
    """The requests answered by a hot read (its second phase, inside the middleware chain)."""
    answered = []
    real = fast.HotReadApi.hot_finish

    def recording(self, *args, **kwargs):
        answered.append(f"{self.request.method} {self.request.get_full_path()}")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(fast.HotReadApi, "hot_finish", recording)
    return answered


@pytest.fixture
def market(monkeypatch):
    """SYNTH with a live quote, TECH with a stored tick only, EMPTY with nothing; one clock."""
    set_live_quote(
        "SYNTH", price=151.2, bid=151.15, ask=151.25, volume=12, timestamp=NOW_MS - 1000, seq=42
    )
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
    monkeypatch.setattr("api.views.now", lambda: from_ms(NOW_MS))


def comparable(reply: tuple) -> tuple:
    """Everything of an answer but what differs between any two requests: the request id
    (also in Massive's bodies), the count left of the rate limit, and the order of the
    Content-Security-Policy's directives (django-csp's own, per process)."""
    status, headers, body = reply
    headers = dict(headers)
    request_id = headers.pop("x-request-id")
    if "x-ratelimit-remaining" in headers:
        headers["x-ratelimit-remaining"] = "n"
    if "content-security-policy" in headers:
        headers["content-security-policy"] = sorted(
            part.strip() for part in headers["content-security-policy"].split(";")
        )
    text = body.decode().replace(request_id, "<request id>")
    return status, headers, orjson.loads(text) if text else text


CASES = [
    # the live quote
    ("GET", "/api/v1/quote/SYNTH", {}),
    ("GET", "/api/v1/quote/synth", {}),
    ("GET", "/api/v1/quote/TECH", {}),  # the database's newest tick
    ("GET", "/api/v1/quote/EMPTY", {}),  # 404 no_data
    ("GET", "/api/v1/quote/NOPE", {}),  # 404 unknown_ticker
    ("GET", "/api/v1/quote/SYNTH?format=xml", {}),  # 406
    ("GET", "/api/v1/quote/SYNTH", {"Origin": "https://charts.example.com"}),  # CORS
    # Alpaca
    ("GET", "/v2/stocks/SYNTH/trades/latest", {}),
    ("GET", "/v2/stocks/SYNTH/quotes/latest", {}),
    ("GET", "/v2/stocks/TECH/quotes/latest?feed=iex", {}),
    ("GET", "/v2/stocks/trades/latest?symbols=SYNTH,TECH,EMPTY", {}),
    ("GET", "/v2/stocks/quotes/latest?symbols=tech,SYNTH", {}),
    ("GET", "/v2/stocks/quotes/latest", {}),  # 400 missing symbols
    ("GET", "/v2/stocks/SYNTH/trades/latest?feed=otc", {}),  # 422
    ("GET", "/v2/stocks/EMPTY/trades/latest", {}),  # 404 no trades yet
    ("GET", "/v2/stocks/NOPE/quotes/latest", {}),  # 404 unknown symbol
    # Massive
    ("GET", "/v2/last/trade/SYNTH", {}),
    ("GET", "/v2/last/nbbo/SYNTH?apiKey=whatever", {}),  # a key looked up: the ordinary way
    ("GET", "/v2/last/nbbo/SYNTH?apiKey=whatever", {}),  # its answer cached now
    ("GET", "/v2/last/nbbo/TECH", {}),
    ("GET", "/v2/last/trade/EMPTY", {}),  # 404 no trades yet
    ("GET", "/v2/last/trade/NOPE", {}),  # 404 unknown ticker
]


def test_hot_reads_answer_as_the_ordinary_path_does(settings, market, hot_answers):
    """Twice each: the first answer of a route and status takes the whole middleware chain,
    the next ones what it added (``config.hot_reads``): both must be the ordinary answer."""
    settings.API_RATE_LIMIT_ANON = "1000/minute"
    settings.CORS_ALLOWED_ORIGINS = ["https://charts.example.com"]
    hot_twice = on_the_loop(CASES + CASES)
    hot, again = hot_twice[: len(CASES)], hot_twice[len(CASES) :]
    # Every one of them was a hot read (errors included: their envelopes are the views' own),
    # but for the key that had to be looked up in the database.
    expected = [f"{method} {path}" for method, path, _ in CASES]
    expected.remove("GET /v2/last/nbbo/SYNTH?apiKey=whatever")
    assert hot_answers == expected + [f"{method} {path}" for method, path, _ in CASES]
    settings.FAST_HTTP_HOT_READS = False
    ordinary = on_the_loop(CASES)
    assert len(hot_answers) == len(expected) + len(CASES)
    for case, first, second, ordinary_reply in zip(CASES, hot, again, ordinary):
        assert comparable(first) == comparable(ordinary_reply), case
        assert comparable(second) == comparable(ordinary_reply), case
    statuses = [reply[0] for reply in hot]
    quote_statuses = [200, 200, 200, 404, 404, 406, 200]
    alpaca_statuses = [200, 200, 200, 200, 200, 400, 422, 404, 404]
    massive_statuses = [200, 200, 200, 200, 404, 404]
    assert statuses == quote_statuses + alpaca_statuses + massive_statuses
    quote = orjson.loads(hot[0][2])
    assert quote["data"]["price"] == "151.20" and quote["meta"]["source"] == "live"
    assert orjson.loads(hot[2][2])["meta"]["source"] == "database"
    assert hot[6][1]["access-control-allow-origin"] == "https://charts.example.com"
    for _, headers, _ in hot:  # what the middleware adds is there
        assert headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in headers["content-security-policy"]
        assert len(headers["x-request-id"]) == 32
    massive = orjson.loads(hot[16][2])
    assert massive["status"] == "OK" and massive["request_id"] == hot[16][1]["x-request-id"]


def test_what_a_hot_read_will_not_take_goes_the_ordinary_way(settings, market, hot_answers):
    replies = on_the_loop(
        [
            ("GET", "/api/v1/quote/SYNTH", {"Accept": "text/html"}),  # the browsable API
            ("GET", "/api/v1/quote/SYNTH", {"Cookie": f"{settings.SESSION_COOKIE_NAME}=abc"}),
            ("GET", "/api/v1/quote/SYNTH", {"X-API-Key": "sm_not-a-key"}),  # looked up in the DB
            ("HEAD", "/api/v1/quote/SYNTH", {}),
            ("POST", "/api/v1/quote/SYNTH", {}),
            ("GET", "/api/v1/quote/SYNTH/", {}),  # the tolerated slash: not a hot route
            ("GET", "/api/v1/quote/SYNTH", {"Host": "evil.example.com"}),
            ("GET", "/api/v1/quote/SYNTH", {}),
        ]
    )
    assert [reply[0] for reply in replies] == [200, 200, 401, 200, 405, 200, 400, 200]
    assert replies[0][1]["content-type"].startswith("text/html")
    assert orjson.loads(replies[2][2])["error"]["code"] == "invalid_api_key"
    assert hot_answers == ["GET /api/v1/quote/SYNTH"]  # the last one only


def test_keys_and_rate_limits_count_once(settings, market, hot_answers):
    settings.API_KEYS_REQUIRED = True
    settings.API_RATE_LIMIT_KEY = "3/minute"
    _, key = api_key_create(name="bot")
    with_key = {"X-API-Key": key}
    replies = on_the_loop(
        [
            ("GET", "/api/v1/quote/SYNTH", {}),  # 401: a key is required
            ("GET", "/v2/last/trade/SYNTH", {"Authorization": f"Bearer {key}"}),  # looked up
            ("GET", "/api/v1/quote/SYNTH", with_key),  # the key is cached now: hot
            (
                "GET",
                "/v2/stocks/SYNTH/trades/latest",
                {"APCA-API-KEY-ID": key[:11], "APCA-API-SECRET-KEY": key},
            ),
            ("GET", "/api/v1/quote/SYNTH", with_key),  # over the limit (3 a minute)
        ]
    )
    assert [reply[0] for reply in replies] == [401, 200, 200, 200, 429]
    assert orjson.loads(replies[0][2])["error"]["code"] == "authentication_required"
    assert replies[0][1]["www-authenticate"] == 'Bearer realm="api"'
    assert [reply[1].get("x-ratelimit-remaining") for reply in replies[1:4]] == ["2", "1", "0"]
    assert orjson.loads(replies[4][2])["error"]["code"] == "rate_limited"
    assert int(replies[4][1]["retry-after"]) >= 1
    assert hot_answers == [
        "GET /api/v1/quote/SYNTH",
        "GET /api/v1/quote/SYNTH",
        "GET /v2/stocks/SYNTH/trades/latest",
        "GET /api/v1/quote/SYNTH",
    ]


def test_each_hot_read_is_logged_once_with_its_request_id(market, caplog, hot_answers):
    app = http_application()  # (Django's set-up configures logging again: caplog's handler after)
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    replies = on_the_loop(
        [
            ("GET", "/api/v1/quote/SYNTH", {"X-Request-ID": "bot-1.request-7"}),
            ("GET", "/v2/last/nbbo/SYNTH", {}),
        ],
        app,
    )
    assert len(hot_answers) == 2
    lines = [r for r in caplog.records if r.name == "marketsite.requests"]
    assert [line.getMessage() for line in lines] == [
        "GET /api/v1/quote/SYNTH 200",
        "GET /v2/last/nbbo/SYNTH 200",
    ]
    assert [line.request_id for line in lines] == [
        "bot-1.request-7",
        replies[1][1]["x-request-id"],
    ]
    assert replies[0][1]["x-request-id"] == "bot-1.request-7"


def test_switched_off_nothing_is_a_hot_read(settings, market, hot_answers):
    settings.FAST_HTTP_HOT_READS = False
    assert [r[0] for r in on_the_loop([("GET", "/api/v1/quote/SYNTH", {})])] == [200]
    settings.FAST_HTTP_HOT_READS = True
    settings.FAST_HTTP_ASYNC_READS = False  # the hot reads need the async reads
    assert [r[0] for r in on_the_loop([("GET", "/v2/last/trade/SYNTH", {})])] == [200]
    assert hot_answers == []
