"""The per-connection outbox, on the ASGI path and on daphne's direct path (with stand-ins for
autobahn's protocol and Twisted's transport), the recognition of daphne's ``send``, and the
``FAST_WS_*`` switches. The real libraries' layouts: ``test_fenced.py``."""

import asyncio
import functools

import pytest

from streaming import auth, consumers
from streaming import daphne_io as daphne
from streaming.alpaca import consumer as alpaca_consumer
from streaming.fenced import twisted_tcp
from streaming.outbox import SLOW_CLIENT_CLOSE_CODE, Outbox
from streaming.protocol import Frame

from .conftest import asynctest


def frames(*texts) -> list[Frame]:
    return [Frame(t) for t in texts]


class Sent:
    """An ASGI send that records what it is given."""

    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def __call__(self, message: dict) -> None:
        self.messages.append(message)

    @property
    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages if m["type"] == "websocket.send"]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@asynctest
async def test_frames_go_out_in_order_through_asgi_send():
    sent = Sent()
    outbox = Outbox(sent, limit=10)
    outbox.start()
    outbox.put(Frame("a"))
    outbox.put_many(frames("b", "c"))
    await settle()
    outbox.put(Frame("d"))
    await settle()
    await outbox.close()
    assert sent.texts == ["a", "b", "c", "d"]


@asynctest
async def test_overflow_sends_slow_client_then_closes_and_drops_the_rest():
    sent = Sent()
    outbox = Outbox(sent, limit=3)
    outbox.start()
    outbox.put_many(frames("a", "b"))
    outbox.put_many(frames("c", "d"))  # 4 > 3, before the writer ran
    outbox.put(Frame("e"))
    await settle()
    assert '"code":"slow_client"' in sent.texts[0] and len(sent.texts) == 1
    assert sent.messages[-1] == {"type": "websocket.close", "code": SLOW_CLIENT_CLOSE_CODE}
    await outbox.close()


@asynctest
async def test_put_paced_never_fills_the_queue():
    sent = Sent()
    outbox = Outbox(sent, limit=500)
    outbox.start()
    await outbox.put_paced((Frame(str(i)) for i in range(2_000)), chunk=100)
    await settle()
    await outbox.close()
    assert sent.texts == [str(i) for i in range(2_000)]


class FakeTransport:
    """The parts of Twisted's TCP transport ``DirectWriter`` reads."""

    def __init__(self) -> None:
        self.dataBuffer = b""
        self._tempDataLen = 0
        self.TLS = False
        self.socket_accepts: int | None = None  # bytes the socket takes; None: all
        self.on_wire = b""

    def writeSomeData(self, data: bytes) -> int:
        n = len(data) if self.socket_accepts is None else min(self.socket_accepts, len(data))
        self.on_wire += data[:n]
        return n


class FakeProtocol:
    """The parts of autobahn's protocol ``DirectWriter`` uses."""

    STATE_OPEN = 3

    def __init__(self) -> None:
        self.state = self.STATE_OPEN
        self.send_queue: list = []
        self.transport = FakeTransport()
        self.buffered = b""  # what went through sendData (Twisted's buffer)
        self.producer = None

    def sendData(self, data: bytes) -> None:
        self.buffered += data
        self.transport.dataBuffer += data

    def registerProducer(self, producer, streaming) -> None:
        assert streaming and self.producer is None
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None


@pytest.fixture(autouse=True)
def direct_write_on(settings):
    """Of the shortcut itself: on, whatever the environment says (tests of it off say so)."""
    settings.FAST_WS_DIRECT_WRITE = True


@pytest.fixture
def direct(monkeypatch):
    protocol = FakeProtocol()
    monkeypatch.setattr(twisted_tcp, "eager_transport", lambda p: p.transport)
    return protocol, daphne.DirectWriter(protocol, eager=True)


def wire(*texts) -> bytes:
    return b"".join(daphne.prepared(f).payloadHybi for f in frames(*texts))


