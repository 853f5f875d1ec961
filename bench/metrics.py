"""Metrics overhead: daphne's CPU with the Prometheus metrics on and off, in the same run.

- **ws**: ``bench ws``'s fan-out (N clients x 5 tickers at 10 Hz, per tick), daphne's CPU time
  per delivered tick: every frame is counted (an integer addition per batch, added to the
  counters once a second), every connection opened and closed on a gauge;
- **rest**: the live quote and ``/api/v1/time`` under 32 keep-alive connections, daphne's CPU
  time per request: every request observed on the latency histogram by route and status.

"On" is what a deployment runs: ``PROMETHEUS_MULTIPROC_DIR`` set (values in memory-mapped
files, a fresh directory per server) and ``METRICS_ENABLED=true``; "off" is
``METRICS_ENABLED=false``. Rounds alternate the order (``bench.compare``); the figure is the
median of the rounds' on/off ratios (1.00: no cost). After each "on" ws trial the counters are
read back from the directory and compared with the frames the clients received.
"""

import asyncio
import os
import shutil
import statistics
import tempfile
import time

from . import compare, http_load
from .common import record, stream_setup, table


def add_arguments(parser) -> None:
    parser.add_argument("--n", type=int, default=800, help="ws clients per trial (default 800)")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per trial")
    parser.add_argument("--warmup", type=float, default=1.5, help="ws: seconds published first")
    parser.add_argument("--procs", type=int, default=2, help="ws: load-generator processes")
    parser.add_argument("--rounds", type=int, default=5, help="on/off rounds")
    parser.add_argument("--concurrency", type=int, default=32, help="rest: connections")
    parser.add_argument(
        "--only", choices=("ws", "rest"), default=None, help="one part only (default both)"
    )


_directories: list[str] = []


def _env(on: bool, base: dict) -> dict:
    """A server's environment: metrics off, or on with a fresh, empty directory."""
    if not on:
        return {**base, "METRICS_ENABLED": "false"}
    _directories.append(tempfile.mkdtemp(prefix="bench-metrics-"))
    return {**base, "METRICS_ENABLED": "true", "PROMETHEUS_MULTIPROC_DIR": _directories[-1]}


def _counted_frames(directory: str) -> float:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from ticks.metrics_export import scrape_registry

    text = generate_latest(scrape_registry(pipeline=False, path=directory)).decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "market_stream_messages_sent_total" and s.labels == {"protocol": "ws"}:
                return s.value
    return 0.0


def _ws_rounds(args, base: dict) -> tuple[list[dict], list[str]]:
    from .ws import trial

    rounds, checks = [], []
    for r in range(args.rounds):
        rounds.append({})
        for on in compare.states(r):
            env = _env(on, base)
            print(f"  ws round {r + 1} metrics {'on' if on else 'off'}", flush=True)
            result = trial("daphne", args.n, batch=False, args=args, env=env)
            delivered = max(result["ticks_s"], 1.0)
            rounds[-1][on] = {
                "cpu_per_tick": result["server_cpu"] / delivered * 1e6,
                "p99": max(result["p99"], 1.0),
                "delivered": 1 - result["loss"],
            }
            if on and result["loss"] == 0:
                # At least every tick of the measured window reached every client; at most
                # "connected", "subscribed", every tick published (warm-up included) and the
                # error frames the clients counted did.
                window = args.n * 5 * round(args.seconds * 10)
                cycles = round(args.warmup * 10) + round(args.seconds * 10)
                published = args.n * (2 + 5 * cycles) + result["errors"]
                counted = _counted_frames(env["PROMETHEUS_MULTIPROC_DIR"])
                within = "ok" if window <= counted <= published else "OUTSIDE"
                checks.append(f"{counted:,.0f} in [{window:,}, {published:,}] {within}")
    return rounds, checks


def _rest_server(base: dict, env: dict):
    from django.conf import settings

    from testsupport.stack import Stack
    from ticks.live_store import tick_record
    from ticks.payloads import TickPayload
    from ticks.redis_store import get_redis

    port = http_load.free_port()
    stack = Stack(
        database_url=base["DATABASE_URL"],
        redis_url=settings.REDIS_URL,
        web_port=port,
        env={**env, "API_RATE_LIMIT_ANON": "1000000000/minute", "LOG_LEVEL": "WARNING"},
    )
    url = f"http://127.0.0.1:{port}"
    tick = TickPayload("SYNTH", 15_000, 100, 14_995, 15_005, int(time.time() * 1000), 1)
    prefix = stack.env["MARKET_REDIS_PREFIX"]
    get_redis().hset(f"{prefix}:quotes", "SYNTH", tick_record(tick))  # the live quote
    stack.start("web")
    stack.wait_for(lambda: http_load.answers(url), timeout=60, what="daphne answering")
    return stack, url


REST_PATHS = {"quote": "/api/v1/quote/SYNTH", "time": "/api/v1/time"}


def _rest_rounds(args, base: dict) -> list[dict]:
    rounds = []
    for r in range(args.rounds):
        rounds.append({})
        for on in compare.states(r):
            stack, url = _rest_server(base, _env(on, base))
            try:
                pid, figures = stack.procs["web"].pid, {}
                for label, path in REST_PATHS.items():
                    cpu, wall = http_load.cpu_seconds(pid), time.perf_counter()
                    rate, errors = asyncio.run(
                        http_load.throughput(
                            url, path, concurrency=args.concurrency, seconds=args.seconds
                        )
                    )
                    busy = (http_load.cpu_seconds(pid) - cpu) / (time.perf_counter() - wall)
                    assert not errors, f"{label}: {errors} errors"
                    figures[label] = rate
                    figures[label + " cpu"] = busy / rate * 1000
            finally:
                stack.close()
            print(
                f"  rest round {r + 1} metrics {'on ' if on else 'off'} "
                + "  ".join(
                    f"{k} {figures[k]:,.0f}/s ({figures[k + ' cpu']:.2f} ms CPU)"
                    for k in REST_PATHS
                ),
                flush=True,
            )
            rounds[-1][on] = figures
    return rounds


