"""Alpaca stream fan-out: N clients of ``/v2/iex`` (msgpack and JSON) against ``/ws`` per tick,
the same daphne, the same stream, the same method, in the same run.

Every trial is ``bench/ws.py``'s: a fresh daphne, N raw-socket clients over load-generator
processes, one cycle (5 ticks, stamped with the publish time) published every 100 ms through
the product's publish helper. ``/ws`` clients subscribe to the five tickers per tick
(``bench/ws_client.py``); Alpaca clients authenticate and subscribe to the trades and quotes of
the five (``bench/alpaca_stream_client.py``: one array frame per cycle, a trade and a quote per
tick; loss is counted on trades). A trial passes with no loss and p99 under 250 ms. The ladder:
N doubles from ``--stream-start`` until a trial fails (twice: the machine is shared), then
climbs from the last passing N in x1.25 steps below the failing one, so each figure is known
to within 25%. The ratio is the largest passing N of each Alpaca encoding over ``/ws``'s.

Called by ``python -m bench alpaca`` (``add_arguments``/``run``), or on its own.
"""

import argparse
import os
import sys
import uuid
from types import SimpleNamespace

from . import ws
from .alpaca_stream_client import load_main as alpaca_load
from .common import record, setup_django, table
from .ws_client import load_main as ws_load

TARGET = 0.8  # Alpaca's largest N / /ws per tick's
STEP = 1.25

KINDS = {
    # name: (load generator, its mode flag, label)
    "ws": (ws_load, False, "daphne /ws, per tick"),
    "msgpack": (alpaca_load, True, "daphne /v2/iex, msgpack"),
    "json": (alpaca_load, False, "daphne /v2/iex, JSON"),
}


def add_arguments(parser) -> None:
    parser.add_argument("--stream-start", type=int, default=100, help="first N (then doubled)")
    parser.add_argument("--stream-max", type=int, default=6400, help="largest N tried")
    parser.add_argument("--stream-seconds", type=float, default=6.0, help="measured s per trial")
    parser.add_argument("--stream-warmup", type=float, default=1.5, help="s published first")
    parser.add_argument("--stream-procs", type=int, default=2, help="load-generator processes")
    parser.add_argument(
        "--stream-kinds",
        default="ws,msgpack,json",
        help="which series to run (comma-separated: ws, msgpack, json)",
    )


def _trial(kind: str, n: int, *, args, env: dict) -> dict:
    load, flag, label = KINDS[kind]
    opts = SimpleNamespace(
        warmup=args.stream_warmup, seconds=args.stream_seconds, procs=args.stream_procs
    )
    r = ws.trial("daphne", n, batch=flag, args=opts, env=env, load=load, mode=kind)
    if not r["ok"]:  # the machine is shared: a server fails at N when it fails twice
        r = ws.trial("daphne", n, batch=flag, args=opts, env=env, load=load, mode=kind)
        r["retried"] = True
    r["label"] = label
    return r


def ladder(kind: str, *, args, env: dict) -> list[dict]:
    """Doubling until a failure, then x1.25 steps from the last pass below it."""
    results, n, passed, failed = [], args.stream_start, 0, None
    while n <= args.stream_max:
        r = _trial(kind, n, args=args, env=env)
        results.append(r)
        if not r["ok"]:
            failed = n
            break
        passed, n = n, n * 2
    if passed and failed:
        n = round(passed * STEP)
        while n < failed:
            r = _trial(kind, n, args=args, env=env)
            results.append(r)
            if not r["ok"]:
                break
            n = round(n * STEP)
    return results


def best(results: list[dict]) -> int:
    return max((r["n"] for r in results if r["ok"]), default=0)


def run(args) -> int:
    tag = uuid.uuid4().hex[:8]
    os.environ["CHANNEL_LAYER_PREFIX"] = f"bench-asgi-{tag}"
    os.environ["MARKET_REDIS_PREFIX"] = f"bench-market-{tag}"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    database_url = setup_django(suffix="bench")
    from django.conf import settings

    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYER_PREFIX,
        "MARKET_REDIS_PREFIX": settings.MARKET_REDIS_PREFIX,
        "LOG_LEVEL": "WARNING",
    }
    kinds = [k.strip() for k in args.stream_kinds.split(",") if k.strip()]
    print(
        f"alpaca stream: N clients x 5 tickers x 10 Hz, /ws per tick vs /v2/iex (msgpack, JSON); "
        f"{args.stream_seconds:g} s measured per trial, {args.stream_procs} load processes"
    )
    series = {kind: ladder(kind, args=args, env=env) for kind in kinds}
    ws_n = best(series.get("ws", []))
    summary, rows, ok = [], [], bool(ws_n)
    for kind in kinds:
        n = best(series[kind])
        capped = series[kind] and all(r["ok"] for r in series[kind])  # never failed
        shown = f">= {n} (--stream-max reached)" if capped else str(n)
        if kind == "ws":
            summary.append([KINDS[kind][2], shown, "1.00", "baseline"])
        else:
            ratio = n / ws_n if ws_n else float("nan")
            ok = ok and ratio >= TARGET
            summary.append([KINDS[kind][2], shown, f"{ratio:.2f}", f"target >= {TARGET}"])
        for r in series[kind]:
            rows.append(
                [
                    r["label"],
                    r["n"],
                    f"{r['ticks_s']:,.0f}",
                    f"{r['loss']:.2%}",
                    f"{r['p50']:.0f}",
                    f"{r['p99']:.0f}",
                    f"{r['server_cpu']:.0%}",
                    ("ok" if r["ok"] else "fail") + (" (2nd run)" if r.get("retried") else ""),
                ]
            )
    body = table(["server", "largest N (p99 < 250 ms, no loss)", "x /ws", "note"], summary)
    body += "\n\n" + table(
        ["server", "N", "ticks/s", "loss", "p50 ms", "p99 ms", "server CPU", ""], rows
    )
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
