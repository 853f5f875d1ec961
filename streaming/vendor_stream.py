"""The connection life the vendor streams share (the Alpaca and Massive dialects): accept with a
bounded outbox, a per-connection message rate limit, authentication within a deadline with one
of our API keys, the per-key connection slot, a revoked key closing the connection, and a fatal
error sent last before the close (4008). Each dialect subclasses ``VendorStreamConsumer`` and
says only what is its own: its frames, its parser and its session.

As in ``/ws``: no channel layer of its own (the process's hub fans the market out).
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from ticks.metrics import stream_meter

from . import auth, connection_limit
from .consumers import RateLimiter
from .daphne_io import direct_writer
from .outbox import Outbox
from .protocol import Frame

logger = logging.getLogger(__name__)

# After a fatal error: 4008, "policy violation" (1008) in the range left to applications
# (autobahn, under daphne, refuses any other server close code but 1000).
CLOSE_CODE = 4008


class Refusal(Exception):
    """A client request answered with an error frame; ``fatal`` ones close the connection."""

    def __init__(self, frame: Frame, *, fatal: bool = False) -> None:
        super().__init__("refused")
        self.frame, self.fatal = frame, fatal


class VendorStreamConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = None  # market data comes through the hub (see streaming.consumers)

    label = "vendor stream"  # in logs: "Alpaca stream", "Massive stream"
    stream_protocol: str  # each dialect: its label in the stream metrics (ticks.metrics)
    outbox: Outbox | None = None
    session = None
    key_watch: auth.KeyWatch | None = None
    slot: str | None = None
    key_id: int | None = None  # the authenticated API key (None without API_KEYS_REQUIRED)
    authenticated = False
    closing = False
    _timer: asyncio.TimerHandle | None = None

    # --- the dialect's part ---------------------------------------------------------------------

    def overflow_frame(self) -> Frame:
        """Sent before the close to a client that fell too far behind."""
        raise NotImplementedError

    def authenticated_frame(self) -> Frame:
        raise NotImplementedError

    def rate_limited_frame(self) -> Frame:
        raise NotImplementedError

    def internal_error_frame(self) -> Frame:
        raise NotImplementedError

    def auth_unavailable_frame(self) -> Frame:
        """The key could not be checked (the database is unavailable): not fatal."""
        raise NotImplementedError

    def auth_failed_frame(self) -> Frame:
        raise NotImplementedError

    def auth_timeout_frame(self) -> Frame:
        raise NotImplementedError

    def connection_limit_frame(self) -> Frame:
        raise NotImplementedError

    def key_revoked_frame(self) -> Frame:
        raise NotImplementedError

    def lookup_key(self, credentials: tuple) -> int | None:
        """The API key's id for the credentials, or None (sync: runs in a thread)."""
        raise NotImplementedError

    async def handle(self, data) -> None:
        """One client message (already rate-limited); raises ``Refusal``."""
        raise NotImplementedError

    # --- the shared life --------------------------------------------------------------------------

    async def open(self, session_factory, *, auth_timeout_s: float | None) -> None:
        """Accept, then the outbox, the session and the limiter; with ``auth_timeout_s`` the
        client must authenticate within it."""
        await self.accept()
        self.outbox = Outbox(
            self.base_send,
            limit=settings.WS_SEND_QUEUE_LIMIT,
            direct=direct_writer(self.base_send),
            overflow_frame=self.overflow_frame(),
            overflow_close_code=CLOSE_CODE,
            meter=stream_meter(self.stream_protocol),
        )
        self.outbox.start()
        self.session = session_factory()
        self.limiter = RateLimiter(settings.WS_MAX_MESSAGES_PER_SECOND)
        if auth_timeout_s is not None:
            self._timer = asyncio.get_running_loop().call_later(auth_timeout_s, self._auth_timeout)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.session is None or self.closing:
            return
        if not self.limiter.allow():
            if self.limiter.dropped == 1:  # once per burst over the limit
                self.outbox.put(self.rate_limited_frame())
            return
        self.limiter.take_dropped()  # the burst is over
        try:
            await self.handle(text_data if text_data is not None else bytes_data)
        except Refusal as e:
            if e.fatal:
                await self.fail(e.frame)
            else:
                self.outbox.put(e.frame)
        except Exception:
            logger.exception("%s: a client message failed", self.label)
            self.outbox.put(self.internal_error_frame())

    async def authenticate(self, *credentials) -> None:
        """Check the credentials (with keys required), take a connection slot of the key and
        watch it for revocation; then ``authenticated``."""
        key_id = None
        if settings.API_KEYS_REQUIRED:
            try:
                key_id = await database_sync_to_async(self.lookup_key)(credentials)
            except DatabaseError:
                logger.warning("%s: key check failed (database unavailable)", self.label)
                self.outbox.put(self.auth_unavailable_frame())
                return
            if key_id is None:
                await self.fail(self.auth_failed_frame())
                return
            self.key_id = key_id
            self.slot = await connection_limit.acquire(key_id)
            if self.slot is None:
                await self.fail(self.connection_limit_frame())
                return
            self.key_watch = auth.KeyWatch(key_id, on_revoked=self._key_revoked)
            if not await self.key_watch.start():
                await self._key_revoked()
                return
        self.authenticated = True
        if self._timer is not None:
            self._timer.cancel()
        self.outbox.put(self.authenticated_frame())

    def _auth_timeout(self) -> None:
        if not self.authenticated and not self.closing:
            self._timeout_task = asyncio.ensure_future(self.fail(self.auth_timeout_frame()))

    async def _key_revoked(self) -> None:
        logger.info("closing a %s connection: its API key was revoked", self.label)
        await self.fail(self.key_revoked_frame())

    async def fail(self, frame: Frame) -> None:
        """A fatal error: what is queued goes out (briefly waited for), then ``frame``, then
        the close (4008)."""
        if self.closing:
            return
        self.closing = True
        if self.session is not None:
            await self.session.close()
        try:
            await asyncio.wait_for(self.outbox.wait_below(0), 2.0)
        except TimeoutError:
            pass
        await self.outbox.close()
        if frame.binary:
            await self.send(bytes_data=frame.data)
        else:
            await self.send(text_data=frame.text)
        await self.close(code=CLOSE_CODE)

    async def disconnect(self, code) -> None:
        self.closing = True
        if self._timer is not None:
            self._timer.cancel()
        if self.key_watch is not None:
            await self.key_watch.stop()
        await connection_limit.release(self.slot)
        if self.session is not None:
            await self.session.close()
        if self.outbox is not None:
            await self.outbox.close()
