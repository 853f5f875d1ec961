"""Request ids and one access-log line per request."""

import logging
import re
import time
import uuid

from config.logging import request_id_var

logger = logging.getLogger("marketsite.requests")
# An upstream proxy's id is reused only if it looks like an id, never echoed blindly into logs.
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Tags every request with an id (``X-Request-ID``), logs it, returns it as a header.

    Sync only, like the rest of the chain under daphne (see ``SyncChainMiddleware``).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
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
        finally:
            request_id_var.reset(token)


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
