"""Who is calling the Alpaca dialect: Alpaca's key pair, as alpaca-py sends it.

- ``APCA-API-KEY-ID`` + ``APCA-API-SECRET-KEY`` headers, or ``Authorization: Basic
  base64(id:secret)`` (alpaca-py's ``use_basic_auth``): the id is the key's shown prefix, the
  secret the key itself (``ticks.api_keys.key_pair_lookup``).
- Our own forms keep working: ``X-API-Key`` and ``Authorization: Bearer``.

With ``API_KEYS_REQUIRED`` a presented pair must be valid (401 otherwise). Without it any
credentials, or none, are accepted: an Alpaca client always sends some, and one written for
Alpaca's servers must run here unchanged; a valid key still counts against its own rate limit.
"""

import base64
import binascii

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from api.authentication import KeyCredential, presented_key
from ticks.api_keys import key_lookup, key_pair_lookup

INVALID = "request is not authorized: the key pair is not valid (unknown or revoked)"


def presented_pair(request) -> tuple[str, str] | None:
    """``(key id, secret)`` from the APCA headers or ``Authorization: Basic``, or None."""
    key_id = request.META.get("HTTP_APCA_API_KEY_ID")
    secret = request.META.get("HTTP_APCA_API_SECRET_KEY")
    if key_id is not None or secret is not None:
        return key_id or "", secret or ""
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "", ""
    key_id, _, secret = decoded.partition(":")
    return key_id, secret


class KeyPairAuthentication(BaseAuthentication):
    def authenticate(self, request):
        pair = presented_pair(request)
        if pair is not None:
            key_id = key_pair_lookup(*pair)
        else:
            raw = presented_key(request)
            if raw is None:
                return None
            key_id = key_lookup(raw)
        if key_id is None:
            if settings.API_KEYS_REQUIRED:
                raise AuthenticationFailed(INVALID)
            return None
        return AnonymousUser(), KeyCredential(key_id)

    def authenticate_header(self, request):
        return 'Basic realm="alpaca"'
