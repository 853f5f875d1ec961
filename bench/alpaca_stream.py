"""Alpaca stream fan-out: N clients of ``/v2/iex`` (msgpack and JSON) against ``/ws`` per tick,
the same daphne, the same stream, the same method, in the same run.

Every trial is ``bench/ws.py``'s: a fresh daphne, N raw-socket clients over load-generator
processes, one cycle (5 ticks, stamped with the publish time) published every 100 ms through
the product's publish helper. ``/ws`` clients subscribe to the five tickers per tick
(``bench/ws_client.py``); Alpaca clients authenticate and subscribe to the trades and quotes of
the five (``bench/alpaca_stream_client.py``: one array frame per cycle, a trade and a quote per
tick; loss is counted on trades). A trial passes with no loss and p99 under 250 ms. The ladder
N doubles from ``--stream-start`` until a trial fails (twice: the machine is shared), then
climbs from the last passing N in x1.25 steps below the failing one, so each figure is known
to within 25%. The ratio is the largest passing N of each Alpaca encoding over ``/ws``'s.

Called by ``python -m bench alpaca`` (``add_arguments``/``run``), or on its own.
"""

import argparse
import sys

from . import stream_ladder
from .alpaca_stream_client import load_main as alpaca_load
from .common import record, stream_setup
from .stream_ladder import WS, Kind

TARGET = 0.8  # Alpaca's largest N / /ws per tick's

KINDS = {
    "ws": WS,
    "msgpack": Kind(alpaca_load, True, "daphne /v2/iex, msgpack"),
    "json": Kind(alpaca_load, False, "daphne /v2/iex, JSON"),
}


def add_arguments(parser) -> None:
    stream_ladder.add_arguments(parser)
    parser.add_argument(
        "--stream-kinds",
        default="ws,msgpack,json",
        help="which series to run (comma-separated: ws, msgpack, json)",
    )


def run(args) -> int:
    env = stream_setup(suffix="bench")
    kinds = [k.strip() for k in args.stream_kinds.split(",") if k.strip()]
    print(
        f"alpaca stream: N clients x 5 tickers x 10 Hz, /ws per tick vs /v2/iex (msgpack, JSON); "
        f"{args.stream_seconds:g} s measured per trial, {args.stream_procs} load processes"
    )
    series = {k: stream_ladder.ladder(k, KINDS[k], args=args, env=env) for k in kinds}
    body, ok = stream_ladder.report(KINDS, series, target=TARGET)
    body += (
        f"\n\nOne daphne process; each client subscribes to all 5 tickers (/ws: tick frames; "
        f"Alpaca: trades and quotes, one array per cycle); one cycle (5 ticks) published every "
        f"100 ms through the channel layer's Redis pub/sub; {args.stream_seconds:g} s measured "
        f"after {args.stream_warmup:g} s of warm-up; latency = receipt - publish time; ticks/s "
        "counts /ws ticks and Alpaca trades. N doubles until a failure, then climbs in x1.25 "
        "steps from the last pass; a failing N is run twice. The load generators "
        f"({args.stream_procs} processes) share the machine's 2 cores."
    )
    print()
    print(body)
    record("alpaca stream", body)
    print("\ntargets met" if ok else "\ntargets NOT met")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alpaca_stream", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