@asynctest
async def test_direct_writes_go_straight_to_the_socket_in_one_write(direct):
    protocol, writer = direct
    sent = Sent()
    outbox = Outbox(sent, limit=10, direct=writer)
    outbox.start()
    assert protocol.producer is writer
    outbox.put_many(frames("a", "b"))
    assert protocol.transport.on_wire == wire("a", "b")  # synchronously, no task switch
    # What the socket refuses goes through Twisted's buffer, and so does all that follows.
    protocol.transport.socket_accepts = 3
    outbox.put(Frame("cdef"))
    outbox.put(Frame("g"))
    assert protocol.transport.on_wire + protocol.buffered == wire("a", "b", "cdef", "g")
    assert sent.messages == []
    await outbox.close()
    assert protocol.producer is None


@asynctest
async def test_direct_writes_wait_while_the_transport_is_paused(direct):
    protocol, writer = direct
    sent = Sent()
    outbox = Outbox(sent, limit=3, direct=writer)
    outbox.start()
    writer.pauseProducing()  # Twisted: the transport's buffer is full
    outbox.put_many(frames("a", "b"))
    await settle()
    assert protocol.transport.on_wire == b""
    writer.resumeProducing()
    await settle()
    assert protocol.transport.on_wire == wire("a", "b")
    writer.pauseProducing()
    outbox.put_many(frames("c", "d"))
    outbox.put_many(frames("e", "f"))  # over the limit while paused
    await settle()
    assert '"code":"slow_client"' in sent.texts[0]
    assert sent.messages[-1] == {"type": "websocket.close", "code": SLOW_CLIENT_CLOSE_CODE}
    await outbox.close()


@asynctest
async def test_direct_path_steps_aside_when_it_cannot_be_used(direct):
    protocol, writer = direct
    sent = Sent()
    outbox = Outbox(sent, limit=10, direct=writer)
    outbox.start()
    protocol.state = protocol.STATE_OPEN + 1  # closing: autobahn would refuse the bytes
    outbox.put(Frame("a"))
    await settle()
    assert sent.texts == ["a"] and protocol.transport.on_wire == b""
    await outbox.close()


def test_without_the_eager_write_every_write_goes_through_send_data():
    protocol = FakeProtocol()
    writer = daphne.DirectWriter(protocol, eager=False)
    writer.write(frames("a", "b"))
    assert protocol.buffered == wire("a", "b") and protocol.transport.on_wire == b""


def _daphne_send(protocol):
    from daphne.server import Server

    server = Server.__new__(Server)
    return functools.partial(server.handle_reply, protocol)


def test_direct_writer_recognises_daphnes_send_only():
    protocol = FakeProtocol()
    assert isinstance(daphne.direct_writer(_daphne_send(protocol)), daphne.DirectWriter)
    assert daphne.direct_writer(Sent()) is None
    assert daphne.direct_writer(functools.partial(print, protocol)) is None
    assert daphne.direct_writer(_daphne_send(object())) is None


def test_the_direct_write_switched_off_leaves_frames_to_asgi(settings):
    settings.FAST_WS_DIRECT_WRITE = False
    assert daphne.direct_writer(_daphne_send(FakeProtocol())) is None


@pytest.mark.parametrize("eager", [True, False])
def test_the_eager_write_follows_its_switch(settings, monkeypatch, eager):
    settings.FAST_WS_EAGER_WRITE = eager
    protocol = FakeProtocol()
    monkeypatch.setattr(twisted_tcp, "eager_transport", lambda p: p.transport)
    writer = daphne.direct_writer(_daphne_send(protocol))
    writer.write(frames("a"))
    assert (protocol.transport.on_wire, protocol.buffered) == (
        (wire("a"), b"") if eager else (b"", wire("a"))
    )


@asynctest
async def test_a_lost_connection_releases_a_replay_waiting_for_room(direct):
    protocol, writer = direct
    outbox = Outbox(Sent(), limit=8, direct=writer)
    outbox.start()
    writer.pauseProducing()
    replaying = asyncio.ensure_future(outbox.put_paced(frames(*"abcdefghijklmnop")))
    await settle()
    assert not replaying.done()  # waiting for the paused transport to drain
    writer.stopProducing()  # Twisted: the connection is lost
    await asyncio.wait_for(replaying, 1)
    await outbox.close()


