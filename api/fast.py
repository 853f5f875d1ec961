"""Small, hot reads (quote, tickers, time) answered on daphne's event loop.

Under daphne a sync view costs a round trip from the loop to the request's thread and back, and
its rate-limit call to Redis blocks that thread: for a quote that is about as much again as the
whole view. An ``AsyncReadApi``'s GET is async. When the request needs nothing that blocks (no
session cookie, an API key the key cache already knows, a JSON answer), DRF's own steps run on
the loop as they are: content negotiation, authentication, permissions, the exception handler
and the envelope are plain computation, and the throttle's script is awaited on the loop's
asyncio Redis client. Every other request (the browsable API, staff sessions, a key not seen for
``api.keys.CACHE_SECONDS``, OPTIONS) runs DRF's ordinary dispatch in the request's thread with
the view's ``get_sync``, exactly like any other view; so does every request on a loop that is not
a serving loop (the test client's), where there is no asyncio Redis client to use.
"""

from inspect import isawaitable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import SynchronousOnlyOperation

from ticks.redis_store import async_redis

from .base import ApiView
from .directory import TickerInfo, directory
from .errors import unknown_ticker
from .renderers import ORJSONRenderer

FAST_METHODS = ("GET", "HEAD")


class _NeedsThread(Exception):
    """The request turned out to need blocking I/O: answer it in the request's thread."""


class AsyncReadApi(ApiView):
    _throttles_awaited = False  # set per instance (one per request) by the fast path

    async def get(self, request, *args, **kwargs):
        raise NotImplementedError

    def get_sync(self, request, *args, **kwargs):
        raise NotImplementedError

    def dispatch(self, request, *args, **kwargs):
        return self._dispatch(request, *args, **kwargs)  # a coroutine: the view is async

    async def _dispatch(self, request, *args, **kwargs):
        client = async_redis()
        if client is None or not self._may_be_fast(request):
            return await self._in_thread(request, *args, **kwargs)
        self.redis_client = client  # the loop's asyncio client, for the handlers too
        try:
            return await self._fast_dispatch(request, *args, **kwargs)
        except _NeedsThread:
            return await self._in_thread(request, *args, **kwargs)

    @staticmethod
    def _may_be_fast(request) -> bool:
        return (request.method in FAST_METHODS
                and settings.SESSION_COOKIE_NAME not in request.COOKIES)

    async def _in_thread(self, request, *args, **kwargs):
        return await sync_to_async(self._sync_dispatch)(request, *args, **kwargs)

    def _sync_dispatch(self, request, *args, **kwargs):
        self._throttles_awaited = False
        self.get = self.head = self.get_sync  # DRF's dispatch looks the handler up by name
        return super().dispatch(request, *args, **kwargs)

    async def _fast_dispatch(self, request, *args, **kwargs):
        """DRF's ``APIView.dispatch``, with the throttles and the handler awaited."""
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        self._throttles_awaited = True
        try:
            try:
                self.initial(request, *args, **kwargs)  # throttles skipped: awaited below
            except SynchronousOnlyOperation:  # authentication wanted the database
                raise _NeedsThread from None
            if not isinstance(request.accepted_renderer, ORJSONRenderer):
                raise _NeedsThread  # the browsable API renders templates
            await self._check_throttles_async(request)
            response = self.get(request, *args, **kwargs)
            if isawaitable(response):
                response = await response
        except _NeedsThread:
            raise
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def check_throttles(self, request):
        if not self._throttles_awaited:  # the sync path: DRF's own check
            super().check_throttles(request)

    async def _check_throttles_async(self, request) -> None:
        """DRF's ``check_throttles``, each throttle awaited."""
        durations = []
        for throttle in self.get_throttles():
            allowed = await throttle.allow_request_async(request, self, self.redis_client)
            if not allowed:
                durations.append(throttle.wait())
        if durations:
            known = [d for d in durations if d is not None]
            self.throttled(request, max(known, default=None))

    @staticmethod
    async def ticker_or_404(symbol: str) -> TickerInfo:
        """``api.base.ticker_or_404`` without blocking: the directory's cache, else a thread."""
        info = directory.cached(symbol)
        if info is None:
            info = await sync_to_async(directory.get)(symbol)
        if info is None:
            raise unknown_ticker(symbol)
        return info
