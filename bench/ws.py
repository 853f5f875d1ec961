"""WebSocket fan-out: N clients x 5 tickers at 10 Hz, one daphne vs a minimal websockets server.

Each trial starts a fresh server, connects N clients (spread over load-generator processes),
each subscribed to all five tickers, then publishes one cycle every 100 ms (5 ticks, stamped
with the publish time) through the product's publish helper, i.e. the channel layer's Redis
pub/sub. Served by:

- ``daphne``: the product (``config.asgi``, the ``/ws`` consumer, one daphne process);
- ``ceiling``: a minimal ``websockets`` server subscribed to the very same Redis channel, which
  encodes each tick once and ``broadcast()``s it: this machine's ceiling for the same stream.

Clients are raw-socket WebSocket clients (handshake, frame headers, pong) that JSON-parse only a
sample of what they receive: they count ticks (``"seq"`` occurrences) and read the first tick's
``seq`` and ``timestamp`` of each frame, so latency is measured on every frame and loss exactly
(ticks received in the measured window / N x 5 x cycles). A trial passes with no loss and p99
under 250 ms; N doubles from ``--start`` until both servers fail (twice in a row at that N: the
machine is shared, and one unlucky trial should not decide).
"""

import asyncio
import base64
import json
import logging
import multiprocessing
import os
import socket
import struct
import time
import uuid

from .common import record, setup_django, table

SYMBOLS = ("ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH")
P99_LIMIT_MS = 250
TARGET_TICK = 0.5  # daphne's N per tick / the ceiling's
TARGET_BATCH = 1.0  # daphne's N in batch mode / the ceiling's per-tick N
HIST_MS = 5000  # latency histogram: 1 ms buckets up to 5 s, then one overflow bucket
CONNECT_CONCURRENCY = 64
SAMPLE_EVERY = 256  # frames; one in this many is fully parsed as a shape check


def add_arguments(parser) -> None:
    parser.add_argument("--start", type=int, default=50, help="first N (then doubled)")
    parser.add_argument("--max", type=int, default=6400, help="largest N tried")
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per trial")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds published first")
    parser.add_argument("--procs", type=int, default=2, help="load-generator processes")


# --- load generator (runs in its own processes) ----------------------------------------------

class Client(asyncio.Protocol):
    """A minimal WebSocket client: no parsing beyond frame headers and two numbers a frame."""

    def __init__(self, stats: "Stats", subscribe: bytes, ready: asyncio.Future) -> None:
        self.stats, self.subscribe, self.ready = stats, subscribe, ready
        self.buf = bytearray()
        self.upgraded = False
        self.transport = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n").encode())

    def connection_lost(self, exc) -> None:
        if not self.closed:
            self.closed = True
            self.stats.dropped += 1
        if not self.ready.done():
            self.ready.set_result(False)

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else
                                          bytes([0x80 | 126]) + struct.pack(">H", n))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(head + mask + masked)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.transport.close()
                return
            del buf[:end + 4]
            self.upgraded = True
            self.send(1, self.subscribe)
        now = time.time() * 1000
        stats = self.stats
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b1 = buf[pos + 1] & 0x7F
            head = 2
            if b1 == 126:
                if size - pos < 4:
                    break
                b1, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif b1 == 127:
                if size - pos < 10:
                    break
                b1, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if size - pos < head + b1:
                break
            opcode = buf[pos] & 0x0F
            payload = bytes(buf[pos + head:pos + head + b1])
            pos += head + b1
            if opcode == 1:
                i = payload.find(b'"seq":')
                if i < 0:
                    if b'"subscribed"' in payload and not self.ready.done():
                        self.ready.set_result(True)
                    elif b'"error"' in payload:
                        stats.errors += 1
                    continue
                seq = int(payload[i + 6:payload.find(b"}", i)])
                stats.frames += 1
                if not stats.frames % SAMPLE_EVERY and json.loads(payload)["type"] not in (
                        "tick", "ticks"):
                    stats.errors += 1
                if stats.first <= seq <= stats.last:
                    stats.ticks += payload.count(b'"seq"')
                    k = payload.find(b'"timestamp":')
                    latency = int(now - int(payload[k + 12:payload.find(b",", k)]))
                    stats.hist[min(max(latency, 0), HIST_MS)] += 1
            elif opcode == 9:
                self.send(0xA, payload)
            elif opcode == 8:
                self.closed = True
                stats.dropped += 1
                self.transport.close()
        del buf[:pos]


