"""Django internal: its request handler driven on the event loop, its middleware chain loaded in
sync mode, for the hot reads (``config.hot_reads``).

Django documents ``get_asgi_application()`` and ``get_wsgi_application()``, not the handler
classes behind them. ``LoopHandler`` is Django's ``ASGIHandler`` with the middleware chain
loaded as Django's WSGI handler loads it (``BaseHandler.load_middleware(is_async=False)``) and
called as that handler calls it (``BaseHandler.get_response``): the whole chain (every entry of
``MIDDLEWARE``, each exception turned into its error response, ``process_view`` hooks, the
URLconf a request names in ``request.urlconf``) runs synchronously in the calling thread, here
the loop's, instead of in a worker thread. From ``ASGIHandler`` it uses ``create_request`` (the
``ASGIRequest`` of a scope) and ``send_response`` (a response as ASGI messages).

That is safe only for a chain with no blocking I/O on the requests given to it: ``config.hot_reads``
gives it GET requests without a session cookie whose I/O is done, and Django refuses any
database query on a loop (``SynchronousOnlyOperation``, answered as a 500, never a stall). A
middleware that is not ``sync_capable`` would need an event loop of its own: then ``usable()``
is False and the hot reads stay off.

Switch: ``FAST_HTTP_HOT_READS=false``. Contract test: ``config/tests/test_hot_reads.py``.
"""

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import set_script_prefix
from django.utils.module_loading import import_string


def usable() -> bool:
    """Every middleware can run synchronously."""
    return all(getattr(import_string(path), "sync_capable", True) for path in settings.MIDDLEWARE)


class LoopHandler(ASGIHandler):
    def __init__(self) -> None:  # not ASGIHandler's: that loads the chain in async mode
        self.load_middleware(is_async=False)

    def request(self, scope, body_file):
        """The ``ASGIRequest`` of ``scope``, or None when Django would refuse it outright."""
        request, _ = self.create_request(scope, body_file)
        return request

    def respond(self, request, scope):
        """``request`` through the middleware chain and the view, in this thread."""
        set_script_prefix(get_script_prefix(scope))
        response = self.get_response(request)
        response._handler_class = type(self)  # as ASGIHandler.run_get_response does
        return response