@pytest.mark.parametrize(
    "code",
    [
        SLOW_CLIENT_CLOSE_CODE,
        auth.UNAUTHORIZED_CLOSE_CODE,
        auth.KEY_REVOKED_CLOSE_CODE,
        consumers.TOO_MANY_CONNECTIONS_CLOSE_CODE,
        alpaca_consumer.CLOSE_CODE,
    ],
)
def test_every_close_code_we_send_is_one_daphne_can_send(code):
    """Daphne closes through autobahn, which refuses any server close code but 1000 and
    3000-4999 (it raises instead of closing: a 1008 never reached the client)."""
    from autobahn.websocket.protocol import WebSocketProtocol

    sent = []
    protocol = WebSocketProtocol()
    protocol.state = WebSocketProtocol.STATE_OPEN
    protocol.sendCloseFrame = lambda code=None, reasonUtf8=None, isReply=False: sent.append(code)
    protocol.sendClose(code=code)
    assert sent == [code]
    with pytest.raises(Exception, match="invalid close code"):
        protocol.sendClose(code=1008)


# --- Metrics: open connections, frames sent and dropped (ticks.metrics) ---------------------------


def _stream_samples(protocol: str) -> tuple[float, float, float]:
    """``(clients, sent, dropped)`` of ``protocol`` in this process's registry, tallies flushed."""
    from prometheus_client import REGISTRY

    from ticks.metrics import flush_tallies

    flush_tallies()
    labels = {"protocol": protocol}
    return tuple(
        REGISTRY.get_sample_value(name, labels) or 0.0
        for name in (
            "market_stream_clients",
            "market_stream_messages_sent_total",
            "market_stream_messages_dropped_total",
        )
    )


def _moved(before, after) -> tuple:
    return tuple(b - a for a, b in zip(before, after))


@asynctest
async def test_the_meter_counts_the_connection_and_the_frames_it_sends_on_both_paths(direct):
    from ticks.metrics import stream_meter

    protocol, writer = direct
    before = _stream_samples("ws")
    asgi = Outbox(Sent(), limit=10, meter=stream_meter("ws"))
    straight = Outbox(Sent(), limit=10, direct=writer, meter=stream_meter("ws"))
    asgi.start()
    straight.start()
    assert _moved(before, _stream_samples("ws")) == (2, 0, 0)
    asgi.put_many(frames("a", "b"))
    asgi.put(Frame("c"))
    straight.put_many(Frame(t) for t in ("d", "e"))  # a generator, as a session may pass
    await settle()
    assert _moved(before, _stream_samples("ws")) == (2, 5, 0)
    writer.pauseProducing()
    straight.put(Frame("f"))  # queued meanwhile, written on resume
    await settle()
    assert _moved(before, _stream_samples("ws")) == (2, 5, 0)
    writer.resumeProducing()
    await settle()
    await asgi.close()
    await asgi.close()  # a second close does not count the connection out twice
    assert _moved(before, _stream_samples("ws")) == (1, 6, 0)
    await straight.close()
    assert _moved(before, _stream_samples("ws")) == (0, 6, 0)


@asynctest
async def test_the_meter_counts_what_a_slow_client_and_a_cut_connection_lose():
    from ticks.metrics import stream_meter

    before = _stream_samples("alpaca")
    slow = Outbox(Sent(), limit=3, meter=stream_meter("alpaca"))
    slow.start()
    slow.put_many(frames("a", "b"))
    slow.put_many(frames("c", "d"))  # 4 > 3 before the writer ran: all four are dropped
    slow.put(Frame("e"))  # after the close: not sent, not counted
    await settle()
    assert _moved(before, _stream_samples("alpaca")) == (1, 0, 4)
    await slow.close()
    cut = Outbox(Sent(), limit=10, meter=stream_meter("alpaca"))
    cut.start()
    cut.put_many(frames("f", "g", "h"))
    cut.abort()  # the key was revoked before the writer ran
    await cut.close()
    await settle()
    assert _moved(before, _stream_samples("alpaca")) == (0, 0, 7)
    gone = Outbox(Sent(), limit=10, meter=stream_meter("alpaca"))
    gone.start()
    gone.put_many(frames("i", "j"))
    await gone.close()  # the client went away before the writer ran
    assert _moved(before, _stream_samples("alpaca")) == (0, 0, 9)


def test_no_meter_when_metrics_are_off(settings):
    from ticks.metrics import stream_meter

    settings.METRICS_ENABLED = False
    assert stream_meter("ws") is None
    settings.METRICS_ENABLED = True
    assert stream_meter("ws") is stream_meter("ws")
    with pytest.raises(ValueError, match="unknown stream protocol"):
        stream_meter("smoke-signals")
