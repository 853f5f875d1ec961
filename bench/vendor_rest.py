"""What the vendor-dialect benchmarks (``bench alpaca``, ``bench massive``) share: their options,
running the REST part and then the stream, and the REST comparison itself (a vendor endpoint
against our own for the same rows, over one keep-alive connection, in rounds that alternate
which goes first; the figure is the median of the rounds' p50 ratios)."""

import asyncio
import statistics

from . import http_load
from .common import table

TARGET_RATIO = 1.5


def add_arguments(parser, stream) -> None:
    """The options of both; ``stream``: the dialect's stream benchmark module (its own too)."""
    parser.add_argument("--only", choices=("rest", "stream"), help="run one part only")
    parser.add_argument(
        "--rest-samples", type=int, default=40, help="sequential requests per endpoint per round"
    )
    parser.add_argument("--rest-rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument(
        "--rest-reuse", action="store_true", help="keep the data of the previous run if it is there"
    )
    stream.add_arguments(parser)


def run(args, rest, stream) -> int:
    """The REST part (``rest(args)``), then the stream (``stream.run(args)``), or one of them."""
    status = 0
    if args.only in (None, "rest"):
        status = rest(args)
    if args.only in (None, "stream"):
        status = stream.run(args) or status
    return status


def compare(stack, base: str, paths: dict[str, str], args) -> list[dict]:
    """``args.rest_rounds`` rounds of ``http_load.latencies`` over ``paths`` (the baseline
    first, the vendor endpoint second), alternating their order; the server must survive."""
    baseline, vendor = list(paths)
    rounds = []
    for r in range(args.rest_rounds):
        order = list(paths) if r % 2 == 0 else list(paths)[::-1]
        measured = asyncio.run(
            http_load.latencies(base, {k: paths[k] for k in order}, args.rest_samples)
        )
        rounds.append(measured)
        print(f"  round {r + 1}: ratio {measured[vendor][0] / measured[baseline][0]:.2f}")
    assert all(stack.alive().values()), stack.logs()
    return rounds


def report(paths: dict[str, str], rounds: list[dict], *, ratio_label: str, setup: str, args):
    """``(text, ratio, met)``: the table, the median ratio against ``TARGET_RATIO`` and how it
    was measured (``setup``)."""
    baseline, vendor = list(paths)
    ratios = [r[vendor][0] / r[baseline][0] for r in rounds]
    ratio = statistics.median(ratios)
    rows = []
    for label in paths:
        p50 = statistics.median(r[label][0] for r in rounds)
        p99 = statistics.median(r[label][1] for r in rounds)
        rows.append([label, f"{p50:.2f}", f"{p99:.2f}", f"{rounds[0][label][2]:,}"])
    met = ratio <= TARGET_RATIO
    text = table(["endpoint", "p50 ms (median of rounds)", "p99 ms", "bytes"], rows)
    text += (
        f"\n\nRatio {ratio_label}: **{ratio:.2f}x** (median of {args.rest_rounds} rounds: "
        f"{' '.join(f'{x:.2f}' for x in ratios)}); target at most {TARGET_RATIO}x: "
        f"{'met' if met else 'NOT met'}.\n\n{setup} {args.rest_samples} sequential requests "
        "per endpoint per round over one keep-alive connection (aiohttp), after 10 warm-up "
        "ones; rounds alternate which endpoint goes first."
    )
    return text, ratio, met
