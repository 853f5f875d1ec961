"""Playback: live /ws latency with 5 clients playing back at "max" against none, and daphne's memory
over a full stored day played at "max".

Data: a stored day (``--hours``, default 24) of all five tickers at 1 tick/s (432,000 ticks;
10 ticks/s would take the backfill longer than the benchmark), written by the backfill service
into the bench's own database and kept there for the next run.

1. Latency: ``bench ws``'s machinery (one fresh daphne per trial, raw-socket clients subscribed
   to all five tickers, a cycle published every 100 ms stamped with its publish time, latency of
   every frame). Trials alternate between no playbacks (the baseline) and ``--playbacks`` clients
   (a separate process) playing the whole day at ``max`` over and over; the figure is the ratio of
   live p99 with playbacks to without (medians over ``--rounds``). Target: at most 1.5.
2. Memory: one client plays the whole day at ``max`` through one daphne while its RSS is sampled
   every 0.5 s; flat means the end is within a few MB of the start.
"""

import asyncio
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta

from .common import record, stream_setup, table
from .ws import Server, trial
from .ws_client import load_main

TARGET = 1.5


def add_arguments(parser) -> None:
    parser.add_argument("--live", type=int, default=100, help="live clients per trial")
    parser.add_argument("--playbacks", type=int, default=5, help="clients playing back at max")
    parser.add_argument("--rounds", type=int, default=3, help="trials of each kind")
    parser.add_argument("--seconds", type=float, default=6.0, help="measured seconds per trial")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds published first")
    parser.add_argument("--hours", type=float, default=24.0, help="stored range played back")


def _stored_day(hours: float) -> tuple[int, int]:
    """``(start ms, end ms)`` of a stored range of all five tickers (backfilled when missing)."""
    from django.db.models import Max, Min

    from ticks.backfill import history_window, plan_backfill, rollup_range, write_plan
    from ticks.models import Tick, Ticker

    span = Tick.objects.aggregate(lo=Min("time"), hi=Max("time"))
    oldest_ok = datetime.now(UTC) - timedelta(days=25)
    if (
        span["lo"]
        and span["lo"] > oldest_ok
        and span["hi"] - span["lo"] >= timedelta(hours=hours, minutes=-1)
    ):
        end = span["hi"].replace(second=0, microsecond=0)
        return int((end - timedelta(hours=hours)).timestamp() * 1000), int(end.timestamp() * 1000)
    Tick.objects.all().delete()
    Ticker.objects.update(tick_interval_ms=1000)
    tickers = list(Ticker.objects.order_by("symbol"))
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    plan = plan_backfill(tickers=tickers, duration=timedelta(hours=hours), end=end)
    print(f"backfilling {plan.total:,} ticks ({hours:g} h of {len(tickers)} tickers at 1 tick/s)")
    began = time.monotonic()
    with history_window(plan):
        write_plan(plan)
        rollup_range(plan)
    print(f"  done in {time.monotonic() - began:.0f} s", flush=True)
    return int((end - timedelta(hours=hours)).timestamp() * 1000), int(end.timestamp() * 1000)


def load_with_playbacks(port, clients, batch, first, last, conn, *, playbacks, start, end, out):
    """``ws_client.load_main`` with ``playbacks`` readers at max in a process of their own."""
    reader = None
    if playbacks:
        with open(out, "w") as sink:
            reader = subprocess.Popen(
                [sys.executable, "-m", "bench.playback_client"]
                + [str(port), str(playbacks), str(start), str(end)],
                stdout=sink,
            )
        time.sleep(1.0)  # the playbacks are running before the live clients connect
    try:
        load_main(port, clients, batch, first, last, conn)
    finally:
        if reader is not None:
            reader.terminate()
            reader.wait(10)


def _read_rate(path: str) -> float:
    """Messages a second the playback readers got (from their last report)."""
    try:
        lines = open(path).read().split()
    except OSError:
        return float("nan")
    if len(lines) < 2:
        return float("nan")
    seconds, count = float(lines[-2]), int(lines[-1])
    return count / seconds if seconds else float("nan")


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def _play_day(port: int, start: int, end: int) -> tuple[int, float]:
    import websockets

    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
        await ws.recv()
        request = {"type": "playback", "tickers": "*", "start": start, "end": end, "speed": "max"}
        await ws.send(json.dumps(request))
        began, count = time.monotonic(), 0
        while True:
            text = await ws.recv()
            count += 1
            if text.startswith('{"type":"playback_done"'):
                return json.loads(text)["ticks"], time.monotonic() - began
            if text.startswith('{"type":"error"'):
                raise RuntimeError(text)


