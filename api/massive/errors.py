"""Every error of the Massive dialect in Massive's form: the right status and ``{"status":
"ERROR", "request_id": ..., "error": "...", "message": "..."}``, never a stack trace.

Massive writes the text under ``error`` for most errors and under ``message`` for some (not
found, not authorized); we write both, the same text, so a client reading either finds it.
``status`` is ``NOT_FOUND`` on a 404, ``NOT_AUTHORIZED`` on a 403, ``ERROR`` otherwise; a 429
and a 503 carry ``Retry-After`` (the ``massive`` client retries both, waiting as told).
``request_id`` is the request's id (``X-Request-ID``). ``exception_handler`` is the DRF hook of
the views; ``json_error`` answers for Django's own 400/404/500 handlers (``api.errors``) under
the dialect's paths (``PREFIXES``).
"""

import logging
import math
import uuid

import orjson
import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

#: The paths of the Massive dialect (``api.massive.urls``); the rest of ``/v2/`` is Alpaca's.
PREFIXES = ("/v1/", "/v3/", "/v2/aggs/", "/v2/last/", "/v2/snapshot/")

NO_KEY = "API Key was not provided"
UNKNOWN_KEY = "Unknown API Key"


class MassiveError(exceptions.APIException):
    """An error with its status and message."""

    def __init__(self, status_code: int, message: str):
        super().__init__(detail=message)
        self.status_code = status_code


def bad_request(message: str) -> MassiveError:
    return MassiveError(status.HTTP_400_BAD_REQUEST, message)


def not_found(message: str) -> MassiveError:
    return MassiveError(status.HTTP_404_NOT_FOUND, message)


def is_massive(path: str) -> bool:
    return path.startswith(PREFIXES)


def _describe(exc, request) -> tuple[int, str, dict]:
    """``(status, message, headers)`` of an exception raised in a Massive view."""
    if isinstance(exc, MassiveError):
        return exc.status_code, str(exc.detail), {}
    if isinstance(exc, exceptions.NotAuthenticated):
        return status.HTTP_401_UNAUTHORIZED, NO_KEY, {}
    if isinstance(exc, exceptions.AuthenticationFailed):
        return status.HTTP_401_UNAUTHORIZED, str(exc.detail), {}
    if isinstance(exc, (exceptions.PermissionDenied, DjangoPermissionDenied)):
        return status.HTTP_403_FORBIDDEN, "not authorized", {}
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return status.HTTP_404_NOT_FOUND, "endpoint not found", {}
    if isinstance(exc, exceptions.MethodNotAllowed):
        method = getattr(request, "method", "this method")
        return exc.status_code, f"method {method} not allowed; use GET", {}
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait) if exc.wait is not None else 1)
        return (
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"You've exceeded the maximum requests per minute; retry in {wait} s.",
            {"Retry-After": str(wait)},
        )
    if isinstance(exc, exceptions.APIException):  # parse errors ...
        return exc.status_code, str(exc.detail), {}
    if isinstance(
        exc, (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)
    ):
        logger.warning("Massive request failed, a backing service is unreachable: %s", exc)
        return (
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the data store is unreachable; retry shortly",
            {"Retry-After": "5"},
        )
    if isinstance(exc, DatabaseError):
        logger.exception("Massive request failed on the database")
    else:
        logger.exception("Massive request failed")
    return status.HTTP_500_INTERNAL_SERVER_ERROR, "internal server error", {}


def _status_word(status_code: int) -> str:
    return {404: "NOT_FOUND", 403: "NOT_AUTHORIZED"}.get(status_code, "ERROR")


def request_id(request) -> str:
    """The request's id (``marketsite``'s middleware sets it), or a new one."""
    return getattr(request, "request_id", None) or uuid.uuid4().hex


def body(status_code: int, message: str, rid: str) -> dict:
    return {
        "status": _status_word(status_code),
        "request_id": rid,
        "error": message,
        "message": message,
    }


def exception_handler(exc, context):
    """DRF's exception hook for the Massive views."""
    request = context.get("request")
    status_code, message, headers = _describe(exc, request)
    set_rollback()
    return Response(body(status_code, message, request_id(request)), status_code, headers=headers)


def json_error(request, status_code: int, message: str) -> HttpResponse:
    return HttpResponse(
        orjson.dumps(body(status_code, message, request_id(request))),
        status=status_code,
        content_type="application/json",
    )


def endpoint_not_found(request, *args, **kwargs) -> HttpResponse:
    """Every unknown path of the dialect (a trailing slash too: nothing redirects)."""
    return json_error(request, status.HTTP_404_NOT_FOUND, "endpoint not found")


def handler400(request) -> HttpResponse:
    return json_error(request, status.HTTP_400_BAD_REQUEST, "bad request")


def handler500(request) -> HttpResponse:
    return json_error(request, status.HTTP_500_INTERNAL_SERVER_ERROR, "internal server error")
