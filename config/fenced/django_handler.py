"""Django internals: its ASGI request and response plumbing, and middleware chains built as its
handler builds them, for the hot reads (``config.hot_reads``), in the event loop's thread.

Django documents ``get_asgi_application()``, not the ``ASGIHandler`` class behind it, nor the
``convert_exception_to_response`` wrapper its handlers put around each middleware. From them:

- ``ASGIHandler.create_request``: the ``ASGIRequest`` of a scope (None where Django would answer
  400 or 413 itself); ``ASGIHandler.send_response``: a response as ASGI messages (headers,
  cookies, body chunks);
- ``chain(paths, respond)``: the middleware of ``paths`` (entries of ``MIDDLEWARE``, in that
  order) around ``respond(request)``, each called with the next one (Django's documented
  middleware factory protocol, in sync mode) and wrapped in ``convert_exception_to_response``
  (an exception becomes the URLconf's error response, as in Django's own chain).

A chain runs synchronously in the calling thread, here the loop's: that is safe only for
middleware with no blocking I/O on the requests given to it (``config.hot_reads`` gives GET
requests without cookies, whose I/O is done; Django refuses any database query on a loop with
``SynchronousOnlyOperation``, answered as a 500, never a stall). A middleware that is not
``sync_capable`` would need an event loop of its own: then ``usable()`` is False and the hot
reads stay off.

Switch: ``FAST_HTTP_HOT_READS=false``. Contract test: ``config/tests/test_hot_reads.py``.
"""

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.urls import set_script_prefix
from django.utils.module_loading import import_string


def usable() -> bool:
    """Every middleware can run synchronously."""
    return all(getattr(import_string(path), "sync_capable", True) for path in settings.MIDDLEWARE)


class Transport(ASGIHandler):
    """ASGI in and out, without a middleware chain of its own."""

    def __init__(self) -> None:  # not ASGIHandler's: that loads the chain (async mode)
        pass

    def request(self, scope, body_file):
        """The ``ASGIRequest`` of ``scope``, or None when Django would refuse it outright."""
        request, _ = self.create_request(scope, body_file)
        if request is not None:
            set_script_prefix(get_script_prefix(scope))
        return request

    async def send(self, response, send) -> None:
        response._handler_class = ASGIHandler  # as ASGIHandler.run_get_response does
        await self.send_response(response, send)


def chain(paths, respond):
    """The middleware of ``paths`` around ``respond(request)``: a ``get_response(request)``."""
    handler = convert_exception_to_response(respond)
    for path in reversed(paths):
        try:
            middleware = import_string(path)(handler)
        except MiddlewareNotUsed:
            continue
        handler = convert_exception_to_response(middleware)
    return handler
