"""A /ws session (streaming.session) through the consumer: subscribe and unsubscribe, the wildcard,
resume with since/from_seq and its seam, bars, batch mode."""

import asyncio

import pytest
from channels.db import database_sync_to_async

from streaming import replay, symbols
from streaming.protocol import ErrorCode

from .conftest import T0, asynctest, bar, receive_all, subscribe, tick, ws
from .ws_helpers import _create_ticker, data, expect_error, now_ms, recent, seqs

pytestmark = pytest.mark.django_db


@asynctest
async def test_subscribe_takes_a_list_or_a_string_in_any_case(market):
    async with ws() as client:
        assert await subscribe(client, tickers=["synth", "Tech"]) == {
            "type": "subscribed",
            "tickers": ["SYNTH", "TECH"],
        }
        assert await subscribe(client, tickers="finance") == {
            "type": "subscribed",
            "tickers": ["FINANCE", "SYNTH", "TECH"],
        }
        assert await receive_all(client) == []  # nothing quoted yet


@asynctest
async def test_the_latest_tick_of_each_new_ticker_follows_subscribed(market):
    market.store(tick("SYNTH", 5), tick("TECH", 9), tick("HEALTH", 2))
    async with ws() as client:
        assert (await subscribe(client, tickers=["SYNTH", "TECH"]))["type"] == "subscribed"
        assert sorted(map(data, await receive_all(client)), key=lambda t: t["ticker"]) == [
            tick("SYNTH", 5),
            tick("TECH", 9),
        ]
        # Subscribing again sends only what is new.
        assert (await subscribe(client, tickers=["TECH", "HEALTH"]))["type"] == "subscribed"
        assert list(map(data, await receive_all(client))) == [tick("HEALTH", 2)]