def _memory(env: dict, start: int, end: int) -> dict:
    with Server("daphne", env) as server:
        samples: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:
            t0 = time.monotonic()
            while not stop.is_set():
                samples.append((time.monotonic() - t0, _rss_mb(server.pid)))
                stop.wait(0.5)

        time.sleep(1.0)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            ticks, seconds = asyncio.run(_play_day(server.port, start, end))
        finally:
            stop.set()
            sampler.join(5)
    rss = [mb for _, mb in samples]
    return {
        "ticks": ticks,
        "seconds": seconds,
        "rate": ticks / seconds,
        "first": rss[0],
        "peak": max(rss),
        "last": rss[-1],
        "tenth": rss[len(rss) // 10],
        "samples": len(rss),
    }


def run(args) -> int:
    env = stream_setup(suffix="playback")
    start, end = _stored_day(args.hours)
    args.procs = 1
    print(
        f"playback: {args.live} live clients x 5 tickers x 10 Hz, {args.seconds:g} s per trial; "
        f"with and without {args.playbacks} clients playing back {args.hours:g} h at max"
    )
    results: dict[int, list[dict]] = {0: [], args.playbacks: []}
    rates = []
    for _ in range(args.rounds):
        for playbacks in (0, args.playbacks):
            out = tempfile.mktemp(prefix="bench-playback-", suffix=".txt")
            load = functools.partial(
                load_with_playbacks, playbacks=playbacks, start=start, end=end, out=out
            )
            result = trial(
                "daphne", args.live, batch=False, args=args, env=env, load=load,
                mode=f"{playbacks} pb",
            )  # fmt: skip
            results[playbacks].append(result)
            if playbacks:
                rates.append(_read_rate(out))
                print(f"    playback readers: {rates[-1]:,.0f} messages/s in all", flush=True)
            if os.path.exists(out):
                os.unlink(out)
    base_p99 = statistics.median(r["p99"] for r in results[0])
    with_p99 = statistics.median(r["p99"] for r in results[args.playbacks])
    ratio = with_p99 / base_p99 if base_p99 else float("nan")
    print("memory: one client plays the whole stored range at max")
    memory = _memory(env, start, end)
    print(
        f"  {memory['ticks']:,} ticks in {memory['seconds']:.1f} s ({memory['rate']:,.0f}/s); "
        f"daphne RSS {memory['first']:.0f} MB at the start, {memory['tenth']:.0f} MB after a "
        f"tenth, peak {memory['peak']:.0f} MB, {memory['last']:.0f} MB at the end"
    )
    rows = []
    for playbacks, series in results.items():
        for r in series:
            rows.append(
                [
                    f"{playbacks} playbacks at max",
                    r["n"],
                    f"{r['loss']:.2%}",
                    f"{r['p50']:.0f}",
                    f"{r['p99']:.0f}",
                    f"{r['server_cpu']:.0%}",
                ]
            )
    body = (
        f"Live `/ws` clients ({args.live}, all five tickers at 10 Hz, {args.seconds:g} s per "
        f"trial, a fresh daphne each) while {args.playbacks} clients play back "
        f"{args.hours:g} h of all five tickers (1 tick/s) at `max`, against the same trial "
        "without playbacks, alternating. Machine: 2 shared cores, busy with other work at the "
        "time; the playback readers and the live load generator run on the same 2 cores as "
        "daphne.\n\n"
        + table(["trial", "live N", "loss", "p50 ms", "p99 ms", "daphne cpu"], rows)
        + "\n\n"
        + table(
            ["figure", "value"],
            [
                ["live p99 without playbacks (median)", f"{base_p99:.0f} ms"],
                [f"live p99 with {args.playbacks} playbacks at max (median)", f"{with_p99:.0f} ms"],
                ["ratio (target <= 1.5)", f"{ratio:.2f}"],
                [
                    "playback readers' messages/s (median)",
                    f"{statistics.median(rates):,.0f}" if rates else "-",
                ],
                [
                    "one client, whole range at max",
                    f"{memory['ticks']:,} ticks in {memory['seconds']:.1f} s "
                    f"({memory['rate']:,.0f}/s)",
                ],
                [
                    "daphne RSS: start / after a tenth / peak / end",
                    f"{memory['first']:.0f} / {memory['tenth']:.0f} / {memory['peak']:.0f} / "
                    f"{memory['last']:.0f} MB ({memory['samples']} samples)",
                ],
            ],
        )
    )
    print(body)
    record("playback", body)
    return 0 if ratio <= TARGET else 1
