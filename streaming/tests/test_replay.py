"""Reading the replay streams and quotes (real Redis, test prefix), and the symbol cache."""

import orjson
import pytest
from django.db import OperationalError

from streaming import replay, symbols
from ticks import live_reads

from .conftest import asynctest, tick


@pytest.fixture
def stored(market, monkeypatch):
    monkeypatch.setattr(live_reads, "CHUNK", 3)  # make every read span several round trips
    market.store(*[tick("SYNTH", s) for s in range(1, 11)], tick("TECH", 7))
    return market


def seqs(pairs) -> list[int]:
    return [t["seq"] for t, _ in pairs]


@asynctest
async def test_ticks_since_is_exclusive_and_reads_in_chunks(stored):
    assert seqs(await replay.ticks_since("SYNTH", tick("SYNTH", 4)["timestamp"])) == list(
        range(5, 11)
    )
    assert seqs(await replay.ticks_since("SYNTH", 0)) == list(range(1, 11))
    assert await replay.ticks_since("SYNTH", tick("SYNTH", 10)["timestamp"]) == []
    pair = (await replay.ticks_since("SYNTH", tick("SYNTH", 9)["timestamp"]))[0]
    assert pair == (tick("SYNTH", 10), orjson.dumps(tick("SYNTH", 10)).decode())


@asynctest
async def test_ticks_after_seq_reads_backwards_until_it_reaches_the_point(stored):
    assert seqs(await replay.ticks_after_seq("SYNTH", 2)) == list(range(3, 11))
    assert seqs(await replay.ticks_after_seq("SYNTH", 0)) == list(range(1, 11))  # just reaches
    assert await replay.ticks_after_seq("SYNTH", 10) == []
    assert await replay.ticks_after_seq("SYNTH", 12) == []  # ahead of the market: nothing yet
    with pytest.raises(replay.ReplayUnavailable):
        await replay.ticks_after_seq("SYNTH", -5)  # older than the stream
    with pytest.raises(replay.ReplayUnavailable):
        await replay.ticks_after_seq("TECH", 3)  # no stream, but the quote is newer


@asynctest
async def test_check_seq_before_anything_changes(stored):
    await replay.check_seq("SYNTH", 0)
    await replay.check_seq("SYNTH", 10)
    await replay.check_seq("NEWCO", 3)  # nothing known: nothing missed
    with pytest.raises(replay.ReplayUnavailable):
        await replay.check_seq("SYNTH", -1)
    with pytest.raises(replay.ReplayUnavailable):
        await replay.check_seq("TECH", 5)


@asynctest
async def test_latest_quotes(stored):
    assert await replay.latest(["SYNTH", "TECH", "HEALTH"]) == {
        "SYNTH": orjson.dumps(tick("SYNTH", 10)).decode(),
        "TECH": orjson.dumps(tick("TECH", 7)).decode(),
    }
    assert await replay.quoted_symbols() == {"SYNTH", "TECH"}


@asynctest
async def test_symbols_survive_a_database_outage(stored, monkeypatch):
    async def down():
        raise OperationalError("connection refused")

    monkeypatch.setattr(symbols, "_read_database", down)
    symbols.prime({"SYNTH", "TECH", "HEALTH"})
    symbols._cache.loaded_at = 0.0  # expired
    assert await symbols.active_symbols() == {"SYNTH", "TECH", "HEALTH"}  # kept
    symbols.reset()
    assert await symbols.active_symbols() == {"SYNTH", "TECH"}  # those quoted in Redis


@asynctest
async def test_the_symbols_are_read_through_the_domain_selector(market, monkeypatch):
    monkeypatch.setattr(symbols, "active_ticker_symbols", lambda: frozenset({"ONLY"}))
    symbols.reset()
    assert await symbols.active_symbols() == {"ONLY"}
