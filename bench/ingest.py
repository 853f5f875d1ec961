"""Ingest: engine ticks/s, backfill (generate + binary COPY) vs the raw COPY ceiling, rollup;
the engine and the backfill also with every ticker on stochastic volatility with jumps (against
plain GBM and against the COPY ceiling of the very same rows, in the same rounds).

All on a private database with the product's table layout (day-partitioned ticks, primary key
on (ticker, time)). The ceiling COPYs the very same pre-built rows in the same chunks, each in
its own transaction, so the ratio isolates what generation and encoding cost on top of COPY.
The seed project's insert method (executemany, 100-row batches) is measured on a sample.
"""

from datetime import timedelta

from .common import rate, record, setup_django, table, timer

TARGET_RATIO = 0.7
TARGET_ENGINE = 5_000_000
TARGET_STOCHASTIC_VS_GBM = 0.5


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


def _set_model(model: dict | None) -> None:
    """Every bench ticker on ``model`` (stochastic volatility and jumps), or back to plain GBM."""
    from ticks.models import Ticker

    plain = {"volatility_model": "constant", "jump_rate": 0.0, "jump_mean": 0.0, "jump_spread": 0.0}
    Ticker.objects.update(**(model or plain))


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


def _backfill_round(hours: float, r: int):
    """One round of ceiling vs backfill (order alternating by round) and the range's rollup:
    (ceiling ticks/s, backfill ticks/s, rollup seconds, plan)."""
    from ticks.backfill import _chunks, rollup_range, write_plan

    # The ceiling's rows: exactly what the backfill will generate, built beforehand.
    _truncate()
    plan = _plan(hours)
    prebuilt = [rows for rows, *_ in _chunks(plan, timedelta(minutes=30))]

    def measure_backfill():
        nonlocal plan
        _truncate()
        plan = _plan(hours)
        with timer() as t:
            assert write_plan(plan) == plan.total
        return t["seconds"]

    # Whichever runs first after a TRUNCATE pays for fresh WAL segments and cold caches, so the
    # order alternates between rounds and a warm-up COPY runs first.
    _ceiling(prebuilt[:4])
    if r % 2 == 0:
        ceiling_s, backfill_s = _ceiling(prebuilt), measure_backfill()
    else:
        backfill_s, ceiling_s = measure_backfill(), _ceiling(prebuilt)
    del prebuilt
    with timer() as t:
        rollup_range(plan)
    total = plan.total
    return total / ceiling_s, total / backfill_s, t["seconds"], plan


def run(args) -> int:
    setup_django(suffix="bench")
    from django.db import connection

    from ticks.engine.speed import STOCHASTIC_JUMPS, engine_throughput
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
    best = {"engine": 0.0, "backfill": None, "ceiling": None, "engine_sv": 0.0}
    best_sv = {"backfill": None, "ceiling": None}
    rounds, sv_rounds, engine_ratios = [], [], []
    for r in range(args.repeat):
        engine_rate = engine_throughput(5, steps)
        sv_rate = engine_throughput(5, steps, model=STOCHASTIC_JUMPS)
        best["engine"] = max(best["engine"], engine_rate)
        best["engine_sv"] = max(best["engine_sv"], sv_rate)
        engine_ratios.append(sv_rate / engine_rate)
        for model, into, log in ((None, best, rounds), (STOCHASTIC_JUMPS, best_sv, sv_rounds)):
            _set_model(model)
            ceiling_rate, backfill_rate, rollup_s, plan = _backfill_round(args.hours, r)
            log.append((ceiling_rate, backfill_rate, rollup_s))
            into["ceiling"] = max(into["ceiling"] or 0, ceiling_rate)
            into["backfill"] = max(into["backfill"] or 0, backfill_rate)
            label = "stochastic+jumps" if model else "GBM"
            print(
                f"  round {r + 1} {label}: ceiling {ceiling_rate:,.0f}/s, backfill "
                f"{backfill_rate:,.0f}/s ({backfill_rate / ceiling_rate:.2f}x), rollup "
                f"{rollup_s:.1f} s"
            )
        _set_model(None)
        print(
            f"  round {r + 1}: engine {engine_rate / 1e6:.2f} M/s GBM, {sv_rate / 1e6:.2f} M/s "
            f"stochastic+jumps ({sv_rate / engine_rate:.2f}x)"
        )
    total = 5 * steps
    rollup_best = min(r[2] for r in rounds)
    engine_ratio = best["engine_sv"] / best["engine"]
    rows = [
        [
            "engine only (advance: prices, spread, volume)",
            f"{best['engine']:,.0f}",
            "",
            f"{best['engine'] / TARGET_ENGINE:.2f}x of 5 M/s target",
        ],
        [
            "engine only, stochastic volatility + jumps",
            f"{best['engine_sv']:,.0f}",
            "",
            f"{best['engine_sv'] / TARGET_ENGINE:.2f}x of 5 M/s; {engine_ratio:.2f}x GBM "
            f"(target >= {TARGET_STOCHASTIC_VS_GBM})",
        ],
        ["raw binary COPY of pre-built rows (ceiling)", f"{best['ceiling']:,.0f}", "1.00", ""],
        [
            "backfill end to end (generate + encode + COPY)",
            f"{best['backfill']:,.0f}",
            f"{best['backfill'] / best['ceiling']:.2f}",
            f"target >= {TARGET_RATIO}",
        ],
        [
            "backfill end to end, stochastic volatility + jumps",
            f"{best_sv['backfill']:,.0f}",
            f"{best_sv['backfill'] / best_sv['ceiling']:.2f}",
            f"target >= {TARGET_RATIO} (its own ceiling {best_sv['ceiling']:,.0f}/s)",
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
    per_round_sv = "; ".join(f"{b / c:.2f}" for c, b, _ in sv_rounds)
    per_round_engine = "; ".join(f"{x:.2f}" for x in engine_ratios)
    body = table(["what", "ticks/s", "x ceiling", "note"], rows)
    body += (
        f"\n\n{total:,} ticks ({args.hours:g} h x 5 tickers x 10 Hz), best of "
        f"{args.repeat} rounds; backfill/ceiling per round: {per_round} (GBM), {per_round_sv} "
        f"(stochastic volatility + jumps: {STOCHASTIC_JUMPS}); stochastic/GBM engine per round: "
        f"{per_round_engine}. "
        f"Database: {connection.settings_dict['NAME']} "
        f"({layout}, PK (ticker, time))."
    )
    print()
    print(body)
    # Each layout keeps its own section, so both sets of figures stand side by side.
    record("ingest" if storage.backend is Backend.PARTITIONED else "ingest (TimescaleDB)", body)
    ok = (
        best["backfill"] / best["ceiling"] >= TARGET_RATIO
        and best["engine"] >= TARGET_ENGINE
        and best["engine_sv"] >= TARGET_ENGINE
        and engine_ratio >= TARGET_STOCHASTIC_VS_GBM
        and best_sv["backfill"] / best_sv["ceiling"] >= TARGET_RATIO
    )
    print("\ntargets met" if ok else "\ntargets NOT met")
    return 0
