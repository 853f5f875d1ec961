"""Alpaca dialect: multi-symbol 1Min bars against /api/v1 history (REST), then the stream.

REST: one daphne (``bench.rest``'s server, settings ``bench.rest_settings``) on a day of
backfilled 10 Hz ticks for the 5 tickers, rolled up (``bench.rest_data``). Latency of
``/v2/stocks/bars?symbols=<all five>&timeframe=1Min`` over that day with ``limit=10000`` (7,200
bars in one page) against our own ``/api/v1/history/SYNTH?limit=10000`` (10,000 ticks), both
over one keep-alive connection, sequential requests, in ``--rest-rounds`` rounds that alternate
which goes first; the figure is the median of the rounds' p50 ratios (target: at most 1.5x).

Stream: ``bench.alpaca_stream`` (its own options), after the REST part;
``--only rest`` or ``--only stream`` runs one of them.
"""

import argparse
from datetime import timedelta

from . import alpaca_stream, rest_data, vendor_rest
from .common import record, setup_django

SYMBOLS = "ENERGY,FINANCE,HEALTH,SYNTH,TECH"


def add_arguments(parser) -> None:
    parser.add_argument(
        "--rest-hours",
        type=float,
        default=24.0,
        help="hours of backfilled 10 Hz ticks for 5 tickers (default 24)",
    )
    vendor_rest.add_arguments(parser, alpaca_stream)


def run(args) -> int:
    return vendor_rest.run(args, _rest, alpaca_stream)


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
        rounds = vendor_rest.compare(stack, base, paths, args)
    finally:
        stack.close()
    body_text, ratio, met = vendor_rest.report(
        paths,
        rounds,
        ratio_label="/v2 bars p50 / /api/v1 history p50",
        setup=(
            f"{data['ticks']:,} ticks ({args.rest_hours:g} h x 5 tickers x 10 Hz, backfilled "
            "and rolled up) on a private database, ANALYZEd; one daphne process "
            "(bench.rest_settings). The bars request: all five symbols, one day of 1Min bars "
            f"({bars:,} bars) in one page with limit=10000; the baseline: 10,000 ticks of one "
            "symbol from /api/v1/history with limit=10000."
        ),
        args=args,
    )
    print()
    print(body_text)
    record("alpaca REST", body_text)
    print("\ntarget met" if met else "\ntarget NOT met")
    return 0
