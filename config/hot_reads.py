"""ASGI middleware: the hot reads (the routes of one URLconf, ``api.hot_urls``) answered in the
event loop's thread, every other request passed on untouched (to Django's ASGI handler).

Under Django's ASGI handler a request hops to a worker thread for the middleware chain, back
to the loop for an async view, and back again, with the handler's signals around it; and the
whole ``MIDDLEWARE`` chain costs about as much again as the quote itself. A hot read instead:

1. ``await view.prepare(request, ...)`` (the view of the matching route, ``api.hot``): the
   request's I/O on the loop (authentication, the rate limit, the read), or False having done
   nothing, and the request goes the ordinary way;
2. ``HOT_READS_MIDDLEWARE`` (the middleware that act on each request: its id and access
   line), around
3. ``view.finish(request, ...)``: the view's answer, and what the rest of ``MIDDLEWARE`` adds to
   it: the first answer of each route, scheme and status in this process goes through those
   middleware, and the headers they added, changed or removed are kept for that route, scheme
   and status; the next answers get them without the calls (``Content-Length`` recomputed). A
   request with an ``Origin`` (CORS answers per origin) always goes through them.

What those middleware give an answer without cookies or ``Origin`` depends only on the
settings, the route, the scheme and the status (security headers, Content-Security-Policy,
frame options, ``Vary``); ``api/tests/test_hot_reads.py`` checks every header and body against
the ordinary path's. The middleware run in the loop's thread (``config.fenced.django_handler``).

Only GET requests without a body or cookies are tried, whose host is allowed and which need no
HTTPS redirect (the chain would answer for the view). Switch: ``FAST_HTTP_HOT_READS`` (off:
every request through Django's ASGI handler).
"""

import asyncio
import io
import logging

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.urls import Resolver404, resolve, set_urlconf

from config.fenced.django_handler import Transport, chain, usable

logger = logging.getLogger(__name__)


class MiddlewarePart:
    """What middleware did to an answer: the headers they set or changed, the ones they
    removed, whether they gave it a length."""

    def __init__(self, before, after) -> None:
        old = {name.lower(): value for name, value in before.items()}
        new = {name.lower(): (name, value) for name, value in after.items()}
        self.set = {
            name: value
            for key, (name, value) in new.items()
            if old.get(key) != value and key != "content-length"
        }
        self.removed = [name for name in before if name.lower() not in new]
        self.length = "content-length" in new

    def apply(self, response):
        for name, value in self.set.items():
            response[name] = value
        for name in self.removed:
            del response[name]
        if self.length and not response.streaming:
            response["Content-Length"] = str(len(response.content))
        return response


def _plain(scope) -> bool:
    """A GET without a body or cookies, at the root path."""
    if scope["method"] != "GET" or scope.get("root_path"):
        return False
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.strip() != b"0":
            return False
        if name in (b"transfer-encoding", b"cookie"):
            return False
    return True


class HotReads:
    def __init__(self, app, *, urlconf: str) -> None:
        self.app = app
        self.urlconf = urlconf
        self._ready: bool | None = None
        self._parts: dict[tuple, MiddlewarePart] = {}
        self._route_names: dict[str, str] = {}

    def _set_up(self) -> bool:
        if self._ready is None:
            self._ready = usable()
            if not self._ready:
                logger.warning("hot reads off: a middleware cannot run synchronously")
                return False
            per_request = list(settings.HOT_READS_MIDDLEWARE)
            self.transport = Transport()
            self.per_request = chain(per_request, self._answer)
            self.others = chain(
                [path for path in settings.MIDDLEWARE if path not in per_request],
                lambda request: request.hot_response,
            )
        return self._ready

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and _plain(scope):
            try:
                match = resolve(scope["path"], urlconf=self.urlconf)
            except Resolver404:
                match = None
            if match is not None and await self._serve(scope, match, send):
                return
        await self.app(scope, receive, send)

    async def _serve(self, scope, match, send) -> bool:
        if not self._set_up():
            return False
        request = self.transport.request(scope, io.BytesIO())
        if request is None:
            return False
        try:
            request.get_host()
        except DisallowedHost:
            return False
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            return False
        if not await match.func.prepare(request, *match.args, **match.kwargs):
            return False
        request.hot_match = match
        request.route_name = self._route_name(match.route, request.path_info)
        set_urlconf(self.urlconf)  # its error handlers, for an exception in a middleware
        try:
            response = self.per_request(request)
        finally:
            set_urlconf(None)
        try:
            await self.transport.send(response, send)
        except asyncio.CancelledError:
            pass  # the client went away
        finally:
            response.close()
        return True

    def _route_name(self, route: str, path: str) -> str:
        """The name the ordinary URLconf gives this hot route (``api:quote``), for the latency
        metric: resolved once per route."""
        name = self._route_names.get(route)
        if name is None:
            try:
                ordinary = resolve(path, urlconf=settings.ROOT_URLCONF)
                name = ordinary.view_name if ordinary.url_name else ordinary.route
            except Resolver404:
                name = route
            self._route_names[route] = name
        return name

    def _answer(self, request):
        """The view's answer with the rest of the middleware's part (inside
        ``HOT_READS_MIDDLEWARE``)."""
        match = request.hot_match
        answer = match.func.finish(request, *match.args, **match.kwargs)
        if "HTTP_ORIGIN" in request.META:
            return self.others(request)
        key = (match.route, request.is_secure(), answer.status_code)
        part = self._parts.get(key)
        if part is not None:
            return part.apply(answer)
        before = dict(answer.items())
        response = self.others(request)
        if response is answer:
            self._parts[key] = MiddlewarePart(before, dict(response.items()))
        return response