class Stats:
    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last
        self.ticks = self.dropped = self.errors = self.frames = 0
        self.hist = [0] * (HIST_MS + 1)


async def _load(port: int, clients: int, batch: bool, first: int, last: int, conn) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats(first, last)
    message = {"type": "subscribe", "tickers": list(SYMBOLS)}
    if batch:
        message["batch"] = True
    subscribe = json.dumps(message).encode()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    transports = []

    async def one() -> bool:
        async with gate:
            ready = loop.create_future()
            try:
                transport, _ = await loop.create_connection(
                    lambda: Client(stats, subscribe, ready), "127.0.0.1", port)
            except OSError:
                return False
            transports.append(transport)
            try:
                return await asyncio.wait_for(ready, 30)
            except asyncio.TimeoutError:
                return False

    results = await asyncio.gather(*(one() for _ in range(clients)))
    started = time.process_time()
    conn.send(("ready", sum(results)))
    await loop.run_in_executor(None, conn.recv)  # "stop"
    conn.send(("done", stats.ticks, stats.dropped, stats.errors, stats.hist,
               time.process_time() - started))
    for transport in transports:
        transport.abort()


def load_main(port, clients, batch, first, last, conn) -> None:
    asyncio.run(_load(port, clients, batch, first, last, conn))


# --- the ceiling: a minimal websockets broadcast server ------------------------------------

async def _ceiling(port: int, redis_url: str, channel: str) -> None:
    import orjson
    import redis.asyncio as aioredis
    from channels_redis.serializers import registry
    from websockets.asyncio.server import broadcast, serve
    from websockets.exceptions import ConnectionClosed

    clients: set = set()
    decode = registry.get_serializer("msgpack").deserialize  # as the pub/sub layer encodes

    async def handler(ws) -> None:
        try:
            await ws.send(orjson.dumps({"type": "connected", "clientId": uuid.uuid4().hex,
                                        "timestamp": int(time.time() * 1000)}).decode())
            async for _ in ws:  # any message is taken as the subscribe to everything
                await ws.send('{"type":"subscribed","tickers":["ENERGY","FINANCE","HEALTH",'
                              '"SYNTH","TECH"]}')
                clients.add(ws)
        except ConnectionClosed:
            pass
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=5,
                     ping_timeout=10, backlog=1024):
        pubsub = aioredis.Redis.from_url(redis_url).pubsub()
        await pubsub.subscribe(channel)
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            for tick in decode(message["data"])["ticks"]:
                broadcast(clients, '{"type":"tick","data":' + orjson.dumps(tick).decode() + "}")


def ceiling_main(port: int, redis_url: str, channel: str) -> None:
    # broadcast() to clients the load generator has just closed makes asyncio warn once per
    # write ("socket.send() raised exception."): thousands of lines that say nothing here.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    asyncio.run(_ceiling(port, redis_url, channel))


# --- orchestration -------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """A fresh server per trial: daphne through the test stack, or the ceiling."""

    def __init__(self, kind: str, env: dict) -> None:
        self.kind, self.env, self.port = kind, env, _free_port()

    def __enter__(self) -> "Server":
        ctx = multiprocessing.get_context("spawn")
        if self.kind == "daphne":
            from testsupport.stack import Stack

            self.stack = Stack(database_url=self.env["DATABASE_URL"],
                               redis_url=self.env["REDIS_URL"], web_port=self.port,
                               env=self.env).start("web")
            self.pid = self.stack.procs["web"].pid
        else:
            from streaming.publish import ALL_TICKS_GROUP, _group_channel

            self.proc = ctx.Process(target=ceiling_main, daemon=True, args=(
                self.port, self.env["REDIS_URL"], _group_channel(ALL_TICKS_GROUP)))
            self.proc.start()
            self.pid = self.proc.pid
        _wait_port(self.port)
        return self

    def __exit__(self, *exc) -> None:
        if self.kind == "daphne":
            self.stack.close()
        else:
            self.proc.terminate()
            self.proc.join(10)


