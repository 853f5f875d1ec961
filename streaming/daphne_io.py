"""Sending under daphne (autobahn on Twisted) at the cost of a broadcast server.

Two measured costs of daphne's per-message path, and what this module does about them (figures
from ``python -m bench ws``, profiled):

- autobahn's ``sendData`` logs every frame at debug level, and that call's arguments are built
  before the logger drops them: ``hltype``/``hlval`` colour a qualified name and two values
  through ``click.style`` (click is installed, for Celery). That was about 40% of daphne's CPU
  per frame. ``plain_autobahn_log_arguments()`` points the names autobahn's protocol module
  uses at plain, cheap equivalents (same messages, no colours).
- an ASGI ``websocket.send`` goes through daphne's ``handle_reply``, the protocol's checks,
  UTF-8 encoding and autobahn's framing, once per message and connection, although every
  connection of the process gets the very same bytes. ``direct_writer(send)`` recognises
  daphne's ``send`` (``functools.partial(server.handle_reply, protocol)``) and returns a writer
  that puts the prebuilt frames (``protocol.Frame.wire``, framed once per process) of one
  connection's pending messages on the wire with one ``sendData`` call: what autobahn's own
  broadcast API (``prepareMessage``/``sendPreparedMessage``) does, for several frames at once,
  and without a task switch per connection. It writes only while the connection is open and
  never when permessage-deflate was negotiated (daphne does not offer it); otherwise, or under
  any other server, frames go through ASGI. It is also the transport's push producer, which
  gives the app the back-pressure daphne's ASGI ``send`` does not.

Both rely on the internals of the pinned daphne and autobahn; each checks the layout it expects
and steps aside (falling back to the plain path) when it is not there.
"""

import functools
import logging

logger = logging.getLogger(__name__)


def _plain_type(obj) -> str:
    return "<" + getattr(obj, "__qualname__", type(obj).__qualname__) + ">"


def _plain_value(value, color=None, bold=None) -> str:
    return str(value)


def plain_autobahn_log_arguments() -> bool:
    """Idempotent; False (and nothing changed) when autobahn's layout is not the expected one."""
    try:
        from autobahn.websocket import protocol
    except ImportError:
        return False
    if not (callable(getattr(protocol, "hltype", None))
            and callable(getattr(protocol, "hlval", None))):
        logger.warning("autobahn's log helpers moved: frames are sent without the tuning")
        return False
    protocol.hltype = _plain_type
    protocol.hlval = _plain_value
    return True


class DirectWriter:
    """Writes frames straight to one daphne connection, and is the push producer of its
    transport: Twisted pauses it when the transport buffers more than it will hold (the client
    is not reading) and resumes it once that drained, so the outbox queues (bounded) meanwhile."""

    __slots__ = ("protocol", "paused", "_outbox", "_registered", "_tcp")

    def __init__(self, protocol) -> None:
        self.protocol = protocol
        self.paused = False
        self._outbox = None
        self._registered = False
        self._tcp = _plain_tcp(protocol)

    @property
    def usable(self) -> bool:
        """Open, and not compressing (daphne never offers permessage-deflate)."""
        protocol = self.protocol
        return (protocol.state == protocol.STATE_OPEN
                and getattr(protocol, "_perMessageCompress", None) is None)

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
        data = b"".join([frame.wire for frame in frames])
        transport = self._tcp
        if (transport is not None and not transport.dataBuffer and not transport._tempDataLen
                and not transport.TLS and not protocol.send_queue):
            # Nothing buffered: send now, as asyncio's transports do, instead of registering
            # for writability and sending on the next loop turn (two epoll changes and a
            # callback per connection and cycle). Twisted buffers whatever the socket refuses.
            sent = transport.writeSomeData(data)
            if isinstance(sent, int) and sent >= 0:
                if sent == len(data):
                    return
                data = data[sent:]
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


def _plain_tcp(protocol):
    """The connection's Twisted TCP transport if it has the buffer layout ``write`` relies on."""
    try:
        from twisted.internet.tcp import Connection
    except ImportError:
        return None
    transport = getattr(protocol, "transport", None)
    if not isinstance(transport, Connection) or not hasattr(protocol, "send_queue"):
        return None
    if not all(hasattr(transport, name) for name in (
            "dataBuffer", "_tempDataLen", "TLS", "writeSomeData")):
        return None
    return transport


def direct_writer(send) -> DirectWriter | None:
    """A ``DirectWriter`` for daphne's ``send`` callable, else None."""
    if not isinstance(send, functools.partial) or len(send.args) != 1 or send.keywords:
        return None
    server = getattr(send.func, "__self__", None)
    if (type(server).__module__ != "daphne.server"
            or getattr(send.func, "__name__", "") != "handle_reply"):
        return None
    protocol = send.args[0]
    if not all(hasattr(protocol, name) for name in (
            "sendData", "state", "STATE_OPEN", "registerProducer", "unregisterProducer")):
        return None
    return DirectWriter(protocol)
