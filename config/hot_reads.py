"""ASGI middleware: the hot reads (the routes of one URLconf, ``api.hot_urls``) answered on the
event loop, every other request passed on untouched (to Django's ASGI handler).

Under Django's ASGI handler a request hops to a worker thread for the middleware chain, back
to the loop for an async view, and back again, and the handler's signals and adaptations run
around it: for the live quote, about four times the work of the answer. A hot read instead:

1. ``await view.prepare(request, ...)`` (the view of the matching route, ``api.hot``): the
   request's I/O on the loop (authentication, the rate limit, the read), or False having done
   nothing, and the request goes the ordinary way;
2. the ordinary middleware chain and the view, in the loop's thread
   (``config.fenced.django_handler``): the answer from what was read, with everything the
   middleware adds.

Only GET requests without a body are tried, whose host is allowed and which need no HTTPS
redirect (so the chain will not answer for the view before reaching it). Switch:
``FAST_HTTP_HOT_READS`` (off: every request through Django's ASGI handler).
"""

import asyncio
import io
import logging

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.urls import Resolver404, resolve

from config.fenced.django_handler import LoopHandler, usable

logger = logging.getLogger(__name__)


def _without_body(scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.strip() != b"0":
            return False
        if name == b"transfer-encoding":
            return False
    return True


class HotReads:
    def __init__(self, app, *, urlconf: str) -> None:
        self.app = app
        self.urlconf = urlconf
        self._handler: LoopHandler | None = None
        self._usable: bool | None = None

    def _loop_handler(self) -> LoopHandler | None:
        if self._usable is None:
            self._usable = usable()
            if self._usable:
                self._handler = LoopHandler()
            else:
                logger.warning("hot reads off: a middleware cannot run synchronously")
        return self._handler

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope.get("root_path")
            and _without_body(scope)
        ):
            try:
                match = resolve(scope["path"], urlconf=self.urlconf)
            except Resolver404:
                match = None
            if match is not None and await self._serve(scope, match, send):
                return
        await self.app(scope, receive, send)

    async def _serve(self, scope, match, send) -> bool:
        handler = self._loop_handler()
        if handler is None:
            return False
        request = handler.request(scope, io.BytesIO())
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
        request.urlconf = self.urlconf
        response = handler.respond(request, scope)
        try:
            await handler.send_response(response, send)
        except asyncio.CancelledError:
            pass  # the client went away
        finally:
            response.close()
        return True
