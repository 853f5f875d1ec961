"""Sessions: the engine's cost for tickers on an exchange calendar against the same tickers 24/7,
in the same run (the baseline).

Pure engine (no database): the seed tickers stepped through ``ticks.engine.events.advance``
with and without their ``SessionSchedule`` (XNYS, regular hours, and with pre/post-market
periods), in one-hour chunks of 10 Hz ticks across closures (a backfill's or a catch-up's
calls), and a live cycle's call (500 tickers, one step each, the schedule taken for the cycle's
tickers as the generator does). Rounds interleave the configurations (same machine load); the
best of each is kept.
"""

import time
from datetime import UTC, datetime

import numpy as np

from .common import record, table

ROUNDS = 3


def add_arguments(parser) -> None:
    parser.add_argument("--steps", type=int, default=432_000, help="ticks per ticker (10 Hz)")
    parser.add_argument("--tickers", type=int, default=5, help="tickers in the throughput run")
    parser.add_argument("--live-tickers", type=int, default=500, help="tickers in a live cycle")
    parser.add_argument("--rounds", type=int, default=ROUNDS)


def _schedule(n: int, extended: bool, live: bool = False):
    """XNYS periods for ``n`` tickers: around November 2026, or (``live``) the window the live
    generator loads around 2026-12-01 (``ticks.live_configs``, ``ticks.sessions``' margin)."""
    from ticks.calendars import period_arrays
    from ticks.engine import SessionSchedule

    day = 86_400_000
    if live:
        now = int(datetime(2026, 12, 1, 15, tzinfo=UTC).timestamp() * 1000)
        start, end = now - 19 * day, now + 24 * day
    else:
        start = int(datetime(2026, 10, 20, tzinfo=UTC).timestamp() * 1000)
        end = int(datetime(2026, 12, 31, tzinfo=UTC).timestamp() * 1000)
    s, e, d, k = period_arrays("XNYS", extended_hours=extended, start_ms=start, end_ms=end)
    return SessionSchedule(
        np.repeat(np.arange(n), len(s)), np.tile(s, n), np.tile(e, n), np.tile(d, n), np.tile(k, n)
    )


def _throughput(n: int, steps: int, sessions) -> float:
    from ticks.engine import EngineState, MarketConfig, noise
    from ticks.engine import events as ev
    from ticks.engine.speed import seed_params

    params, starts = seed_params(n)
    market = MarketConfig(market_seed=1)
    anchor = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)
    state = EngineState.initial(start_price=starts, anchor_time_ms=anchor)
    noise.cache_clear()
    done, began = 0, time.perf_counter()
    while done < steps:
        k = min(36_000, steps - done)
        _, state = ev.advance(params, state, k, market, None, sessions)
        done += k
    return n * steps / (time.perf_counter() - began)


def _live_cycle_ms(n: int, sessions, cycles: int = 50) -> float:
    from ticks.engine import EngineState, MarketConfig
    from ticks.engine import events as ev
    from ticks.engine.speed import seed_params

    params, starts = seed_params(n)
    market = MarketConfig(market_seed=1)
    t0 = int(datetime(2026, 12, 1, 15, tzinfo=UTC).timestamp() * 1000)  # 10:00 New York
    state = EngineState.initial(start_price=starts, anchor_time_ms=t0)
    index = np.arange(n)
    began = time.perf_counter()
    for c in range(cycles):
        now = t0 + 100 * (c + 1)
        taken = None if sessions is None else sessions.take(index, n)
        due = ev.steps_due(state, params.take(index), now, None, taken)
        batch, state = ev.advance(params.take(index), state, due, market, None, taken)
        assert len(batch) == n
    return (time.perf_counter() - began) / cycles * 1000


def run(args) -> int:
    n, steps, live = args.tickers, args.steps, args.live_tickers
    configs = {
        "24/7": (None, None),
        "XNYS": (_schedule(n, False), _schedule(live, False, live=True)),
        "XNYS + pre/post": (_schedule(n, True), _schedule(live, True, live=True)),
    }
    best = {name: [0.0, float("inf")] for name in configs}
    print(f"sessions: {n} tickers x {steps:,} ticks; live cycle of {live} tickers")
    for r in range(args.rounds):
        for name, (engine_sched, live_sched) in configs.items():
            rate = _throughput(n, steps, engine_sched)
            cycle = _live_cycle_ms(live, live_sched)
            best[name][0] = max(best[name][0], rate)
            best[name][1] = min(best[name][1], cycle)
            print(f"  round {r + 1} {name}: {rate / 1e6:.2f} M ticks/s, cycle {cycle:.2f} ms")
    base_rate, base_cycle = best["24/7"]
    rows = [
        [
            name,
            f"{rate:,.0f}",
            f"{rate / base_rate:.2f}",
            f"{cycle:.2f}",
            f"{cycle / base_cycle:.2f}",
        ]
        for name, (rate, cycle) in best.items()
    ]
    body = table(
        [
            "tickers",
            "engine ticks/s",
            "x 24/7",
            f"live cycle ms ({live} tickers, 1 step)",
            "x 24/7",
        ],
        rows,
    )
    body += (
        f"\n\nPure engine, best of {args.rounds} interleaved rounds. Throughput: {n} seed tickers "
        f"x {steps:,} ticks at 10 Hz in one-hour calls (`events.advance`), across the closures "
        "of November 2026 (Thanksgiving, the early close) for the calendar rows. Live cycle: "
        f"{live} tickers one step each at 10:00 New York, the periods of the generator's window "
        "(about 6 weeks) taken per cycle as the generator does. Baseline: the same tickers "
        "24/7 in the same run."
    )
    print()
    print(body)
    record("sessions", body)
    return 0
