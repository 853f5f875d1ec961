"""Request ids, one access-log line and one latency observation (ticks.metrics) per request; NUL
bytes refused before anything reads them."""

import logging
import re
import time
import uuid

from django.core.exceptions import BadRequest

from ticks import metrics

from .request_context import request_id_var

logger = logging.getLogger("marketsite.requests")
# An upstream proxy's id is reused only if it looks like an id, never echoed blindly into logs.
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def route_name(request) -> str | None:
    """The URL pattern that served ``request``, for the latency metric: its name
    (``api:quote``), or, for an unnamed one, the pattern itself; None when none matched. (The
    hot reads, which do not resolve through it, set ``request.route_name`` to the same name.)"""
    named = getattr(request, "route_name", None)
    if named is not None:
        return named
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    return match.view_name if match.url_name else match.route


class RequestIdMiddleware:
    """Tags every request with an id (``X-Request-ID``), logs it, returns it as a header, and
    records its latency by route and status (``ticks.metrics``).

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
            elapsed = time.perf_counter() - started
            metrics.http_request(route_name(request), response.status_code, elapsed)
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
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            return response
        finally:
            request_id_var.reset(token)


NUL = "\x00"
# The API validates its own parameters and names the bad one in its error envelope
# (``invalid_date``, ``unknown_ticker`` ...): its query strings and paths are left to it.
API_PREFIX = "/api/"


def _has_nul(query) -> bool:
    """True when a key or a value of a ``QueryDict`` holds a NUL byte."""
    return any(
        NUL in name or any(NUL in value for value in values) for name, values in query.lists()
    )


class NulByteMiddleware:
    """Answers 400 (``BadRequest``, rendered by ``handler400``) to a request whose path, query
    string, form fields or cookies hold a NUL byte, before any view, filter, search or form hands
    the value to PostgreSQL, which refuses it in text with an error (a 500 otherwise).

    A NUL is never meaningful in this service's input, so refusing the request changes nothing
    that a valid request could mean. Cookies are checked on every path (the session middleware
    looks the session key up in the database); paths, query strings and forms everywhere but
    under ``/api/`` (see ``API_PREFIX``). File uploads are not read here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any(NUL in name or NUL in value for name, value in request.COOKIES.items()):
            raise BadRequest("A cookie holds a NUL byte.")
        if not request.path.startswith(API_PREFIX):
            if NUL in request.path:
                raise BadRequest("The path holds a NUL byte.")
            if _has_nul(request.GET):
                raise BadRequest("A query parameter holds a NUL byte.")
            if request.method == "POST" and _has_nul(request.POST):
                raise BadRequest("A form field holds a NUL byte.")
        return self.get_response(request)


class SyncChainMiddleware:
    """Keeps Django's middleware chain in one thread under ASGI (listed last in MIDDLEWARE).

    Django's own middleware (sessions, CSRF, auth, ...) run in async mode by wrapping each
    ``process_request``/``process_response`` in ``sync_to_async``: some 30 thread hops per
    request under daphne. A sync-only middleware innermost makes the whole chain sync, so a
    request crosses threads a few times instead (our views are sync anyway). Public API only:
    the ``sync_capable``/``async_capable`` flags, and Django's documented adaptation (a
    middleware capable of both is called in the mode of the ``get_response`` it is given).
    """

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
