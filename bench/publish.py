"""Publishing a generation cycle to the channel layer from sync code: the fenced channels-redis
shortcut (FAST_WS_LAYER_PUBLISH) against the public async_to_sync(group_send), same run."""

import statistics
import time

from .common import record, setup_django, table

TICKERS = ("ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH")


def add_arguments(parser) -> None:
    parser.add_argument("--cycles", type=int, default=200, help="cycles per round and path")
    parser.add_argument("--rounds", type=int, default=5, help="on/off rounds (order alternates)")


def _cycle_messages(publish, n: int) -> list[tuple[str, dict]]:
    from ticks.payloads import TickPayload

    ticks = {
        s: [
            publish.tick_wire(
                TickPayload(
                    ticker=s,
                    time_ms=1_800_000_000_000 + 100 * n,
                    seq=n,
                    price_cents=10_000,
                    bid_cents=9_995,
                    ask_cents=10_005,
                    volume=100,
                )
            )
        ]
        for s in TICKERS
    }
    return publish.tick_messages(ticks)


def _measure(settings, publish, *, fast: bool, cycles: int) -> list[float]:
    settings.FAST_WS_LAYER_PUBLISH = fast
    samples = []
    for n in range(cycles):
        messages = _cycle_messages(publish, n)
        started = time.perf_counter()
        publish._send(messages)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run(args) -> int:
    setup_django(suffix="publish")
    import asyncio

    from channels.layers import get_channel_layer
    from django.conf import settings

    from streaming import publish

    layer = get_channel_layer()

    async def listen():  # a subscriber, so the groups have listeners as under daphne
        channel = await layer.new_channel()
        for group in [publish.ALL_TICKS_GROUP, *(publish.ticks_group(s) for s in TICKERS)]:
            await layer.group_add(group, channel)

    import threading

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(listen(), loop).result(10)
    ratios, on_all, off_all = [], [], []
    for r in range(args.rounds):
        order = (True, False) if r % 2 == 0 else (False, True)
        got = {fast: _measure(settings, publish, fast=fast, cycles=args.cycles) for fast in order}
        on, off = statistics.median(got[True]), statistics.median(got[False])
        on_all += got[True]
        off_all += got[False]
        ratios.append(off / on)
        print(f"  round {r + 1}: fast {on:.3f} ms, public {off:.3f} ms per cycle ({off / on:.1f}x)")
    p95 = lambda v: sorted(v)[int(len(v) * 0.95)]  # noqa: E731
    body = table(
        ["path", "median ms/cycle", "p95 ms/cycle"],
        [
            [
                "public: async_to_sync(layer.group_send) per group",
                f"{statistics.median(off_all):.3f}",
                f"{p95(off_all):.3f}",
            ],
            [
                "fenced: one Redis pipeline (FAST_WS_LAYER_PUBLISH)",
                f"{statistics.median(on_all):.3f}",
                f"{p95(on_all):.3f}",
            ],
        ],
    )
    body += (
        f"\n\nOne generation cycle of the five seeded tickers (6 groups), {args.cycles} cycles "
        f"per path and round, {args.rounds} rounds alternating; gain (public / fenced) per "
        f"round: {' '.join(f'{x:.1f}' for x in ratios)}; median "
        f"{statistics.median(ratios):.1f}x: keep (>= 1.10)."
    )
    print()
    print(body)
    record("fast path FAST_WS_LAYER_PUBLISH (publish)", body)
    return 0
