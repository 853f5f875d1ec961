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

Stream: ``bench.massive_stream`` (its own options), after the REST part;
``--only rest`` or ``--only stream`` runs one of them.
"""

import argparse
from datetime import timedelta

from . import massive_stream, rest_data, vendor_rest
from .common import record, setup_django

MINUTES = 1440


def add_arguments(parser) -> None:
    vendor_rest.add_arguments(parser, massive_stream)


def run(args) -> int:
    return vendor_rest.run(args, _rest, massive_stream)


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
        rounds = vendor_rest.compare(stack, base, paths, args)
    finally:
        stack.close()
    body_text, ratio, met = vendor_rest.report(
        paths,
        rounds,
        ratio_label="/v2/aggs p50 / /api/v1/bars p50",
        setup=(
            f"A day of 1m bars ({MINUTES:,} per ticker, 5 tickers, rolled up) on a private "
            "database, ANALYZEd; one daphne process (bench.rest_settings). Both requests return "
            f"the same {MINUTES:,} SYNTH bars (checked): the Massive aggregates in one page at "
            f"the default limit, the /api/v1 bars with limit={MINUTES}."
        ),
        args=args,
    )
    print()
    print(body_text)
    record("massive REST", body_text)
    print("\ntarget met" if met else "\ntarget NOT met")
    return 0
