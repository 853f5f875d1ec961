"""Contract tests of the library internals ``/ws`` relies on (``streaming.fenced``), run against
the pinned daphne, autobahn and Twisted. Each fails naming the internal it checks: when one does
after an upgrade, switch the shortcut off (its ``FAST_WS_*`` setting) until it is adapted."""

import asyncio
import inspect
import socket

import pytest

from streaming import daphne_io
from streaming.fenced import daphne_send, twisted_tcp
from streaming.protocol import Frame


class ProtocolStandIn:
    STATE_OPEN = 3
    state = 3

    def sendData(self, data): ...

    def registerProducer(self, producer, streaming): ...

    def unregisterProducer(self): ...


def test_daphne_send_is_a_partial_of_handle_reply():
    """daphne.server.Server.create_application: ``send=partial(self.handle_reply, protocol)``."""
    from daphne.server import Server

    seen = {}

    async def application(scope, receive, send):
        seen["send"] = send

    async def create():
        server = Server(application=application, endpoints=["tcp:port=0"])
        protocol = ProtocolStandIn()
        server.connections = {protocol: {}}
        server.create_application(protocol, {"type": "websocket"})
        await server.connections[protocol]["application_instance"]
        return protocol

    protocol = asyncio.run(create())
    assert daphne_send.protocol_behind(seen["send"]) is protocol, (
        "daphne internal changed: the ASGI send of a connection is no longer "
        "functools.partial(Server.handle_reply, protocol); set FAST_WS_DIRECT_WRITE=false"
    )


def test_daphnes_websocket_protocol_has_what_the_direct_writer_calls():
    from daphne.ws_protocol import WebSocketProtocol

    missing = [
        n
        for n in daphne_send.PROTOCOL_METHODS
        if n != "state" and not hasattr(WebSocketProtocol, n)
    ]
    assert not missing, f"daphne's WebSocketProtocol lacks {missing}: FAST_WS_DIRECT_WRITE=false"


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_autobahn_prepared_messages_are_unmasked_text_frames(size):
    """Public autobahn API, relied on byte for byte: ``PreparedMessage.payloadHybi``."""
    frame = Frame("x" * size)
    wire = daphne_io.prepared(frame).payloadHybi
    assert wire[0] == 0x81  # FIN + text
    if size < 126:
        assert (wire[1], wire[2:]) == (size, b"x" * size)
    elif size < 65536:
        assert (wire[1], int.from_bytes(wire[2:4], "big"), len(wire)) == (126, size, size + 4)
    else:
        assert (wire[1], int.from_bytes(wire[2:10], "big"), len(wire)) == (127, size, size + 10)
    assert daphne_io.prepared(frame).payloadHybi is wire  # framed once


def test_twisted_tcp_connection_layout():
    """twisted.internet.tcp.Connection: ``dataBuffer``, ``_tempDataLen``, ``TLS`` and
    ``writeSomeData`` (returns the bytes the socket took)."""
    from twisted.internet import reactor, tcp
    from twisted.internet.protocol import Protocol

    ours, theirs = socket.socketpair()
    try:
        connection = tcp.Connection(ours, Protocol(), reactor)
        for name in twisted_tcp.TRANSPORT_ATTRIBUTES:
            assert hasattr(connection, name), (
                f"Twisted internal tcp.Connection.{name} is gone: set FAST_WS_EAGER_WRITE=false"
            )
        assert (connection.dataBuffer, connection._tempDataLen, connection.TLS) == (
            b"",
            0,
            False,
        ), "Twisted internal: an idle tcp.Connection's buffer layout changed"
        assert connection.writeSomeData(b"abc") == 3 and theirs.recv(8) == b"abc", (
            "Twisted internal tcp.Connection.writeSomeData no longer returns the bytes sent"
        )
    finally:
        ours.close()
        theirs.close()


def test_autobahn_send_data_queues_on_send_queue():
    """The eager write steps aside while autobahn's ``send_queue`` holds anything."""
    from autobahn.websocket.protocol import WebSocketProtocol

    assert "self.send_queue" in inspect.getsource(WebSocketProtocol.sendData), (
        "autobahn internal WebSocketProtocol.send_queue no longer used by sendData: "
        "set FAST_WS_EAGER_WRITE=false"
    )
