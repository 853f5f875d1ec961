"""API keys: creation, revocation and lookup (services), and ``key_lookup``/``key_active`` for
``/ws``.

A key is ``sm_`` + 43 random URL-safe characters (256 bits). Only its SHA-256 is stored: a key
that random needs no slow password hash, and the digest is looked up directly. Lookups are
cached in the process for ``CACHE_SECONDS``, so a revoked key stops working on REST within that
time everywhere (at once in the process that revoked it). A lookup waits on the database for
``LOOKUP_DEADLINE_S`` at most; when it does not answer, the key's last known answer is used, and a
key never seen is a 503.

Open WebSocket connections are told at once, in every process: revoking (or deleting) keys
publishes ``{"type": REVOKED_MESSAGE_TYPE}`` on the channel layer to each key's group
(``key_group(key_id)``), which every ``/ws`` connection opened with that key has joined; the
connection is then closed (``streaming``).
"""

import hashlib
import logging
import secrets
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ticks.deadline import read_within

from .models import ApiKey

logger = logging.getLogger(__name__)

REVOKED_MESSAGE_TYPE = "apikey.revoked"

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


def key_group(key_id: int) -> str:
    """The channel-layer group of the ``/ws`` connections opened with key ``key_id``."""
    return f"apikey.{int(key_id)}"


def _announce_revoked(key_ids: list[int]) -> None:
    """Tell every process's ``/ws`` connections of these keys (after the commit, so that a
    connection checking its key at that moment sees it revoked). A failure is logged: the
    revocation itself stands, REST refuses the key within ``CACHE_SECONDS``."""
    if not key_ids:
        return

    async def send_all() -> None:
        layer = get_channel_layer()
        for key_id in key_ids:
            await layer.group_send(key_group(key_id), {"type": REVOKED_MESSAGE_TYPE,
                                                       "key_id": key_id})

    try:
        async_to_sync(send_all)()
    except Exception:
        logger.exception("could not announce the revocation of API keys %s to open WebSocket "
                         "connections", key_ids)
    else:
        logger.info("API keys %s revoked: their WebSocket connections are being closed", key_ids)


def api_key_revoke(*, keys) -> int:
    """Revoke the given keys (a queryset); returns how many were still active. Their open
    ``/ws`` connections are closed once the transaction commits."""
    with transaction.atomic():
        ids = list(keys.filter(revoked_at__isnull=True).values_list("id", flat=True))
        count = ApiKey.objects.filter(id__in=ids, revoked_at__isnull=True).update(
            revoked_at=timezone.now())
        transaction.on_commit(lambda: _announce_revoked(ids))
    _cache.clear()
    return count


def api_key_delete(*, keys) -> int:
    """Delete the given keys (a queryset); their open ``/ws`` connections are closed too."""
    with transaction.atomic():
        ids = list(keys.values_list("id", flat=True))
        count, _ = ApiKey.objects.filter(id__in=ids).delete()
        transaction.on_commit(lambda: _announce_revoked(ids))
    _cache.clear()
    return count


def key_active(key_id: int) -> bool:
    """Whether key ``key_id`` is active now (no cache: a ``/ws`` connection checks it once more
    after joining its key's group, so a revocation in between is not missed). When the database
    does not answer within ``LOOKUP_DEADLINE_S``, the cache's answer (nothing can be revoked
    while the database is unavailable)."""
    try:
        return read_within(
            lambda: ApiKey.objects.filter(id=key_id, revoked_at__isnull=True).exists(),
            key=("api-key-active", key_id), timeout=LOOKUP_DEADLINE_S, what="API key check")
    except DatabaseError:
        known = any(cached_id == key_id for cached_id, _ in list(_cache.values()))
        logger.warning("database unavailable: API key %s taken as %s from the cache", key_id,
                       "active" if known else "unknown")
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
    # Inside a transaction (tests) the answer may be rolled back: never cache it.
    cacheable = not connection.in_atomic_block
    now = time.monotonic()
    hit = _cache.get(digest) if cacheable else None
    if hit is not None and hit[1] > now:
        return hit[0]
    try:
        key_id = read_within(lambda: _read_key(digest), key=("api-key", digest),
                             timeout=LOOKUP_DEADLINE_S, what="API key lookup")
    except DatabaseError:
        if hit is None:
            raise
        logger.warning("database unavailable: API key %s... answered from a %.0f s old cache "
                       "entry", raw[:SHOWN_PREFIX_LENGTH], now - hit[1] + CACHE_SECONDS)
        return hit[0]
    if cacheable:
        if len(_cache) >= CACHE_MAX_ENTRIES:
            _cache.clear()
        _cache[digest] = (key_id, now + CACHE_SECONDS)
    return key_id


def _read_key(digest: str) -> int | None:
    return (ApiKey.objects.filter(key_hash=digest, revoked_at__isnull=True)
            .values_list("id", flat=True).first())


def verify_key(raw: str) -> bool:
    """True for an active API key (used by ``streaming.auth`` for ``/ws``)."""
    return key_lookup(raw) is not None


def reset_cache() -> None:
    _cache.clear()
