"""The ticks table's layout: native daily partitions on plain PostgreSQL, a hypertable on
TimescaleDB, and the storage seam (``ticks.storage``) the rest of the code goes through.

Tests of one layout carry its marker and skip on the other (README, "Testing on TimescaleDB");
``test_storage_timescaledb.py`` holds those that need a TimescaleDB server."""

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from ticks import services
from ticks.models import Tick, Ticker
from ticks.storage import partitions, schema, tick_storage
from ticks.storage.backend import Backend, choose_backend, current_backend, timescaledb_available

UTC = UTC


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def tick(ticker, when, seq=0, price="100.00"):
    p = Decimal(price)
    return Tick(
        ticker=ticker,
        time=when,
        seq=seq,
        price=p,
        bid=p - Decimal("0.05"),
        ask=p + Decimal("0.05"),
        volume=10,
    )


def partition_of(ticker, when) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM ticks_tick WHERE ticker_id = %s AND time = %s",
            [ticker.pk, when],
        )
        return cursor.fetchone()[0]


@pytest.mark.partitioned
@pytest.mark.django_db
def test_migration_made_a_partitioned_ticks_table_with_daily_partitions():
    with connection.cursor() as cursor:
        assert choose_backend(cursor) is Backend.PARTITIONED
        assert current_backend(cursor) is Backend.PARTITIONED
        cursor.execute(
            """SELECT p.partstrat, a.attname FROM pg_partitioned_table p
               JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
               WHERE p.partrelid = 'ticks_tick'::regclass"""
        )
        assert cursor.fetchone() == ("r", "time")
        days = {p.day for p in partitions.list_partitions(cursor)}
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'ticks_tick'::regclass AND contype = 'p'"
        )
        assert cursor.fetchone()[0] == 'PRIMARY KEY (ticker_id, "time")'
    # Migrated today (the test database is created per run): yesterday to 3 days ahead.
    first = today().date() - timedelta(days=1)
    assert {first + timedelta(days=i) for i in range(5)} <= days


@pytest.mark.partitioned
@pytest.mark.django_db
def test_ticks_are_written_and_read_back_through_their_day_partitions():
    synth = Ticker.objects.get(symbol="SYNTH")
    day0 = today() + timedelta(hours=23, minutes=59, seconds=59, milliseconds=900)
    day1 = day0 + timedelta(milliseconds=100)  # midnight: the next partition
    Tick.objects.bulk_create([tick(synth, day0, 1, "101.00"), tick(synth, day1, 2, "102.00")])
    assert partition_of(synth, day0) == partitions.partition_name(day0.date())
    assert partition_of(synth, day1) == partitions.partition_name(day1.date())
    rows = list(Tick.objects.filter(ticker=synth).order_by("time").values_list("seq", "price"))
    assert rows == [(1, Decimal("101.00")), (2, Decimal("102.00"))]
    latest = Tick.objects.filter(ticker=synth).order_by("-time").first()
    assert latest.time == day1 and latest.bid == Decimal("101.95")


@pytest.mark.partitioned
@pytest.mark.django_db
def test_a_day_without_partition_is_refused_until_it_is_created():
    synth = Ticker.objects.get(symbol="SYNTH")
    far = today() + timedelta(days=20, hours=1)
    with pytest.raises(DatabaseError, match="no partition"), transaction.atomic():
        Tick.objects.bulk_create([tick(synth, far)])
    created = partitions.ensure_partitions_for(connection, start=far, end=far)
    assert created == [partitions.partition_name(far.date())]
    assert partitions.ensure_partitions_for(connection, start=far, end=far) == []  # idempotent
    Tick.objects.bulk_create([tick(synth, far)])
    assert partition_of(synth, far) == created[0]


@pytest.mark.django_db
def test_partition_creation_uses_create_then_attach():
    statements = partitions.create_partition_statements(datetime(2026, 3, 1).date())
    assert statements[0].startswith("CREATE TABLE IF NOT EXISTS ticks_tick_p20260301 (LIKE")
    assert "PARTITION OF" not in " ".join(statements)
    assert statements[2] == (
        "ALTER TABLE ticks_tick ATTACH PARTITION ticks_tick_p20260301 FOR VALUES FROM "
        "('2026-03-01T00:00:00+00:00') TO ('2026-03-02T00:00:00+00:00')"
    )


@pytest.mark.partitioned
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_maintenance_creates_partitions_ahead():
    now = today() + timedelta(days=6, hours=12)
    result = services.storage_maintain(now=now)
    with connection.cursor() as cursor:
        days = {p.day for p in partitions.list_partitions(cursor)}
    assert {(now + timedelta(days=i)).date() for i in range(-1, 4)} <= days
    assert partitions.partition_name((now + timedelta(days=3)).date()) in result.created
    assert services.storage_maintain(now=now).created == []


