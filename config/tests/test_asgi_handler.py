"""The HTTP application daphne serves: Django's handler, with request threads reused instead of
one thread started and joined per request (``FAST_HTTP_THREAD_REUSE``), and its loop marked as a
serving loop."""

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from django.core.asgi import get_asgi_application

from config import asgi_handler
from config.asgi_handler import OnServingLoop, ReusedRequestThreads
from marketsite.middleware import SyncChainMiddleware
from testsupport.asgi import asgi_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_threads(monkeypatch):
    """The thread each request's middleware chain (its sync code) ran on, in order."""
    seen = []
    real_call = SyncChainMiddleware.__call__

    def recording_call(self, request):
        seen.append(threading.current_thread().name)  # idents of joined threads are reused
        return real_call(self, request)

    monkeypatch.setattr(SyncChainMiddleware, "__call__", recording_call)
    return seen


def two_in_a_row(handler):
    async def two():
        return [
            await asgi_request(handler, "GET", "/healthz"),
            await asgi_request(handler, "GET", "/healthz"),
        ]

    return async_to_sync(two)()


def test_requests_one_after_another_reuse_one_thread(request_threads):
    handler = ReusedRequestThreads(get_asgi_application())
    first, second = two_in_a_row(handler)
    assert first[0] == second[0] == 200
    assert len(request_threads) == 2 and request_threads[0] == request_threads[1]
    assert request_threads[0] != threading.current_thread().name  # not the caller's
    assert len(handler._idle) == 1


def test_concurrent_requests_each_have_a_thread_of_their_own(monkeypatch):
    both_in = threading.Barrier(2, timeout=10)
    real_call = SyncChainMiddleware.__call__

    def waiting_call(self, request):
        both_in.wait()  # proves the two run at the same time, on two threads
        return real_call(self, request)

    monkeypatch.setattr(SyncChainMiddleware, "__call__", waiting_call)
    monkeypatch.setattr(asgi_handler, "IDLE_EXECUTORS_KEPT", 1)
    handler = ReusedRequestThreads(get_asgi_application())

    async def together():
        return await asyncio.gather(
            asgi_request(handler, "GET", "/healthz"), asgi_request(handler, "GET", "/healthz")
        )

    replies = async_to_sync(together)()
    assert [status for status, _, _ in replies] == [200, 200]
    assert len(handler._idle) == 1  # the second idle thread was shut down, not kept


def test_other_connection_types_are_refused_as_django_does():
    with pytest.raises(ValueError, match="only handle ASGI/HTTP connections, not lifespan"):
        async_to_sync(ReusedRequestThreads(get_asgi_application()))(
            {"type": "lifespan"}, None, None
        )


def test_the_serving_loop_hook_sees_each_loop_once():
    loops = []
    app = OnServingLoop(get_asgi_application(), loops.append)
    two_in_a_row(app)
    assert len(loops) == 1


@pytest.mark.parametrize("reuse", [True, False])
@pytest.mark.parametrize("hot", [True, False])
def test_daphne_serves_http_through_it_as_switched(settings, reuse, hot):
    from config.asgi import http_application
    from config.hot_reads import HotReads

    settings.FAST_HTTP_THREAD_REUSE = reuse
    settings.FAST_HTTP_HOT_READS = hot
    app = http_application()
    assert isinstance(app, OnServingLoop)
    inner = app.app
    assert isinstance(inner, HotReads) is hot  # the hot reads first, on the serving loop
    if hot:
        inner = inner.app
    assert isinstance(inner, ReusedRequestThreads) is reuse
