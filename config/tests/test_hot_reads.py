"""``config.hot_reads`` and the Django internals it drives (``config.fenced.django_handler``),
against the pinned Django: if one of these fails after an upgrade, set
``FAST_HTTP_HOT_READS=false`` until ``config/fenced/django_handler.py`` follows.

This module is also the URLconf of its requests (``URLCONF``): a view that records the thread it
ran on, one that raises, and a hot read whose ``prepare`` says yes or no."""

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


def recorded(request, symbol):
    RAN_ON.append(threading.get_ident())
    return HttpResponse(f"{symbol} {request.prepared}", content_type="application/json")


async def prepare(request, symbol):
    if symbol == "NO":
        return False
    await asyncio.sleep(0)  # the request's I/O
    request.prepared = "ready"
    return True


recorded.prepare = prepare


def fails(request):
    raise RuntimeError("boom")


async def prepare_fails(request):
    return True


fails.prepare = prepare_fails

urlpatterns = [
    path("api/v1/hot/<str:symbol>", recorded),
    path("api/v1/fails", fails),
]
handler500 = "api.errors.handler500"


class Ordinary:
    """The application behind: records what reached it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send):
        self.paths.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"ordinary"})


def serve(requests: list[tuple]) -> tuple[list[tuple], list[str], list[int]]:
    ordinary = Ordinary()
    app = HotReads(ordinary, urlconf=URLCONF)
    RAN_ON.clear()

    async def run():
        loop_thread = threading.get_ident()
        replies = [await asgi_request(app, *r) for r in requests]
        return replies, loop_thread

    replies, loop_thread = async_to_sync(run)()
    return replies, ordinary.paths, [ident == loop_thread for ident in RAN_ON]


@pytest.mark.django_db
def test_a_hot_read_runs_the_whole_middleware_chain_in_the_loops_thread():
    replies, ordinary, on_loop = serve([("GET", "/api/v1/hot/SYNTH", {"X-Request-ID": "abc-1"})])
    ((status, headers, body),) = replies
    assert (status, body) == (200, b"SYNTH ready")
    assert ordinary == [] and on_loop == [True]
    # What the settings' middleware add, each of them: request id, security, CSP, frames, CORS.
    assert headers["x-request-id"] == "abc-1"
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert "origin" in headers["vary"].lower()


@pytest.mark.django_db
def test_an_error_in_the_view_is_the_urlconfs_error_response():
    ((status, headers, body),) = serve([("GET", "/api/v1/fails", {})])[0]
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
            ("GET", "/api/v1/hot/SYNTH", {"Host": "evil.example.com"}),  # Django's 400
        ]
    )
    assert [reply[0] for reply in replies] == [299] * 6
    assert ordinary == [
        "GET /api/v1/hot/NO",
        "GET /api/v1/elsewhere",
        "POST /api/v1/hot/SYNTH",
        "HEAD /api/v1/hot/SYNTH",
        "GET /api/v1/hot/SYNTH",
        "GET /api/v1/hot/SYNTH",
    ]
    assert on_loop == []


@pytest.mark.django_db
def test_an_https_redirect_is_left_to_the_application_behind(settings):
    settings.SECURE_SSL_REDIRECT = True
    replies, ordinary, _ = serve([("GET", "/api/v1/hot/SYNTH", {})])
    assert replies[0][0] == 299 and ordinary == ["GET /api/v1/hot/SYNTH"]


def test_usable_only_with_a_chain_that_can_run_synchronously(settings):
    assert django_handler.usable()
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "config.tests.test_hot_reads.AsyncOnly"]
    assert not django_handler.usable()


class AsyncOnly:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
