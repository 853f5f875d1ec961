"""Massive stream fan-out: N clients of ``/stocks`` against ``/ws`` per tick, the same daphne,
the same stream, the same method, in the same run.

Every trial is ``bench/ws.py``'s: a fresh daphne, N raw-socket clients over load-generator
processes, one cycle (5 ticks, stamped with the publish time) published every 100 ms through
the product's publish helper. ``/ws`` clients subscribe to the five tickers per tick
(``bench/ws_client.py``); Massive clients authenticate and subscribe to ``T.`` and ``Q.`` of the
five (``bench/massive_stream_client.py``: one array frame per cycle, a trade and a quote per
tick; loss is counted on trades). A trial passes with no loss and p99 under 250 ms. The ladder
is the vendor streams' (``bench.stream_ladder``): N doubles from
``--stream-start`` until a trial fails (twice), then climbs from the last pass in x1.25 steps.
The ratio is the largest passing N of ``/stocks`` over ``/ws``'s (target: at least 0.8).

Called by ``python -m bench massive`` after its REST part (``add_arguments``/``run``; it reuses
the Django setup and database that part made), or on its own.
"""

import argparse
import os
import sys
import uuid

from . import stream_ladder
from .common import record, setup_django
from .massive_stream_client import load_main as massive_load
from .stream_ladder import WS, Kind

TARGET = 0.8  # /stocks' largest N / /ws per tick's
KINDS = {"ws": WS, "massive": Kind(massive_load, False, "daphne /stocks, JSON")}


def add_arguments(parser) -> None:
    stream_ladder.add_arguments(parser)


def _django() -> str:
    """The database URL the daphnes get: the one this process's Django uses. After the REST
    part (``python -m bench massive``) Django is set up already, on its migrated database, with
    its Redis prefixes: reuse them (setting Django up again would point ``DATABASE_URL`` at a
    new, empty database while Django keeps the old one). On its own: a private setup."""
    from django.apps import apps

    if not apps.ready:
        tag = uuid.uuid4().hex[:8]
        os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"bench-asgi-{tag}")
        os.environ.setdefault("MARKET_REDIS_PREFIX", f"bench-market-{tag}")
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        return setup_django(suffix="massive")
    from django.db import connection

    url = os.environ["DATABASE_URL"]
    assert url.rsplit("/", 1)[1] == connection.settings_dict["NAME"], (url, "not Django's")
    return url


def run(args) -> int:
    database_url = _django()
    from django.conf import settings

    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYER_PREFIX,
        "MARKET_REDIS_PREFIX": settings.MARKET_REDIS_PREFIX,
        "LOG_LEVEL": "WARNING",
    }
    print(
        f"massive stream: N clients x 5 tickers x 10 Hz, /ws per tick vs /stocks (JSON); "
        f"{args.stream_seconds:g} s measured per trial, {args.stream_procs} load processes"
    )
    series = {k: stream_ladder.ladder(k, kind, args=args, env=env) for k, kind in KINDS.items()}
    body, ok = stream_ladder.report(KINDS, series, target=TARGET)
    body += (
        f"\n\nOne daphne process; each client subscribes to all 5 tickers (/ws: tick frames; "
        f"/stocks: T. and Q. of each, one array of trades and quotes per cycle); one cycle (5 "
        f"ticks) published every 100 ms through the channel layer's Redis pub/sub; "
        f"{args.stream_seconds:g} s measured after {args.stream_warmup:g} s of warm-up; latency "
        "= receipt - publish time; ticks/s counts /ws ticks and Massive trades. N doubles until "
        "a failure, then climbs in x1.25 steps from the last pass (bench.stream_ladder); "
        "a failing N is run twice. The load generators "
        f"({args.stream_procs} processes) share the machine's 2 cores."
    )
    print()
    print(body)
    record("massive stream", body)
    print("\ntarget met" if ok else "\ntarget NOT met")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.massive_stream", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
