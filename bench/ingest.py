"""Ingest: engine ticks/s, backfill (generate + binary COPY) vs the raw COPY ceiling, rollup.

All on a private database with the product's table layout (day-partitioned ticks, primary key
on (ticker, time)). The ceiling COPYs the very same pre-built rows in the same chunks, each in
its own transaction, so the ratio isolates what generation and encoding cost on top of COPY.
The seed project's insert method (executemany, 100-row batches) is measured on a sample.
"""

from datetime import timedelta

from .common import rate, record, setup_django, table, timer

TARGET_RATIO = 0.7
TARGET_ENGINE = 5_000_000


def add_arguments(parser) -> None:
    parser.add_argument(
        "--hours",
        type=float,
        default=24.0,
        help="simulated hours of 10 Hz ticks for 5 tickers (default 24 = 4.32 M)",
    )
    parser.add_argument("--repeat", type=int, default=2, help="rounds (best of each is kept)")
    parser.add_argument(
        "--seed-sample", type=int, default=20_000, help="rows inserted the seed's way (0 to skip)"
    )


def _truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ticks_tick, ticks_bar, ticks_tickerstate")


def _plan(hours: float):
    from django.utils import timezone

    from ticks.backfill import plan_backfill
    from ticks.models import Ticker

    tickers = list(Ticker.objects.filter(is_active=True).order_by("symbol"))
    return plan_backfill(tickers=tickers, duration=timedelta(hours=hours), end=timezone.now())


def _ceiling(chunks) -> float:
    from django.db import connection, transaction

    from ticks.storage.copy import copy_rows

    _truncate()
    with timer() as t:
        for rows in chunks:
            with transaction.atomic(), connection.cursor() as cursor:
                copy_rows(cursor.connection.cursor(), rows)
    return t["seconds"]


def _seed_style(sample: int) -> float:
    """psycopg executemany of parametrized INSERTs in 100-row batches, as the seed did."""
    from django.db import connection, transaction

    _truncate()
    plan = _plan(sample / 5 / 36_000)
    from ticks import engine
    from ticks.market import market_config, ticker_params

    batch, _ = engine.rewind(ticker_params(plan.tickers), plan.state, plan.steps, market_config())
    ids = [t.pk for t in plan.tickers]
    from ticks.market import from_ms

    rows = [
        (ids[i], from_ms(int(ms)), int(s), p / 100, b / 100, a / 100, int(v))
        for i, ms, s, p, b, a, v in zip(
            batch.ticker_index,
            batch.time_ms,
            batch.seq,
            batch.price_cents,
            batch.bid_cents,
            batch.ask_cents,
            batch.volume,
        )
    ]
    sql = (
        "INSERT INTO ticks_tick (ticker_id, time, seq, price, bid, ask, volume) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)"
    )
    with timer() as t:
        for start in range(0, len(rows), 100):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, rows[start : start + 100])
    return len(rows), t["seconds"]


def run(args) -> int:
    setup_django(suffix="bench")
    from django.db import connection

    from ticks.backfill import _chunks, rollup_range, write_plan
    from ticks.engine.speed import engine_throughput
    from ticks.storage import Backend, tick_storage

    storage = tick_storage()
    info = storage.describe(connection)
    layout = (
        f"TimescaleDB {info.version} hypertable, daily chunks"
        if info.version
        else "PostgreSQL day partitions"
    )

    steps = int(args.hours * 36_000)
    print(f"ingest: 5 tickers x {steps:,} steps (10 Hz, {args.hours:g} h) = {5 * steps:,} ticks")
    best = {"engine": 0.0, "backfill": None, "ceiling": None}
    rounds = []
    for r in range(args.repeat):
        engine_rate = engine_throughput(5, steps)
        best["engine"] = max(best["engine"], engine_rate)
        # The ceiling's rows: exactly what the backfill will generate, built beforehand.
        _truncate()
        plan = _plan(args.hours)
        prebuilt = [rows for rows, *_ in _chunks(plan, timedelta(minutes=30))]

        def measure_ceiling(prebuilt=prebuilt):
            return _ceiling(prebuilt)

        def measure_backfill():
            _truncate()
            nonlocal plan
            plan = _plan(args.hours)
            with timer() as t:
                assert write_plan(plan) == plan.total
            return t["seconds"]

        # Whichever runs first after a TRUNCATE pays for fresh WAL segments and cold caches,
        # so the order alternates between rounds and a warm-up COPY runs first.
        _ceiling(prebuilt[:4])
        if r % 2 == 0:
            ceiling_s, backfill_s = measure_ceiling(), measure_backfill()
        else:
            backfill_s, ceiling_s = measure_backfill(), measure_ceiling()
        del prebuilt
        with timer() as t:
            rollup_range(plan)
        rollup_s = t["seconds"]
        total = plan.total
        rounds.append((total / ceiling_s, total / backfill_s, rollup_s))
        order = "ceiling first" if r % 2 == 0 else "backfill first"
        print(
            f"  round {r + 1} ({order}): ceiling {total / ceiling_s:,.0f}/s, backfill "
            f"{total / backfill_s:,.0f}/s ({ceiling_s / backfill_s:.2f}x), rollup "
            f"{rollup_s:.1f} s, engine {engine_rate / 1e6:.2f} M/s"
        )
        best["ceiling"] = max(best["ceiling"] or 0, total / ceiling_s)
        best["backfill"] = max(best["backfill"] or 0, total / backfill_s)
    total = 5 * steps
    rollup_best = min(r[2] for r in rounds)
    rows = [
        [
            "engine only (advance: prices, spread, volume)",
            f"{best['engine']:,.0f}",
            "",
            f"{best['engine'] / TARGET_ENGINE:.2f}x of 5 M/s target",
        ],
        ["raw binary COPY of pre-built rows (ceiling)", f"{best['ceiling']:,.0f}", "1.00", ""],
        [
            "backfill end to end (generate + encode + COPY)",
            f"{best['backfill']:,.0f}",
            f"{best['backfill'] / best['ceiling']:.2f}",
            f"target >= {TARGET_RATIO}",
        ],
        [
            "bar rollup of the range (1m/5m/1h/1d)",
            f"{total / rollup_best:,.0f}",
            f"{(total / rollup_best) / best['ceiling']:.2f}",
            f"{rollup_best:.1f} s",
        ],
    ]
    if args.seed_sample:
        n, seconds = _seed_style(args.seed_sample)
        rows.append(
            [
                "seed's method: executemany, 100-row batches (sample)",
                rate(n, seconds),
                f"{(n / seconds) / best['ceiling']:.3f}",
                f"{n:,} rows",
            ]
        )
    _truncate()
    per_round = "; ".join(f"{b / c:.2f}" for c, b, _ in rounds)
    body = table(["what", "ticks/s", "x ceiling", "note"], rows)
    body += (
        f"\n\n{total:,} ticks ({args.hours:g} h x 5 tickers x 10 Hz), best of "
        f"{args.repeat} rounds; backfill/ceiling per round: {per_round}. "
        f"Database: {connection.settings_dict['NAME']} "
        f"({layout}, PK (ticker, time))."
    )
    print()
    print(body)
    # Each layout keeps its own section, so both sets of figures stand side by side.
    record("ingest" if storage.backend is Backend.PARTITIONED else "ingest (TimescaleDB)", body)
    ok = best["backfill"] / best["ceiling"] >= TARGET_RATIO and best["engine"] >= TARGET_ENGINE
    print("\ntargets met" if ok else "\ntargets NOT met")
    return 0
