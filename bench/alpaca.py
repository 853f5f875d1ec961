"""Alpaca dialect: multi-symbol 1Min bars against /api/v1 history (REST), then the stream.

REST: one daphne (``bench.rest``'s server, settings ``bench.rest_settings``) on a day of
backfilled 10 Hz ticks for the 5 tickers, rolled up (``bench.rest_data``). Latency of
``/v2/stocks/bars?symbols=<all five>&timeframe=1Min`` over that day with ``limit=10000`` (7,200
bars in one page) against our own ``/api/v1/history/SYNTH?limit=10000`` (10,000 ticks), both
over one keep-alive connection, sequential requests, in ``--rest-rounds`` rounds that alternate
which goes first; the figure is the median of the rounds' p50 ratios (target: at most 1.5x).

Stream: ``bench.alpaca_stream`` when it is present (its own options), after the REST part;
``--only rest`` or ``--only stream`` runs one of them.
"""

import argparse
import asyncio
import importlib
import importlib.util
import statistics
from datetime import timedelta

from . import http_load, rest_data
from .common import record, setup_django, table

TARGET_RATIO = 1.5
SYMBOLS = "ENERGY,FINANCE,HEALTH,SYNTH,TECH"


def _stream():
    """``bench.alpaca_stream`` when it exists, else None."""
    if importlib.util.find_spec("bench.alpaca_stream") is None:
        return None
    return importlib.import_module("bench.alpaca_stream")


def add_arguments(parser) -> None:
    parser.add_argument("--only", choices=("rest", "stream"), help="run one part only")
    parser.add_argument(
        "--rest-hours",
        type=float,
        default=24.0,
        help="hours of backfilled 10 Hz ticks for 5 tickers (default 24)",
    )
    parser.add_argument(
        "--rest-samples", type=int, default=40, help="sequential requests per endpoint per round"
    )
    parser.add_argument("--rest-rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument(
        "--rest-reuse", action="store_true", help="keep the data of the previous run if it is there"
    )
    stream = _stream()
    if stream is not None:
        stream.add_arguments(parser)


def run(args) -> int:
    status = 0
    if args.only in (None, "rest"):
        status = _rest(args)
    if args.only in (None, "stream"):
        stream = _stream()
        if stream is not None:
            status = stream.run(args) or status
        elif args.only == "stream":
            print("alpaca: the stream benchmark (bench/alpaca_stream.py) is not present")
            return 1
    return status


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rest(args) -> int:
    import json
    import urllib.request

    url = setup_django(suffix="alpaca")
    from ticks.market import to_ms

    from .rest import _server

    print(f"alpaca REST: {args.rest_hours:g} h of 10 Hz ticks x 5 tickers")
    data = rest_data.prepare(
        argparse.Namespace(hours=args.rest_hours, bar_days=0, reuse=args.rest_reuse)
    )
    last = data["last"].replace(second=0, microsecond=0)
    end_ms = to_ms(data["last"]) + 1
    paths = {
        "/api/v1/history limit=10000": f"/api/v1/history/SYNTH?end={end_ms}&limit=10000",
        "/v2/stocks/bars 5 symbols 1Min limit=10000": (
            f"/v2/stocks/bars?symbols={SYMBOLS}&timeframe=1Min&limit=10000"
            f"&start={_iso(last - timedelta(days=1))}&end={_iso(last - timedelta(minutes=1))}"
        ),
    }
    baseline, alpaca = list(paths)
    stack, base = _server(url)
    try:
        with urllib.request.urlopen(base + paths[alpaca], timeout=60) as response:
            body = json.loads(response.read())
        bars = sum(len(rows) for rows in body["bars"].values())
        assert body["next_page_token"] is None, "the day does not fit one page"
        print(f"  {alpaca}: {bars:,} bars of {len(body['bars'])} symbols in one page")
        rounds = []
        for r in range(args.rest_rounds):
            order = list(paths) if r % 2 == 0 else list(paths)[::-1]
            measured = asyncio.run(
                http_load.latencies(base, {k: paths[k] for k in order}, args.rest_samples)
            )
            rounds.append(measured)
            print(f"  round {r + 1}: ratio {measured[alpaca][0] / measured[baseline][0]:.2f}")
        assert all(stack.alive().values()), stack.logs()
    finally:
        stack.close()
    ratios = [r[alpaca][0] / r[baseline][0] for r in rounds]
    ratio = statistics.median(ratios)
    rows = []
    for label in paths:
        p50 = statistics.median(r[label][0] for r in rounds)
        p99 = statistics.median(r[label][1] for r in rounds)
        rows.append([label, f"{p50:.2f}", f"{p99:.2f}", f"{rounds[0][label][2]:,}"])
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    body_text = table(["endpoint", "p50 ms (median of rounds)", "p99 ms", "bytes"], rows)
    body_text += (
        f"\n\nRatio /v2 bars p50 / /api/v1 history p50: **{ratio:.2f}x** (median of "
        f"{args.rest_rounds} rounds: {' '.join(f'{x:.2f}' for x in ratios)}); target at most "
        f"{TARGET_RATIO}x: {verdict}.\n\n"
        f"{data['ticks']:,} ticks ({args.rest_hours:g} h x 5 tickers x 10 Hz, backfilled and "
        f"rolled up) on a private database, ANALYZEd; one daphne process "
        f"(bench.rest_settings). The bars request: all five symbols, one day of 1Min bars "
        f"({bars:,} bars) in one page with limit=10000; the baseline: 10,000 ticks of one "
        f"symbol from /api/v1/history with limit=10000. {args.rest_samples} sequential "
        "requests per endpoint per round over one keep-alive connection (aiohttp), after 10 "
        "warm-up ones; rounds alternate which endpoint goes first."
    )
    print()
    print(body_text)
    record("alpaca REST", body_text)
    print("\ntarget met" if ratio <= TARGET_RATIO else "\ntarget NOT met")
    return 0
