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

A ``HotReadApi`` splits its GET in two, ``fetch`` (the read's I/O, awaited) and ``answer`` (the
response made from what was read, no I/O), so that the hot reads (``api.hot``) can do the I/O
before any middleware runs and make the answer inside the per-request ones.
"""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import SynchronousOnlyOperation

from ticks.live_reads import quote_location
from ticks.redis_store import async_redis

from .base import ApiView
from .directory import TickerInfo, directory
from .errors import unknown_ticker
from .fenced.drf_dispatch import NeedsThread, dispatch_awaited, finish, prepare_awaited
from .renderers import ORJSONRenderer
from .selectors import NOT_FETCHED

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


class HotReadApi(AsyncReadApi):
    """An ``AsyncReadApi`` whose GET is ``answer(fetch())``: ``fetch`` does the read's I/O
    (awaited on the loop; ``fetch_sync`` in a thread) and ``answer`` makes the response from
    what it read, without I/O. ``hot_prepare`` and ``hot_finish`` are the two halves of the
    fast dispatch around them, for ``api.hot``."""

    async def fetch(self, request, *args, **kwargs):
        raise NotImplementedError

    def fetch_sync(self, request, *args, **kwargs):
        raise NotImplementedError

    def answer(self, request, fetched, *args, **kwargs):
        raise NotImplementedError

    async def get(self, request, *args, **kwargs):
        return self.answer(request, await self.fetch(request, *args, **kwargs), *args, **kwargs)

    def get_sync(self, request, *args, **kwargs):
        return self.answer(request, self.fetch_sync(request, *args, **kwargs), *args, **kwargs)

    async def hot_prepare(self, request, *args, **kwargs) -> bool:
        """Everything of the fast dispatch up to and including ``fetch``, on the loop; False
        (and nothing done) when the request needs the ordinary path."""
        client = async_redis() if settings.FAST_HTTP_ASYNC_READS else None
        if client is None or not self._may_be_fast(request):
            return False
        self.redis_client = client
        try:
            self._hot = await prepare_awaited(
                self,
                request,
                *args,
                json_renderer=ORJSONRenderer,
                client=client,
                read=self.fetch,
                **kwargs,
            )
        except NeedsThread:
            return False
        return True

    def hot_finish(self, *args, **kwargs):
        """The response of a prepared request: ``answer`` (or the error envelope of what went
        wrong), finalized as DRF's dispatch does."""
        request, outcome = self._hot
        return finish(self, request, outcome, self.answer, *args, **kwargs)


async def without_blocking(read, *args):
    """``read(*args)`` (tickers named in a request, looked up in the directory) on the loop
    while the directory's cache is fresh, else in a thread; in a thread too when it turns out to
    need the database (an unknown symbol: Django refuses a query on a loop before running it)."""
    if directory.cached_all() is None:
        return await sync_to_async(read)(*args)
    try:
        return read(*args)
    except SynchronousOnlyOperation:
        return await sync_to_async(read)(*args)


def prefetched_records(request, tickers) -> dict | None:
    """The live records the rate limiter's round trip brought (``throttle_prefetch``), as
    ``alatest_ticks`` takes them: only for a request about one ticker; None when nothing was
    prefetched (then the read fetches them itself)."""
    raw = getattr(request, "prefetched", NOT_FETCHED)
    if raw is NOT_FETCHED or len(tickers) != 1:
        return None
    return {tickers[0].symbol: raw} if raw else {}


def symbol_prefetch(name: str):
    """A ``throttle_prefetch`` for views about the one ticker in their URL argument ``name``:
    its live record, read in the rate limiter's Redis round trip."""

    def prefetch(request, view):
        symbol = view.kwargs.get(name)
        return None if symbol is None else quote_location(symbol.strip().upper())

    return staticmethod(prefetch)