def _publish_cycles(cycles: int, first_seq: int = 0) -> None:
    from streaming.publish import publish_ticks, tick_data

    started = time.monotonic()
    for k in range(cycles):
        delay = started + k * 0.1 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        now = int(time.time() * 1000)
        publish_ticks({s: [tick_data(ticker=s, price_cents=10_000 + k % 100, volume=100,
                                     bid_cents=9_995, ask_cents=10_005, time_ms=now,
                                     seq=first_seq + k)] for s in SYMBOLS})


def _percentile(hist: list[int], q: float) -> float:
    total = sum(hist)
    if not total:
        return float("nan")
    rank, seen = q * total, 0
    for ms, count in enumerate(hist):
        seen += count
        if seen >= rank:
            return ms
    return HIST_MS


def trial(kind: str, n: int, *, batch: bool, args, env: dict) -> dict:
    warm = round(args.warmup * 10)
    cycles = round(args.seconds * 10)
    first, last = warm, warm + cycles - 1
    ctx = multiprocessing.get_context("spawn")
    with Server(kind, env) as server:
        procs, pipes = [], []
        shares = [n // args.procs + (i < n % args.procs) for i in range(args.procs)]
        for share in shares:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=load_main, daemon=True,
                            args=(server.port, share, batch, first, last, child))
            p.start()
            procs.append(p)
            pipes.append(parent)
        connected = sum(pipe.recv()[1] for pipe in pipes)
        cpu0, t0 = _cpu_seconds(server.pid), time.monotonic()
        _publish_cycles(warm + cycles)
        time.sleep(1.0)  # stragglers of the last cycle
        cpu = (_cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0)
        for pipe in pipes:
            pipe.send("stop")
        reports = [pipe.recv() for pipe in pipes]
        for p in procs:
            p.join(30)
    ticks = sum(r[1] for r in reports)
    hist = [sum(col) for col in zip(*(r[4] for r in reports))]
    expected = n * 5 * cycles
    result = {
        "kind": kind, "mode": "batch" if batch else "per tick", "n": n, "connected": connected,
        "ticks_s": ticks / args.seconds, "loss": 1 - ticks / expected,
        "p50": _percentile(hist, 0.5), "p99": _percentile(hist, 0.99),
        "dropped": sum(r[2] for r in reports), "errors": sum(r[3] for r in reports),
        "server_cpu": cpu, "load_cpu": sum(r[5] for r in reports) / (args.warmup + args.seconds),
    }
    result["ok"] = (connected == n and ticks == expected and result["p99"] < P99_LIMIT_MS)
    print(f"  {kind:7} {result['mode']:8} N={n:5}: {result['ticks_s']:9,.0f} ticks/s, "
          f"loss {result['loss']:.2%}, p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms, "
          f"server cpu {cpu:.0%}, load cpu {result['load_cpu']:.0%} "
          f"{'ok' if result['ok'] else 'FAIL'}", flush=True)
    return result


def _series(kinds: list[str], *, batch: bool, args, env: dict) -> dict[str, list[dict]]:
    """Double N until every kind has failed (or ``--max``). The machine is shared, so a failed
    trial is run once more before it counts: a server fails at N when it fails twice."""
    results: dict[str, list[dict]] = {k: [] for k in kinds}
    n, alive = args.start, set(kinds)
    while alive and n <= args.max:
        for kind in kinds:
            if kind in alive:
                r = trial(kind, n, batch=batch, args=args, env=env)
                if not r["ok"]:
                    r = trial(kind, n, batch=batch, args=args, env=env)
                    r["retried"] = True
                results[kind].append(r)
                if not r["ok"]:
                    alive.discard(kind)
        n *= 2
    return results


