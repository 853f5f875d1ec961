"""The TimescaleDB layout against a real TimescaleDB server (skipped on plain PostgreSQL; the
README's "Testing on TimescaleDB" runs them): the hypertable the migration makes, backfill into
compressed chunks, retention following the setting, and how the rollup reads compressed ticks."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from testsupport.checks import assert_gap_free, bar_mismatches, grid_report
from ticks import engine, services
from ticks.backfill import plan_backfill
from ticks.market import market_config, ticker_params
from ticks.models import Tick, Ticker
from ticks.storage import tick_storage

pytestmark = [pytest.mark.timescaledb]
UTC = UTC


def query(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall() if cursor.description else []


def policies() -> dict[str, dict]:
    return {
        name: {"drop_after": drop, "compress_after": compress}
        for name, drop, compress in query(
            "SELECT proc_name, config ->> 'drop_after', config ->> 'compress_after' "
            "FROM timescaledb_information.jobs WHERE hypertable_name = 'ticks_tick'"
        )
    }


def chunks() -> list[tuple[str, bool]]:
    return query(
        "SELECT chunk_name, is_compressed FROM timescaledb_information.chunks "
        "WHERE hypertable_name = 'ticks_tick' ORDER BY range_start"
    )


@pytest.mark.django_db
def test_the_migration_made_a_compressed_hypertable_with_retention():
    assert query(
        "SELECT num_dimensions, compression_enabled FROM "
        "timescaledb_information.hypertables WHERE hypertable_name = 'ticks_tick'"
    ) == [(1, True)]
    assert query(
        "SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc "
        "FROM timescaledb_information.compression_settings "
        "WHERE hypertable_name = 'ticks_tick' ORDER BY attname"
    ) == [("ticker_id", 1, None, None), ("time", None, 1, False)]
    found = policies()
    assert found["policy_retention"]["drop_after"] == f"{settings.TICK_RETENTION_DAYS} days"
    assert found["policy_compression"]["compress_after"] == "2 days"
    assert query(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'ticks_tick'::regclass AND contype = 'p'"
    ) == [('PRIMARY KEY (ticker_id, "time")',)]
    info = tick_storage().describe(connection)
    assert (info.layout, info.retention_days, info.compress_after_days) == (
        "hypertable",
        settings.TICK_RETENTION_DAYS,
        2,
    )


def expected_backfill(symbol: str, *, hours: float, end: datetime) -> list[tuple]:
    """What a backfill of ``hours`` before ``end`` must add now, straight from the engine (from
    the ticker's oldest stored tick, as the backfill joins it)."""
    plan = plan_backfill(
        tickers=[Ticker.objects.get(symbol=symbol)], duration=timedelta(hours=hours), end=end
    )
    batch, _ = engine.rewind(ticker_params(plan.tickers), plan.state, plan.steps, market_config())
    order = np.argsort(batch.time_ms)
    return [
        (int(s), int(t), int(p), int(b), int(a), int(v))
        for s, t, p, b, a, v in zip(
            batch.seq[order],
            batch.time_ms[order],
            batch.price_cents[order],
            batch.bid_cents[order],
            batch.ask_cents[order],
            batch.volume[order],
        )
    ]


def stored(symbol: str) -> list[tuple]:
    return [
        tuple(row)
        for row in query(
            "SELECT t.seq, (extract(epoch FROM t.time) * 1000)::bigint, (t.price * 100)::bigint, "
            "(t.bid * 100)::bigint, (t.ask * 100)::bigint, t.volume FROM ticks_tick t "
            "JOIN ticks_ticker k ON k.id = t.ticker_id WHERE k.symbol = %s ORDER BY t.time",
            [symbol],
        )
    ]


def compress_all() -> list[tuple[str, bool]]:
    query("SELECT compress_chunk(c) FROM show_chunks('ticks_tick') c")
    query("ANALYZE ticks_tick")
    found = chunks()
    assert found and all(compressed for _, compressed in found)
    return found


def hours_ago(days: int) -> datetime:
    return (datetime.now(UTC) - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


@pytest.mark.django_db
def test_a_backfill_into_compressed_chunks_is_exact_and_idempotent(capsys):
    end = hours_ago(3)
    call_command("backfill", hours=1, end=end.isoformat(), tickers="SYNTH", no_progress=True)
    first_hour = stored("SYNTH")
    expected = expected_backfill("SYNTH", hours=2, end=end) + first_hour
    compress_all()
    # The hour before lands in the same, compressed, chunk (or the day before it).
    call_command("backfill", hours=2, end=end.isoformat(), tickers="SYNTH", no_progress=True)
    assert len(expected) == 72_000 and stored("SYNTH") == expected
    with connection.cursor() as cursor:
        assert_gap_free(grid_report(cursor), ["SYNTH"], min_count=72_000)
        assert bar_mismatches(cursor) == 0
    assert all(compressed for _, compressed in chunks()), "compressed again after the backfill"
    capsys.readouterr()
    call_command("backfill", hours=2, end=end.isoformat(), tickers="SYNTH", no_progress=True)
    assert "Nothing to backfill" in capsys.readouterr().out
    assert stored("SYNTH") == expected


@pytest.mark.django_db
def test_the_rollup_reads_compressed_ticks_by_ticker_and_time():
    """On a compressed chunk the rollup's ticker and time filters reach the compressed batches
    (their segment column and time metadata, which an index covers), so a window decompresses
    only its own batches, not the chunk."""
    from ticks.rollup import _FROM_TICKS

    end = hours_ago(3)
    call_command("backfill", hours=1, end=end.isoformat(), no_progress=True)
    compress_all()
    synth = Ticker.objects.get(symbol="SYNTH").pk
    sql = "EXPLAIN " + _FROM_TICKS.format(ticker_filter="AND ticker_id = ANY(%(tickers)s)")
    params = {
        "timeframe": "1m",
        "width": timedelta(minutes=1),
        "origin": end,
        "start": end - timedelta(minutes=30),
        "end": end - timedelta(minutes=29),
        "tickers": [synth],
    }
    plan = "\n".join(row[0] for row in query(sql, params))
    compressed_scan = next(line for line in plan.splitlines() if "compress_hyper" in line)
    batch_filter = plan.splitlines()[plan.splitlines().index(compressed_scan) + 1]
    assert "_ts_meta" in batch_filter and "ticker_id" in batch_filter, plan
    with connection.cursor() as cursor:  # the index on (ticker_id, time metadata)
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(sql, params)
        indexed = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan" in indexed and "compress_hyper" in indexed, indexed


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_retention_follows_the_setting_on_migrate_and_maintenance(settings):
    synth = Ticker.objects.get(symbol="SYNTH")
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=10), now - timedelta(hours=1)
    Tick.objects.bulk_create(
        [
            Tick(ticker=synth, time=old, seq=1, price=100, bid=99, ask=101, volume=1),
            Tick(ticker=synth, time=recent, seq=2, price=100, bid=99, ask=101, volume=1),
        ]
    )
    try:
        settings.TICK_RETENTION_DAYS = 7
        call_command("migrate", verbosity=0)
        assert policies()["policy_retention"]["drop_after"] == "7 days"
        result = services.storage_maintain(now=now)
        assert len(result.dropped) == 1 and result.policies == []
        assert list(Tick.objects.values_list("seq", flat=True)) == [2]
        assert "retention 7 days" in tick_storage().describe(connection).summary()
    finally:
        tick_storage().apply_policies(connection, retention_days=30)
    assert policies()["policy_retention"]["drop_after"] == "30 days"
