"""Every error of the API as the envelope ``{"success": false, "error": {"code", "message"}}``.

``exception_handler`` is DRF's hook (``REST_FRAMEWORK["EXCEPTION_HANDLER"]``): it turns every
exception raised in an API view into the envelope with the right status, and unexpected ones into
a logged 500 (or a 503 when PostgreSQL or Redis cannot be reached), never a stack trace.
``handler400``/``handler404``/``handler500`` do the same for errors Django answers itself (unknown paths, errors
outside a view) under ``/api/``, and hand every other path to Django's own pages.
"""

import logging
import math

import orjson
import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from .alpaca import errors as alpaca_errors
from .massive import errors as massive_errors

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# DRF's generic validation codes, reported under one name of ours.
_GENERIC_CODES = {
    "invalid",
    "required",
    "null",
    "blank",
    "invalid_choice",
    "max_value",
    "min_value",
    "max_length",
    "min_length",
    "parse_error",
}


class ApiError(exceptions.APIException):
    """An error with its own status, code and message (``unknown_ticker``, ``no_data`` ...)."""

    def __init__(self, status_code: int, code: str, message: str):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code


def unknown_ticker(symbol: str) -> ApiError:
    shown = symbol if len(symbol) <= 40 else symbol[:40] + "…"
    return ApiError(
        status.HTTP_404_NOT_FOUND,
        "unknown_ticker",
        f"Unknown ticker '{shown}'. The list is at /api/v1/tickers.",
    )


def error_body(code: str, message: str) -> dict:
    return {"success": False, "error": {"code": code, "message": message}}


def _validation_error(detail) -> tuple[str, str]:
    """The first error of a serializer's ``detail`` as ``(code, message)``."""
    while isinstance(detail, dict):
        detail = next(iter(detail.values()), "invalid input")
    while isinstance(detail, list):
        detail = detail[0] if detail else "invalid input"
    code = getattr(detail, "code", None) or "invalid_parameter"
    return ("invalid_parameter" if code in _GENERIC_CODES else code), str(detail)


def _describe(exc, request) -> tuple[int, str, str, dict]:
    """``(status, code, message, headers)`` of an exception raised while serving ``request``."""
    headers = {}
    if isinstance(exc, ApiError):
        return exc.status_code, exc.code, str(exc.detail), headers
    if isinstance(exc, exceptions.ValidationError):
        code, message = _validation_error(exc.detail)
        return status.HTTP_400_BAD_REQUEST, code, message, headers
    if isinstance(exc, (Http404, exceptions.NotFound)):
        return status.HTTP_404_NOT_FOUND, "not_found", "No such endpoint.", headers
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if isinstance(exc, exceptions.NotAuthenticated):
            return (
                exc.status_code,
                "authentication_required",
                "An API key is required: send it "
                "as the X-API-Key header or as Authorization: Bearer <key>.",
                headers,
            )
        codes = exc.get_codes()
        return (
            exc.status_code,
            codes if isinstance(codes, str) else "invalid_api_key",
            str(exc.detail),
            headers,
        )
    if isinstance(exc, (exceptions.PermissionDenied, DjangoPermissionDenied)):
        return status.HTTP_403_FORBIDDEN, "forbidden", "Not allowed.", headers
    if isinstance(exc, exceptions.MethodNotAllowed):
        method = getattr(request, "method", "This method")
        return (
            exc.status_code,
            "method_not_allowed",
            f"Method {method} is not allowed here; use GET.",
            headers,
        )
    if isinstance(exc, exceptions.Throttled):
        wait = math.ceil(exc.wait) if exc.wait is not None else 1
        headers["Retry-After"] = str(max(1, wait))
        return (
            exc.status_code,
            "rate_limited",
            f"Too many requests; retry in {max(1, wait)} s.",
            headers,
        )
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        return (
            exc.status_code,
            codes if isinstance(codes, str) else exc.default_code,
            str(exc.detail),
            headers,
        )
    if isinstance(
        exc, (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)
    ):
        logger.warning("API request failed, a backing service is unreachable: %s", exc)
        headers["Retry-After"] = "5"
        return (
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The data store is unreachable; retry shortly.",
            headers,
        )
    if isinstance(exc, DatabaseError):
        logger.exception("API request failed on the database")
    else:
        logger.exception("API request failed")
    return status.HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Internal error.", headers


def exception_handler(exc, context):
    """DRF's exception hook: every exception becomes the error envelope."""
    request = context.get("request")
    status_code, code, message, headers = _describe(exc, request)
    set_rollback()
    if request is not None and getattr(request, "accepted_renderer", None) is not None:
        # An error of a CSV request is still reported as JSON.
        if getattr(request.accepted_renderer, "format", None) == "csv":
            from .renderers import ORJSONRenderer

            request.accepted_renderer = ORJSONRenderer()
            request.accepted_media_type = ORJSONRenderer.media_type
    return Response(error_body(code, message), status=status_code, headers=headers)


def json_error(status_code: int, code: str, message: str) -> HttpResponse:
    """The error envelope outside DRF (Django's own 404/500 handling)."""
    return HttpResponse(
        orjson.dumps(error_body(code, message)), status=status_code, content_type="application/json"
    )


def not_found(request, *args, **kwargs) -> HttpResponse:
    """Every unknown path under ``/api/v1/``."""
    return json_error(
        status.HTTP_404_NOT_FOUND, "not_found", "No such endpoint. The list is at /api/v1/."
    )


def _alpaca(request) -> bool:
    """Under ``/v2/`` (the Alpaca dialect): errors in Alpaca's form (``api.alpaca.errors``)."""
    return request.path.startswith(alpaca_errors.PREFIX)


def handler404(request, exception=None):
    """``config.urls.handler404``: the envelope under ``/api/``, Alpaca's form under ``/v2/``,
    Django's page elsewhere."""
    if massive_errors.is_massive(request.path):
        return massive_errors.endpoint_not_found(request)
    if _alpaca(request):
        return alpaca_errors.endpoint_not_found(request)
    if request.path.startswith(API_PREFIX):
        return not_found(request)
    return defaults.page_not_found(request, exception)


def handler400(request, exception=None):
    """``config.urls.handler400`` (a bad Host header, a request too large ...)."""
    if massive_errors.is_massive(request.path):
        return massive_errors.handler400(request)
    if _alpaca(request):
        return alpaca_errors.handler400(request)
    if request.path.startswith(API_PREFIX):
        return json_error(status.HTTP_400_BAD_REQUEST, "bad_request", "Bad request.")
    return defaults.bad_request(request, exception)


def handler500(request):
    """``config.urls.handler500``: the envelope under ``/api/``, Alpaca's form under ``/v2/``,
    Django's page elsewhere."""
    if massive_errors.is_massive(request.path):
        return massive_errors.handler500(request)
    if _alpaca(request):
        return alpaca_errors.handler500(request)
    if request.path.startswith(API_PREFIX):
        return json_error(
            status.HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Internal error."
        )
    return defaults.server_error(request)
