"""Two web processes on one port (``WEB_CONCURRENCY=2``, as ``make run`` runs them: one listening
socket handed to both daphne processes, ``testsupport.stack``), with the generator, worker and
beat: a client resuming with ``since`` on the other process gets no gap and no duplicate, and a
key's connection limit holds across both.

Which process accepts a connection is the kernel's choice, so each step stops the other process
(SIGSTOP: it accepts nothing) while its client connects, and each process's own log shows the
connections it served (their client ids)."""

import asyncio
import json
import os
import signal
import time
from contextlib import contextmanager

import pytest
import websockets

from testsupport.live import live_market

from .test_e2e import assert_consecutive, collect, ticks_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
WEBS = ("web", "web2")


@pytest.fixture(scope="module")
def market():
    with live_market(
        symbols=("SYNTH",),
        key="scale",
        env={"WS_MAX_CONNECTIONS_PER_KEY": "2"},
        processes=("generator", "worker", "beat", *WEBS),
    ) as market:
        market.stack.wait_webs()  # each of the two answers on its own
        yield market


@contextmanager
def only(market, name: str):
    """Only daphne ``name`` accepts connections meanwhile: the other one is stopped."""
    others = [market.stack.procs[other].pid for other in WEBS if other != name]
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)


def served(market, name: str, client_id: str) -> bool:
    return f"WebSocket {client_id} connected" in market.stack.log(name)


def test_a_resume_on_the_other_process_has_no_gap_and_no_duplicate(market):
    url = market.url(f"/ws?api_key={market.key}")

    async def connect_and_collect(since: int | None, seconds: float):
        async with websockets.connect(url) as ws:
            hello = json.loads(await ws.recv())
            subscribe = {"type": "subscribe", "tickers": ["SYNTH"]}
            if since is not None:
                subscribe["since"] = since
            await ws.send(json.dumps(subscribe))
            return hello["clientId"], await collect(ws, seconds)

    with only(market, "web"):
        first_id, before = asyncio.run(connect_and_collect(None, 2))
    time.sleep(1)  # the market goes on meanwhile
    since = ticks_of(before)[-1]["timestamp"]
    with only(market, "web2"):
        second_id, after = asyncio.run(connect_and_collect(since, 2))

    assert served(market, "web", first_id) and not served(market, "web2", first_id)
    assert served(market, "web2", second_id) and not served(market, "web", second_id)
    first, second = ticks_of(before), ticks_of(after)
    assert after[0]["type"] == "subscribed"
    assert second[0]["seq"] == first[-1]["seq"] + 1  # no gap, no duplicate at the seam
    assert_consecutive(first + second)
    assert len(second) >= 25  # the second away, replayed, and 2 s more live


def test_a_keys_connection_limit_holds_across_both_processes(market):
    url = market.url(f"/ws?api_key={market.key}")

    async def opened():
        ws = await websockets.connect(url)
        return ws, json.loads(await asyncio.wait_for(ws.recv(), 10))

    async def scenario():
        with only(market, "web"):  # the key's two connections, on the first process
            held = [await opened() for _ in range(2)]
        with only(market, "web2"):  # a third, on the second process: refused
            third, refusal = await opened()
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(third.recv(), 10)
        await held[0][0].close()  # one of the two goes (the first process sees it close)
        await asyncio.sleep(0.5)
        with only(market, "web2"):  # now the second process takes one
            fourth, welcome = await opened()
            await fourth.send(json.dumps({"type": "subscribe", "tickers": ["SYNTH"]}))
            answer = json.loads(await asyncio.wait_for(fourth.recv(), 10))
        for ws in (held[1][0], fourth):
            await ws.close()
        return held, refusal, closed.value, welcome, answer

    held, refusal, closed, welcome, answer = asyncio.run(scenario())
    assert [hello["type"] for _, hello in held] == ["connected", "connected"]
    assert all(served(market, "web", hello["clientId"]) for _, hello in held)
    assert refusal["type"] == "error" and refusal["code"] == "too_many_connections"
    assert closed.rcvd.code == 4429
    assert welcome["type"] == "connected" and served(market, "web2", welcome["clientId"])
    assert answer["type"] == "subscribed"
