"""TimescaleDB: the ticks table is a hypertable in daily chunks that TimescaleDB creates on
insert, compressed (columnstore) per ticker after ``COMPRESS_AFTER_DAYS``, with a retention
policy. Everything here is TimescaleDB's documented SQL API (``timescaledb_information`` views,
``add_/remove_retention_policy``, ``drop_chunks``, ``decompress_chunk``, ``compress_chunk``),
as of the releases the README lists.

Writes into compressed chunks are supported since 2.11 (the unique key still holds: TimescaleDB
decompresses the batches a new row could conflict with). A large backfill is faster the way the
documentation recommends, though: decompress the chunks the range touches, write, compress them
again (``history_writes``). If a run dies in between, the compression policy compresses them
again later: they are older than its delay.
"""

import logging
from contextlib import contextmanager
from datetime import datetime

from django.db import transaction

from .backend import Backend
from .base import MaintenanceResult, StorageInfo, TickStorage
from .partitions import LOCK_TIMEOUT
from .schema import COMPRESS_AFTER_DAYS

logger = logging.getLogger(__name__)

_JOBS = """
SELECT proc_name, config ->> 'drop_after', config ->> 'compress_after'
FROM timescaledb_information.jobs
WHERE hypertable_schema = current_schema() AND hypertable_name = %s
  AND proc_name IN ('policy_retention', 'policy_compression')
"""
_CHUNKS = """
SELECT format('%%I.%%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks
WHERE hypertable_schema = current_schema() AND hypertable_name = %s AND is_compressed
  AND range_end > %s AND range_start < %s
ORDER BY range_start
"""


def _days(value: str | None) -> int | None:
    """A policy's interval as TimescaleDB stores it ("30 days", "1 mon") in whole days."""
    if value is None:
        return None
    number, _, unit = value.strip().partition(" ")
    per = {"day": 1, "days": 1, "week": 7, "weeks": 7, "mon": 30, "mons": 30}.get(unit)
    return int(number) * per if per and number.isdigit() else None


class TimescaleStorage(TickStorage):
    backend = Backend.TIMESCALEDB

    def set_up(self, connection, *, now, retention_days, ahead_days) -> None:
        pass  # the schema statements created the hypertable and both policies

    def ensure_room(self, connection, *, start, end) -> list[str]:
        return []  # TimescaleDB creates the chunk an insert needs

    def _policies(self, cursor) -> dict[str, int | None]:
        """The hypertable's policies: retention's ``drop_after`` and compression's
        ``compress_after``, in days, by the policy's name."""
        cursor.execute(_JOBS, [self.table])
        return {
            name: _days(drop_after or compress_after)
            for name, drop_after, compress_after in cursor.fetchall()
        }

    def apply_policies(self, connection, *, retention_days) -> list[str]:
        changes = []
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            policies = self._policies(cursor)
            kept = policies.get("policy_retention")
            if kept != retention_days:
                cursor.execute(
                    "SELECT remove_retention_policy(%s, if_exists => TRUE)", [self.table]
                )
                cursor.execute(
                    "SELECT add_retention_policy(%s, drop_after => make_interval(days => %s))",
                    [self.table, retention_days],
                )
                changes.append(f"retention {kept} -> {retention_days} days")
            if "policy_compression" not in policies:
                cursor.execute(
                    "SELECT add_compression_policy(%s, compress_after => "
                    "make_interval(days => %s), if_not_exists => TRUE)",
                    [self.table, COMPRESS_AFTER_DAYS],
                )
                changes.append(f"compression after {COMPRESS_AFTER_DAYS} days added")
        if changes:
            logger.info("tick storage policies: %s", "; ".join(changes))
        return changes

    def maintain(self, connection, *, now, retention_days, ahead_days) -> MaintenanceResult:
        policies = self.apply_policies(connection, retention_days=retention_days)
        # The retention policy runs once a day; dropping here too makes a changed setting (and
        # the hourly maintenance) take effect at once, as on plain PostgreSQL.
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cursor.execute(
                "SELECT drop_chunks(%s, older_than => %s::timestamptz - make_interval(days => %s))",
                [self.table, now, retention_days],
            )
            dropped = [row[0] for row in cursor.fetchall()]
        if dropped:
            logger.info(
                "dropped tick chunks %s (past %d days of retention)",
                ", ".join(dropped),
                retention_days,
            )
        return MaintenanceResult(dropped=dropped, policies=policies)

    @contextmanager
    def history_writes(self, connection, *, start: datetime, end: datetime):
        with connection.cursor() as cursor:
            cursor.execute(_CHUNKS, [self.table, start, end])
            chunks = [row[0] for row in cursor.fetchall()]
            for chunk in chunks:
                cursor.execute(
                    "SELECT decompress_chunk(%s::regclass, if_compressed => TRUE)", [chunk]
                )
        if chunks:
            logger.info(
                "decompressed %d tick chunk(s) for a write into the past: %s",
                len(chunks),
                ", ".join(chunks),
            )
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                for chunk in chunks:
                    cursor.execute(
                        "SELECT compress_chunk(%s::regclass, if_not_compressed => TRUE)", [chunk]
                    )
            if chunks:
                logger.info("compressed %d tick chunk(s) again", len(chunks))

    def describe(self, connection) -> StorageInfo:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), count(*) FILTER (WHERE is_compressed), min(range_start), "
                "max(range_end) FROM timescaledb_information.chunks "
                "WHERE hypertable_schema = current_schema() AND hypertable_name = %s",
                [self.table],
            )
            parts, compressed, oldest, newest = cursor.fetchone()
            policies = self._policies(cursor)
            cursor.execute(
                "SELECT installed_version, default_version FROM "
                "pg_available_extensions WHERE name = 'timescaledb'"
            )
            version, available = cursor.fetchone()
        return StorageInfo(
            backend=self.backend,
            layout="hypertable",
            parts=parts,
            compressed=compressed,
            oldest=oldest,
            newest=newest,
            version=version,
            upgrade_to=available if available != version else None,
            retention_days=policies.get("policy_retention"),
            compress_after_days=policies.get("policy_compression"),
        )
