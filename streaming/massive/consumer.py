"""``/stocks``: the Massive (Polygon) stocks stream consumer (thin: parse, authenticate, hand
over to the session). The ``massive`` client's ``WebSocketClient(api_key, feed="host:port",
market="stocks", secure=False)`` connects here.

As in ``/ws`` and the Alpaca stream: no channel layer of its own (the process's hub fans the
market out), a bounded outbox per connection (a client that falls behind gets a
``slow_consumer`` status and is closed), the same per-connection limits
(``WS_MAX_SUBSCRIPTIONS`` tickers, ``WS_MAX_MESSAGES_PER_SECOND``), the per-key connection
limit (``WS_MAX_CONNECTIONS_PER_KEY``: ``max_connections``) and a revoked key closing its
connections (``force_disconnect``). Every answer is a Massive status message; after a fatal one
the connection is closed with 4008 (``streaming.vendor_stream.CLOSE_CODE``), which the
client reports as an error (and reconnects, as it does when Massive closes with 1008).

Authentication: ``{"action": "auth", "params": key}`` within ``MASSIVE_STREAM_AUTH_TIMEOUT_S``
(else ``auth_timeout``), with one of our API keys (``ticks.api_keys.key_lookup``). With
``API_KEYS_REQUIRED=false`` any key is accepted, but the client still authenticates before it
subscribes, as against Massive: code that works here works there.
"""

import logging

from django.conf import settings

from ticks.api_keys import key_lookup

from ..hub import get_hub
from ..vendor_stream import Refusal, VendorStreamConsumer
from . import protocol
from .fanout import get_fanout
from .protocol import Auth, MassiveError, Status, Subscribe
from .session import MassiveSession

logger = logging.getLogger(__name__)


class MassiveConsumer(VendorStreamConsumer):
    label = "Massive stream"
    stream_protocol = "massive"  # its label in the stream metrics (ticks.metrics)
    session: MassiveSession | None = None

    async def connect(self) -> None:
        await self.open(self.make_session, auth_timeout_s=settings.MASSIVE_STREAM_AUTH_TIMEOUT_S)
        self.outbox.put(protocol.status(Status.CONNECTED, protocol.CONNECTED_MESSAGE))
        logger.info("Massive stream connected: /stocks")

    def make_session(self) -> MassiveSession:
        hub = get_hub()
        return MassiveSession(
            self.outbox,
            hub=hub,
            fanout=get_fanout(hub),
            max_symbols=settings.WS_MAX_SUBSCRIPTIONS,
        )

    async def handle(self, data) -> None:
        try:
            request = protocol.parse(data)
            if isinstance(request, Auth):
                if self.authenticated:
                    raise MassiveError("already authenticated")
                await self.authenticate(request.key)
            elif not self.authenticated:
                raise MassiveError('not authenticated: send {"action":"auth","params":key} first')
            elif isinstance(request, Subscribe):
                await self.session.subscribe(request)
            else:
                await self.session.unsubscribe(request)
        except MassiveError as e:
            raise Refusal(protocol.status(e.status, e.message), fatal=e.fatal) from e

    async def fail_with(self, status: str, message: str) -> None:
        await self.fail(protocol.status(status, message))

    def lookup_key(self, credentials: tuple) -> int | None:
        return key_lookup(*credentials)

    def overflow_frame(self):
        return protocol.status(Status.SLOW_CONSUMER, protocol.SLOW_CONSUMER_MESSAGE)

    def authenticated_frame(self):
        return protocol.status(Status.AUTH_SUCCESS, protocol.AUTHENTICATED_MESSAGE)

    def rate_limited_frame(self):
        return self._error(
            f"too many messages: at most {settings.WS_MAX_MESSAGES_PER_SECOND:g} a second; "
            "the ones over it are ignored"
        )

    def internal_error_frame(self):
        return self._error("internal error")

    def auth_unavailable_frame(self):
        return self._error("authentication is unavailable right now; try again")

    def auth_failed_frame(self):
        return protocol.status(Status.AUTH_FAILED, protocol.AUTH_FAILED_MESSAGE)

    def auth_timeout_frame(self):
        return protocol.status(Status.AUTH_TIMEOUT, protocol.AUTH_TIMEOUT_MESSAGE)

    def connection_limit_frame(self):
        return protocol.status(Status.MAX_CONNECTIONS, protocol.MAX_CONNECTIONS_MESSAGE)

    def key_revoked_frame(self):
        return protocol.status(Status.FORCE_DISCONNECT, protocol.KEY_REVOKED_MESSAGE)

    @staticmethod
    def _error(message: str):
        return protocol.status(Status.ERROR, message)
