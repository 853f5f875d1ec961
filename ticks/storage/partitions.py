"""Daily range partitions of the ticks table on plain PostgreSQL.

Partition DDL must not stall the live pipeline, so:
- a new partition is created as a plain table and then ``ATTACH``ed, which takes only a
  SHARE UPDATE EXCLUSIVE lock on the parent (``CREATE TABLE ... PARTITION OF`` would take
  ACCESS EXCLUSIVE and queue behind every reader);
- an old one is removed with ``DETACH PARTITION ... CONCURRENTLY`` before it is dropped;
- every statement runs under a ``lock_timeout``, so a long reader makes maintenance fail and
  retry later instead of queueing writers behind it.
"""

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from .backend import TICK_TABLE

logger = logging.getLogger(__name__)

LOCK_TIMEOUT = "5s"
_NAME = re.compile(rf"^{TICK_TABLE}_p(\d{{8}})$")
# One maintainer at a time (the flush, backfill and the hourly task may all want a partition).
_ADVISORY_LOCK_KEY = 0x7469636B73  # "ticks"


@dataclass(frozen=True)
class Partition:
    name: str
    day: date
    detach_pending: bool = False

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)


def partition_name(day: date) -> str:
    return f"{TICK_TABLE}_p{day:%Y%m%d}"


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def list_partitions(cursor) -> list[Partition]:
    """The parent's daily partitions, oldest first (including ones left mid-detach)."""
    cursor.execute(
        """
        SELECT c.relname, i.inhdetachpending
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = %s::regclass
        """,
        [TICK_TABLE],
    )
    found = []
    for name, pending in cursor.fetchall():
        match = _NAME.match(name)
        if match:
            day = datetime.strptime(match.group(1), "%Y%m%d").date()
            found.append(Partition(name=name, day=day, detach_pending=pending))
    return sorted(found, key=lambda p: p.day)


def create_partition_statements(day: date) -> list[str]:
    """Create-then-attach; the CHECK lets ATTACH skip its validation scan."""
    part = Partition(name=partition_name(day), day=day)
    start, end = part.start.isoformat(), part.end.isoformat()
    return [
        f"CREATE TABLE IF NOT EXISTS {part.name} (LIKE {TICK_TABLE} INCLUDING DEFAULTS)",
        f"ALTER TABLE {part.name} ADD CONSTRAINT {part.name}_bound "
        f"CHECK (\"time\" >= '{start}' AND \"time\" < '{end}')",
        f"ALTER TABLE {TICK_TABLE} ATTACH PARTITION {part.name} "
        f"FOR VALUES FROM ('{start}') TO ('{end}')",
        f"ALTER TABLE {part.name} DROP CONSTRAINT {part.name}_bound",
    ]


def ensure_partitions(connection, *, first: date, last: date) -> list[str]:
    """Make sure a partition exists for every day in ``[first, last]``; return those created.

    Runs in its own transaction (or the caller's), under a lock timeout and an advisory lock.
    """
    from django.db import transaction

    if last < first:
        return []
    created = []
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        existing = {p.day for p in list_partitions(cursor)}
        day = first
        while day <= last:
            if day not in existing:
                for statement in create_partition_statements(day):
                    cursor.execute(statement)
                created.append(partition_name(day))
            day += timedelta(days=1)
    if created:
        logger.info("created tick partitions %s", ", ".join(created))
    return created


def ensure_partitions_for(connection, *, start: datetime, end: datetime) -> list[str]:
    """Partitions covering the instants ``[start, end]``."""
    return ensure_partitions(connection, first=day_of(start), last=day_of(end))


def drop_partitions_before(connection, *, cutoff: datetime) -> list[str]:
    """Detach (concurrently) and drop every partition whose whole day lies before ``cutoff``.

    ``DETACH ... CONCURRENTLY`` cannot run in a transaction block, so this needs autocommit (it
    refuses inside ``atomic``). A detach interrupted earlier is finished with ``FINALIZE``.
    """
    if connection.in_atomic_block:
        raise RuntimeError("drop_partitions_before needs autocommit (DETACH CONCURRENTLY)")
    dropped = []
    with connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        try:
            for part in list_partitions(cursor):
                if part.end > cutoff:
                    continue
                mode = "FINALIZE" if part.detach_pending else "CONCURRENTLY"
                cursor.execute(f"ALTER TABLE {TICK_TABLE} DETACH PARTITION {part.name} {mode}")
                cursor.execute(f"DROP TABLE {part.name}")
                dropped.append(part.name)
        finally:
            cursor.execute("RESET lock_timeout")
    if dropped:
        logger.info("dropped tick partitions %s (older than %s)", ", ".join(dropped), cutoff)
    return dropped
