"""The dashboard's short-lived, read-only access token: the one owner of how it is issued, what
it carries and how it is checked (the dashboard issues it, the REST API and ``/ws`` accept it).

When ``API_KEYS_REQUIRED`` is on, the dashboard page still has to read the REST API and ``/ws``
from the browser, where a real API key would be visible to anyone. Instead the page gets a token
signed with the ``SECRET_KEY`` (``django.core.signing``, its own salt, a timestamp inside) that is
good for ``DASHBOARD_TOKEN_MAX_AGE_S`` seconds and for reading only (GET and HEAD; the API
rate-limits each token on its own, by the random ``id`` inside); the page renews it at half-life.
Who may have one is the dashboard's decision, not this module's.

The browser sends it as the ``X-Dashboard-Token`` header on REST requests and as the ``token``
query parameter when opening ``/ws`` (browsers cannot set headers on a WebSocket).
"""

import secrets

from django.conf import settings
from django.core import signing

# The salt keeps its first name (from when the dashboard app owned the token): changing it would
# invalidate every token in flight.
SALT = "marketsite.dashboard-token"
SCOPE = "read"
HEADER = "X-Dashboard-Token"  # as sent by the page
META_KEY = "HTTP_X_DASHBOARD_TOKEN"  # the same header in Django's request.META
QUERY_PARAM = "token"  # on the /ws URL


def dashboard_token_issue() -> str:
    """A fresh token, valid for ``DASHBOARD_TOKEN_MAX_AGE_S`` seconds from now."""
    return signing.dumps({"scope": SCOPE, "id": secrets.token_urlsafe(12)}, salt=SALT)


def dashboard_token_id(token: str | None) -> str | None:
    """The id of an unexpired, untampered token issued by ``dashboard_token_issue``, or None."""
    if not token or not isinstance(token, str) or len(token) > 512:
        return None
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.DASHBOARD_TOKEN_MAX_AGE_S)
    except signing.BadSignature:  # also SignatureExpired, a subclass
        return None
    if not isinstance(payload, dict) or payload.get("scope") != SCOPE:
        return None
    token_id = payload.get("id")
    return token_id if isinstance(token_id, str) and token_id else None


def dashboard_token_valid(token: str | None) -> bool:
    """True for an unexpired, untampered token issued by ``dashboard_token_issue``."""
    return dashboard_token_id(token) is not None
