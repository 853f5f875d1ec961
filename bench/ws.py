"""WebSocket fan-out: N clients x 5 tickers at 10 Hz, one daphne vs a minimal websockets server.

Each trial starts a fresh server, connects N clients (spread over load-generator processes),
each subscribed to all five tickers, then publishes one cycle every 100 ms (5 ticks, stamped
with the publish time) through the product's publish helper, i.e. the channel layer's Redis
pub/sub. Served by:

- ``daphne``: the product (``config.asgi``, the ``/ws`` consumer, one daphne process);
- ``ceiling``: a minimal ``websockets`` server subscribed to the very same Redis channel, which
  encodes each tick once and ``broadcast()``s it: this machine's ceiling for the same stream.

``--processes 1 2``: daphne with 1 and then 2 web processes on one port (as ``make run`` starts
them, ``WEB_CONCURRENCY``), each series in the same run, the ceiling's beside them; the clients
connect to the one port and the kernel hands each connection to one of the processes (how many
each got is shown).

Clients are raw-socket WebSocket clients (handshake, frame headers, pong) that JSON-parse only a
sample of what they receive: they count ticks (``"seq"`` occurrences) and read the first tick's
``seq`` and ``timestamp`` of each frame, so latency is measured on every frame and loss exactly
(ticks received in the measured window / N x 5 x cycles). A trial passes with no loss and p99
under 250 ms; N doubles from ``--start`` until both servers fail (twice in a row at that N: the
machine is shared, and one unlucky trial should not decide).
"""

import multiprocessing
import os
import socket
import time
from pathlib import Path

from . import compare
from .common import free_port, record, stream_setup, table
from .stream_client import HIST_MS, SYMBOLS
from .ws_ceiling import ceiling_main
from .ws_client import load_main

P99_LIMIT_MS = 250
TARGET_TICK = 0.5  # daphne's N per tick / the ceiling's
TARGET_BATCH = 1.0  # daphne's N in batch mode / the ceiling's per-tick N


def add_arguments(parser) -> None:
    parser.add_argument("--start", type=int, default=50, help="first N (then doubled)")
    parser.add_argument("--max", type=int, default=6400, help="largest N tried")
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per trial")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds published first")
    parser.add_argument("--procs", type=int, default=2, help="load-generator processes")
    compare.add_argument(parser)
    parser.add_argument(
        "--n", type=int, default=800, help="with --compare: clients of every trial (default 800)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="with --compare: rounds")
    parser.add_argument("--batch", action="store_true", help="with --compare: batch mode")
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        metavar="N",
        help="daphne series with N web processes on one port (WEB_CONCURRENCY), each",
    )


# --- orchestration -------------------------------------------------------------------------


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


def _client_inodes(port: int) -> set[str]:
    """Socket inodes of the established TCP connections to local ``port``."""
    inodes = set()
    for table_path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table_path).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(fields[9])
    return inodes


