"""API keys, the one owner of them: creation, revocation and deletion (services), and
``key_lookup``/``key_active`` for whoever checks a presented key (the REST API's
authentication, ``/ws``).

A key is ``sm_`` + 43 random URL-safe characters (256 bits). Only its SHA-256 is stored: a key
that random needs no slow password hash, and the digest is looked up directly. A lookup waits on
the database for ``LOOKUP_DEADLINE_S`` at most; when it does not answer, the key's last known
answer is used, and a key never seen is a 503.

The lookup cache: per process, every answer (a key id, or None) kept ``CACHE_SECONDS``, so a key
revoked in another process stops working within that time; the revoking process forgets its
cache at once and again when the transaction commits (``transaction.on_commit``), so no answer
read before the commit outlives it. Nothing else empties it: tests whose database rows are
rolled back between them call ``reset_cache()`` in their fixtures.

Open WebSocket connections are told at once: revoking (or deleting) keys announces their ids
after the commit (``ticks.announce.announce_keys_revoked``); ``streaming`` listens and closes
those connections in every process.
"""

import hashlib
import logging
import secrets
import time

from django.db import DatabaseError, transaction
from django.utils import timezone

from . import announce
from .deadline import read_within
from .models import ApiKey

logger = logging.getLogger(__name__)

KEY_PREFIX = "sm_"
SHOWN_PREFIX_LENGTH = 11  # "sm_" and 8 characters of the key
MAX_KEY_LENGTH = 200
CACHE_SECONDS = 5.0
CACHE_MAX_ENTRIES = 10_000
LOOKUP_DEADLINE_S = 2.0

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
    """Revoke the given keys (a queryset); returns how many were still active. Their open
    ``/ws`` connections are closed once the transaction commits."""
    with transaction.atomic():
        ids = list(keys.filter(revoked_at__isnull=True).values_list("id", flat=True))
        count = ApiKey.objects.filter(id__in=ids, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        _forget_on_commit(ids)
    return count


def api_key_delete(*, keys) -> int:
    """Delete the given keys (a queryset); their open ``/ws`` connections are closed too."""
    with transaction.atomic():
        ids = list(keys.values_list("id", flat=True))
        count, _ = ApiKey.objects.filter(id__in=ids).delete()
        _forget_on_commit(ids)
    return count


def _forget_on_commit(key_ids: list[int]) -> None:
    """Forget the cached lookups now and once the change is committed, then tell the listeners
    (open ``/ws`` connections of these keys are closed)."""
    _cache.clear()

    def committed() -> None:
        _cache.clear()
        if key_ids:
            announce.announce_keys_revoked(key_ids)

    transaction.on_commit(committed)


def key_active(key_id: int) -> bool:
    """Whether key ``key_id`` is active now (no cache: a ``/ws`` connection checks it once more
    after joining its key's group, so a revocation in between is not missed). When the database
    does not answer within ``LOOKUP_DEADLINE_S``, the cache's answer (nothing can be revoked
    while the database is unavailable)."""
    try:
        return read_within(
            lambda: ApiKey.objects.filter(id=key_id, revoked_at__isnull=True).exists(),
            key=("api-key-active", key_id),
            timeout=LOOKUP_DEADLINE_S,
            what="API key check",
        )
    except DatabaseError:
        known = any(cached_id == key_id for cached_id, _ in list(_cache.values()))
        logger.warning(
            "database unavailable: API key %s taken as %s from the cache",
            key_id,
            "active" if known else "unknown",
        )
        return known


def _well_formed(raw: str) -> bool:
    return 0 < len(raw) <= MAX_KEY_LENGTH and raw.isascii() and raw.isprintable()


def key_lookup(raw: str) -> int | None:
    """The id of the active key ``raw``, or None.

    Answers from the cache for ``CACHE_SECONDS``; then asks the database, for at most
    ``LOOKUP_DEADLINE_S``. When the database does not answer in time (down or hung), the last
    answer it gave for this key is used, however old (keys cannot be revoked meanwhile: that is
    a database write); a key it never answered for raises ``DatabaseError``, which the API
    answers with 503 ``service_unavailable``."""
    if not isinstance(raw, str) or not _well_formed(raw):
        return None
    digest = key_digest(raw)
    now = time.monotonic()
    hit = _cache.get(digest)
    if hit is not None and hit[1] > now:
        return hit[0]
    try:
        key_id = read_within(
            lambda: _read_key(digest),
            key=("api-key", digest),
            timeout=LOOKUP_DEADLINE_S,
            what="API key lookup",
        )
    except DatabaseError:
        if hit is None:
            raise
        logger.warning(
            "database unavailable: API key %s... answered from a %.0f s old cache entry",
            raw[:SHOWN_PREFIX_LENGTH],
            now - hit[1] + CACHE_SECONDS,
        )
        return hit[0]
    if len(_cache) >= CACHE_MAX_ENTRIES:
        _cache.clear()
    _cache[digest] = (key_id, now + CACHE_SECONDS)
    return key_id


def _read_key(digest: str) -> int | None:
    return (
        ApiKey.objects.filter(key_hash=digest, revoked_at__isnull=True)
        .values_list("id", flat=True)
        .first()
    )


def verify_key(raw: str) -> bool:
    """True for an active API key."""
    return key_lookup(raw) is not None


def reset_cache() -> None:
    """Forget every cached lookup (tests, between rolled-back databases)."""
    _cache.clear()


def key_pair_lookup(key_id: str | None, secret: str | None) -> int | None:
    """The id of the active key presented as a vendor's key pair (Alpaca's ``APCA-API-KEY-ID``
    and ``APCA-API-SECRET-KEY``), or None.

    The pair maps onto one of our keys: the secret is the full key, the id its public prefix
    (the first ``SHOWN_PREFIX_LENGTH`` characters, shown in the admin's key list). A pair whose
    id is not the secret's prefix is refused without a lookup. Same cache and deadline as
    ``key_lookup`` (a key never seen while the database is down raises ``DatabaseError``)."""
    if not isinstance(key_id, str) or not isinstance(secret, str):
        return None
    if not _well_formed(secret) or key_id != secret[:SHOWN_PREFIX_LENGTH]:
        return None
    return key_lookup(secret)
