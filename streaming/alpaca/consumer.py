"""``/v2/{feed}``: the Alpaca Market Data v2 stream consumer (thin: parse, authenticate, hand over
to the session). Feeds ``iex``, ``sip``, ``delayed_sip`` and ``test`` serve the same market;
``test`` also answers to ``FAKEPACA``.

As in ``/ws``: no channel layer of its own (the process's hub fans the market out), a bounded
outbox per connection (a client that falls behind gets 407 ``slow client`` and is closed), the
same per-connection limits (``WS_MAX_SUBSCRIPTIONS`` symbols: 405; ``WS_MAX_MESSAGES_PER_SECOND``),
the per-key connection limit (``WS_MAX_CONNECTIONS_PER_KEY``: 406) and a revoked key closing its
connections.

Authentication: ``{"action": "auth", "key", "secret"}`` within ``ALPACA_STREAM_AUTH_TIMEOUT_S``
(else 404 ``auth timeout``), or the ``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY`` headers on the
handshake. The pair is one of our API keys (``ticks.api_keys.key_pair_lookup``). With
``API_KEYS_REQUIRED=false`` the credentials are not checked, but the client still authenticates
(any auth message, or the headers) before it subscribes, as against Alpaca: code that works
here works there.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from ticks.api_keys import key_pair_lookup
from ticks.metrics import stream_meter

from .. import auth, connection_limit
from ..consumers import RateLimiter
from ..daphne_io import direct_writer
from ..hub import get_hub
from ..outbox import Outbox
from . import protocol
from .fanout import get_fanout
from .protocol import FATAL, AlpacaError, Auth, Code, Subscribe
from .session import AlpacaSession

logger = logging.getLogger(__name__)

FEEDS = ("iex", "sip", "delayed_sip", "test")
# After a fatal error (402, 404, 406, 407): 4008, "policy violation" (1008) in the range left to
# applications (autobahn, under daphne, refuses any other server close code but 1000).
CLOSE_CODE = 4008
KEY_HEADER, SECRET_HEADER = b"apca-api-key-id", b"apca-api-secret-key"


def _header_credentials(scope) -> tuple[str | None, str | None]:
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    key, secret = headers.get(KEY_HEADER), headers.get(SECRET_HEADER)
    return (
        key.decode("latin-1") if key is not None else None,
        secret.decode("latin-1") if secret is not None else None,
    )


class AlpacaConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = None  # market data comes through the hub (see streaming.consumers)
    stream_protocol = "alpaca"  # its label in the stream metrics (ticks.metrics)

    outbox: Outbox | None = None
    session: AlpacaSession | None = None
    key_watch: auth.KeyWatch | None = None
    slot: str | None = None
    authenticated = False
    key_id: int | None = None  # the API key the client authenticated with (keys required)
    closing = False
    _timer: asyncio.TimerHandle | None = None

    async def connect(self) -> None:
        feed = self.scope["url_route"]["kwargs"]["feed"]
        self.codec = protocol.codec_for(self.scope.get("headers", []))
        await self.accept()
        self.outbox = Outbox(
            self.base_send,
            limit=settings.WS_SEND_QUEUE_LIMIT,
            direct=direct_writer(self.base_send),
            overflow_frame=protocol.error(self.codec, Code.SLOW_CLIENT),
            overflow_close_code=CLOSE_CODE,
            meter=stream_meter(self.stream_protocol),
        )
        self.outbox.start()
        self.session = self.make_session(feed)
        self.limiter = RateLimiter(settings.WS_MAX_MESSAGES_PER_SECOND)
        self.outbox.put(protocol.success(self.codec, "connected"))
        key, secret = _header_credentials(self.scope)
        if key is not None or secret is not None:
            await self._authenticate(key, secret)
        else:
            self._timer = asyncio.get_running_loop().call_later(
                settings.ALPACA_STREAM_AUTH_TIMEOUT_S, self._auth_timeout
            )
        logger.info("Alpaca stream connected: /v2/%s (%s)", feed, self.codec.name)

    def make_session(self, feed: str):
        hub = get_hub()
        return AlpacaSession(
            self.outbox,
            codec=self.codec,
            hub=hub,
            fanout=get_fanout(hub),
            alias=settings.ALPACA_FAKEPACA_TICKER if feed == "test" else None,
            max_symbols=settings.WS_MAX_SUBSCRIPTIONS,
        )

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.session is None or self.closing:
            return
        if not self.limiter.allow():
            if self.limiter.dropped == 1:  # once per burst over the limit
                self._error(Code.RATE_LIMITED)
            return
        self.limiter.take_dropped()  # the burst is over
        try:
            request = protocol.parse(text_data if text_data is not None else bytes_data)
            if isinstance(request, Auth):
                if self.authenticated:
                    raise AlpacaError(Code.ALREADY_AUTHENTICATED)
                await self._authenticate(request.key, request.secret)
            elif not self.authenticated:
                raise AlpacaError(Code.NOT_AUTHENTICATED)
            elif isinstance(request, Subscribe):
                await self.session.subscribe(request)
            else:
                await self.session.unsubscribe(request)
        except AlpacaError as e:
            if e.code in FATAL:
                await self._fail(e.code)
            else:
                self._error(e.code)
        except Exception:
            logger.exception("Alpaca stream: a client message failed")
            self._error(Code.INTERNAL)

    async def _authenticate(self, key, secret) -> None:
        key_id = None
        if settings.API_KEYS_REQUIRED:
            try:
                key_id = await database_sync_to_async(key_pair_lookup)(key, secret)
            except DatabaseError:
                logger.warning("Alpaca stream: key check failed (database unavailable)")
                self._error(Code.INTERNAL)
                return
            if key_id is None:
                await self._fail(Code.AUTH_FAILED)
                return
            self.slot = await connection_limit.acquire(key_id)
            if self.slot is None:
                await self._fail(Code.CONNECTION_LIMIT)
                return
            self.key_watch = auth.KeyWatch(key_id, on_revoked=self._key_revoked)
            if not await self.key_watch.start():
                await self._key_revoked()
                return
        self.key_id = key_id
        self.authenticated = True
        if self._timer is not None:
            self._timer.cancel()
        self.outbox.put(protocol.success(self.codec, "authenticated"))

    def _auth_timeout(self) -> None:
        if not self.authenticated and not self.closing:
            self._timeout_task = asyncio.ensure_future(self._fail(Code.AUTH_TIMEOUT))

    async def _key_revoked(self) -> None:
        logger.info("closing an Alpaca stream connection: its API key was revoked")
        await self._fail(Code.AUTH_FAILED)

    def _error(self, code: int) -> None:
        self.outbox.put(protocol.error(self.codec, code))

    async def _fail(self, code: int, msg: str | None = None) -> None:
        """A fatal error: what is queued goes out (briefly waited for), then the error, then the
        close."""
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
        frame = protocol.error(self.codec, code, msg)
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
