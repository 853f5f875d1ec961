"""The dashboard's short-lived, read-only access token.

When ``API_KEYS_REQUIRED`` is on, the dashboard page still has to read the REST API and ``/ws``
from the browser, where a real API key would be visible to anyone. Instead the page gets a token
signed with the ``SECRET_KEY`` (``django.core.signing``, its own salt, a timestamp inside) that is
good for ``DASHBOARD_TOKEN_MAX_AGE_S`` seconds and for reading only; the page renews it at
half-life from ``/dashboard/token``. It names no user and grants nothing an anonymous visitor of
the dashboard could not already see: it only stops the token from being a lasting credential.

The browser sends it as the ``X-Dashboard-Token`` header on REST requests and as the ``token``
query parameter when opening ``/ws`` (browsers cannot set headers on a WebSocket). The API's
authentication and the WebSocket consumer accept a request when
``dashboard_token_valid(token)`` is true.
"""

from django.conf import settings
from django.core import signing

SALT = "marketsite.dashboard-token"
SCOPE = "read"
HEADER = "X-Dashboard-Token"  # as sent by the page; Django's META key is HTTP_X_DASHBOARD_TOKEN
META_KEY = "HTTP_X_DASHBOARD_TOKEN"
QUERY_PARAM = "token"  # on the /ws URL


def dashboard_token_issue() -> str:
    """A fresh token, valid for ``DASHBOARD_TOKEN_MAX_AGE_S`` seconds from now."""
    return signing.dumps({"scope": SCOPE}, salt=SALT)


def dashboard_token_valid(token: str | None) -> bool:
    """True for an unexpired, untampered token issued by ``dashboard_token_issue``."""
    if not token or not isinstance(token, str) or len(token) > 512:
        return False
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.DASHBOARD_TOKEN_MAX_AGE_S)
    except signing.BadSignature:  # also SignatureExpired, a subclass
        return False
    return isinstance(payload, dict) and payload.get("scope") == SCOPE
