"""A paced playback of calendar tickers follows their open time: the closed hours (overnight, a
holiday, a weekend, a lunch break) pass at once, and the session's first ticks follow its last
ones by the open time between them (``ticks.market_clock.open_time``); a 24/7 ticker among them
keeps market time (with the usual skip of gaps over 5 minutes)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from streaming.playback.pacer import Pacer
from testsupport.market_clock import market_at
from ticks.market_clock import open_time
from ticks.models import Tick, Ticker
from ticks.storage import tick_storage

from .conftest import asynctest, ws


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


START = utc(2026, 11, 25, 20, 59)  # Wednesday, a minute before XNYS closes for Thanksgiving
END = utc(2026, 11, 27, 14, 32)  # Friday, two minutes after it opens again


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def due_after_start(pacer: Pacer, clock: FakeClock, moments) -> list[float]:
    return [round(pacer.due(ms(m)) - 1000.0, 6) for m in moments]


def test_the_pace_follows_open_time_across_the_closure():
    clock = FakeClock()
    pacer = Pacer(ms(START), 60, clock=clock)
    pacer.follow(open_time([("XNYS", False)], start_ms=ms(START), end_ms=ms(END)))
    before_close, after_open = utc(2026, 11, 25, 20, 59, 30), utc(2026, 11, 27, 14, 30, 30)
    # 30 s of open time to the first, 30 + 30 more to the second: 0.5 s and 1.5 s at 60x.
    assert due_after_start(pacer, clock, [before_close, after_open]) == [0.5, 1.5]
    # Market time would have been 41.5 hours, 41 minutes at 60x.


def test_with_a_24_7_ticker_the_pace_is_market_time_with_gaps_skipped():
    clock = FakeClock()
    pacer = Pacer(ms(START), 60, clock=clock)
    pacer.follow(open_time([("XNYS", False), ("24/7", False)], start_ms=ms(START), end_ms=ms(END)))
    assert pacer.timeline is None
    before_close, after_open = utc(2026, 11, 25, 20, 59, 30), utc(2026, 11, 27, 14, 30, 30)
    # The 41.5-hour gap is more than 5 minutes without an event: skipped, due at once.
    assert due_after_start(pacer, clock, [before_close, after_open]) == [0.5, 0.5]


def test_a_lunch_break_passes_at_once():
    start, end = utc(2026, 11, 27, 2, 29), utc(2026, 11, 27, 3, 31)  # XTKS: 11:29-12:31 JST
    clock = FakeClock()
    pacer = Pacer(ms(start), 10, clock=clock)
    pacer.follow(open_time([("XTKS", False)], start_ms=ms(start), end_ms=ms(end)))
    # 1 minute before the break, 1 after it: 120 s of open time, 12 s at 10x (not 372 s).
    assert due_after_start(pacer, clock, [end]) == [12.0]


@pytest.fixture
def xnys_closure(market, settings):
    """SYNTH on XNYS with ticks just before Tuesday's close and just after Wednesday's open
    (17.5 hours apart); market time set to December 1 (the range is stored, within the
    retention)."""
    market_at(settings, utc(2026, 12, 1))
    synth = Ticker.objects.get(symbol="SYNTH")
    synth.calendar = "XNYS"
    synth.save()
    times = [utc(2026, 11, 24, 20, 59, 59), utc(2026, 11, 25, 14, 30), utc(2026, 11, 25, 14, 30, 2)]
    tick_storage().ensure_room(connection, start=times[0], end=times[-1])
    Tick.objects.bulk_create(
        Tick(
            ticker=synth,
            time=t,
            seq=seq,
            price=Decimal("100.00"),
            bid=Decimal("99.95"),
            ask=Decimal("100.05"),
            volume=10,
        )
        for seq, t in enumerate(times)
    )
    return times


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@asynctest
async def test_a_ws_playback_skips_the_closed_hours_but_keeps_the_open_rhythm(xnys_closure):
    times = xnys_closure
    async with ws() as client:
        await client.send_json_to(
            {
                "type": "playback",
                "tickers": ["SYNTH"],
                "start": ms(times[0]),
                "end": ms(times[-1] + timedelta(seconds=1)),
                "speed": 2,
            }
        )
        started = await client.receive_json_from()
        assert started["type"] == "playback_started", started
        first = await client.receive_json_from()
        assert first["data"]["seq"] == 0
        # One second of open time to the open (20:59:59 -> 21:00, then 14:30): 0.5 s at 2x,
        # not the 17.5 hours of market time, nor at once (the gap is only a second of trading).
        assert await client.receive_nothing(timeout=0.25)
        second = await client.receive_json_from(timeout=5)
        assert second["data"]["seq"] == 1
        assert second["data"]["timestamp"] == ms(times[1])
        assert await client.receive_nothing(timeout=0.6)  # 2 s of open time: 1 s at 2x
        third = await client.receive_json_from(timeout=5)
        assert third["data"]["seq"] == 2
        done = await client.receive_json_from(timeout=5)
    assert done["type"] == "playback_done" and done["ticks"] == 3
