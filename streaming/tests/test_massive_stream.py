"""``/stocks``, the Massive (Polygon) stream dialect, through ``config.asgi.application``:
connect, authentication, every status and error, subscriptions, trades and quotes, per-second
and per-minute aggregates with the day so far, halts, limits and a slow consumer. (Keys and
limits per key: test_massive_auth.py; end to end with the massive client:
test_massive_stream_e2e.py.)"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streaming.hub import get_hub
from streaming.publish import apublish, status_messages
from ticks.engine.sizes import quote_sizes
from ticks.massive_shapes import DayTotals
from ticks.models import Ticker

from .conftest import T0, asynctest, bar, tick
from .massive_helpers import AUTHENTICATED, error, massive, status, subscribed

pytestmark = pytest.mark.django_db


def seed_of(symbol: str) -> int:
    return Ticker.objects.get(symbol=symbol).seed


async def _seed(symbol: str) -> int:
    from asgiref.sync import sync_to_async

    return await sync_to_async(seed_of)(symbol)


# --- connect, auth, subscriptions ----------------------------------------------------------------


@asynctest
async def test_connect_auth_subscribe_and_unsubscribe(market):
    async with massive(auth=False) as client:
        assert await client.auth("anything") == AUTHENTICATED  # keys not required: any key
        assert await client.subscribe("T.SYNTH,Q.*, AM.TECH") == subscribed(
            "T.SYNTH", "Q.*", "AM.TECH"
        )
        assert await client.subscribe("T.SYNTH,T.SYNTH,A.*") == subscribed("T.SYNTH", "A.*")
        assert await client.unsubscribe("Q.*,T.NOTHERE") == [
            status("success", "unsubscribed to: Q.*"),
            status("success", "unsubscribed to: T.NOTHERE"),
        ]
        session = next(iter(get_hub().sessions))
        assert {c: list(s) for c, s in session.subs.items()} == {
            "T": ["SYNTH"],
            "Q": [],
            "A": ["*"],
            "AM": ["TECH"],
        }


@asynctest
async def test_errors_before_and_after_auth(market):
    async with massive(auth=False) as client:
        assert await client.subscribe("T.SYNTH") == error(
            'not authenticated: send {"action":"auth","params":key} first'
        )
        await client.ws.send_to(text_data="{not json")
        assert await client.recv() == error("invalid JSON")
        await client.ws.send_to(bytes_data=b"\xc1\xff")
        assert await client.recv() == error("invalid JSON")
        for bad in ([1, 2], {"no": "action"}, {"action": 3}):
            await client.send(bad)
            assert await client.recv() == error(
                'invalid message: expected {"action": ..., "params": ...}'
            )
        await client.send({"action": "dance"})
        assert await client.recv() == error("unknown action: dance")
        assert await client.auth() == AUTHENTICATED
        assert await client.auth() == error("already authenticated")
        await client.send({"action": "subscribe", "params": ["T.SYNTH"]})
        assert await client.recv() == error(
            'invalid params: expected a string such as "T.SYNTH,Q.*"'
        )
        assert await client.subscribe("T.SYNTH,LULD.SYNTH,X.Y,T.,nodot,T.A B") == [
            status("success", "subscribed to: T.SYNTH"),
            status(
                "error",
                "channel not available: LULD.SYNTH (this market streams T, Q, A and AM)",
            ),
            *(
                status("error", f"invalid subscription: {t} (expected <T|Q|A|AM>.<ticker or *>)")
                for t in ("X.Y", "T.", "nodot", "T.A B")
            ),
        ]
        await client.ws.send_to(bytes_data=b'{"action":"subscribe","params":"Q.TECH"}')
        assert await client.recv() == subscribed("Q.TECH")  # JSON in a binary frame


@asynctest
async def test_auth_timeout_closes(market, settings):
    settings.MASSIVE_STREAM_AUTH_TIMEOUT_S = 0.2
    async with massive(auth=False) as client:
        assert await client.recv() == [
            status("auth_timeout", "No authentication request received.")
        ]
        assert await client.recv() == ("close", 4008)


@asynctest
async def test_symbol_limit(market, settings):
    settings.WS_MAX_SUBSCRIPTIONS = 3
    async with massive() as client:
        await client.subscribe("T.SYNTH,T.TECH,Q.SYNTH")
        assert await client.subscribe("AM.ENERGY,AM.HEALTH") == error(
            "subscription limit exceeded: at most 3 tickers per connection; nothing subscribed"
        )
        assert await client.subscribe("AM.ENERGY") == subscribed("AM.ENERGY")


@asynctest
async def test_large_and_too_large_messages(market, settings):
    settings.WS_MAX_SUBSCRIPTIONS = 100_000
    async with massive() as client:
        many = ",".join(f"T.S{i:07d}" for i in range(5000))
        reply = await client.subscribe(many)
        assert len(reply) == 5000 and reply[-1] == status("success", "subscribed to: T.S0004999")
        huge = ",".join(f"Q.S{i:07d}" for i in range(40_000))
        assert await client.subscribe(huge) == error("message too large (at most 262144 bytes)")


@asynctest
async def test_rate_limit_once_per_burst(market, settings):
    settings.WS_MAX_MESSAGES_PER_SECOND = 0.2  # a burst of one: the auth takes it
    async with massive() as client:
        for _ in range(6):
            await client.send({"action": "subscribe", "params": "T.SYNTH"})
        assert await client.all() == [
            error("too many messages: at most 0.2 a second; the ones over it are ignored")
        ]


@asynctest
async def test_an_unexpected_failure_is_reported_and_the_connection_stays(market, monkeypatch):
    async def boom(self, request):
        raise RuntimeError("bug")

    monkeypatch.setattr("streaming.massive.session.MassiveSession.subscribe", boom)
    async with massive() as client:
        assert await client.subscribe("T.SYNTH") == error("internal error")
        assert await client.unsubscribe("T.SYNTH") == [
            status("success", "unsubscribed to: T.SYNTH")
        ]


# --- data -----------------------------------------------------------------------------------------


def _trade(t) -> dict:
    return {
        "ev": "T",
        "sym": t["ticker"],
        "x": 99,
        "i": str(t["seq"]),
        "z": 3,
        "p": t["price"],
        "s": t["volume"],
        "c": [0],
        "t": t["timestamp"],
        "q": t["seq"],
    }


def _quote(t, bid_size, ask_size) -> dict:
    return {
        "ev": "Q",
        "sym": t["ticker"],
        "bx": 99,
        "bp": t["bid"],
        "bs": bid_size,
        "ax": 99,
        "ap": t["ask"],
        "as": ask_size,
        "c": 0,
        "t": t["timestamp"],
        "q": t["seq"],
        "z": 3,
    }


@asynctest
async def test_trades_and_quotes_per_tick_in_one_array(market):
    seed = await _seed("SYNTH")
    async with massive() as client, massive() as other:
        await client.subscribe("T.SYNTH,Q.SYNTH")
        await other.subscribe("Q.SYNTH,T.SYNTH")  # the same subscriptions: the same frame
        t1, t2, t3 = tick("SYNTH", 1), tick("SYNTH", 2), tick("TECH", 1)
        await market.publish(t1, t2, t3)
        bids, asks = quote_sizes(seed, [1, 2])
        expected = [
            _trade(t1),
            _quote(t1, int(bids[0]), int(asks[0])),
            _trade(t2),
            _quote(t2, int(bids[1]), int(asks[1])),
        ]
        assert await client.recv() == expected
        assert await other.recv() == expected
        assert await client.nothing()


@asynctest
async def test_wildcards_and_channels_apart(market):
    async with massive() as trades, massive() as quotes:
        await trades.subscribe("T.*")
        await quotes.subscribe("Q.TECH")
        await market.publish(tick("SYNTH", 5), tick("TECH", 5))
        assert [(m["ev"], m["sym"]) for m in await trades.recv()] == [
            ("T", "SYNTH"),
            ("T", "TECH"),
        ]
        assert [(m["ev"], m["sym"]) for m in await quotes.recv()] == [("Q", "TECH")]
        await trades.unsubscribe("T.*")
        await market.publish(tick("SYNTH", 6))
        assert await trades.nothing()


def _second(symbol, start, prices, volumes, *, day=None) -> dict:
    pv = sum(p * v for p, v in zip(prices, volumes))
    out = {"ev": "A", "sym": symbol, "v": sum(volumes)}
    if day is not None:
        out.update(av=day[0], op=day[1])
    out.update(
        vw=round(pv / sum(volumes), 4),
        o=prices[0],
        c=prices[-1],
        h=max(prices),
        l=min(prices),
    )
    if day is not None:
        out["a"] = day[2]
    out.update(z=round(sum(volumes) / len(volumes)), s=start, e=start + 1000)
    return out


@asynctest
async def test_per_second_aggregates_close_when_a_later_second_starts(market):
    start = T0 - T0 % 60_000 + 60_000  # a minute's start
    ticks = [tick("SYNTH", s, start + 250 * s, price_cents=10_000 - 3 * s * s) for s in range(0, 9)]
    async with massive() as client:
        await client.subscribe("A.SYNTH")
        await market.publish(*ticks[:3])  # seconds 0 (ticks 0-3) still open
        assert await client.nothing()
        await market.publish(*ticks[3:])  # ticks 4-7 close second 0, tick 8 closes second 1
        got = await client.all()
        p = [t["price"] for t in ticks]
        v = [t["volume"] for t in ticks]
        # The seconds one cycle closed, in one array. The process saw this minute from its
        # first tick on: the day so far is not known yet.
        assert got == [
            [
                _second("SYNTH", start, p[0:4], v[0:4]),
                _second("SYNTH", start + 1000, p[4:8], v[4:8]),
            ]
        ]


@pytest.mark.parametrize("status", ["halted", "closed", "break"])  # a halt, a session's close
@asynctest
async def test_a_halt_or_a_close_closes_the_open_second(market, status):
    t = tick("TECH", 1, T0 + 300)
    async with massive() as client:
        await client.subscribe("A.*")
        await market.publish(t)
        assert await client.nothing()
        await apublish(status_messages([{"ticker": "TECH", "status": status, "time": T0 + 900}]))
        ((agg,),) = [await client.recv()]
        assert (agg["ev"], agg["sym"], agg["s"], agg["v"], agg["o"]) == (
            "A",
            "TECH",
            T0 - T0 % 1000,
            t["volume"],
            t["price"],
        )


@asynctest
async def test_minute_aggregates_with_the_day_so_far_and_seconds_after_them(market, monkeypatch):
    day = datetime(2027, 1, 15, tzinfo=UTC)
    m0 = int(day.timestamp() * 1000) + 600_000
    reads = []

    def totals(*, minute_ms, symbols, zones=None):
        reads.append((minute_ms, sorted(symbols)))
        return {"SYNTH": DayTotals(open=99.5, volume=5_000, price_volume=500_250.0)}

    monkeypatch.setattr("streaming.massive.fanout.day_totals_through", totals)
    async with massive() as client:
        await client.subscribe("AM.*,A.SYNTH")
        # The process streams SYNTH's ticks from before minute m0 + 1: it sees that one whole.
        await market.publish(tick("SYNTH", 1, m0 + 59_000, price_cents=10_000))
        await market.publish_bars(bar("SYNTH", m0, 101.0))  # first sight: tracked, not sent
        await market.publish_bars(bar("SYNTH", m0, 102.5), bar("SYNTH", m0 + 60_000, 103.0))
        got = await client.all()
        assert got == [
            [
                {
                    "ev": "AM",
                    "sym": "SYNTH",
                    "v": 10,
                    "av": 5_000,
                    "op": 99.5,
                    "vw": 100.5,
                    "o": 100.0,
                    "c": 102.5,
                    "h": 102.5,
                    "l": 100.0,
                    "a": 100.05,
                    "z": 3,
                    "s": m0,
                    "e": m0 + 60_000,
                }
            ]
        ]
        assert reads == [(m0, ["SYNTH"])]
        # Seconds of the next minute: the day through m0 plus the ticks streamed since.
        t2 = tick("SYNTH", 2, m0 + 60_100, price_cents=10_100)
        t3 = tick("SYNTH", 3, m0 + 61_000, price_cents=10_100)
        await market.publish(t2, t3)
        late, agg = await client.recv()
        # The second before m0's end closed after m0's bar: the day through it is not known.
        assert late == _second("SYNTH", m0 + 59_000, [100.01], [101])
        volume = 5_000 + t2["volume"]
        assert agg == _second(
            "SYNTH",
            m0 + 60_000,
            [t2["price"]],
            [t2["volume"]],
            day=(volume, 99.5, round((500_250.0 + t2["price"] * t2["volume"]) / volume, 4)),
        )


@asynctest
async def test_minute_aggregates_without_the_day_when_it_cannot_be_read(market, monkeypatch):
    def fails(**kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr("streaming.massive.fanout.day_totals_through", fails)
    m0 = T0 - T0 % 60_000
    async with massive() as client:
        await client.subscribe("AM.TECH")
        await market.publish_bars(bar("TECH", m0, 101.0))
        await market.publish_bars(bar("TECH", m0 + 60_000, 103.0))
        ((agg,),) = [await client.recv()]
        assert agg["ev"] == "AM" and agg["s"] == m0
        assert not {"av", "op", "a"} & set(agg)


@asynctest
async def test_a_slow_consumer_is_told_and_closed(market, settings):
    settings.WS_SEND_QUEUE_LIMIT = 3
    async with massive() as client:
        await client.subscribe("T.SYNTH")
        hub = get_hub()
        for s in range(1, 10):  # at once: the writer has no chance to run in between
            hub.dispatch({"type": "market.ticks", "ticks": [tick("SYNTH", s)]})
        assert await client.recv() == [
            status(
                "slow_consumer",
                "The connection fell too far behind the stream and is closed; reconnect and "
                "resubscribe.",
            )
        ]
        assert await client.recv() == ("close", 4008)


def test_day_totals_read_from_the_daily_and_minute_bars(db):
    from ticks.massive_reads import day_totals_through
    from ticks.models import Bar

    ticker = Ticker.objects.get(symbol="SYNTH")
    day = datetime(2027, 1, 15, tzinfo=UTC)
    m = day.replace(hour=10)
    rows = [
        ("1d", day, 100, 5_000, Decimal("100.0500")),
        ("1m", m.replace(minute=1), 101, 300, Decimal("101.0000")),
        ("1m", m.replace(minute=2), 102, 200, Decimal("102.0000")),
    ]
    for timeframe, when, open_, volume, vwap in rows:
        Bar.objects.create(
            ticker=ticker,
            timeframe=timeframe,
            time=when,
            open=open_,
            high=open_,
            low=open_,
            close=open_,
            volume=volume,
            trade_count=10,
            vwap=vwap,
        )
    minute_ms = int(m.timestamp() * 1000)
    got = day_totals_through(minute_ms=minute_ms, symbols=["SYNTH", "TECH"])
    assert list(got) == ["SYNTH"]  # TECH has no daily bar
    assert got["SYNTH"].open == 100.0 and got["SYNTH"].volume == 4_500
    assert got["SYNTH"].price_volume == pytest.approx(5_000 * 100.05 - 300 * 101 - 200 * 102)
    through_first = day_totals_through(minute_ms=minute_ms + 60_000, symbols=["SYNTH"])
    assert through_first["SYNTH"].volume == 4_800