def _direct_connection() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"],
        port=s["PORT"] or 5432,
        user=s["USER"],
        dbname=s["NAME"],
        password=s["PASSWORD"] or None,
    )


@pytest.fixture
def old_and_recent_ticks(db):
    """Ticks 40 days back (past the 30-day retention) and today; cleans up its partition."""
    synth = Ticker.objects.get(symbol="SYNTH")
    old = today() - timedelta(days=40) + timedelta(hours=5)
    recent = today() + timedelta(hours=1)
    partitions.ensure_partitions_for(connection, start=old, end=old)
    Tick.objects.bulk_create([tick(synth, old, -5), tick(synth, recent, 7)])
    yield synth, old, recent
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(old.date())}")


@pytest.mark.partitioned
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_retention_drops_old_partitions_without_blocking_readers(old_and_recent_ticks):
    synth, old, recent = old_and_recent_ticks
    old_name = partitions.partition_name(old.date())
    # A long reader that has touched every partition, the old one included.
    long_reader = _direct_connection()
    long_reader.execute("SELECT count(*) FROM ticks_tick WHERE ticker_id = %s", [synth.pk])
    result: dict = {}

    def maintain():
        from django.db import connection as thread_connection

        try:
            result["dropped"] = services.storage_maintain(now=datetime.now(UTC)).dropped
        except Exception as exc:  # reported by the assertion below
            result["error"] = exc
        finally:
            thread_connection.close()

    worker = threading.Thread(target=maintain)
    worker.start()
    time.sleep(0.5)  # the detach is now waiting for the long reader
    # A new reader is not queued behind the maintenance.
    with _direct_connection() as reader:
        reader.execute("SET statement_timeout = '2s'")
        started = time.monotonic()
        count = reader.execute(
            "SELECT count(*) FROM ticks_tick WHERE ticker_id = %s", [synth.pk]
        ).fetchone()[0]
        assert time.monotonic() - started < 1.0
        assert count in (1, 2)  # the old row may already be detached from the parent
    long_reader.commit()
    long_reader.close()
    worker.join(timeout=30)
    assert "error" not in result, result.get("error")
    assert old_name in result["dropped"]
    with connection.cursor() as cursor:
        names = {p.name for p in partitions.list_partitions(cursor)}
        cursor.execute("SELECT to_regclass(%s)", [old_name])
        assert cursor.fetchone()[0] is None
    assert old_name not in names and partitions.partition_name(recent.date()) in names
    assert list(Tick.objects.filter(ticker=synth).values_list("seq", flat=True)) == [7]


@pytest.mark.partitioned
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_plain_detach_would_block_readers(old_and_recent_ticks):
    """Shows the test above can fail: the naive DDL queues new readers behind a long one."""
    synth, old, _ = old_and_recent_ticks
    old_name = partitions.partition_name(old.date())
    long_reader = _direct_connection()
    long_reader.execute("SELECT count(*) FROM ticks_tick WHERE ticker_id = %s", [synth.pk])
    naive = _direct_connection()
    naive.autocommit = True
    ddl = threading.Thread(
        target=lambda: naive.execute(f"ALTER TABLE ticks_tick DETACH PARTITION {old_name}")
    )
    ddl.start()
    time.sleep(0.5)
    try:
        with _direct_connection() as reader:
            reader.execute("SET statement_timeout = '1s'")
            with pytest.raises(psycopg.errors.QueryCanceled):
                reader.execute("SELECT count(*) FROM ticks_tick WHERE ticker_id = %s", [synth.pk])
    finally:
        long_reader.commit()
        long_reader.close()
        ddl.join(timeout=30)
        naive.close()


@pytest.mark.partitioned
@pytest.mark.django_db
def test_dropping_partitions_refuses_to_run_inside_a_transaction():
    with pytest.raises(RuntimeError, match="autocommit"):
        partitions.drop_partitions_before(connection, cutoff=datetime.now(UTC))


# --- TimescaleDB: selected only when the extension can be created -----------------------------


class ScriptedCursor:
    """Answers the catalogue queries as a server with the given extension state would,
    and records every other statement instead of running it."""

    def __init__(self, *, available: bool, installed: bool = False, preload: str = ""):
        self.available, self.installed, self.preload = available, installed, preload
        self.executed: list[str] = []
        self._row = None

    def execute(self, sql, params=None):
        if "FROM pg_extension" in sql:
            self._row = (1,) if self.installed else None
        elif "FROM pg_available_extensions" in sql:
            self._row = (1,) if self.available else None
        elif "shared_preload_libraries" in sql:
            self._row = (self.preload,)
        else:
            self.executed.append(sql)
            self._row = None

    def fetchone(self):
        return self._row


