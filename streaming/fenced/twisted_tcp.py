"""Twisted internal: bytes handed to a TCP socket at once when nothing is buffered.

``transport.write`` (public) appends to the transport's buffer and registers for writability,
so the bytes leave on the next reactor turn: two epoll changes and a callback per connection
and cycle. When Twisted's ``tcp.Connection`` holds nothing (``dataBuffer`` empty,
``_tempDataLen`` 0) and autobahn has nothing queued (``send_queue``), ``writeSomeData`` sends
now, as asyncio's transports do; whatever the socket refuses goes through autobahn's
``sendData`` (and so Twisted's buffer) as usual. Only plain TCP (no TLS).

Switch: ``FAST_WS_EAGER_WRITE=false`` (every write through autobahn's ``sendData``).
Contract test: ``streaming/tests/test_fenced.py::test_twisted_tcp_connection_layout``.
"""

TRANSPORT_ATTRIBUTES = ("dataBuffer", "_tempDataLen", "TLS", "writeSomeData")


def eager_transport(protocol):
    """The protocol's Twisted TCP transport if it has the layout ``write_now`` relies on."""
    try:
        from twisted.internet.tcp import Connection
    except ImportError:
        return None
    transport = getattr(protocol, "transport", None)
    if not isinstance(transport, Connection) or not hasattr(protocol, "send_queue"):
        return None
    if not all(hasattr(transport, name) for name in TRANSPORT_ATTRIBUTES):
        return None
    return transport


def write_now(protocol, transport, data: bytes) -> bytes:
    """Send what the socket takes now if nothing is waiting; returns what is left to send."""
    if transport.dataBuffer or transport._tempDataLen or transport.TLS or protocol.send_queue:
        return data
    sent = transport.writeSomeData(data)
    if isinstance(sent, int) and sent >= 0:
        return data[sent:]
    return data