@asynctest
async def test_ticks_of_subscribed_tickers_only_with_the_pinned_shape(market):
    async with ws() as client:
        await subscribe(client, tickers=["SYNTH"])
        await market.commit(tick("SYNTH", 1), tick("FINANCE", 1))
        messages = await receive_all(client)
    assert messages == [
        {
            "type": "tick",
            "data": {
                "ticker": "SYNTH",
                "price": 100.01,
                "volume": 101,
                "bid": 99.96,
                "ask": 100.06,
                "timestamp": T0 + 100,
                "seq": 1,
            },
        }
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@asynctest
async def test_wildcard_covers_every_active_ticker_and_ones_added_later(market, monkeypatch):
    symbols.reset()  # read from the database, off the event loop
    async with ws() as client:
        assert await subscribe(client, tickers="*") == {
            "type": "subscribed",
            "tickers": ["ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH"],
        }
        await database_sync_to_async(_create_ticker)("NEWCO")
        await market.commit(tick("NEWCO", 0), tick("ENERGY", 3))
        assert sorted(seqs(await receive_all(client))) == [("ENERGY", 3), ("NEWCO", 0)]
    # A new ticker can be named as soon as it exists (the symbol cache re-reads on a miss).
    monkeypatch.setattr(symbols, "MISS_REFRESH_S", 0.0)
    await database_sync_to_async(_create_ticker)("LATER")
    async with ws() as client:
        assert (await subscribe(client, tickers="later"))["tickers"] == ["LATER"]


@asynctest
async def test_unsubscribe(market):
    async with ws() as client:
        await subscribe(client, tickers=["SYNTH", "TECH", "HEALTH"])
        await client.send_json_to({"type": "unsubscribe", "tickers": ["synth", "health"]})
        assert await client.receive_json_from() == {"type": "unsubscribed", "tickers": ["TECH"]}
        await market.commit(tick("SYNTH", 1), tick("TECH", 1), tick("HEALTH", 1))
        assert seqs(await receive_all(client)) == [("TECH", 1)]
        await client.send_json_to({"type": "unsubscribe", "tickers": "*"})
        assert await client.receive_json_from() == {"type": "unsubscribed", "tickers": []}
        await market.commit(tick("TECH", 2))
        assert await receive_all(client) == []


@asynctest
async def test_unsubscribing_one_ticker_of_the_wildcard_keeps_the_others(market):
    async with ws() as client:
        await subscribe(client, tickers="*")
        await client.send_json_to({"type": "unsubscribe", "tickers": "ENERGY"})
        assert await client.receive_json_from() == {
            "type": "unsubscribed",
            "tickers": ["FINANCE", "HEALTH", "SYNTH", "TECH"],
        }
        await market.commit(tick("ENERGY", 1), tick("TECH", 1))
        assert seqs(await receive_all(client)) == [("TECH", 1)]


@asynctest
async def test_unknown_tickers_are_named_and_the_whole_subscribe_is_rejected(market):
    async with ws() as client:
        await subscribe(client, tickers=["SYNTH"])
        error = await expect_error(
            client,
            ErrorCode.UNKNOWN_TICKER,
            message={"type": "subscribe", "tickers": ["TECH", "nope", "ZZZ"]},
        )
        assert "NOPE" in error["message"] and "ZZZ" in error["message"]
        assert error["tickers"] == ["NOPE", "ZZZ"]
        await market.commit(tick("SYNTH", 1), tick("TECH", 1))
        assert seqs(await receive_all(client)) == [("SYNTH", 1)]  # TECH was not added
        await expect_error(
            client, ErrorCode.UNKNOWN_TICKER, message={"type": "unsubscribe", "tickers": "NOPE"}
        )


@asynctest
async def test_too_many_tickers(market, settings):
    settings.WS_MAX_SUBSCRIPTIONS = 3
    async with ws() as client:
        await expect_error(
            client,
            ErrorCode.TOO_MANY_TICKERS,
            message={"type": "subscribe", "tickers": ["SYNTH", "TECH", "HEALTH", "ENERGY"]},
        )
        await subscribe(client, tickers=["SYNTH", "TECH"])
        await expect_error(
            client,
            ErrorCode.TOO_MANY_TICKERS,
            message={"type": "subscribe", "tickers": ["HEALTH", "ENERGY"]},
        )
        # "*" is one subscription however many tickers it covers.
        assert (await subscribe(client, tickers="*"))["type"] == "subscribed"


@asynctest
async def test_resume_with_since_replays_after_it_then_continues_live(market):
    history = recent("SYNTH", 1, 20)
    market.store(*history)
    async with ws() as client:
        assert (await subscribe(client, tickers="SYNTH", since=history[9]["timestamp"]))[
            "type"
        ] == "subscribed"
        replayed = await receive_all(client)
        assert list(map(data, replayed)) == history[10:]  # 11..20: exclusive of since
        live = tick("SYNTH", 21, history[-1]["timestamp"] + 100)
        await market.commit(live)
        assert list(map(data, await receive_all(client))) == [live]


@asynctest
async def test_resume_with_from_seq_per_ticker(market):
    synth, tech = recent("SYNTH", 1, 20), recent("TECH", 101, 110)
    market.store(*synth, *tech)
    async with ws() as client:
        await subscribe(client, tickers=["SYNTH", "TECH"], from_seq={"SYNTH": 15, "tech": 108})
        got = seqs(await receive_all(client))
    assert sorted(got) == [("SYNTH", s) for s in range(16, 21)] + [("TECH", 109), ("TECH", 110)]
    # Chronological across tickers.
    assert [m for m in got if m[0] == "SYNTH"] == [("SYNTH", s) for s in range(16, 21)]


@asynctest
async def test_a_resume_older_than_the_window_is_refused_and_changes_nothing(market, settings):
    settings.WS_REPLAY_SECONDS = 2
    history = recent("SYNTH", 1, 20)  # the stream still holds 2 s: seq 1..20
    market.store(*history[10:])  # ... here only 11..20 are left
    async with ws() as client:
        error = await expect_error(
            client,
            ErrorCode.REPLAY_UNAVAILABLE,
            message={"type": "subscribe", "tickers": "SYNTH", "since": now_ms() - 10_000},
        )
        assert "/api/v1/history/" in error["message"]
        await expect_error(
            client,
            ErrorCode.REPLAY_UNAVAILABLE,
            message={"type": "subscribe", "tickers": "SYNTH", "from_seq": {"SYNTH": 3}},
        )
        await market.commit(tick("SYNTH", 21, history[-1]["timestamp"] + 100))
        assert await receive_all(client) == []  # not subscribed
        # The first tick still in the stream is a valid resume point.
        await subscribe(client, tickers="SYNTH", from_seq={"SYNTH": 10})
        assert [s for _, s in seqs(await receive_all(client))] == list(range(11, 22))


@asynctest
async def test_ticks_published_while_the_snapshot_is_read_are_neither_lost_nor_repeated(
    market, monkeypatch
):
    history = recent("SYNTH", 1, 20)
    market.store(*history)
    later = [tick("SYNTH", s, history[-1]["timestamp"] + 100 * (s - 20)) for s in range(21, 24)]
    read = replay.ticks_since

    async def slow_snapshot(symbol, since_ms):
        snapshot = await read(symbol, since_ms)  # 11..20
        # Meanwhile the generator commits and publishes 19..23 (19, 20 overlap the snapshot).
        await market.publish(*history[18:], *later)
        await asyncio.sleep(0.05)
        return snapshot

    monkeypatch.setattr(replay, "ticks_since", slow_snapshot)
    async with ws() as client:
        await subscribe(client, tickers="SYNTH", since=history[9]["timestamp"])
        got = [s for _, s in seqs(await receive_all(client))]
    assert got == list(range(11, 24))


@asynctest
async def test_a_gap_in_the_live_stream_is_filled_from_the_replay_stream(market):
    history = recent("SYNTH", 1, 20)
    market.store(*history)
    async with ws() as client:
        await subscribe(client, tickers="SYNTH")
        assert seqs(await receive_all(client)) == [("SYNTH", 20)]  # the latest
        following = [
            tick("SYNTH", s, history[-1]["timestamp"] + 100 * (s - 20)) for s in range(21, 25)
        ]
        market.store(*following)
        await market.publish(following[2])  # the publishes of 21 and 22 were lost
        await market.publish(following[3])
        assert [s for _, s in seqs(await receive_all(client))] == [21, 22, 23, 24]


@asynctest
async def test_ticks_published_again_are_not_sent_again(market):
    """After Redis lost the live state the generator regenerates (identically) ticks it had
    already published: clients get each seq once."""
    async with ws() as client:
        await subscribe(client, tickers="SYNTH")
        assert await receive_all(client) == []  # (nothing quoted yet)
        await market.commit(tick("SYNTH", 1), tick("SYNTH", 2))
        await market.publish(tick("SYNTH", 1), tick("SYNTH", 2))
        await market.commit(tick("SYNTH", 3))
        assert [s for _, s in seqs(await receive_all(client))] == [1, 2, 3]


@asynctest
async def test_bars_when_the_open_bar_changes_and_when_it_closes(market):
    minute = T0 - T0 % 60_000
    async with ws() as client:
        await subscribe(client, tickers="SYNTH", channels=["ticks", "bars"])
        first = bar("SYNTH", minute, 101.0)
        await market.publish_bars(first, bar("TECH", minute, 5.0))
        assert await receive_all(client) == [{"type": "bar", "data": first}]
        await market.publish_bars(first)  # the next rollup: unchanged, nothing sent
        assert await receive_all(client) == []
        changed, closed_then_next = bar("SYNTH", minute, 102.0, 20), bar("SYNTH", minute, 103.0)
        await market.publish_bars(changed)
        assert list(map(data, await receive_all(client))) == [changed]
        following = bar("SYNTH", minute + 60_000, 104.0)
        await market.publish_bars(closed_then_next, following)
        assert list(map(data, await receive_all(client))) == [closed_then_next, following]
        await market.commit(tick("SYNTH", 1))
        assert seqs(await receive_all(client)) == [("SYNTH", 1)]


@asynctest
async def test_bars_only(market):
    minute = T0 - T0 % 60_000
    async with ws() as client:
        await subscribe(client, tickers="*", channels=["bars"])
        await market.commit(tick("SYNTH", 1))
        await market.publish_bars(bar("TECH", minute, 9.0))
        assert [m["type"] for m in await receive_all(client)] == ["bar"]


@asynctest
async def test_batch_mode_sends_one_array_per_cycle(market):
    market.store(tick("SYNTH", 4), tick("TECH", 6))
    async with ws() as client:
        await subscribe(client, tickers=["SYNTH", "TECH"], batch=True)
        assert await receive_all(client) == [
            {"type": "ticks", "data": [tick("SYNTH", 4), tick("TECH", 6)]}
        ]
        await market.commit(tick("SYNTH", 5), tick("TECH", 7), tick("FINANCE", 1))
        assert await receive_all(client) == [
            {"type": "ticks", "data": [tick("SYNTH", 5), tick("TECH", 7)]}
        ]
