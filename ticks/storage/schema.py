"""DDL of the ticks table for each backend. The statements are data, so tests can check exactly
what the TimescaleDB branch would issue on a database that has the extension."""

from .backend import TICK_TABLE, Backend, choose_backend

# Columns and key match ticks.models.Tick (Django keeps the model state; this creates the table).
_COLUMNS = """
    ticker_id bigint NOT NULL,
    "time" timestamp with time zone NOT NULL,
    seq bigint NOT NULL,
    price numeric(12, 2) NOT NULL,
    bid numeric(12, 2) NOT NULL,
    ask numeric(12, 2) NOT NULL,
    volume bigint NOT NULL,
    CONSTRAINT ticks_tick_pk PRIMARY KEY (ticker_id, "time")
"""

# TimescaleDB compresses chunks older than this; they stay queryable (and writable from 2.11).
COMPRESS_AFTER_DAYS = 2


def timescaledb_statements(*, retention_days: int) -> list[str]:
    """A hypertable on ``time`` in daily chunks, compressed per ticker, with a retention policy.

    Follows TimescaleDB 2.x's documented API: ``create_hypertable`` with ``by_range``,
    ``ALTER TABLE ... SET (timescaledb.compress, ...)``, ``add_compression_policy`` and
    ``add_retention_policy``.
    """
    return [
        "CREATE EXTENSION IF NOT EXISTS timescaledb",
        f"CREATE TABLE {TICK_TABLE} ({_COLUMNS})",
        f"SELECT create_hypertable('{TICK_TABLE}', by_range('time', INTERVAL '1 day'))",
        f"ALTER TABLE {TICK_TABLE} SET (timescaledb.compress, "
        "timescaledb.compress_segmentby = 'ticker_id', "
        "timescaledb.compress_orderby = 'time DESC')",
        f"SELECT add_compression_policy('{TICK_TABLE}', "
        f"compress_after => INTERVAL '{COMPRESS_AFTER_DAYS} days', if_not_exists => TRUE)",
        f"SELECT add_retention_policy('{TICK_TABLE}', "
        f"drop_after => INTERVAL '{int(retention_days)} days', if_not_exists => TRUE)",
    ]


def partitioned_statements() -> list[str]:
    """A natively range-partitioned parent; daily partitions come from ``partitions``."""
    return [f'CREATE TABLE {TICK_TABLE} ({_COLUMNS}) PARTITION BY RANGE ("time")']


def tick_table_statements(backend: Backend, *, retention_days: int) -> list[str]:
    if backend is Backend.TIMESCALEDB:
        return timescaledb_statements(retention_days=retention_days)
    return partitioned_statements()


def create_tick_table(cursor, *, retention_days: int) -> Backend:
    """Create the ticks table in the layout this database supports; return which."""
    backend = choose_backend(cursor)
    for statement in tick_table_statements(backend, retention_days=retention_days):
        cursor.execute(statement)
    return backend
