"""Who is calling: an API key (``X-API-Key`` or ``Authorization: Bearer``), or the dashboard
page's short-lived token (``X-Dashboard-Token``, see ``ticks.stream_tokens``)."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed

from ticks.api_keys import key_lookup
from ticks.stream_tokens import META_KEY, dashboard_token_id


@dataclass(frozen=True)
class KeyCredential:
    key_id: int


@dataclass(frozen=True)
class DashboardCredential:
    token_id: str  # rate limits count per token


def presented_key(request) -> str | None:
    key = request.META.get("HTTP_X_API_KEY")
    if key:
        return key
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


class ApiKeyAuthentication(BaseAuthentication):
    """A presented key must be valid (401 ``invalid_api_key`` otherwise), required or not: a
    client that sends one means it to count (its own rate limit)."""

    def authenticate(self, request):
        raw = presented_key(request)
        if raw is None:
            return None
        key_id = key_lookup(raw)
        if key_id is None:
            raise AuthenticationFailed(
                "The API key is not valid (unknown or revoked).", code="invalid_api_key"
            )
        return AnonymousUser(), KeyCredential(key_id)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


READ_METHODS = ("GET", "HEAD")


class DashboardTokenAuthentication(BaseAuthentication):
    """The dashboard page's signed token, for reading only (GET, HEAD). When keys are not
    required an expired one is ignored (the page works either way); when they are, it is a 401
    the page answers by renewing it."""

    def authenticate(self, request):
        token = request.META.get(META_KEY)
        if not token:
            return None
        token_id = dashboard_token_id(token)
        if token_id is not None and request.method in READ_METHODS:
            return AnonymousUser(), DashboardCredential(token_id)
        if settings.API_KEYS_REQUIRED:
            raise AuthenticationFailed(
                "The dashboard token is not valid or has expired.", code="invalid_token"
            )
        return None


class StaffSessionAuthentication(SessionAuthentication):
    """Django's session (staff browsing the API), skipped at no cost without a session cookie."""

    def authenticate(self, request):
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return None
        return super().authenticate(request)
