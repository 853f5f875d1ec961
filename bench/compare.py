"""On/off rounds of one fast-path switch (``--compare SWITCH``): what a shortcut buys.

Each round runs the benchmark once with the switch on and once with it off, each in fresh
server processes, the order alternating from round to round; a round's on/off ratio shares the
machine's load of the moment (2 shared cores: noise beyond 10% between runs), and the figure is
the median of the rounds' ratios. ``REMOVE_BELOW``: a shortcut that buys less is removed.
"""

import statistics

from .common import record, table

SWITCHES = (
    "FAST_PATHS",
    "FAST_WS_DIRECT_WRITE",
    "FAST_WS_EAGER_WRITE",
    "FAST_HTTP_ASYNC_READS",
    "FAST_HTTP_THREAD_REUSE",
    "FAST_HTTP_HOT_READS",
)
REMOVE_BELOW = 1.10


def add_argument(parser) -> None:
    parser.add_argument(
        "--compare",
        choices=SWITCHES,
        metavar="SWITCH",
        help="alternate rounds with SWITCH on and off (fresh servers each); "
        f"one of {', '.join(SWITCHES)}",
    )


def states(round_index: int) -> tuple[bool, bool]:
    """On first in even rounds, off first in odd ones."""
    return (True, False) if round_index % 2 == 0 else (False, True)


def env(switch: str, on: bool) -> dict[str, str]:
    return {switch: "true" if on else "false"}


def gain(rounds: list[dict], metric: str, *, lower_is_better: bool = False) -> float:
    """Median over rounds of on/off (off/on when lower is better: CPU, latency)."""
    ratios = [
        (r[False][metric] / r[True][metric])
        if lower_is_better
        else (r[True][metric] / r[False][metric])
        for r in rounds
    ]
    return statistics.median(ratios)


def report(bench: str, switch: str, rounds: list[dict], metrics: list[tuple], note: str) -> str:
    """``metrics``: (key, label, format, lower_is_better, decides). Records the section
    ``fast path <switch> (<bench>)`` of RESULTS.md and returns its body."""
    rows = []
    for key, label, fmt, lower, decides in metrics:
        ratio = gain(rounds, key, lower_is_better=lower)
        per_round = " ".join(
            f"{(r[False][key] / r[True][key]) if lower else (r[True][key] / r[False][key]):.2f}"
            for r in rounds
        )
        verdict = ""
        if decides:
            verdict = "keep (>= 1.10)" if ratio >= REMOVE_BELOW else "REMOVE (< 1.10)"
        rows.append(
            [
                label,
                fmt.format(statistics.median(r[True][key] for r in rounds)),
                fmt.format(statistics.median(r[False][key] for r in rounds)),
                f"{ratio:.2f}",
                per_round,
                verdict,
            ]
        )
    body = table(
        [
            "metric",
            "on (median)",
            "off (median)",
            "gain on/off (median of rounds)",
            "per round",
            "verdict",
        ],
        rows,
    )
    body += (
        f"\n\n`{switch}` on and off, {len(rounds)} rounds, order alternating, fresh server "
        f"processes for each run; gain > 1 means the shortcut helps. {note}"
    )
    print()
    print(body)
    record(f"fast path {switch} ({bench})", body)
    return body
