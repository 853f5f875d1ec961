"""Who is calling the Massive dialect: the key as the ``massive`` client sends it,
``Authorization: Bearer <key>``, or ``?apiKey=<key>`` (Massive's other form; also
``X-API-Key``). The key is one of our API keys (``ticks.api_keys.key_lookup``).

With ``API_KEYS_REQUIRED`` a key is needed (401 ``API Key was not provided``) and must be valid
(401 ``Unknown API Key``). Without it any key, or none, is accepted: a client written for
Massive's servers always sends one and must run here unchanged; a valid key still counts
against its own rate limit. The ``apiKey`` parameter never reaches a log line (the access log
shows paths only; the proxy's masks it) and never appears in a ``next_url``.
"""

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from api.authentication import KeyCredential, presented_key
from ticks.api_keys import key_lookup

from .errors import UNKNOWN_KEY

QUERY_KEY = "apiKey"


def presented(request) -> str | None:
    return presented_key(request) or request.query_params.get(QUERY_KEY) or None


class MassiveKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        raw = presented(request)
        if raw is None:
            return None
        key_id = key_lookup(raw)
        if key_id is None:
            if settings.API_KEYS_REQUIRED:
                raise AuthenticationFailed(UNKNOWN_KEY)
            return None
        return AnonymousUser(), KeyCredential(key_id)

    def authenticate_header(self, request):
        return 'Bearer realm="massive"'
