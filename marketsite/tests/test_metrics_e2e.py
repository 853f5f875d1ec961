"""``/metrics`` through the real processes: the generator, a worker, beat and TWO daphne
processes on two ports, all writing to one ``PROMETHEUS_MULTIPROC_DIR`` (created empty before
they start), each daphne scraped twice a few seconds apart.

Between the scrapes: REST requests on both processes (some refused by the rate limit), one more
``/ws`` client on B and a slow one on B that is dropped, then the worker stopped (SIGSTOP) for
five seconds and the generator for the last half of them. Every metric of the README's "Metrics" section moves in the
scrapes of *each* process, whichever one did the work: the four stream clients connected to A
(``/ws``, Alpaca, Massive, a Massive playback) are counted in B's scrapes, B's clients in A's,
and both report the very same generator and worker counters while those are stopped.
"""

import asyncio
import json
import os
import re
import signal
import urllib.request
from pathlib import Path

import psycopg
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from testsupport.live import live_market, port_open

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
# Before the second scrapes the worker is stopped (SIGSTOP) this long, the generator for the
# second half of it: the flush backlog and the bar lag grow, then the generation lag.
PAUSE_S = 5.0
SHARD = (("shard", "0/1"),)


def scrape(port: int) -> dict[tuple, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        assert answer.status == 200
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def stored_range_ms(database_url: str) -> tuple[int, int] | None:
    """The first and last stored tick times, None before the first flush."""
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as conn:
        first, last = conn.execute("SELECT min(time), max(time) FROM ticks_tick").fetchone()
    if first is None:
        return None
    return int(first.timestamp() * 1000), int(last.timestamp() * 1000)


def stored_span_ms(database_url: str) -> int:
    stored = stored_range_ms(database_url)
    return 0 if stored is None else stored[1] - stored[0]


@pytest.fixture(scope="module")
def two_webs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("prometheus")  # created and empty before any process
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "API_RATE_LIMIT_ANON": "5/second"}
    with live_market(symbols=("SYNTH",), env=env) as market:
        # B: the ASGI send path and a queue of one frame, so that a client subscribed to every
        # ticker (five frames a cycle) falls behind at once and is dropped as slow.
        market.stack.start(
            "web2",
            env={"FAST_WS_DIRECT_WRITE": "false", "WS_SEND_QUEUE_LIMIT": "1"},
            own_port=True,
        )
        port_b = market.stack.port("web2")
        market.stack.wait_for(lambda: port_open(port_b), timeout=60, what="the second daphne")
        market.stack.wait_for(
            lambda: stored_span_ms(market.database_url) >= 5_000,
            timeout=60,
            what="five seconds of stored ticks (for the playback)",
        )
        yield market, market.web_port, port_b, directory


async def _drain(ws, received: list) -> None:
    try:
        async for message in ws:
            received.append(message)
    except websockets.ConnectionClosed:
        pass


async def _clients_on_a(port: int, database_url: str) -> tuple[list, dict]:
    """The four protocols' clients on A, reading for as long as they stay open."""
    base = f"ws://127.0.0.1:{port}"
    first, last = stored_range_ms(database_url)
    start = max(first, last - 5_000)
    plain = await websockets.connect(f"{base}/ws")
    await plain.send(json.dumps({"type": "subscribe", "tickers": ["SYNTH"]}))
    alpaca = await websockets.connect(f"{base}/v2/iex")
    await alpaca.send(json.dumps({"action": "auth", "key": "k", "secret": "s"}))
    await alpaca.send(json.dumps({"action": "subscribe", "trades": ["SYNTH"]}))
    massive = await websockets.connect(f"{base}/stocks")
    await massive.send(json.dumps({"action": "auth", "params": "k"}))
    await massive.send(json.dumps({"action": "subscribe", "params": "T.SYNTH"}))
    # Five stored seconds at a fifth of market time: 25 s of playback, across both scrapes.
    playback = await websockets.connect(f"{base}/playback/{start}/{last}/0.2/stocks")
    await playback.send(json.dumps({"action": "auth", "params": "k"}))
    await playback.send(json.dumps({"action": "subscribe", "params": "T.SYNTH"}))
    clients = [plain, alpaca, massive, playback]
    received = {name: [] for name in ("ws", "alpaca", "massive", "playback")}
    tasks = [asyncio.create_task(_drain(ws, received[n])) for ws, n in zip(clients, received)]
    return clients + tasks, received


async def _slow_client(port: int) -> list:
    """Subscribes to every ticker on B (queue of one frame) and is closed as a slow client."""
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
        await ws.send(json.dumps({"type": "subscribe", "tickers": "*"}))
        received: list = []
        await asyncio.wait_for(_drain(ws, received), 20)
        return [json.loads(m) for m in received]


def _stop(stack, name: str, sig: int) -> None:
    os.killpg(stack.procs[name].pid, sig)


