"""``config.hot_reads`` and the Django internals it drives (``config.fenced.django_handler``),
against the pinned Django: if one of these fails after an upgrade, set
``FAST_HTTP_HOT_READS=false`` until ``config/fenced/django_handler.py`` follows.

This module is also the URLconf of its requests (``URLCONF``): hot reads whose ``prepare`` says
yes or no and whose ``finish`` answers, fails or records the thread it ran on."""

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponse
from django.urls import path

from config.fenced import django_handler
from config.hot_reads import HotReads
from testsupport.asgi import asgi_request

URLCONF = __name__
RAN_ON: list[int] = []
CALLS: list[str] = []


async def prepare(request, symbol=None):
    if symbol == "NO":
        return False
    await asyncio.sleep(0)  # the request's I/O
    request.prepared = "ready"
    return True


def finish(request, symbol=None):
    RAN_ON.append(threading.get_ident())
    if symbol == "FAIL":
        raise RuntimeError("boom")
    status = 404 if symbol == "MISSING" else 200
    request.hot_response = HttpResponse(
        f"{symbol} {request.prepared}", content_type="application/json", status=status
    )
    return request.hot_response


def hot(request, symbol=None):
    return request.hot_response


hot.prepare = prepare
hot.finish = finish

urlpatterns = [path("api/v1/hot/<str:symbol>", hot)]
handler500 = "api.errors.handler500"


class Counting:
    """A middleware that adds a fixed header, and counts its calls."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        CALLS.append(request.path)
        response = self.get_response(request)
        response["X-Counted"] = "yes"
        return response


class Ordinary:
    """The application behind: records what reached it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send):
        self.paths.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"ordinary"})


@pytest.fixture(autouse=True)
def counted(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "config.tests.test_hot_reads.Counting"]
    CALLS.clear()
    RAN_ON.clear()


def serve(requests: list[tuple]) -> tuple[list[tuple], list[str], list[bool]]:
    ordinary = Ordinary()
    app = HotReads(ordinary, urlconf=URLCONF)

    async def run():
        loop_thread = threading.get_ident()
        replies = [await asgi_request(app, *r) for r in requests]
        return replies, loop_thread

    replies, loop_thread = async_to_sync(run)()
    return replies, ordinary.paths, [ident == loop_thread for ident in RAN_ON]


@pytest.mark.django_db
def test_the_first_answer_takes_the_whole_chain_the_next_ones_what_it_added():
    replies, ordinary, on_loop = serve(
        [("GET", "/api/v1/hot/SYNTH", {"X-Request-ID": "abc-1"})] * 2
        + [("GET", "/api/v1/hot/TECH", {})] * 2
    )
    assert ordinary == [] and on_loop == [True] * 4
    assert [body for _, _, body in replies] == [b"SYNTH ready"] * 2 + [b"TECH ready"] * 2
    assert CALLS == ["/api/v1/hot/SYNTH"]  # once for the route: then its headers are known
    first = replies[0][1]
    for _, headers, body in replies:
        # What the settings' middleware add: request id (every time), security, CSP, frames,
        # CORS's Vary, ours; the length of each body.
        assert set(headers) == set(first)
        assert headers["x-counted"] == "yes" and headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "origin" in headers["vary"].lower()
        assert headers["content-length"] == str(len(body))
    assert [headers["x-request-id"] for _, headers, _ in replies[:2]] == ["abc-1", "abc-1"]
    assert len({headers["x-request-id"] for _, headers, _ in replies[2:]}) == 2


@pytest.mark.django_db
def test_each_status_and_every_origin_takes_the_whole_chain_first():
    replies, _, _ = serve(
        [
            ("GET", "/api/v1/hot/SYNTH", {}),
            ("GET", "/api/v1/hot/MISSING", {}),  # another status: the chain again
            ("GET", "/api/v1/hot/MISSING", {}),
            ("GET", "/api/v1/hot/SYNTH", {"Origin": "https://elsewhere.example.com"}),
            ("GET", "/api/v1/hot/SYNTH", {"Origin": "https://elsewhere.example.com"}),
        ]
    )
    assert [status for status, _, _ in replies] == [200, 404, 404, 200, 200]
    assert replies[2][1]["x-counted"] == "yes"
    assert CALLS == ["/api/v1/hot/SYNTH", "/api/v1/hot/MISSING"] + ["/api/v1/hot/SYNTH"] * 2


@pytest.mark.django_db
def test_an_error_in_the_view_is_the_urlconfs_error_response():
    ((status, headers, body),) = serve([("GET", "/api/v1/hot/FAIL", {})])[0]
    assert status == 500
    assert b'"code":"internal_error"' in body and "x-request-id" in headers


@pytest.mark.django_db
def test_everything_else_reaches_the_application_behind_untouched():
    replies, ordinary, on_loop = serve(
        [
            ("GET", "/api/v1/hot/NO", {}),  # prepare said no
            ("GET", "/api/v1/elsewhere", {}),  # not a hot route
            ("POST", "/api/v1/hot/SYNTH", {}),
            ("HEAD", "/api/v1/hot/SYNTH", {}),
            ("GET", "/api/v1/hot/SYNTH", {"Content-Length": "3"}),  # a body
            ("GET", "/api/v1/hot/SYNTH", {"Cookie": "a=b"}),
            ("GET", "/api/v1/hot/SYNTH", {"Host": "evil.example.com"}),  # Django's 400
        ]
    )
    assert [reply[0] for reply in replies] == [299] * 7
    assert ordinary == [
        "GET /api/v1/hot/NO",
        "GET /api/v1/elsewhere",
        "POST /api/v1/hot/SYNTH",
        "HEAD /api/v1/hot/SYNTH",
        "GET /api/v1/hot/SYNTH",
        "GET /api/v1/hot/SYNTH",
        "GET /api/v1/hot/SYNTH",
    ]
    assert on_loop == [] and CALLS == []


@pytest.mark.django_db
def test_an_https_redirect_is_left_to_the_application_behind(settings):
    settings.SECURE_SSL_REDIRECT = True
    replies, ordinary, _ = serve([("GET", "/api/v1/hot/SYNTH", {})])
    assert replies[0][0] == 299 and ordinary == ["GET /api/v1/hot/SYNTH"]


def test_usable_only_with_a_chain_that_can_run_synchronously(settings):
    assert django_handler.usable()
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "config.tests.test_hot_reads.AsyncOnly"]
    assert not django_handler.usable()


def test_the_per_request_middleware_are_middleware_in_their_order(settings):
    """``HOT_READS_MIDDLEWARE``: entries of ``MIDDLEWARE``, in its order."""
    positions = [settings.MIDDLEWARE.index(path) for path in settings.HOT_READS_MIDDLEWARE]
    assert positions == sorted(positions)
    assert "marketsite.middleware.RequestIdMiddleware" in settings.HOT_READS_MIDDLEWARE


class AsyncOnly:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
