"""The wire protocol on its own: parsing, validation, message shapes."""

import orjson
import pytest

from streaming import protocol
from streaming.protocol import ErrorCode, Ping, ProtocolError, Subscribe, Unsubscribe


def parse(message, max_bytes=8192):
    raw = message if isinstance(message, (str, bytes)) else orjson.dumps(message).decode()
    return protocol.parse(raw, max_bytes=max_bytes)


def error_of(message, max_bytes=8192) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        parse(message, max_bytes)
    return info.value


def test_tickers_as_a_list_a_string_or_a_wildcard_any_case():
    assert parse({"type": "subscribe", "tickers": ["synth", " Tech", "SYNTH"]}) == Subscribe(
        tickers=("SYNTH", "TECH")
    )
    assert parse({"type": "subscribe", "tickers": "tech"}) == Subscribe(tickers=("TECH",))
    assert parse({"type": "subscribe", "tickers": "*"}).tickers is None
    assert parse({"type": "subscribe", "tickers": ["SYNTH", "*"]}).tickers is None
    assert parse({"type": "unsubscribe", "tickers": "synth"}) == Unsubscribe(tickers=("SYNTH",))
    assert parse({"type": "ping"}) == Ping()
    assert parse(b'{"type": "ping"}') == Ping()


def test_subscribe_options():
    request = parse(
        {
            "type": "subscribe",
            "tickers": ["SYNTH", "TECH"],
            "channels": ["ticks", "bars"],
            "since": 1705318245123.0,
            "from_seq": {"synth": -4},
            "batch": True,
        }
    )
    assert request == Subscribe(
        tickers=("SYNTH", "TECH"),
        channels=frozenset({"ticks", "bars"}),
        since=1705318245123,
        from_seq={"SYNTH": -4},
        batch=True,
    )
    assert request.resumes
    assert parse({"type": "subscribe", "tickers": "*", "from_seq": {"NEW": 3}}).from_seq == {
        "NEW": 3
    }
    assert parse({"type": "unsubscribe", "tickers": "SYNTH", "channels": "bars"}).channels == {
        "bars"
    }


@pytest.mark.parametrize("raw", ["{", "not json", b"\xff\xfe", ""])
def test_invalid_json(raw):
    assert error_of(raw).code == ErrorCode.INVALID_JSON


@pytest.mark.parametrize("message", [[1, 2], "just a string", 3, {"tickers": "SYNTH"}, {"type": 7}])
def test_not_a_typed_object(message):
    assert error_of(orjson.dumps(message).decode()).code == ErrorCode.INVALID_MESSAGE


def test_unknown_type_is_named():
    e = error_of({"type": "subscribe_all"})
    assert (e.code, "'subscribe_all'" in e.message) == (ErrorCode.UNKNOWN_TYPE, True)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"tickers": []},
        {"tickers": [1]},
        {"tickers": {"SYNTH": 1}},
        {"tickers": None},
        {"tickers": "SYNTH", "channels": []},
        {"tickers": "SYNTH", "channels": ["quotes"]},
        {"tickers": "SYNTH", "channels": "ticks,bars"},
        {"tickers": "SYNTH", "since": -1},
        {"tickers": "SYNTH", "since": "yesterday"},
        {"tickers": "SYNTH", "since": True},
        {"tickers": "SYNTH", "since": {"ms": 1}},
        {"tickers": "SYNTH", "from_seq": [1]},
        {"tickers": "SYNTH", "from_seq": {"SYNTH": 1.5}},
        {"tickers": "SYNTH", "from_seq": {"TECH": 1}},
        {"tickers": "SYNTH", "batch": "yes"},
        {"tickers": "SYNTH", "since": 1, "channels": ["bars"]},
    ],
)
def test_invalid_subscribe_fields(fields):
    assert error_of({"type": "subscribe", **fields}).code == ErrorCode.INVALID_MESSAGE


def test_message_too_large_is_checked_before_parsing():
    e = error_of('{"type": "ping", "pad": "' + "x" * 200 + '"}', max_bytes=100)
    assert e.code == ErrorCode.MESSAGE_TOO_LARGE and "100 bytes" in e.message


def test_unknown_tickers_error_names_them_and_bounds_the_list():
    e = protocol.unknown_tickers({f"BAD{i:02}" for i in range(15)} | {"X" * 100})
    assert e.code == ErrorCode.UNKNOWN_TICKER
    assert "BAD00, BAD01" in e.message and "and 6 more" in e.message
    assert len(e.extra["tickers"]) == protocol.MAX_NAMED


def test_server_frames():
    tick = {
        "ticker": "SYNTH",
        "price": 152.34,
        "volume": 12500,
        "bid": 152.28,
        "ask": 152.4,
        "timestamp": 1705318245123,
        "seq": 7,
    }
    text = protocol.encode(tick)
    assert orjson.loads(protocol.tick_frame(text).text) == {"type": "tick", "data": tick}
    assert orjson.loads(protocol.ticks_frame([text, text]).text) == {
        "type": "ticks",
        "data": [tick, tick],
    }
    assert orjson.loads(protocol.error("x", "y", tickers=["A"]).text) == {
        "type": "error",
        "code": "x",
        "message": "y",
        "tickers": ["A"],
    }
    assert orjson.loads(protocol.subscribed("subscribed", {"TECH", "SYNTH"}).text) == {
        "type": "subscribed",
        "tickers": ["SYNTH", "TECH"],
    }
