"""``python -m bench rest --processes 1 2``: the hot reads' req/s with 1 and 2 web processes on
one port, against a minimal FastAPI + psycopg service with as many uvicorn workers, in the same
run.

Per round, for each process count, back to back (so a round's ratios share the machine's load
of the moment), each in fresh server processes:

- ours: ``WEB_CONCURRENCY`` daphne processes on one socket (``testsupport.stack``, started as
  ``make run`` starts them), the hot reads on (``FAST_HTTP_HOT_READS``) and then off (the
  ordinary path through Django's ASGI handler: the step the hot reads take): the live quote,
  Alpaca's latest trade and Massive's last trade;
- the baseline: ``uvicorn bench.fastapi_quote:app --workers N`` answering a ticker's latest tick
  from PostgreSQL (no authentication, rate limit or envelope);
- the floors, once a round: daphne and uvicorn alone, one process each, answering a bare ASGI
  application (``bench.floor_app``): what each server costs a request before any application.

Load: ``--concurrency`` keep-alive connections from raw-socket clients in 2 processes
(``bench.http_raw``), 1 s of warm-up, then ``--seconds`` measured. Figures are medians over the
rounds; the ratios medians of the rounds' ratios. Targets: ours at least 1.0x the baseline at
equal process counts, and at least 1.5x at each one's default (ours: ``WEB_CONCURRENCY`` unset,
one per CPU; uvicorn: 1 worker).
"""

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import http_load, http_raw, rest_data
from .common import free_port, record, table

ENDPOINTS = {
    "quote": "/api/v1/quote/SYNTH",
    "alpaca latest trade": "/v2/stocks/SYNTH/trades/latest",
    "massive last trade": "/v2/last/trade/SYNTH",
}
BASELINE_PATH = "/quote/SYNTH"
# The servers alone, one process each: a bare ASGI app (bench.floor_app) with a quote-sized answer.
FLOORS = {
    "daphne": [
        str(Path(sys.executable).parent / "daphne"),
        "-b",
        "127.0.0.1",
        "-p",
        "{port}",
        "--verbosity",
        "0",
        "bench.floor_app:app",
    ],
    "uvicorn": [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.floor_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--no-access-log",
    ],
}
TARGET_EQUAL = 1.0
TARGET_DEFAULTS = 1.5
UVICORN_DEFAULT_WORKERS = 1


def add_arguments(parser) -> None:
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        metavar="N",
        help="web process counts to measure (with the FastAPI baseline at as many workers)",
    )


def _ours(url: str, processes: int, hot: bool):
    from django.conf import settings

    from testsupport.stack import Stack

    port = free_port()
    stack = Stack(
        database_url=url,
        redis_url=settings.REDIS_URL,
        web_port=port,
        env={
            "DJANGO_SETTINGS_MODULE": "bench.rest_settings",
            "DJANGO_DEBUG": "false",
            "API_RATE_LIMIT_ANON": "1000000000/minute",
            "LOG_LEVEL": "INFO",  # the default: one access line per request
            "FAST_HTTP_HOT_READS": "true" if hot else "false",
        },
    )
    try:
        rest_data.set_quotes(stack.redis_prefix)
        stack.start(*(["web"] + [f"web{i}" for i in range(2, processes + 1)]))
        stack.wait_webs(timeout=90)
    except BaseException:
        stack.close()
        raise
    return stack, port


