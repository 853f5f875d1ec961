"""daphne internal: the autobahn protocol behind a WebSocket connection's ASGI ``send``.

daphne 4.2 hands each connection's application ``functools.partial(server.handle_reply,
protocol)`` (``daphne.server.Server.create_application``), where ``protocol`` is the
connection's autobahn ``WebSocketServerProtocol``. No public API reaches that protocol, and
writing to it directly is what lets a frame fanned out to many connections be framed once and
put on the wire without a trip through ASGI per message (``streaming.daphne_io``).

Switch: ``FAST_WS_DIRECT_WRITE=false`` (every frame then goes through the ASGI ``send``).
Contract test: ``streaming/tests/test_fenced.py::test_daphne_send_is_a_partial_of_handle_reply``.
"""

import functools

PROTOCOL_METHODS = ("sendData", "state", "STATE_OPEN", "registerProducer", "unregisterProducer")


def protocol_behind(send):
    """The connection's autobahn protocol if ``send`` is daphne's, else None."""
    if not isinstance(send, functools.partial) or len(send.args) != 1 or send.keywords:
        return None
    server = getattr(send.func, "__self__", None)
    if (
        type(server).__module__ != "daphne.server"
        or getattr(send.func, "__name__", "") != "handle_reply"
    ):
        return None
    protocol = send.args[0]
    if not all(hasattr(protocol, name) for name in PROTOCOL_METHODS):
        return None
    return protocol
