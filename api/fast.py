"""Small, hot reads (quote, tickers, time) answered on daphne's event loop.

Under daphne a sync view costs a round trip from the loop to the request's thread and back, and
its rate-limit call to Redis blocks that thread: for a quote that is about as much again as the
whole view. An ``AsyncReadApi``'s GET is async. When the request needs nothing that blocks (no
session cookie, an API key the key cache already knows, a JSON answer), DRF's own steps run on
the loop as they are and the throttle's script is awaited on the loop's asyncio Redis client
(``api.fenced.drf_dispatch``: DRF has no async dispatch). Every other request (the browsable
API, staff sessions, a key not seen for ``ticks.api_keys.CACHE_SECONDS``, OPTIONS), every request on
a loop that is not a serving loop (the test client's), and every request when
``FAST_HTTP_ASYNC_READS`` is off runs DRF's ordinary dispatch in the request's thread with the
view's ``get_sync``, exactly like any other view.
"""

from asgiref.sync import sync_to_async
from django.conf import settings

from ticks.redis_store import async_redis

from .base import ApiView
from .directory import TickerInfo, directory
from .errors import unknown_ticker
from .fenced.drf_dispatch import NeedsThread, dispatch_awaited
from .renderers import ORJSONRenderer

FAST_METHODS = ("GET", "HEAD")


class AsyncReadApi(ApiView):
    throttles_awaited = False  # set per instance (one per request) by the fast path

    async def get(self, request, *args, **kwargs):
        raise NotImplementedError

    def get_sync(self, request, *args, **kwargs):
        raise NotImplementedError

    def dispatch(self, request, *args, **kwargs):
        return self._dispatch(request, *args, **kwargs)  # a coroutine: the view is async

    async def _dispatch(self, request, *args, **kwargs):
        client = async_redis() if settings.FAST_HTTP_ASYNC_READS else None
        if client is None or not self._may_be_fast(request):
            return await self._in_thread(request, *args, **kwargs)
        self.redis_client = client  # the loop's asyncio client, for the handlers too
        try:
            return await dispatch_awaited(
                self, request, *args, json_renderer=ORJSONRenderer, client=client, **kwargs
            )
        except NeedsThread:
            return await self._in_thread(request, *args, **kwargs)

    @staticmethod
    def _may_be_fast(request) -> bool:
        return (
            request.method in FAST_METHODS and settings.SESSION_COOKIE_NAME not in request.COOKIES
        )

    async def _in_thread(self, request, *args, **kwargs):
        return await sync_to_async(self._sync_dispatch)(request, *args, **kwargs)

    def _sync_dispatch(self, request, *args, **kwargs):
        self.throttles_awaited = False
        # Django's View.dispatch calls the method named after the HTTP method (documented):
        # in a thread, that is the sync handler.
        self.get = self.head = self.get_sync
        return super().dispatch(request, *args, **kwargs)

    def check_throttles(self, request):
        if not self.throttles_awaited:  # the sync path: DRF's own check
            super().check_throttles(request)

    @staticmethod
    async def ticker_or_404(symbol: str) -> TickerInfo:
        """``api.base.ticker_or_404`` without blocking: the directory's cache, else a thread."""
        info = directory.cached(symbol)
        if info is None:
            info = await sync_to_async(directory.get)(symbol)
        if info is None:
            raise unknown_ticker(symbol)
        return info
