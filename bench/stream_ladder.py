"""The stream fan-out ladder the vendor stream benchmarks share (``bench alpaca``'s and
``bench massive``'s stream parts): for each kind of client, N doubles from ``--stream-start``
until a trial fails (twice: the machine is shared), then climbs from the last passing N in x1.25
steps below the failing one, so each figure is known to within 25%. Every trial is
``bench/ws.py``'s (a fresh daphne, N raw-socket clients over load-generator processes, one cycle
of 5 ticks published every 100 ms; a trial passes with no loss and p99 under 250 ms)."""

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from . import ws
from .common import table
from .ws_client import load_main as ws_load

STEP = 1.25


@dataclass(frozen=True)
class Kind:
    load: Callable  # the load generator's entry point
    flag: bool  # its mode flag (``ws.trial``'s ``batch``)
    label: str


#: The baseline every ratio is taken against: ``/ws`` per tick.
WS = Kind(ws_load, False, "daphne /ws, per tick")


def add_arguments(parser) -> None:
    parser.add_argument("--stream-start", type=int, default=100, help="first N (then doubled)")
    parser.add_argument("--stream-max", type=int, default=6400, help="largest N tried")
    parser.add_argument("--stream-seconds", type=float, default=6.0, help="measured s per trial")
    parser.add_argument("--stream-warmup", type=float, default=1.5, help="s published first")
    parser.add_argument("--stream-procs", type=int, default=2, help="load-generator processes")


def _trial(name: str, kind: Kind, n: int, *, args, env: dict) -> dict:
    opts = SimpleNamespace(
        warmup=args.stream_warmup, seconds=args.stream_seconds, procs=args.stream_procs
    )
    r = ws.trial("daphne", n, batch=kind.flag, args=opts, env=env, load=kind.load, mode=name)
    if not r["ok"]:  # the machine is shared: a server fails at N when it fails twice
        r = ws.trial("daphne", n, batch=kind.flag, args=opts, env=env, load=kind.load, mode=name)
        r["retried"] = True
    r["label"] = kind.label
    return r


def ladder(name: str, kind: Kind, *, args, env: dict) -> list[dict]:
    """Doubling until a failure, then x1.25 steps from the last pass below it."""
    results, n, passed, failed = [], args.stream_start, 0, None
    while n <= args.stream_max:
        r = _trial(name, kind, n, args=args, env=env)
        results.append(r)
        if not r["ok"]:
            failed = n
            break
        passed, n = n, n * 2
    if passed and failed:
        n = round(passed * STEP)
        while n < failed:
            r = _trial(name, kind, n, args=args, env=env)
            results.append(r)
            if not r["ok"]:
                break
            n = round(n * STEP)
    return results


def best(results: list[dict]) -> int:
    return max((r["n"] for r in results if r["ok"]), default=0)


def report(kinds: dict[str, Kind], series: dict[str, list[dict]], *, target: float):
    """``(tables, met)``: the largest passing N of each kind and its ratio to ``"ws"``'s
    (target: at least ``target``), then every trial."""
    ws_n = best(series.get("ws", []))
    summary, rows, met = [], [], bool(ws_n)
    for name, results in series.items():
        n = best(results)
        capped = results and all(r["ok"] for r in results)  # never failed
        shown = f">= {n} (--stream-max reached)" if capped else str(n)
        if name == "ws":
            summary.append([kinds[name].label, shown, "1.00", "baseline"])
        else:
            ratio = n / ws_n if ws_n else float("nan")
            met = met and ratio >= target
            summary.append([kinds[name].label, shown, f"{ratio:.2f}", f"target >= {target}"])
        for r in results:
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
    text = table(["server", "largest N (p99 < 250 ms, no loss)", "x /ws", "note"], summary)
    text += "\n\n" + table(
        ["server", "N", "ticks/s", "loss", "p50 ms", "p99 ms", "server CPU", ""], rows
    )
    return text, met
