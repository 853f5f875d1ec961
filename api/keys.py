"""API keys: creation, revocation and lookup (services), and ``verify_key`` for ``/ws``.

A key is ``sm_`` + 43 random URL-safe characters (256 bits). Only its SHA-256 is stored: a key
that random needs no slow password hash, and the digest is looked up directly. Lookups are
cached in the process for ``CACHE_SECONDS``, so a revoked key stops working within that time
everywhere (at once in the process that revoked it).
"""

import hashlib
import secrets
import time

from django.db import connection
from django.utils import timezone

from .models import ApiKey

KEY_PREFIX = "sm_"
SHOWN_PREFIX_LENGTH = 11  # "sm_" and 8 characters of the key
MAX_KEY_LENGTH = 200
CACHE_SECONDS = 5.0
CACHE_MAX_ENTRIES = 10_000

_cache: dict[str, tuple[int | None, float]] = {}


def key_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_key_material() -> tuple[str, str, str]:
    """A fresh key: ``(key, shown prefix, digest)``."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    return raw, raw[:SHOWN_PREFIX_LENGTH], key_digest(raw)


def api_key_create(*, name: str) -> tuple[ApiKey, str]:
    """A new key; returns the row and the key itself, which is not stored anywhere."""
    raw, prefix, digest = new_key_material()
    return ApiKey.objects.create(name=name, prefix=prefix, key_hash=digest), raw


def api_key_revoke(*, keys) -> int:
    """Revoke the given keys (a queryset); returns how many were still active."""
    count = keys.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
    _cache.clear()
    return count


def _well_formed(raw: str) -> bool:
    return 0 < len(raw) <= MAX_KEY_LENGTH and raw.isascii() and raw.isprintable()


def key_lookup(raw: str) -> int | None:
    """The id of the active key ``raw``, or None."""
    if not isinstance(raw, str) or not _well_formed(raw):
        return None
    digest = key_digest(raw)
    # Inside a transaction (tests) the answer may be rolled back: never cache it.
    cacheable = not connection.in_atomic_block
    now = time.monotonic()
    if cacheable:
        hit = _cache.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
    key_id = (ApiKey.objects.filter(key_hash=digest, revoked_at__isnull=True)
              .values_list("id", flat=True).first())
    if cacheable:
        if len(_cache) >= CACHE_MAX_ENTRIES:
            _cache.clear()
        _cache[digest] = (key_id, now + CACHE_SECONDS)
    return key_id


def verify_key(raw: str) -> bool:
    """True for an active API key (used by ``streaming.auth`` for ``/ws``)."""
    return key_lookup(raw) is not None


def reset_cache() -> None:
    _cache.clear()
