"""The hook between the domain and the stream: ``ticks`` announces, ``streaming`` publishes,
and ``ticks`` imports nothing of ``streaming``."""

import ast
import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from streaming.publish import ALL_BARS_GROUP, bars_group, publisher, ticks_group
from ticks import announce
from ticks.payloads import BarPayload, TickPayload

TICKS_APP = Path(announce.__file__).parent


def test_streaming_registers_its_publisher_when_django_starts():
    assert publisher in announce.listeners()


def test_the_domain_imports_no_layer_above_it():
    above = ("streaming", "api", "marketsite")
    offenders = []
    for path in TICKS_APP.rglob("*.py"):
        if "tests" in path.parts or "testing" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in above]
    assert offenders == []


def listen(groups: list[str], announce_it) -> list[dict]:
    layer = get_channel_layer()

    async def scenario():
        channel = await layer.new_channel()
        for group in groups:
            await layer.group_add(group, channel)
        await asyncio.sleep(0.1)  # the pub/sub subscriptions are live
        try:
            await asyncio.to_thread(announce_it)
            return [await asyncio.wait_for(layer.receive(channel), timeout=5) for _ in groups]
        finally:
            for group in groups:
                await layer.group_discard(group, channel)

    return async_to_sync(scenario)()


def test_announced_ticks_reach_the_stream_in_the_wire_shape():
    tick = TickPayload("SYNTH", 15234, 12500, 15228, 15240, 1705318245123, 7)
    [message] = listen([ticks_group("SYNTH")], lambda: announce.announce_ticks({"SYNTH": [tick]}))
    assert message == {
        "type": "market.ticks",
        "ticks": [
            {
                "ticker": "SYNTH",
                "price": 152.34,
                "volume": 12500,
                "bid": 152.28,
                "ask": 152.4,
                "timestamp": 1705318245123,
                "seq": 7,
            }
        ],
    }


def test_announced_bars_reach_the_stream_in_the_wire_shape():
    bar = BarPayload(
        "SYNTH",
        "1m",
        1705318200000,
        Decimal("152.30"),
        Decimal("152.40"),
        Decimal("152.10"),
        Decimal("152.34"),
        900,
        12,
        Decimal("152.2811"),
    )
    mine, everything = listen(
        [bars_group("SYNTH"), ALL_BARS_GROUP], lambda: announce.announce_bars([bar])
    )
    assert mine == everything
    assert mine["bars"] == [
        {
            "ticker": "SYNTH",
            "timeframe": "1m",
            "time": 1705318200000,
            "open": 152.3,
            "high": 152.4,
            "low": 152.1,
            "close": 152.34,
            "volume": 900,
            "trade_count": 12,
            "vwap": 152.2811,
        }
    ]


class Broken:
    def on_ticks(self, ticks_by_symbol):
        raise RuntimeError("listener down")

    on_bars = on_ticks


@pytest.fixture
def broken():
    listener = Broken()
    announce.register(listener)
    announce.register(listener)  # once only
    yield listener
    announce.unregister(listener)


def test_a_failing_listener_neither_stops_the_domain_nor_the_others(broken, caplog):
    assert announce.listeners().count(broken) == 1
    tick = TickPayload("SYNTH", 100, 1, 99, 101, 1, 1)
    [message] = listen([ticks_group("SYNTH")], lambda: announce.announce_ticks({"SYNTH": [tick]}))
    assert message["ticks"][0]["seq"] == 1
    assert "listener down" in caplog.text