async def _scenario(market, port_a: int, port_b: int) -> tuple[dict, dict, dict, dict]:
    held, received = await _clients_on_a(port_a, market.database_url)
    await asyncio.sleep(2)  # each client subscribed and receiving
    first = {p: await asyncio.to_thread(scrape, p) for p in (port_a, port_b)}

    # Between the scrapes: REST on both (the limit, 5 a second per client, refuses some), one
    # more /ws client on B, a slow client on B, three seconds of market, then the pause.
    statuses = []
    for port in (port_a, port_b):
        statuses += [await asyncio.to_thread(get, port, "/api/v1/quote/SYNTH") for _ in range(2)]
    statuses += [await asyncio.to_thread(get, port_b, "/api/v1/time") for _ in range(12)]
    extra = await websockets.connect(f"ws://127.0.0.1:{port_b}/ws")
    slow = await _slow_client(port_b)
    await asyncio.sleep(3)
    _stop(market.stack, "worker", signal.SIGSTOP)
    try:
        await asyncio.sleep(PAUSE_S / 2)
        _stop(market.stack, "generator", signal.SIGSTOP)
        await asyncio.sleep(PAUSE_S / 2)
        second = {p: await asyncio.to_thread(scrape, p) for p in (port_a, port_b)}
    finally:
        for name in ("generator", "worker"):
            _stop(market.stack, name, signal.SIGCONT)
    await extra.close()
    for item in held:
        if isinstance(item, asyncio.Task):
            item.cancel()
        else:
            await item.close()
    return first, second, {"statuses": statuses, "slow": slow}, received


def _value(scrape: dict, name: str, labels: tuple = ()) -> float:
    return scrape.get((name, labels), 0.0)


def _assert_every_metric_moved(port: int, s1: dict, s2: dict) -> None:
    """Each metric of the README's "Metrics" section moved between one process's two scrapes."""

    def moved(name, labels=(), *, by=1.0):
        before, after = _value(s1, name, labels), _value(s2, name, labels)
        assert after >= before + by, (port, name, labels, before, after)

    # generation (the generator's files), per shard; the flush (the worker's)
    moved("market_generation_cycle_seconds_count", SHARD, by=10)
    moved("market_generation_cycle_seconds_sum", SHARD, by=1e-6)
    moved("market_ticks_generated_total", SHARD, by=30)
    moved("market_ticks_stored_total", by=30)
    # read from Redis at the scrape: the pause made them grow
    lag = _value(s2, "market_generation_lag_seconds", SHARD)
    assert lag >= PAUSE_S / 2 - 0.5
    assert lag != _value(s1, "market_generation_lag_seconds", SHARD)
    # five tickers at 10 Hz for at least the half pause, none flushed
    assert _value(s2, "market_flush_backlog_ticks") >= 50 * (PAUSE_S / 2 - 0.5)
    assert _value(s2, "market_flush_backlog_ticks") > _value(s1, "market_flush_backlog_ticks")
    moved("market_flush_backlog_entries", by=10)
    bars = _value(s2, "market_bar_refresh_lag_seconds")
    assert bars >= PAUSE_S - 0.5 and bars != _value(s1, "market_bar_refresh_lag_seconds")
    # streams: A's four clients in both processes' scrapes; B's extra /ws client in A's
    for protocol in ("ws", "alpaca", "massive", "playback"):
        labels = (("protocol", protocol),)
        assert _value(s1, "market_stream_clients", labels) >= 1, (port, protocol)
        moved("market_stream_messages_sent_total", labels)
    ws = (("protocol", "ws"),)
    assert _value(s2, "market_stream_clients", ws) == _value(s1, "market_stream_clients", ws) + 1
    moved("market_stream_messages_dropped_total", ws)
    # REST: latency by route name and status, and the rate limit's rejections
    moved(
        "market_http_request_duration_seconds_count",
        (("route", "api:quote"), ("status", "200")),
        by=4,
    )
    moved("market_http_request_duration_seconds_count", (("route", "api:time"), ("status", "429")))
    moved("market_rate_limit_rejections_total", (("limit", "anon"),))


def test_every_metric_moves_in_the_scrapes_of_each_web_process(two_webs):
    market, port_a, port_b, directory = two_webs
    first, second, seen, received = asyncio.run(_scenario(market, port_a, port_b))

    # The traffic happened as planned.
    assert seen["statuses"].count(200) >= 4 and 429 in seen["statuses"], seen["statuses"]
    assert seen["slow"][-1]["type"] == "error" and seen["slow"][-1]["code"] == "slow_client"
    assert all(received.values()), {k: len(v) for k, v in received.items()}
    # One directory, files of every process (two daphne, generator, worker and its pool).
    pids = {
        m.group(1) for m in (re.search(r"_(\d+)\.db$", p.name) for p in directory.iterdir()) if m
    }
    assert len(pids) >= 5, sorted(p.name for p in directory.iterdir())

    for port in (port_a, port_b):
        _assert_every_metric_moved(port, first[port], second[port])

    # With the generator and the worker stopped, both processes report exactly the same counts.
    a, b = second[port_a], second[port_b]
    for key in (
        ("market_ticks_generated_total", SHARD),
        ("market_generation_cycle_seconds_count", SHARD),
        ("market_ticks_stored_total", ()),
    ):
        assert a[key] == b[key], key
    for protocol in ("ws", "alpaca", "massive", "playback"):
        key = ("market_stream_clients", (("protocol", protocol),))
        assert a[key] == b[key], key

    # The Grafana dashboard queries metrics these processes really expose.
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bmarket_[a-z0-9_]+\b", target["expr"])
    }
    exposed = {name for name, _ in b}
    assert queried <= exposed, sorted(queried - exposed)
