"""Request ids and one access-log line per request."""

import logging
import re
import time
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from config.logging import request_id_var

logger = logging.getLogger("marketsite.requests")
# An upstream proxy's id is reused only if it looks like an id, never echoed blindly into logs.
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Tags every request with an id (``X-Request-ID``), logs it, returns it as a header.

    Both sync and async capable: under daphne a sync-only middleware in the chain would make
    Django hop between the event loop and a thread twice more per request.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self._acall(request)
        token, started = self._begin(request)
        try:
            return self._finish(request, self.get_response(request), started)
        finally:
            request_id_var.reset(token)

    async def _acall(self, request):
        token, started = self._begin(request)
        try:
            return self._finish(request, await self.get_response(request), started)
        finally:
            request_id_var.reset(token)

    @staticmethod
    def _begin(request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _VALID_ID.fullmatch(incoming) else uuid.uuid4().hex
        return request_id_var.set(request.request_id), time.perf_counter()

    @staticmethod
    def _finish(request, response, started):
        response["X-Request-ID"] = request.request_id
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return response


class SyncChainMiddleware:
    """Keeps Django's middleware chain in one thread under ASGI (listed last in MIDDLEWARE).

    Django's own middleware (sessions, CSRF, auth, ...) run in async mode by wrapping each
    ``process_request``/``process_response`` in ``sync_to_async``: some 30 thread hops per
    request under daphne. A sync-only middleware innermost makes the whole chain sync, so a
    request crosses threads a few times instead (our views are sync anyway).
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