def _clients(pid: int, inodes: set[str]) -> int:
    """How many of those connections process ``pid`` holds."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        count += link.startswith("socket:[") and link[8:-1] in inodes
    return count


class Server:
    """A fresh server per trial: daphne through the test stack (``processes`` of them on one
    port), or the ceiling."""

    def __init__(self, kind: str, env: dict, processes: int = 1) -> None:
        self.kind, self.env, self.port = kind, env, free_port()
        self.processes = processes

    def __enter__(self) -> "Server":
        ctx = multiprocessing.get_context("spawn")
        if self.kind == "daphne":
            from testsupport.stack import Stack

            self.stack = Stack(
                database_url=self.env["DATABASE_URL"],
                redis_url=self.env["REDIS_URL"],
                web_port=self.port,
                env=self.env,
            ).start(*(["web"] + [f"web{i}" for i in range(2, self.processes + 1)]))
            self.stack.wait_webs()
            self.pids = [proc.pid for proc in self.stack.procs.values()]
            self.pid = self.pids[0]
        else:
            from streaming.publish import ALL_TICKS_GROUP, _group_channel

            self.proc = ctx.Process(
                target=ceiling_main,
                daemon=True,
                args=(self.port, self.env["REDIS_URL"], _group_channel(ALL_TICKS_GROUP)),
            )
            self.proc.start()
            self.pid = self.proc.pid
            self.pids = [self.pid]
        _wait_port(self.port)
        return self

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(pid) for pid in self.pids)

    def clients(self) -> list[int]:
        """Connections to the port held by each server process."""
        inodes = _client_inodes(self.port)
        return [_clients(pid, inodes) for pid in self.pids]

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
        publish_ticks(
            {
                s: [
                    tick_data(
                        ticker=s,
                        price_cents=10_000 + k % 100,
                        volume=100,
                        bid_cents=9_995,
                        ask_cents=10_005,
                        time_ms=now,
                        seq=first_seq + k,
                    )
                ]
                for s in SYMBOLS
            }
        )


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


def trial(
    kind: str,
    n: int,
    *,
    batch: bool,
    args,
    env: dict,
    load=load_main,
    mode: str | None = None,
    processes: int = 1,
) -> dict:
    """One trial: ``load`` (a load generator's main, ``ws_client.load_main`` by default; the
    Alpaca stream bench passes its own) with ``batch`` as its mode flag; ``mode`` labels it;
    ``processes``: daphne processes on the one port."""
    warm = round(args.warmup * 10)
    cycles = round(args.seconds * 10)
    first, last = warm, warm + cycles - 1
    ctx = multiprocessing.get_context("spawn")
    with Server(kind, env, processes) as server:
        procs, pipes = [], []
        shares = [n // args.procs + (i < n % args.procs) for i in range(args.procs)]
        for share in shares:
            parent, child = ctx.Pipe()
            p = ctx.Process(
                target=load, daemon=True, args=(server.port, share, batch, first, last, child)
            )
            p.start()
            procs.append(p)
            pipes.append(parent)
        connected = sum(pipe.recv()[1] for pipe in pipes)
        sockets = server.clients()
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        _publish_cycles(warm + cycles)
        time.sleep(1.0)  # stragglers of the last cycle
        cpu = (server.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        for pipe in pipes:
            pipe.send("stop")
        reports = [pipe.recv() for pipe in pipes]
        for p in procs:
            p.join(30)
    ticks = sum(r[1] for r in reports)
    hist = [sum(col) for col in zip(*(r[4] for r in reports))]
    expected = n * 5 * cycles
    result = {
        "kind": kind,
        "mode": mode or ("batch" if batch else "per tick"),
        "processes": processes,
        "sockets": sockets,
        "n": n,
        "connected": connected,
        "ticks_s": ticks / args.seconds,
        "loss": 1 - ticks / expected,
        "p50": _percentile(hist, 0.5),
        "p99": _percentile(hist, 0.99),
        "dropped": sum(r[2] for r in reports),
        "errors": sum(r[3] for r in reports),
        "server_cpu": cpu,
        "load_cpu": sum(r[5] for r in reports) / (args.warmup + args.seconds),
    }
    result["ok"] = connected == n and ticks == expected and result["p99"] < P99_LIMIT_MS
    print(
        f"  {kind:7} x{processes} {result['mode']:8} N={n:5}: {result['ticks_s']:9,.0f} ticks/s, "
        f"loss {result['loss']:.2%}, p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms, "
        f"server cpu {cpu:.0%}, load cpu {result['load_cpu']:.0%} "
        f"{'ok' if result['ok'] else 'FAIL'}",
        flush=True,
    )
    return result


def _series(
    kinds: list[str], *, batch: bool, args, env: dict, processes: dict | None = None
) -> dict[str, list[dict]]:
    """Double N until every kind has failed (or ``--max``). The machine is shared, so a failed
    trial is run once more before it counts: a server fails at N when it fails twice.
    ``processes``: daphne processes per kind (kinds named ``daphne xN``)."""
    results: dict[str, list[dict]] = {k: [] for k in kinds}
    n, alive = args.start, set(kinds)
    processes = processes or {}
    while alive and n <= args.max:
        for kind in kinds:
            if kind in alive:
                server, count = kind.split(" ")[0], processes.get(kind, 1)
                r = trial(server, n, batch=batch, args=args, env=env, processes=count)
                if not r["ok"]:
                    r = trial(server, n, batch=batch, args=args, env=env, processes=count)
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


def _compare(args, env: dict) -> int:
    """``--compare SWITCH``: daphne at a fixed N with the switch on and off, a fresh server per
    trial, alternating (``bench.compare``). The figure that decides is daphne's CPU time per
    delivered tick (the same stream either way); p99 and loss are shown beside it."""
    rounds = []
    for r in range(args.rounds):
        rounds.append({})
        for on in compare.states(r):
            print(f"  round {r + 1} {args.compare}={'on' if on else 'off'}", flush=True)
            result = trial(
                "daphne",
                args.n,
                batch=args.batch,
                args=args,
                env={**env, **compare.env(args.compare, on)},
            )
            delivered = max(result["ticks_s"], 1.0)
            rounds[-1][on] = {
                "cpu_per_tick": result["server_cpu"] / delivered * 1e6,  # us per tick
                "server_cpu": result["server_cpu"] * 100,
                "p99": max(result["p99"], 1.0),
                "delivered": 1 - result["loss"],
            }
    mode = "batch" if args.batch else "per tick"
    compare.report(
        "ws",
        args.compare,
        rounds,
        [
            ("cpu_per_tick", "daphne CPU us per delivered tick", "{:.1f}", True, True),
            ("server_cpu", "daphne CPU % of a core", "{:.0f}", True, False),
            ("p99", "p99 latency ms", "{:.0f}", True, False),
            ("delivered", "ticks delivered (1 - loss)", "{:.4f}", False, False),
        ],
        f"N={args.n} clients, {mode}, all 5 tickers at 10 Hz; {args.seconds:g} s measured "
        f"after {args.warmup:g} s of warm-up per trial.",
    )
    return 0


def run(args) -> int:
    env = stream_setup(suffix="bench")
    if args.compare:
        return _compare(args, env)
    if args.processes:
        return _processes(args, env)
    print(
        f"ws: N clients x 5 tickers x 10 Hz; {args.seconds:g} s measured per trial, "
        f"{args.procs} load-generator processes"
    )
    per_tick = _series(["daphne", "ceiling"], batch=False, args=args, env=env)
    batch = _series(["daphne"], batch=True, args=args, env=env)
    ceiling_n, daphne_n, batch_n = (
        _best(per_tick["ceiling"]),
        _best(per_tick["daphne"]),
        _best(batch["daphne"]),
    )
    rows = []
    for label, series in (
        ("daphne /ws, per tick", per_tick["daphne"]),
        ("websockets broadcast (ceiling), per tick", per_tick["ceiling"]),
        ("daphne /ws, batch", batch["daphne"]),
    ):
        for r in series:
            rows.append(
                [
                    label,
                    r["n"],
                    f"{r['ticks_s']:,.0f}",
                    f"{r['loss']:.2%}",
                    f"{r['p50']:.0f}",
                    f"{r['p99']:.0f}",
                    f"{r['server_cpu']:.0%}",
                    f"{r['load_cpu']:.0%}",
                    ("ok" if r["ok"] else "fail") + (" (2nd run)" if r.get("retried") else ""),
                ]
            )
    ratio_tick = daphne_n / ceiling_n if ceiling_n else float("nan")
    ratio_batch = batch_n / ceiling_n if ceiling_n else float("nan")

    def shown(n: int, series: list[dict]) -> str:
        return f">= {n} (--max reached)" if series and series[-1]["ok"] else str(n)

    summary = [
        [
            "websockets broadcast (ceiling), per tick",
            shown(ceiling_n, per_tick["ceiling"]),
            "1.00",
            "",
        ],
        [
            "daphne /ws, per tick",
            shown(daphne_n, per_tick["daphne"]),
            f"{ratio_tick:.2f}",
            f"target >= {TARGET_TICK}",
        ],
        [
            "daphne /ws, batch",
            shown(batch_n, batch["daphne"]),
            f"{ratio_batch:.2f}",
            f"target >= {TARGET_BATCH} (vs the ceiling's per-tick N)",
        ],
    ]
    body = table(["server", "largest N (p99 < 250 ms, no loss)", "x ceiling", "note"], summary)
    body += "\n\n" + table(
        ["server", "N", "ticks/s", "loss", "p50 ms", "p99 ms", "server CPU", "load CPU", ""], rows
    )
    body += (
        f"\n\nEach client subscribes to all 5 tickers; one cycle (5 ticks) published every "
        f"100 ms through the channel layer's Redis pub/sub; {args.seconds:g} s measured "
        f"after {args.warmup:g} s of warm-up; latency = receipt - publish time. CPU as a "
        f"share of one core; the load generators ({args.procs} processes of raw-socket "
        "clients) share the same 2 cores."
    )
    print()
    print(body)
    record("ws", body)
    ok = ceiling_n and ratio_tick >= TARGET_TICK and ratio_batch >= TARGET_BATCH
    print("\ntargets met" if ok else "\ntargets NOT met")
    return 0


def _processes(args, env: dict) -> int:
    """``--processes``: daphne per tick with each number of web processes, and the ceiling, N
    doubling in step across them (the same machine load at each N)."""
    kinds = [f"daphne x{count}" for count in args.processes]
    counts = dict(zip(kinds, args.processes))
    print(
        f"ws: N clients x 5 tickers x 10 Hz, daphne with {args.processes} web processes and the "
        f"ceiling; {args.seconds:g} s measured per trial; load average {os.getloadavg()[0]:.2f}"
    )
    results = _series([*kinds, "ceiling"], batch=False, args=args, env=env, processes=counts)
    ceiling_n = _best(results["ceiling"])
    base_n = _best(results[kinds[0]])
    summary, rows = [], []
    for kind in [*kinds, "ceiling"]:
        series = results[kind]
        best = _best(series)
        label = (
            f"daphne /ws, {counts[kind]} web process(es)"
            if kind in counts
            else "websockets broadcast (ceiling), 1 process"
        )
        summary.append(
            [
                label,
                f">= {best} (--max reached)" if series and series[-1]["ok"] else str(best),
                f"{best / base_n:.2f}" if base_n else "",
                f"{best / ceiling_n:.2f}" if ceiling_n else "",
            ]
        )
        for r in series:
            rows.append(
                [
                    label,
                    r["n"],
                    " + ".join(str(c) for c in r["sockets"]),
                    f"{r['ticks_s']:,.0f}",
                    f"{r['loss']:.2%}",
                    f"{r['p50']:.0f}",
                    f"{r['p99']:.0f}",
                    f"{r['server_cpu']:.0%}",
                    f"{r['load_cpu']:.0%}",
                    ("ok" if r["ok"] else "fail") + (" (2nd run)" if r.get("retried") else ""),
                ]
            )
    body = table(
        [
            "server",
            f"largest N (p99 < {P99_LIMIT_MS} ms, no loss)",
            f"x {args.processes[0]} process(es)",
            "x ceiling",
        ],
        summary,
    )
    body += "\n\n" + table(
        [
            "server",
            "N",
            "clients per process",
            "ticks/s",
            "loss",
            "p50 ms",
            "p99 ms",
            "server CPU",
            "load CPU",
            "",
        ],
        rows,
    )
    body += (
        f"\n\nEach client subscribes to all 5 tickers; one cycle (5 ticks) published every 100 ms "
        f"through the channel layer's Redis pub/sub; {args.seconds:g} s measured after "
        f"{args.warmup:g} s of warm-up; latency = receipt - publish time. Daphne processes share "
        "one listening socket (started as `make run` starts them); the kernel hands each "
        "connection to one of them (how many each held is shown). "
        f"Server CPU: all its processes together, as a share of one core. The load generators "
        f"({args.procs} processes of raw-socket clients), Redis and the servers share the "
        f"machine's {os.cpu_count()} cores. Load average at the end: {os.getloadavg()[0]:.2f}."
    )
    print()
    print(body)
    record("ws processes", body)
    return 0