class _Uvicorn:
    """``bench.fastapi_quote`` under uvicorn with ``workers`` workers; ``command`` another server
    command line (``{port}`` filled in), for the floors."""

    def __init__(self, url: str, workers: int, command: list[str] | None = None) -> None:
        self.port = free_port()
        # Its access lines to a file, as ours go to theirs (the test stack's log files).
        self.log = tempfile.NamedTemporaryFile(prefix="bench-uvicorn-", suffix=".log")
        command = command or [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.fastapi_quote:app",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--workers",
            str(workers),
        ]
        self.proc = subprocess.Popen(
            [part.replace("{port}", str(self.port)) for part in command],
            env={**os.environ, "DATABASE_URL": url},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not http_load.answers(f"http://127.0.0.1:{self.port}"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.2)
        time.sleep(2 if workers > 1 else 0.5)  # every worker up, not just the first

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def _rate(port: int, path: str, args) -> float:
    rate, errors = http_raw.throughput(
        port, path, connections=args.concurrency, seconds=args.seconds
    )
    if errors:
        raise RuntimeError(f"{path}: {errors} errors")
    return rate


def run(args, url: str) -> int:
    from config.procman import cpu_count

    default_ours = cpu_count()
    counts = sorted(set(args.processes) | {default_ours, UVICORN_DEFAULT_WORKERS})
    print(
        f"processes {counts}: {args.rounds} rounds, {args.concurrency} connections, "
        f"{args.seconds:g} s per figure; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    rounds: list[dict] = []
    for r in range(args.rounds):
        figures: dict = {}
        order = counts if r % 2 == 0 else counts[::-1]
        for n in order:
            for hot in (True, False) if r % 2 == 0 else (False, True):
                stack, port = _ours(url, n, hot)
                try:
                    for label, path in ENDPOINTS.items():
                        figures[("ours", hot, n, label)] = _rate(port, path, args)
                finally:
                    stack.close()
            baseline = _Uvicorn(url, n)
            try:
                figures[("fastapi", None, n, "quote")] = _rate(baseline.port, BASELINE_PATH, args)
            finally:
                baseline.close()
            print(
                f"  round {r + 1}, {n} process(es): quote {figures[('ours', True, n, 'quote')]:,.0f}"
                f" req/s (hot reads off: {figures[('ours', False, n, 'quote')]:,.0f}), FastAPI "
                f"{figures[('fastapi', None, n, 'quote')]:,.0f}",
                flush=True,
            )
        for server, command in FLOORS.items():
            floor = _Uvicorn(url, 1, command)
            try:
                figures[("floor", server)] = _rate(floor.port, "/", args)
            finally:
                floor.close()
        rounds.append(figures)
    return _report(args, counts, default_ours, rounds)


def _median(rounds, key) -> float:
    return statistics.median(r[key] for r in rounds)


def _ratio(rounds, key, base) -> tuple[float, str]:
    ratios = [r[key] / r[base] for r in rounds]
    return statistics.median(ratios), " ".join(f"{x:.2f}" for x in ratios)


def _report(args, counts, default_ours, rounds) -> int:
    rows = []
    for n in counts:
        base = ("fastapi", None, n, "quote")
        rows.append(
            [
                f"FastAPI + psycopg, uvicorn --workers {n}",
                n,
                "latest tick (PostgreSQL)",
                f"{_median(rounds, base):,.0f}",
                "1.00",
                "",
            ]
        )
        for hot in (True, False):
            for label in ENDPOINTS:
                key = ("ours", hot, n, label)
                ratio, per_round = _ratio(rounds, key, base)
                rows.append(
                    [
                        f"ours, {n} web process(es), hot reads {'on' if hot else 'off'}",
                        n,
                        label,
                        f"{_median(rounds, key):,.0f}",
                        f"{ratio:.2f}",
                        per_round,
                    ]
                )
    body = table(
        [
            "server",
            "processes",
            "endpoint",
            "req/s (median)",
            "x FastAPI, same processes",
            "per round",
        ],
        rows,
    )
    floors = []
    for server in FLOORS:
        rate = _median(rounds, ("floor", server))
        floors.append([f"{server} alone (bench.floor_app)", f"{rate:,.0f}", f"{1e6 / rate:,.0f}"])
    for label, key in (
        ("ours, 1 web process, hot quote", ("ours", True, 1, "quote")),
        ("FastAPI + psycopg, 1 worker", ("fastapi", None, 1, "quote")),
    ):
        if all(key in r for r in rounds):
            rate = _median(rounds, key)
            floors.append([label, f"{rate:,.0f}", f"{1e6 / rate:,.0f}"])
    body += "\n\n" + table(["one process", "req/s (median)", "us a request (1 / rate)"], floors)
    checks = []
    met = True
    for n in counts:
        ratio, per_round = _ratio(rounds, ("ours", True, n, "quote"), ("fastapi", None, n, "quote"))
        ok = ratio >= TARGET_EQUAL
        met &= ok
        checks.append(
            [
                f"quote, {n} vs {n} process(es)",
                f"{ratio:.2f}",
                per_round,
                f">= {TARGET_EQUAL}",
                "met" if ok else "NOT met",
            ]
        )
    ratio, per_round = _ratio(
        rounds,
        ("ours", True, default_ours, "quote"),
        ("fastapi", None, UVICORN_DEFAULT_WORKERS, "quote"),
    )
    ok = ratio >= TARGET_DEFAULTS
    met &= ok
    checks.append(
        [
            f"quote at the defaults: ours {default_ours} (one per CPU) vs uvicorn "
            f"{UVICORN_DEFAULT_WORKERS}",
            f"{ratio:.2f}",
            per_round,
            f">= {TARGET_DEFAULTS}",
            "met" if ok else "NOT met",
        ]
    )
    for n in counts:
        gain, per_round = _ratio(rounds, ("ours", True, n, "quote"), ("ours", False, n, "quote"))
        checks.append(
            [f"quote, hot reads on / off, {n} process(es)", f"{gain:.2f}", per_round, "", ""]
        )
    if len(counts) > 1:
        lo, hi = counts[0], counts[-1]
        gain, per_round = _ratio(rounds, ("ours", True, hi, "quote"), ("ours", True, lo, "quote"))
        checks.append([f"quote, {hi} / {lo} web process(es)", f"{gain:.2f}", per_round, "", ""])
    body += "\n\n" + table(["ratio", "median", "per round", "target", ""], checks)
    body += (
        f"\n\nEach round measures every configuration back to back (order alternating), each in "
        f"fresh server processes: ours started as `make run` starts them (`WEB_CONCURRENCY` "
        f"daphne on one socket, LOG_LEVEL=INFO: an access line per request, to a file), the "
        f"baseline `uvicorn bench.fastapi_quote:app --workers N` (its default logging: an "
        f"access line per request, to a file). Load: "
        f"{args.concurrency} keep-alive connections from raw-socket clients in 2 processes, 1 s "
        f"warm-up then {args.seconds:g} s; {args.rounds} rounds; ratios are medians of the "
        f"rounds' ratios. The load generators, PostgreSQL and Redis share the machine's "
        f"{os.cpu_count()} cores with the servers: two server processes compete with them, so "
        f"2 processes cannot double the figure here. Load average at the end: "
        f"{os.getloadavg()[0]:.2f}."
    )
    print()
    print(body)
    record("rest processes", body)
    print("\ntargets met" if met else "\ntargets NOT met")
    return 0
