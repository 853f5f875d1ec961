"""Every error under ``/v2/`` in Alpaca's form: the right status and ``{"code": <int>,
"message": "..."}`` (alpaca-py's ``APIError`` reads both), never a stack trace.

Codes follow Alpaca's: the HTTP status followed by four more digits (``42210000``: an
unprocessable parameter). ``exception_handler`` is the DRF hook of the ``/v2/`` views;
``json_error`` answers for Django's own 400/404/500 handlers (``api.errors``) under ``/v2/``.
"""

import logging
import math

import orjson
import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)

PREFIX = "/v2/"

BAD_REQUEST = 40010001
UNAUTHORIZED = 40110000
FORBIDDEN = 40310000
NOT_FOUND = 40410000
METHOD_NOT_ALLOWED = 40510000
UNPROCESSABLE = 42210000
TOO_MANY_REQUESTS = 42910000
INTERNAL = 50010000
UNAVAILABLE = 50310000


class AlpacaError(exceptions.APIException):
    """An error with its status, Alpaca code and message."""

    def __init__(self, status_code: int, code: int, message: str):
        super().__init__(detail=message)
        self.status_code = status_code
        self.alpaca_code = code


def invalid(message: str) -> AlpacaError:
    """A parameter with a value we cannot use (422, as Alpaca answers ``invalid timeframe``)."""
    return AlpacaError(status.HTTP_422_UNPROCESSABLE_ENTITY, UNPROCESSABLE, message)


def bad_request(message: str) -> AlpacaError:
    return AlpacaError(status.HTTP_400_BAD_REQUEST, BAD_REQUEST, message)


def not_found(message: str) -> AlpacaError:
    return AlpacaError(status.HTTP_404_NOT_FOUND, NOT_FOUND, message)


def _describe(exc, request) -> tuple[int, int, str, dict]:
    """``(status, code, message, headers)`` of an exception raised under ``/v2/``."""
    if isinstance(exc, AlpacaError):
        return exc.status_code, exc.alpaca_code, str(exc.detail), {}
    if isinstance(exc, exceptions.NotAuthenticated):
        return (
            status.HTTP_401_UNAUTHORIZED,
            UNAUTHORIZED,
            "request is not authorized: send APCA-API-KEY-ID (the key's shown prefix) and "
            "APCA-API-SECRET-KEY (the key)",
            {},
        )
    if isinstance(exc, exceptions.AuthenticationFailed):
        return status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, str(exc.detail), {}
    if isinstance(exc, (exceptions.PermissionDenied, DjangoPermissionDenied)):
        return status.HTTP_403_FORBIDDEN, FORBIDDEN, "forbidden", {}
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return status.HTTP_404_NOT_FOUND, NOT_FOUND, "endpoint not found", {}
    if isinstance(exc, exceptions.MethodNotAllowed):
        method = getattr(request, "method", "this method")
        return exc.status_code, METHOD_NOT_ALLOWED, f"method {method} not allowed; use GET", {}
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait) if exc.wait is not None else 1)
        return (
            status.HTTP_429_TOO_MANY_REQUESTS,
            TOO_MANY_REQUESTS,
            f"too many requests; retry in {wait} s",
            {"Retry-After": str(wait)},
        )
    if isinstance(exc, exceptions.APIException):  # parse errors, not acceptable ...
        return exc.status_code, exc.status_code * 100_000 + 10_000, str(exc.detail), {}
    if isinstance(
        exc, (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)
    ):
        logger.warning("v2 request failed, a backing service is unreachable: %s", exc)
        return (
            status.HTTP_503_SERVICE_UNAVAILABLE,
            UNAVAILABLE,
            "the data store is unreachable; retry shortly",
            {"Retry-After": "5"},
        )
    if isinstance(exc, DatabaseError):
        logger.exception("v2 request failed on the database")
    else:
        logger.exception("v2 request failed")
    return status.HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL, "internal server error", {}


def body(code: int, message: str) -> dict:
    return {"code": code, "message": message}


def exception_handler(exc, context):
    """DRF's exception hook for the ``/v2/`` views."""
    status_code, code, message, headers = _describe(exc, context.get("request"))
    set_rollback()
    return Response(body(code, message), status=status_code, headers=headers)


def json_error(status_code: int, code: int, message: str) -> HttpResponse:
    return HttpResponse(
        orjson.dumps(body(code, message)), status=status_code, content_type="application/json"
    )


def endpoint_not_found(request, *args, **kwargs) -> HttpResponse:
    """Every unknown path under ``/v2/`` (a trailing slash too: nothing redirects)."""
    return json_error(status.HTTP_404_NOT_FOUND, NOT_FOUND, "endpoint not found")


def handler400(request) -> HttpResponse:
    return json_error(status.HTTP_400_BAD_REQUEST, BAD_REQUEST, "bad request")


def handler500(request) -> HttpResponse:
    return json_error(status.HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL, "internal server error")