@pytest.mark.parametrize(
    "state,expected",
    [
        ({"available": False}, Backend.PARTITIONED),
        ({"available": True, "preload": ""}, Backend.PARTITIONED),  # not preloaded: cannot load
        ({"available": True, "preload": "pg_stat_statements"}, Backend.PARTITIONED),
        ({"available": True, "preload": "pg_stat_statements, timescaledb"}, Backend.TIMESCALEDB),
        ({"available": True, "installed": True}, Backend.TIMESCALEDB),
    ],
)
def test_backend_choice_follows_the_extension(state, expected):
    assert choose_backend(ScriptedCursor(**state)) is expected


@pytest.mark.django_db
def test_the_layout_follows_the_server(tick_backend):
    """A hypertable exactly where TimescaleDB can be created, else partitions."""
    with connection.cursor() as cursor:
        expected = Backend.TIMESCALEDB if timescaledb_available(cursor) else Backend.PARTITIONED
        assert current_backend(cursor) is expected
    assert tick_backend is expected and tick_storage().backend is expected


def test_timescaledb_branch_issues_the_documented_statements():
    cursor = ScriptedCursor(available=True, preload="timescaledb")
    assert schema.create_tick_table(cursor, retention_days=30) is Backend.TIMESCALEDB
    assert cursor.executed[0] == "CREATE EXTENSION IF NOT EXISTS timescaledb"
    assert cursor.executed[1].startswith("CREATE TABLE ticks_tick (")
    assert 'PRIMARY KEY (ticker_id, "time")' in cursor.executed[1]
    assert "PARTITION BY" not in cursor.executed[1]
    assert cursor.executed[2:] == [
        "SELECT create_hypertable('ticks_tick', by_range('time', INTERVAL '1 day'))",
        "ALTER TABLE ticks_tick SET (timescaledb.compress, "
        "timescaledb.compress_segmentby = 'ticker_id', timescaledb.compress_orderby = 'time DESC')",
        "SELECT add_compression_policy('ticks_tick', compress_after => INTERVAL '2 days', "
        "if_not_exists => TRUE)",
        "SELECT add_retention_policy('ticks_tick', drop_after => INTERVAL '30 days', "
        "if_not_exists => TRUE)",
    ]


def test_partitioned_branch_issues_a_range_partitioned_parent():
    cursor = ScriptedCursor(available=False)
    assert schema.create_tick_table(cursor, retention_days=30) is Backend.PARTITIONED
    assert len(cursor.executed) == 1
    assert cursor.executed[0].endswith('PARTITION BY RANGE ("time")')


# --- The seam in TimescaleDB mode: no partition DDL on any write path --------------------------


@pytest.fixture
def recorded_sql():
    """Every statement sent through Django's cursors while the test runs."""
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield statements


@pytest.fixture
def timescale_mode(monkeypatch):
    """The test database's storage is the TimescaleDB one, whatever the server is. Writes stay
    within the days the migration made partitions for, so plain PostgreSQL can take them."""
    from ticks import storage
    from ticks.storage.timescale import TimescaleStorage

    key = storage.database_key(connection)
    monkeypatch.setitem(storage._chosen, key, TimescaleStorage())
    return storage._chosen[key]


PARTITION_DDL = ("PARTITION", "CREATE TABLE", "pg_inherits")


def _write_through_every_path(now: datetime) -> dict[str, int]:
    """The generate command, the live flush and a backfill, each writing ticks near ``now``.
    (The backfill joins SYNTH's earliest tick, ``now`` - 1.9 s, so it writes 6 min - 1.9 s.)"""
    from ticks.backfill import plan_backfill, write_plan
    from ticks.flush import ticks_flush
    from ticks.generation import ticks_generate_steps
    from ticks.live import ticks_generate

    counts = {"generate": ticks_generate_steps(now=now, max_steps=20).ticks}
    ticks_generate(now=now + timedelta(seconds=1))
    ticks_generate(now=now + timedelta(seconds=3))
    counts["flush"] = ticks_flush().ticks
    synth = Ticker.objects.filter(symbol="SYNTH")
    plan = plan_backfill(
        tickers=list(synth), duration=timedelta(minutes=5), end=now - timedelta(minutes=1), now=now
    )
    counts["backfill"] = write_plan(plan)
    return counts


@pytest.mark.django_db
def test_timescaledb_storage_issues_no_partition_ddl_on_any_write(
    timescale_mode, recorded_sql, live_redis
):
    now = today() + timedelta(hours=1)
    counts = _write_through_every_path(now)
    assert counts["generate"] == 100 and counts["flush"] > 0 and counts["backfill"] == 3581
    assert recorded_sql, "the recorder saw nothing: the test would prove nothing"
    assert [sql for sql in recorded_sql if any(w in sql for w in PARTITION_DDL)] == []


