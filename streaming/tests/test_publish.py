"""The publish helper: group names, shapes, and the pipelined fast path."""

import asyncio
from decimal import Decimal

import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from streaming import publish
from streaming.fenced import channels_redis_publish as layer_fastpath
from ticks.live_store import tick_record
from ticks.payloads import BarPayload, TickPayload


def test_the_fast_path_contract_holds_for_the_installed_channels_redis():
    """What ``streaming.fenced.channels_redis_publish`` relies on beyond the public API: the group's Redis
    channel and the layer's serializer (a message it publishes is one the layer decodes)."""
    layer = get_channel_layer()

    async def name_and_decoded():
        loop_layer = layer._get_layer()
        message = {"type": "market.ticks", "ticks": [{"seq": 1}]}
        return (
            loop_layer._get_group_channel_name("ticks.SYNTH"),
            layer.deserialize(layer.serialize(message)),
        )

    name, decoded = async_to_sync(name_and_decoded)()
    assert (
        name == layer_fastpath.group_channel("ticks.SYNTH") == publish._group_channel("ticks.SYNTH")
    )
    assert decoded == {"type": "market.ticks", "ticks": [{"seq": 1}]}
    assert layer_fastpath.usable(layer)


def test_the_setting_switches_to_the_public_path(settings):
    settings.FAST_WS_LAYER_PUBLISH = False
    assert not layer_fastpath.usable(get_channel_layer())


def test_the_wire_tick_is_the_live_store_record():
    """The replay serves the stored record as it is, the live stream sends ``tick_wire``: one
    text either way."""
    tick = TickPayload("SYNTH", 15234, 12500, 15228, 15240, 1705318245123, 7)
    assert orjson.dumps(publish.tick_wire(tick)).decode() == tick_record(tick)
    assert publish.tick_wire(tick) == publish.tick_data(**tick._asdict())


def test_the_wire_bar_has_the_pinned_shape():
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
    assert publish.bar_wire(bar) == {
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


def test_groups_are_named_by_symbol_with_unsafe_characters_replaced():
    assert publish.ticks_group("BRK.B") == "ticks.BRK.B"
    assert publish.bars_group("A/B") == "bars.A_B"


def test_tick_data_has_the_pinned_shape():
    assert publish.tick_data(
        ticker="SYNTH",
        price_cents=15234,
        volume=12500,
        bid_cents=15228,
        ask_cents=15240,
        time_ms=1705318245123,
        seq=7,
    ) == {
        "ticker": "SYNTH",
        "price": 152.34,
        "volume": 12500,
        "bid": 152.28,
        "ask": 152.40,
        "timestamp": 1705318245123,
        "seq": 7,
    }


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "public-path"])
@pytest.mark.parametrize("sender", ["ticks", "bars"])
def test_listeners_receive_and_groups_without_listeners_cost_nothing(sender, fast, settings):
    settings.FAST_WS_LAYER_PUBLISH = fast
    layer = get_channel_layer()
    tick = publish.tick_data(
        ticker="SYNTH", price_cents=100, volume=1, bid_cents=99, ask_cents=101, time_ms=1, seq=1
    )
    bar = {
        "ticker": "SYNTH",
        "timeframe": "1m",
        "time": 0,
        "open": 1.0,
        "high": 1.0,
        "low": 1.0,
        "close": 1.0,
        "volume": 1,
        "trade_count": 1,
        "vwap": 1.0,
    }

    async def scenario():
        mine = await layer.new_channel()
        everything = await layer.new_channel()
        group = publish.ticks_group("SYNTH") if sender == "ticks" else publish.bars_group("SYNTH")
        all_group = publish.ALL_TICKS_GROUP if sender == "ticks" else publish.ALL_BARS_GROUP
        await layer.group_add(group, mine)
        await layer.group_add(all_group, everything)
        await asyncio.sleep(0.1)
        try:
            if sender == "ticks":
                await asyncio.to_thread(publish.publish_ticks, {"SYNTH": [tick], "TECH": [tick]})
            else:
                await asyncio.to_thread(publish.publish_bars, [bar])
            first = await asyncio.wait_for(layer.receive(mine), timeout=5)
            whole = await asyncio.wait_for(layer.receive(everything), timeout=5)
            return first, whole
        finally:
            await layer.group_discard(group, mine)
            await layer.group_discard(all_group, everything)

    first, whole = async_to_sync(scenario)()
    if sender == "ticks":
        assert first == {"type": "market.ticks", "ticks": [tick]}
        assert whole == {"type": "market.ticks", "ticks": [tick, tick]}
    else:
        assert first == whole == {"type": "market.bars", "bars": [bar]}
