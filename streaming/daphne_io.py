"""Sending under daphne (autobahn on Twisted) at the cost of a broadcast server.

An ASGI ``websocket.send`` goes through daphne's ``handle_reply``, the protocol's checks, UTF-8
encoding and autobahn's framing, once per message and connection, although every connection of
the process gets the very same bytes. ``direct_writer(send)`` returns, for a connection daphne
serves, a writer that sends one connection's pending frames with one autobahn ``sendData``
call, each frame framed once per process by autobahn's broadcast API (``PreparedMessage``,
cached on the ``protocol.Frame``), and without a task switch per connection. Frames are sent
uncompressed (``doNotCompress``), which permessage-deflate allows (daphne never offers it
anyway). The writer is also the transport's push producer (``registerProducer``), which gives
the app the back-pressure daphne's ASGI ``send`` does not.

What is not autobahn's public API is fenced in ``streaming.fenced``: finding the protocol behind
daphne's ``send`` (``daphne_send``) and the eager socket write (``twisted_tcp``), each behind its
``FAST_WS_*`` setting. (Plain arguments for autobahn's per-write debug log, patched into its
module, were removed: with one ``sendData`` per connection and cycle they bought 2%.) With
``FAST_WS_DIRECT_WRITE=false``, or under any other server, ``direct_writer`` returns None and
frames go through ASGI.
"""

import logging

from autobahn.websocket.protocol import PreparedMessage
from django.conf import settings

from .fenced import daphne_send, twisted_tcp

logger = logging.getLogger(__name__)


def prepared(frame) -> PreparedMessage:
    """The frame as autobahn's broadcast API prepares it (server side: unmasked), once."""
    message = frame.prepared
    if message is None:
        message = frame.prepared = PreparedMessage(frame.payload(), frame.binary, False, True)
    return message


class DirectWriter:
    """Writes frames straight to one daphne connection, and is the push producer of its
    transport: Twisted pauses it when the transport buffers more than it will hold (the client
    is not reading) and resumes it once that drained, so the outbox queues (bounded) meanwhile."""

    __slots__ = ("protocol", "paused", "_outbox", "_registered", "_tcp")

    def __init__(self, protocol, *, eager: bool = False) -> None:
        self.protocol = protocol
        self.paused = False
        self._outbox = None
        self._registered = False
        self._tcp = twisted_tcp.eager_transport(protocol) if eager else None

    @property
    def usable(self) -> bool:
        protocol = self.protocol
        return protocol.state == protocol.STATE_OPEN

    def attach(self, outbox) -> None:
        self._outbox = outbox
        try:
            self.protocol.registerProducer(self, True)
            self._registered = True
        except Exception:  # another producer, or gone: write without back-pressure
            logger.debug("could not register as the transport's producer", exc_info=True)

    def detach(self) -> None:
        self._outbox = None
        if self._registered:
            self._registered = False
            try:
                self.protocol.unregisterProducer()
            except Exception:
                pass

    def write(self, frames) -> None:
        protocol = self.protocol
        if protocol.state != protocol.STATE_OPEN:
            return
        data = b"".join([prepared(frame).payloadHybi for frame in frames])
        if self._tcp is not None:
            data = twisted_tcp.write_now(protocol, self._tcp, data)
            if not data:
                return
        protocol.sendData(data)

    # IPushProducer
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        if self._outbox is not None:
            self._outbox.wake()

    def stopProducing(self) -> None:
        """The connection is lost."""
        self.paused = True
        outbox, self._outbox = self._outbox, None
        if outbox is not None:
            outbox.abort()


def direct_writer(send) -> DirectWriter | None:
    """A ``DirectWriter`` for daphne's ``send`` callable (when ``FAST_WS_DIRECT_WRITE``), else
    None: frames then go through the ASGI ``send``."""
    protocol = daphne_send.protocol_behind(send)
    if protocol is None:
        return None
    if not settings.FAST_WS_DIRECT_WRITE:
        return None
    return DirectWriter(protocol, eager=settings.FAST_WS_EAGER_WRITE)
