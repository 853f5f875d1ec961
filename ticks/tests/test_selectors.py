"""Reads that other layers use instead of their own queries or Redis keys."""

import pytest
from asgiref.sync import async_to_sync

from ticks import live_reads, selectors
from ticks.live_store import KEYS
from ticks.models import Ticker

pytestmark = pytest.mark.django_db


def test_active_ticker_symbols():
    assert selectors.active_ticker_symbols() == {"SYNTH", "TECH", "ENERGY", "FINANCE", "HEALTH"}
    Ticker.objects.filter(symbol="TECH").update(is_active=False)
    assert selectors.active_ticker_symbols() == {"SYNTH", "ENERGY", "FINANCE", "HEALTH"}


def test_the_latest_quote_record_sync_and_async(live_redis):
    live_redis.hset(KEYS.quotes, "SYNTH", b'{"seq":3}')
    assert live_reads.quote_location("SYNTH") == (KEYS.quotes, "SYNTH")
    assert live_reads.latest_quote_record("SYNTH") == b'{"seq":3}'
    assert live_reads.latest_quote_record("TECH") is None

    async def read():
        return (
            await live_reads.alatest_quote_record("SYNTH"),
            await live_reads.latest_records(["SYNTH", "TECH"]),
            await live_reads.quoted_symbols(),
        )

    assert async_to_sync(read)() == (b'{"seq":3}', {"SYNTH": '{"seq":3}'}, {"SYNTH"})
