"""Massive dialect: a day of 1-minute aggregates in one request against /api/v1/bars for the
same rows (REST), then the stream.

REST: one daphne (``bench.rest``'s server, settings ``bench.rest_settings``) on a private
database holding a day of 1m bars for the 5 tickers (``bench.rest_data``'s synthetic minute
bars, rolled up, before a few minutes of backfilled ticks). Latency of
``/v2/aggs/ticker/SYNTH/range/1/minute/<from>/<to>`` over that day (1,440 aggregates, one page
at the default limit) against our own ``/api/v1/bars/SYNTH?timeframe=1m`` for the same 1,440
bars, both over one keep-alive connection, sequential requests, in ``--rest-rounds`` rounds
that alternate which goes first; the figure is the median of the rounds' p50 ratios (target:
at most 1.5x).

Stream: ``bench.massive_stream`` when it is present (its own options), after the REST part;
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
MINUTES = 1440


def _stream():
    """``bench.massive_stream`` when it exists, else None."""
    if importlib.util.find_spec("bench.massive_stream") is None:
        return None
    return importlib.import_module("bench.massive_stream")


def add_arguments(parser) -> None:
    parser.add_argument("--only", choices=("rest", "stream"), help="run one part only")
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
            print("massive: the stream benchmark (bench/massive_stream.py) is not present")
            return 1
    return status


def _rest(args) -> int:
    import json
    import urllib.request

    url = setup_django(suffix="massive")
    from ticks.market import to_ms

    from .rest import _server

    print("massive REST: a day of 1m bars x 5 tickers")
    data = rest_data.prepare(argparse.Namespace(hours=0.05, bar_days=1, reuse=args.rest_reuse))
    day_end = data["first"].replace(second=0, microsecond=0)  # the synthetic bars end here
    start = day_end - timedelta(days=1)
    lo = to_ms(start)
    hi = lo + (MINUTES - 1) * 60_000  # Massive's ``to`` is the last bar's start, inclusive
    paths = {
        f"/api/v1/bars timeframe=1m limit={MINUTES}": (
            f"/api/v1/bars/SYNTH?timeframe=1m&start={lo}&end={to_ms(day_end)}&limit={MINUTES}"
        ),
        "/v2/aggs 1 minute, a day": f"/v2/aggs/ticker/SYNTH/range/1/minute/{lo}/{hi}",
    }
    baseline, massive = list(paths)
    stack, base = _server(url)
    try:
        with urllib.request.urlopen(base + paths[massive], timeout=60) as response:
            body = json.loads(response.read())
        with urllib.request.urlopen(base + paths[baseline], timeout=60) as response:
            v1 = json.loads(response.read())["data"]
        assert "next_url" not in body, "the day does not fit one page"
        assert body["resultsCount"] == len(v1) == MINUTES, (body["resultsCount"], len(v1))
        assert [r["c"] for r in body["results"]] == [float(r["close"]) for r in v1]
        print(f"  {massive}: {body['resultsCount']:,} aggregates in one page, equal to /api/v1")
        rounds = []
        for r in range(args.rest_rounds):
            order = list(paths) if r % 2 == 0 else list(paths)[::-1]
            measured = asyncio.run(
                http_load.latencies(base, {k: paths[k] for k in order}, args.rest_samples)
            )
            rounds.append(measured)
            print(f"  round {r + 1}: ratio {measured[massive][0] / measured[baseline][0]:.2f}")
        assert all(stack.alive().values()), stack.logs()
    finally:
        stack.close()
    ratios = [r[massive][0] / r[baseline][0] for r in rounds]
    ratio = statistics.median(ratios)
    rows = []
    for label in paths:
        p50 = statistics.median(r[label][0] for r in rounds)
        p99 = statistics.median(r[label][1] for r in rounds)
        rows.append([label, f"{p50:.2f}", f"{p99:.2f}", f"{rounds[0][label][2]:,}"])
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    body_text = table(["endpoint", "p50 ms (median of rounds)", "p99 ms", "bytes"], rows)
    body_text += (
        f"\n\nRatio /v2/aggs p50 / /api/v1/bars p50: **{ratio:.2f}x** (median of "
        f"{args.rest_rounds} rounds: {' '.join(f'{x:.2f}' for x in ratios)}); target at most "
        f"{TARGET_RATIO}x: {verdict}.\n\n"
        f"A day of 1m bars ({MINUTES:,} per ticker, 5 tickers, rolled up) on a private "
        "database, ANALYZEd; one daphne process (bench.rest_settings). Both requests return "
        f"the same {MINUTES:,} SYNTH bars (checked): the Massive aggregates in one page at the "
        f"default limit, the /api/v1 bars with limit={MINUTES}. {args.rest_samples} sequential "
        "requests per endpoint per round over one keep-alive connection (aiohttp), after 10 "
        "warm-up ones; rounds alternate which endpoint goes first."
    )
    print()
    print(body_text)
    record("massive REST", body_text)
    print("\ntarget met" if ratio <= TARGET_RATIO else "\ntarget NOT met")
    return 0
