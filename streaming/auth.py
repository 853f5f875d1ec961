"""Who may open ``/ws`` when ``API_KEYS_REQUIRED`` is on, and the watch that closes a connection
when its API key is revoked.

A client presents an API key as the ``api_key`` query parameter or the ``X-API-Key`` header
(scripts), or the dashboard page's short-lived signed token as the ``token`` query parameter
(browsers cannot set headers on a WebSocket). Both belong to the domain: this module calls
``ticks.api_keys.key_lookup(raw) -> key id | None`` and ``ticks.api_keys.key_active(id)``
(synchronous, may query the database, so they run off the event loop) and
``ticks.stream_tokens.dashboard_token_valid(token) -> bool``.

A connection opened with an API key (keys required) joins its key's group (``key_group``); on
``apikey.revoked`` the consumer closes it with ``KEY_REVOKED_CLOSE_CODE``. The group is joined
before the key is checked once more, uncached, so a revocation committed at any moment after
the first check is seen one way or the other. ``KeyRevocations``, a ``ticks.announce`` listener
registered by ``StreamingConfig.ready()``, sends that message to the groups of the keys the
domain announces revoked, whichever process revoked them.
"""

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from ticks import api_keys, stream_tokens

logger = logging.getLogger(__name__)

MAX_CREDENTIAL_LEN = 512
UNAUTHORIZED_CLOSE_CODE = 4401
KEY_REVOKED_CLOSE_CODE = 4403
KEY_REVOKED_MESSAGE_TYPE = "apikey.revoked"


@dataclass(frozen=True)
class Access:
    allowed: bool
    key_id: int | None = None  # the API key the connection was opened with


def credentials(scope) -> tuple[str | None, str | None]:
    """``(api key, dashboard token)`` presented on the handshake, if any."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    key = (query.get("api_key") or [None])[0]
    if not key:
        for name, value in scope.get("headers", []):
            if name.lower() == b"x-api-key":
                key = value.decode("latin-1")
                break
    token = (query.get(stream_tokens.QUERY_PARAM) or [None])[0]
    return key or None, token or None


def lookup_api_key(raw: str) -> int | None:
    return api_keys.key_lookup(raw)


def api_key_active(key_id: int) -> bool:
    return bool(api_keys.key_active(key_id))


def key_group(key_id: int) -> str:
    """The channel-layer group of the ``/ws`` connections opened with key ``key_id``."""
    return f"apikey.{int(key_id)}"


def verify_dashboard_token(token: str) -> bool:
    return stream_tokens.dashboard_token_valid(token)


class KeyRevocations:
    """The ``ticks.announce`` listener that tells every process's ``/ws`` connections of
    revoked keys (through their groups on the channel layer). A failure is logged: the
    revocation itself stands, and REST refuses the key within ``ticks.api_keys.CACHE_SECONDS``."""

    def on_keys_revoked(self, key_ids) -> None:
        key_ids = [int(k) for k in key_ids]

        async def send_all() -> None:
            layer = get_channel_layer()
            for key_id in key_ids:
                await layer.group_send(
                    key_group(key_id), {"type": KEY_REVOKED_MESSAGE_TYPE, "key_id": key_id}
                )

        try:
            async_to_sync(send_all)()
        except Exception:
            logger.exception(
                "could not announce the revocation of API keys %s to open WebSocket connections",
                key_ids,
            )
        else:
            logger.info(
                "API keys %s revoked: their WebSocket connections are being closed", key_ids
            )

    def __repr__(self) -> str:
        return "streaming.auth.KeyRevocations"


key_revocations = KeyRevocations()


async def connection_access(scope) -> Access:
    if not settings.API_KEYS_REQUIRED:
        return Access(True)
    key, token = credentials(scope)
    if key and len(key) <= MAX_CREDENTIAL_LEN:
        key_id = await database_sync_to_async(lookup_api_key)(key)
        if key_id is not None:
            return Access(True, key_id)
    return Access(
        bool(token) and len(token) <= MAX_CREDENTIAL_LEN and verify_dashboard_token(token)
    )


class KeyWatch:
    """Waits for the revocation of one API key on the channel layer (any process may announce
    it) and then calls ``on_revoked`` once."""

    def __init__(self, key_id: int, on_revoked) -> None:
        self.key_id = key_id
        self.on_revoked = on_revoked
        self.layer = get_channel_layer()
        self.group = key_group(key_id)
        self.channel: str | None = None
        self.reader: asyncio.Task | None = None

    async def start(self) -> bool:
        """Join the key's group, then check the key again: False if it is revoked by now."""
        if self.layer is None:
            logger.warning("no channel layer: a revoked key's WebSocket stays open")
            return await database_sync_to_async(api_key_active)(self.key_id)
        self.channel = await self.layer.new_channel("apikey.")
        # One receive always pending, cancelled only to stop (as in streaming.hub).
        self.reader = asyncio.get_running_loop().create_task(self._read())
        await self.layer.group_add(self.group, self.channel)
        return await database_sync_to_async(api_key_active)(self.key_id)

    async def _read(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            if message.get("type") == KEY_REVOKED_MESSAGE_TYPE:
                await self.on_revoked()
                return

    async def stop(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None and not reader.done() and reader is not asyncio.current_task():
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, Exception):
                pass
        if self.channel is not None:
            channel, self.channel = self.channel, None
            try:
                await self.layer.group_discard(self.group, channel)
            except Exception:
                logger.warning("leaving an API key's group failed", exc_info=True)