def _best(results: list[dict]) -> int:
    best = 0
    for r in results:
        if not r["ok"]:
            break
        best = r["n"]
    return best


def run(args) -> int:
    tag = uuid.uuid4().hex[:8]
    os.environ["CHANNEL_LAYER_PREFIX"] = f"bench-asgi-{tag}"
    os.environ["MARKET_REDIS_PREFIX"] = f"bench-market-{tag}"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    database_url = setup_django(suffix="bench")
    from django.conf import settings

    env = {"DATABASE_URL": database_url, "REDIS_URL": settings.REDIS_URL,
           "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYER_PREFIX,
           "MARKET_REDIS_PREFIX": settings.MARKET_REDIS_PREFIX, "LOG_LEVEL": "WARNING"}
    print(f"ws: N clients x 5 tickers x 10 Hz; {args.seconds:g} s measured per trial, "
          f"{args.procs} load-generator processes")
    per_tick = _series(["daphne", "ceiling"], batch=False, args=args, env=env)
    batch = _series(["daphne"], batch=True, args=args, env=env)
    ceiling_n, daphne_n, batch_n = (_best(per_tick["ceiling"]), _best(per_tick["daphne"]),
                                    _best(batch["daphne"]))
    rows = []
    for label, series in (("daphne /ws, per tick", per_tick["daphne"]),
                          ("websockets broadcast (ceiling), per tick", per_tick["ceiling"]),
                          ("daphne /ws, batch", batch["daphne"])):
        for r in series:
            rows.append([label, r["n"], f"{r['ticks_s']:,.0f}", f"{r['loss']:.2%}",
                         f"{r['p50']:.0f}", f"{r['p99']:.0f}", f"{r['server_cpu']:.0%}",
                         f"{r['load_cpu']:.0%}",
                         ("ok" if r["ok"] else "fail") + (" (2nd run)" if r.get("retried") else "")])
    ratio_tick = daphne_n / ceiling_n if ceiling_n else float("nan")
    ratio_batch = batch_n / ceiling_n if ceiling_n else float("nan")

    def shown(n: int, series: list[dict]) -> str:
        return f">= {n} (--max reached)" if series and series[-1]["ok"] else str(n)

    summary = [
        ["websockets broadcast (ceiling), per tick", shown(ceiling_n, per_tick["ceiling"]),
         "1.00", ""],
        ["daphne /ws, per tick", shown(daphne_n, per_tick["daphne"]), f"{ratio_tick:.2f}",
         f"target >= {TARGET_TICK}"],
        ["daphne /ws, batch", shown(batch_n, batch["daphne"]), f"{ratio_batch:.2f}",
         f"target >= {TARGET_BATCH} (vs the ceiling's per-tick N)"],
    ]
    body = table(["server", "largest N (p99 < 250 ms, no loss)", "x ceiling", "note"], summary)
    body += "\n\n" + table(["server", "N", "ticks/s", "loss", "p50 ms", "p99 ms",
                            "server CPU", "load CPU", ""], rows)
    body += (f"\n\nEach client subscribes to all 5 tickers; one cycle (5 ticks) published every "
             f"100 ms through the channel layer's Redis pub/sub; {args.seconds:g} s measured "
             f"after {args.warmup:g} s of warm-up; latency = receipt - publish time. CPU as a "
             f"share of one core; the load generators ({args.procs} processes of raw-socket "
             "clients) share the same 2 cores.")
    print()
    print(body)
    record("ws", body)
    ok = ceiling_n and ratio_tick >= TARGET_TICK and ratio_batch >= TARGET_BATCH
    print("\ntargets met" if ok else "\ntargets NOT met")
    return 0
