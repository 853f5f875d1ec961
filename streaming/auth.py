"""Who may open ``/ws`` when ``API_KEYS_REQUIRED`` is on.

A client presents an API key as the ``api_key`` query parameter or the ``X-API-Key`` header
(scripts), or the dashboard page's short-lived signed token as the ``token`` query parameter
(browsers cannot set headers on a WebSocket). Checking a key is the API app's business: this
module calls ``api.keys.verify_key(raw: str) -> bool`` (synchronous, may query the database,
so it runs off the event loop) and ``marketsite.tokens.dashboard_token_valid(token) -> bool``.
Either missing means no credential of that kind is accepted (fail closed).
"""

import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings

logger = logging.getLogger(__name__)

MAX_CREDENTIAL_LEN = 512
UNAUTHORIZED_CLOSE_CODE = 4401


def credentials(scope) -> tuple[str | None, str | None]:
    """``(api key, dashboard token)`` presented on the handshake, if any."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    key = (query.get("api_key") or [None])[0]
    if not key:
        for name, value in scope.get("headers", []):
            if name.lower() == b"x-api-key":
                key = value.decode("latin-1")
                break
    token = (query.get("token") or [None])[0]
    return key or None, token or None


def verify_api_key(raw: str) -> bool:
    try:
        from api.keys import verify_key
    except ImportError:
        logger.error("API_KEYS_REQUIRED is on but api.keys.verify_key is missing: "
                     "refusing every API key")
        return False
    return bool(verify_key(raw))


def verify_dashboard_token(token: str) -> bool:
    try:
        from marketsite.tokens import dashboard_token_valid
    except ImportError:
        return False
    return bool(dashboard_token_valid(token))


async def connection_allowed(scope) -> bool:
    if not settings.API_KEYS_REQUIRED:
        return True
    key, token = credentials(scope)
    if key and len(key) <= MAX_CREDENTIAL_LEN and await database_sync_to_async(
            verify_api_key)(key):
        return True
    return bool(token) and len(token) <= MAX_CREDENTIAL_LEN and verify_dashboard_token(token)
