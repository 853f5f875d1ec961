"""How ticks are stored: a TimescaleDB hypertable when the extension is there, else native
PostgreSQL range partitions by day.

``backend`` decides which, ``schema`` creates the table, and ``tick_storage()`` hands out the
one object (a ``TickStorage``) through which everything else does what differs between the two
layouts: room before a write, retention, compression, the description ``market_status`` shows.
"""

from django.db import connection as default_connection

from .backend import TICK_TABLE, Backend, current_backend
from .base import MaintenanceResult, StorageInfo, TickStorage
from .partitioned import PartitionedStorage
from .schema import create_tick_table
from .timescale import TimescaleStorage

__all__ = [
    "Backend",
    "MaintenanceResult",
    "StorageInfo",
    "TickStorage",
    "set_up_tick_table",
    "tick_storage",
]

_LAYOUTS: dict[Backend, type[TickStorage]] = {
    Backend.PARTITIONED: PartitionedStorage,
    Backend.TIMESCALEDB: TimescaleStorage,
}
# Chosen once per database (alias and name: the test runner renames the database).
_chosen: dict[tuple[str, str], TickStorage] = {}


def database_key(connection) -> tuple[str, str]:
    """What a choice of layout is remembered by: the connection's alias and database name."""
    return connection.alias, connection.settings_dict["NAME"]


def tick_storage(connection=None) -> TickStorage:
    """The storage of the ticks table on ``connection`` (Django's default one if omitted)."""
    connection = connection or default_connection
    key = database_key(connection)
    storage = _chosen.get(key)
    if storage is None:
        with connection.cursor() as cursor:
            backend = current_backend(cursor)
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [TICK_TABLE])
            exists = cursor.fetchone()[0]
        storage = _LAYOUTS[backend]()
        if exists:  # before the first migration the layout is not decided yet
            _chosen[key] = storage
    return storage


def set_up_tick_table(connection, *, now, retention_days: int, ahead_days: int) -> TickStorage:
    """The first migration: create the ticks table in the layout this database supports."""
    with connection.cursor() as cursor:
        backend = create_tick_table(cursor, retention_days=retention_days)
    storage = _chosen[database_key(connection)] = _LAYOUTS[backend]()
    storage.set_up(connection, now=now, retention_days=retention_days, ahead_days=ahead_days)
    return storage