@pytest.mark.partitioned
@pytest.mark.django_db
def test_the_partitioned_storage_makes_its_partitions_on_the_same_paths(recorded_sql, live_redis):
    """The power check of the test above: the same writes on a day without a partition do issue
    partition DDL in partitioned mode."""
    now = today() + timedelta(days=12, hours=1)
    counts = _write_through_every_path(now)
    assert counts["generate"] == 100 and counts["flush"] > 0 and counts["backfill"] == 3581
    assert any("ATTACH PARTITION" in sql for sql in recorded_sql)


class PolicyCursor(ScriptedCursor):
    """A TimescaleDB catalogue with the given policies (``{"policy_retention": {...}}``)."""

    def __init__(self, policies: dict):
        super().__init__(available=True, installed=True)
        self.policies = policies
        self.params: list = []
        self._rows: list = []

    def execute(self, sql, params=None):
        if "timescaledb_information.jobs" in sql:
            self._rows = [
                (name, c.get("drop_after"), c.get("compress_after"))
                for name, c in self.policies.items()
            ]
            return
        self.params.append(params)
        self._rows = []
        super().execute(sql, params)

    def fetchall(self):
        return self._rows

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class PolicyConnection:
    """Django's connection as the TimescaleDB storage uses it (the transaction is the real
    default connection's; statements go to the scripted cursor)."""

    alias = "default"

    def __init__(self, cursor: PolicyCursor):
        self._cursor = cursor

    def cursor(self):
        return self._cursor


POLICIES = {
    "policy_retention": {"drop_after": "30 days", "hypertable_id": 1},
    "policy_compression": {"compress_after": "2 days", "hypertable_id": 1},
}


@pytest.mark.django_db
def test_timescaledb_policies_are_left_alone_when_they_follow_the_settings():
    from ticks.storage.timescale import TimescaleStorage

    cursor = PolicyCursor(POLICIES)
    assert TimescaleStorage().apply_policies(PolicyConnection(cursor), retention_days=30) == []
    assert cursor.executed == []


@pytest.mark.django_db
def test_a_changed_retention_replaces_the_timescaledb_policy():
    from ticks.storage.timescale import TimescaleStorage

    cursor = PolicyCursor({"policy_retention": {"drop_after": "30 days"}})
    changes = TimescaleStorage().apply_policies(PolicyConnection(cursor), retention_days=7)
    assert changes == ["retention 30 -> 7 days", "compression after 2 days added"]
    assert cursor.executed == [
        "SELECT remove_retention_policy(%s, if_exists => TRUE)",
        "SELECT add_retention_policy(%s, drop_after => make_interval(days => %s))",
        "SELECT add_compression_policy(%s, compress_after => make_interval(days => %s), "
        "if_not_exists => TRUE)",
    ]
    assert cursor.params == [["ticks_tick"], ["ticks_tick", 7], ["ticks_tick", 2]]


@pytest.mark.django_db
def test_timescaledb_maintenance_drops_chunks_past_retention_and_creates_nothing():
    from ticks.storage.timescale import TimescaleStorage

    cursor = PolicyCursor(POLICIES)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    result = TimescaleStorage().maintain(
        PolicyConnection(cursor), now=now, retention_days=30, ahead_days=3
    )
    assert (result.created, result.policies) == ([], [])
    assert cursor.executed == [
        "SET LOCAL lock_timeout = '5s'",
        "SELECT drop_chunks(%s, older_than => %s::timestamptz - make_interval(days => %s))",
    ]
    assert cursor.params[-1] == ["ticks_tick", now, 30]


@pytest.mark.parametrize(
    "stored,days",
    [
        ("30 days", 30),
        ("1 day", 1),
        ("7 days", 7),
        ("1 mon", 30),
        ("2 weeks", 14),
        (None, None),
        ("12:00:00", None),
    ],
)
def test_policy_intervals_are_read_in_days(stored, days):
    from ticks.storage.timescale import _days

    assert _days(stored) == days


@pytest.mark.partitioned
@pytest.mark.django_db
def test_a_flush_whose_partition_went_away_makes_it_again(live_redis):
    """The flush remembers which days have partitions; if one went away since (dropped by
    another process), the write fails, the storage says why, and the flush makes it and retries."""
    from ticks.flush import ticks_flush
    from ticks.live import ticks_generate

    storage = tick_storage()
    far = today() + timedelta(days=15, hours=2)
    storage._known_days.add(far.date())  # believed to exist; it does not
    ticks_generate(now=far)
    ticks_generate(now=far + timedelta(seconds=1))
    report = ticks_flush()
    assert report.ticks == 55 and report.skipped is None
    assert Tick.objects.filter(time__gte=far - timedelta(seconds=1)).count() == 55
    assert partition_of(Ticker.objects.get(symbol="SYNTH"), far) == partitions.partition_name(
        far.date()
    )
