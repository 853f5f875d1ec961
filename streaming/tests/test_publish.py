"""The publish helper: group names, shapes, and the pipelined fast path."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from streaming import publish


def test_group_channel_names_match_the_layer():
    layer = get_channel_layer()

    async def name():
        return layer._get_layer()._get_group_channel_name("ticks.SYNTH")

    assert async_to_sync(name)() == publish._group_channel("ticks.SYNTH")
    assert publish._fast_path_available(layer)


def test_groups_are_named_by_symbol_with_unsafe_characters_replaced():
    assert publish.ticks_group("BRK.B") == "ticks.BRK.B"
    assert publish.bars_group("A/B") == "bars.A_B"


def test_tick_data_has_the_pinned_shape():
    assert publish.tick_data(ticker="SYNTH", price_cents=15234, volume=12500, bid_cents=15228,
                             ask_cents=15240, time_ms=1705318245123, seq=7) == {
        "ticker": "SYNTH", "price": 152.34, "volume": 12500, "bid": 152.28, "ask": 152.40,
        "timestamp": 1705318245123, "seq": 7}


@pytest.mark.parametrize("sender", ["ticks", "bars"])
def test_listeners_receive_and_groups_without_listeners_cost_nothing(sender):
    layer = get_channel_layer()
    tick = publish.tick_data(ticker="SYNTH", price_cents=100, volume=1, bid_cents=99,
                             ask_cents=101, time_ms=1, seq=1)
    bar = {"ticker": "SYNTH", "timeframe": "1m", "time": 0, "open": 1.0, "high": 1.0,
           "low": 1.0, "close": 1.0, "volume": 1, "trade_count": 1, "vwap": 1.0}

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
