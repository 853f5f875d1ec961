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

import logging

from django.conf import settings

from ticks.api_keys import key_pair_lookup

from ..hub import get_hub
from ..vendor_stream import CLOSE_CODE, Refusal, VendorStreamConsumer
from . import protocol
from .fanout import get_fanout
from .protocol import FATAL, AlpacaError, Auth, Code, Subscribe
from .session import AlpacaSession

__all__ = ["CLOSE_CODE", "FEEDS", "AlpacaConsumer"]

logger = logging.getLogger(__name__)

FEEDS = ("iex", "sip", "delayed_sip", "test")
KEY_HEADER, SECRET_HEADER = b"apca-api-key-id", b"apca-api-secret-key"


def _header_credentials(scope) -> tuple[str | None, str | None]:
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    key, secret = headers.get(KEY_HEADER), headers.get(SECRET_HEADER)
    return (
        key.decode("latin-1") if key is not None else None,
        secret.decode("latin-1") if secret is not None else None,
    )


class AlpacaConsumer(VendorStreamConsumer):
    label = "Alpaca stream"
    stream_protocol = "alpaca"  # its label in the stream metrics (ticks.metrics)
    session: AlpacaSession | None = None

    async def connect(self) -> None:
        feed = self.scope["url_route"]["kwargs"]["feed"]
        self.codec = protocol.codec_for(self.scope.get("headers", []))
        key, secret = _header_credentials(self.scope)
        by_header = key is not None or secret is not None
        await self.open(
            lambda: self.make_session(feed),
            auth_timeout_s=None if by_header else settings.ALPACA_STREAM_AUTH_TIMEOUT_S,
        )
        self.outbox.put(protocol.success(self.codec, "connected"))
        if by_header:
            await self.authenticate(key, secret)
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

    async def handle(self, data) -> None:
        try:
            request = protocol.parse(data)
            if isinstance(request, Auth):
                if self.authenticated:
                    raise AlpacaError(Code.ALREADY_AUTHENTICATED)
                await self.authenticate(request.key, request.secret)
            elif not self.authenticated:
                raise AlpacaError(Code.NOT_AUTHENTICATED)
            elif isinstance(request, Subscribe):
                await self.session.subscribe(request)
            else:
                await self.session.unsubscribe(request)
        except AlpacaError as e:
            raise Refusal(self.error(e.code), fatal=e.code in FATAL) from e

    async def fail_with(self, code: int, msg: str | None = None) -> None:
        """A fatal error with the code's message, or ``msg``."""
        await self.fail(self.error(code, msg))

    def error(self, code: int, msg: str | None = None):
        return protocol.error(self.codec, code, msg)

    def lookup_key(self, credentials: tuple) -> int | None:
        return key_pair_lookup(*credentials)

    def overflow_frame(self):
        return self.error(Code.SLOW_CLIENT)

    def authenticated_frame(self):
        return protocol.success(self.codec, "authenticated")

    def rate_limited_frame(self):
        return self.error(Code.RATE_LIMITED)

    def internal_error_frame(self):
        return self.error(Code.INTERNAL)

    def auth_unavailable_frame(self):
        return self.error(Code.INTERNAL)

    def auth_failed_frame(self):
        return self.error(Code.AUTH_FAILED)

    def auth_timeout_frame(self):
        return self.error(Code.AUTH_TIMEOUT)

    def connection_limit_frame(self):
        return self.error(Code.CONNECTION_LIMIT)

    def key_revoked_frame(self):
        return self.error(Code.AUTH_FAILED)
