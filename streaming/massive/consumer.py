"""``/stocks``: the Massive (Polygon) stocks stream consumer (thin: parse, authenticate, hand
over to the session). The ``massive`` client's ``WebSocketClient(api_key, feed="host:port",
market="stocks", secure=False)`` connects here.

As in ``/ws`` and the Alpaca stream: no channel layer of its own (the process's hub fans the
market out), a bounded outbox per connection (a client that falls behind gets a
``slow_consumer`` status and is closed), the same per-connection limits
(``WS_MAX_SUBSCRIPTIONS`` tickers, ``WS_MAX_MESSAGES_PER_SECOND``), the per-key connection
limit (``WS_MAX_CONNECTIONS_PER_KEY``: ``max_connections``) and a revoked key closing its
connections (``force_disconnect``). Every answer is a Massive status message; after a fatal one
the connection is closed with 4008 (see ``streaming.alpaca.consumer.CLOSE_CODE``), which the
client reports as an error (and reconnects, as it does when Massive closes with 1008).

Authentication: ``{"action": "auth", "params": key}`` within ``MASSIVE_STREAM_AUTH_TIMEOUT_S``
(else ``auth_timeout``), with one of our API keys (``ticks.api_keys.key_lookup``). With
``API_KEYS_REQUIRED=false`` any key is accepted, but the client still authenticates before it
subscribes, as against Massive: code that works here works there.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from ticks.api_keys import key_lookup
from ticks.metrics import stream_meter

from .. import auth, connection_limit
from ..alpaca.consumer import CLOSE_CODE
from ..consumers import RateLimiter
from ..daphne_io import direct_writer
from ..hub import get_hub
from ..outbox import Outbox
from . import protocol
from .fanout import get_fanout
from .protocol import Auth, MassiveError, Status, Subscribe
from .session import MassiveSession

logger = logging.getLogger(__name__)


class MassiveConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = None  # market data comes through the hub (see streaming.consumers)
    stream_protocol = "massive"  # its label in the stream metrics (ticks.metrics)

    outbox: Outbox | None = None
    session: MassiveSession | None = None
    key_watch: auth.KeyWatch | None = None
    slot: str | None = None
    key_id: int | None = None  # the authenticated API key (None without API_KEYS_REQUIRED)
    authenticated = False
    closing = False
    _timer: asyncio.TimerHandle | None = None

    async def connect(self) -> None:
        await self.accept()
        self.outbox = Outbox(
            self.base_send,
            limit=settings.WS_SEND_QUEUE_LIMIT,
            direct=direct_writer(self.base_send),
            overflow_frame=protocol.status(Status.SLOW_CONSUMER, protocol.SLOW_CONSUMER_MESSAGE),
            overflow_close_code=CLOSE_CODE,
            meter=stream_meter(self.stream_protocol),
        )
        self.outbox.start()
        self.session = self.make_session()
        self.limiter = RateLimiter(settings.WS_MAX_MESSAGES_PER_SECOND)
        self.outbox.put(protocol.status(Status.CONNECTED, protocol.CONNECTED_MESSAGE))
        self._timer = asyncio.get_running_loop().call_later(
            settings.MASSIVE_STREAM_AUTH_TIMEOUT_S, self._auth_timeout
        )
        logger.info("Massive stream connected: /stocks")

    def make_session(self) -> MassiveSession:
        hub = get_hub()
        return MassiveSession(
            self.outbox,
            hub=hub,
            fanout=get_fanout(hub),
            max_symbols=settings.WS_MAX_SUBSCRIPTIONS,
        )

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.session is None or self.closing:
            return
        if not self.limiter.allow():
            if self.limiter.dropped == 1:  # once per burst over the limit
                self._error(
                    f"too many messages: at most {settings.WS_MAX_MESSAGES_PER_SECOND:g} a "
                    "second; the ones over it are ignored"
                )
            return
        self.limiter.take_dropped()  # the burst is over
        try:
            request = protocol.parse(text_data if text_data is not None else bytes_data)
            if isinstance(request, Auth):
                if self.authenticated:
                    raise MassiveError("already authenticated")
                await self._authenticate(request.key)
            elif not self.authenticated:
                raise MassiveError('not authenticated: send {"action":"auth","params":key} first')
            elif isinstance(request, Subscribe):
                await self.session.subscribe(request)
            else:
                await self.session.unsubscribe(request)
        except MassiveError as e:
            if e.fatal:
                await self._fail(e.status, e.message)
            else:
                self._error(e.message)
        except Exception:
            logger.exception("Massive stream: a client message failed")
            self._error("internal error")

    async def _authenticate(self, key) -> None:
        if settings.API_KEYS_REQUIRED:
            try:
                key_id = await database_sync_to_async(key_lookup)(key)
            except DatabaseError:
                logger.warning("Massive stream: key check failed (database unavailable)")
                self._error("authentication is unavailable right now; try again")
                return
            if key_id is None:
                await self._fail(Status.AUTH_FAILED, protocol.AUTH_FAILED_MESSAGE)
                return
            self.key_id = key_id
            self.slot = await connection_limit.acquire(key_id)
            if self.slot is None:
                await self._fail(Status.MAX_CONNECTIONS, protocol.MAX_CONNECTIONS_MESSAGE)
                return
            self.key_watch = auth.KeyWatch(key_id, on_revoked=self._key_revoked)
            if not await self.key_watch.start():
                await self._key_revoked()
                return
        self.authenticated = True
        if self._timer is not None:
            self._timer.cancel()
        self.outbox.put(protocol.status(Status.AUTH_SUCCESS, protocol.AUTHENTICATED_MESSAGE))

    def _auth_timeout(self) -> None:
        if not self.authenticated and not self.closing:
            self._timeout_task = asyncio.ensure_future(
                self._fail(Status.AUTH_TIMEOUT, protocol.AUTH_TIMEOUT_MESSAGE)
            )

    async def _key_revoked(self) -> None:
        logger.info("closing a Massive stream connection: its API key was revoked")
        await self._fail(Status.FORCE_DISCONNECT, protocol.KEY_REVOKED_MESSAGE)

    def _error(self, message: str) -> None:
        self.outbox.put(protocol.status(Status.ERROR, message))

    async def _fail(self, status: str, message: str) -> None:
        """A fatal error: what is queued goes out (briefly waited for), then the status, then
        the close."""
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
        await self.send(text_data=protocol.status(status, message).text)
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
