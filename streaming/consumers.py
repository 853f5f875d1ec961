"""``/ws``: the market stream consumer (thin: parse, validate, hand over to the session).

Market data does not come through a channel-layer channel per connection: the process's hub
(``streaming.hub``) receives each cycle once and fills every session's bounded outbox. So the
consumer has no channel layer of its own (``channel_layer_alias = None``), which also spares
Redis a subscription per connection.
"""

import asyncio
import logging
import time
import uuid

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from ticks.market_time import market_now_ms
from ticks.metrics import stream_meter

from . import auth, connection_limit, protocol
from .daphne_io import direct_writer
from .hub import get_hub
from .outbox import Outbox
from .playback import ws as ws_playback
from .protocol import ErrorCode, Ping, ProtocolError, Subscribe
from .session import Session

ws_playback.register()

logger = logging.getLogger(__name__)

TOO_MANY_CONNECTIONS_CLOSE_CODE = 4429


class RateLimiter:
    """Token bucket: ``rate`` messages a second, bursts up to ``rate`` (at least 1). It counts
    the messages it refuses, so that each burst over the limit can be reported once, with how
    many were dropped, instead of an error per dropped message."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = max(rate, 1.0)
        self.tokens = self.burst
        self.at = time.monotonic()
        self.dropped = 0  # refused since the last report

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.dropped += 1
        return False

    def take_dropped(self) -> int:
        dropped, self.dropped = self.dropped, 0
        return dropped

    @property
    def report_after_s(self) -> float:
        """When a burst's report is due: once the bucket has a message's worth again."""
        return min(1.0, max(0.05, 1 / self.rate if self.rate > 0 else 1.0))


class MarketConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = None  # see the module docstring

    session: Session | None = None
    outbox: Outbox | None = None
    playback: ws_playback.WsPlayback | None = None
    key_watch: auth.KeyWatch | None = None
    slot: str | None = None
    client_id = ""

    async def connect(self) -> None:
        await self.accept()
        access = await auth.connection_access(self.scope)
        if access.allowed and access.key_id is not None:
            self.slot = await connection_limit.acquire(access.key_id)
            if self.slot is None:
                await self.send(
                    text_data=protocol.error(
                        ErrorCode.TOO_MANY_CONNECTIONS,
                        "this API key already holds WS_MAX_CONNECTIONS_PER_KEY="
                        f"{settings.WS_MAX_CONNECTIONS_PER_KEY} open stream connections",
                    ).text
                )
                await self.close(code=TOO_MANY_CONNECTIONS_CLOSE_CODE)
                return
            self.key_watch = auth.KeyWatch(access.key_id, on_revoked=self._key_revoked)
            if not await self.key_watch.start():  # revoked since the first check
                await self._key_revoked()
                return
        if not access.allowed:
            await self.send(
                text_data=protocol.error(
                    ErrorCode.UNAUTHORIZED,
                    "a valid API key is required: pass it as the api_key "
                    "query parameter or the X-API-Key header",
                ).text
            )
            await self.close(code=auth.UNAUTHORIZED_CLOSE_CODE)
            return
        self.outbox = Outbox(
            self.base_send,
            limit=settings.WS_SEND_QUEUE_LIMIT,
            direct=direct_writer(self.base_send),
            meter=stream_meter("ws"),
        )
        self.outbox.start()
        self.session = Session(
            self.outbox, hub=get_hub(), max_subscriptions=settings.WS_MAX_SUBSCRIPTIONS
        )
        self.playback = ws_playback.WsPlayback(
            self.outbox,
            self.session,
            key_id=access.key_id,
            max_tickers=settings.WS_MAX_SUBSCRIPTIONS,
        )
        self.limiter = RateLimiter(settings.WS_MAX_MESSAGES_PER_SECOND)
        self.client_id = uuid.uuid4().hex
        self.outbox.put(protocol.connected(client_id=self.client_id, timestamp=_now_ms()))
        logger.info(
            "WebSocket %s connected: %s from %s",
            self.client_id,
            self.scope.get("path"),
            _peer(self.scope),
        )

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.session is None:
            return
        if not self.limiter.allow():
            if self.limiter.dropped == 1:  # a new burst over the limit: report it when it ends
                asyncio.get_running_loop().call_later(
                    self.limiter.report_after_s, self._report_dropped
                )
            return
        self._report_dropped()  # before answering anything sent after the burst
        try:
            request = protocol.parse(
                text_data if text_data is not None else bytes_data,
                max_bytes=settings.WS_MAX_MESSAGE_BYTES,
            )
            if isinstance(request, Ping):
                self.outbox.put(protocol.pong(timestamp=_now_ms()))
            elif isinstance(request, Subscribe):
                self.playback.check_not_playing()
                await self.session.subscribe(request)
            elif isinstance(request, (ws_playback.PlaybackRequest, ws_playback.PlaybackControl)):
                await self.playback.handle(request)
            else:
                await self.session.unsubscribe(request)
        except ProtocolError as e:
            self._error(e)

    def _report_dropped(self) -> None:
        """One ``rate_limited`` error per burst over the limit, with how many messages it
        dropped (unanswered, unprocessed)."""
        dropped = self.limiter.take_dropped()
        if dropped and self.outbox is not None:
            limiter = self.limiter
            self._error(
                ProtocolError(
                    ErrorCode.RATE_LIMITED,
                    f"{dropped} message{'s' if dropped != 1 else ''} dropped unanswered: more than "
                    f"{limiter.rate:g} a second (bursts of up to {limiter.burst:g})",
                    dropped=dropped,
                )
            )

    def _error(self, e: ProtocolError) -> None:
        self.outbox.put(protocol.error(e.code, e.message, **e.extra))

    async def _key_revoked(self) -> None:
        """The connection's API key was revoked (in any process): no more data, an error, then
        close code 4403."""
        if self.outbox is not None:
            self.outbox.abort()  # drop what is queued; nothing more is written
            await self.outbox.close()
        if self.session is not None:
            await self.session.close()
        logger.info("closing a WebSocket connection: its API key was revoked")
        await self.send(
            text_data=protocol.error(
                ErrorCode.KEY_REVOKED, "the API key of this connection was revoked"
            ).text
        )
        await self.close(code=auth.KEY_REVOKED_CLOSE_CODE)

    async def disconnect(self, code) -> None:
        if self.session is not None:
            logger.info("WebSocket %s closed (code %s)", self.client_id, code)
        if self.key_watch is not None:
            await self.key_watch.stop()
        await connection_limit.release(self.slot)
        if self.playback is not None:
            await self.playback.close()
        if self.session is not None:
            await self.session.close()
        if self.outbox is not None:
            await self.outbox.close()


def _peer(scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "?"


def _now_ms() -> int:
    return market_now_ms()