# The recording calls themselves, timed in a fresh process in multiprocess mode (the end-to-end
# figures above carry the shared machine's noise, several percent from round to round).
CALLS = """
import json, os, shutil, tempfile, timeit
directory = tempfile.mkdtemp(prefix="bench-metrics-calls-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
import django
django.setup()
from ticks import metrics
meter = metrics.stream_meter("ws")
def frames():
    meter.sent.count += 5
n = 200_000
out = {}
for name, call in (
    ("http", lambda: metrics.http_request("api:quote", 200, 0.002)),
    ("cycle", lambda: metrics.generation_cycle("0/1", seconds=0.003, ticks=5)),
    ("batch", frames),
):
    call()
    out[name] = min(timeit.repeat(call, number=n, repeat=3)) / n * 1e6
flush = min(timeit.repeat(metrics.flush_tallies, number=10_000, repeat=3)) / 10_000 * 1e6
out["flush"] = flush
shutil.rmtree(directory)
print(json.dumps(out))
"""


def _call_costs() -> dict:
    import json
    import subprocess
    import sys

    from .common import RESULTS

    done = subprocess.run(
        [sys.executable, "-c", CALLS],
        cwd=RESULTS.parent.parent,
        env={**os.environ},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rows(rounds: list[dict], metrics: list[tuple]) -> list[list]:
    """``metrics``: (key, label, format); the cost is on/off (above 1: metrics cost that)."""
    rows = []
    for key, label, fmt in metrics:
        ratios = [r[True][key] / r[False][key] for r in rounds]
        rows.append(
            [
                label,
                fmt.format(statistics.median(r[True][key] for r in rounds)),
                fmt.format(statistics.median(r[False][key] for r in rounds)),
                f"{statistics.median(ratios):.3f}",
                " ".join(f"{x:.2f}" for x in ratios),
            ]
        )
    return rows


def run(args) -> int:
    base = stream_setup(suffix="bench")
    try:
        return _run(args, base)
    finally:
        for directory in _directories:
            shutil.rmtree(directory, ignore_errors=True)


def _run(args, base: dict) -> int:
    rows, notes = [], []
    if args.only in (None, "ws"):
        print(f"ws: N={args.n} clients, per tick, {args.seconds:g} s per trial, on/off rounds")
        ws_rounds, checks = _ws_rounds(args, base)
        rows += _rows(
            ws_rounds,
            [
                ("cpu_per_tick", "ws: daphne CPU us per delivered tick", "{:.2f}"),
                ("p99", "ws: p99 latency ms", "{:.0f}"),
                ("delivered", "ws: ticks delivered (1 - loss)", "{:.4f}"),
            ],
        )
        notes.append(
            f"ws: N={args.n} clients per tick, all 5 tickers at 10 Hz, {args.seconds:g} s "
            f"measured after {args.warmup:g} s warm-up. Frames the metrics counted per trial "
            "without loss, between the ticks of the measured window and every frame sent "
            f"(warm-up and error frames included): {'; '.join(checks) or '-'}."
        )
    if args.only in (None, "rest"):
        print(f"rest: {args.concurrency} connections, {args.seconds:g} s per endpoint")
        rest_rounds = _rest_rounds(args, base)
        rows += _rows(
            rest_rounds,
            [
                ("quote", "rest: quote req/s", "{:,.0f}"),
                ("quote cpu", "rest: quote daphne CPU ms/req", "{:.3f}"),
                ("time", "rest: time req/s", "{:,.0f}"),
                ("time cpu", "rest: time daphne CPU ms/req", "{:.3f}"),
            ],
        )
        notes.append(
            f"rest: {args.concurrency} keep-alive connections for {args.seconds:g} s per "
            "endpoint after 1 s of warm-up, one daphne."
        )
    costs = _call_costs()
    body = table(
        ["metric", "metrics on (median)", "off (median)", "on/off (median)", "per round"], rows
    )
    body += "\n\n" + table(
        ["recording call (multiprocess mode, in process)", "us per call", "when"],
        [
            [
                "REST request: latency histogram by route and status",
                f"{costs['http']:.2f}",
                "per request",
            ],
            ["generation cycle: histogram and counter", f"{costs['cycle']:.2f}", "per cycle"],
            [
                "stream frames: tally addition",
                f"{costs['batch']:.3f}",
                "per batch of frames and connection",
            ],
            ["tallies to counters, nothing new", f"{costs['flush']:.2f}", "once a second"],
        ],
    )
    body += (
        f"\n\nMetrics on (`PROMETHEUS_MULTIPROC_DIR` set: the multiprocess mode a deployment "
        f"runs) and off (`METRICS_ENABLED=false`), {args.rounds} rounds, order alternating, "
        "fresh server processes for each run. on/off near 1.00: no measurable cost (CPU and "
        "latency: above 1 is what the metrics cost; req/s: below 1); the second table times the "
        "recording calls themselves (a batch is one cycle's frames for one connection), to set "
        "against daphne's CPU per request and per delivered tick above. " + " ".join(notes)
    )
    print()
    print(body)
    record("metrics overhead (ws, rest)", body)
    return 0
