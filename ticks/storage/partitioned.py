"""Plain PostgreSQL: a range-partitioned ticks table with one partition per UTC day, created
ahead of need (and on the spot by a write that finds none) and dropped past retention."""

from datetime import datetime, timedelta

import psycopg
from django.db import transaction

from . import partitions
from .backend import Backend
from .base import MaintenanceResult, StorageInfo, TickStorage


def _days(start: datetime, end: datetime) -> set:
    first, last = partitions.day_of(start), partitions.day_of(end)
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


class PartitionedStorage(TickStorage):
    backend = Backend.PARTITIONED

    def __init__(self) -> None:
        # Days known to have a partition: the flush asks every few hundred milliseconds.
        self._known_days: set = set()

    def set_up(self, connection, *, now, retention_days, ahead_days) -> None:
        partitions.ensure_partitions_for(
            connection, start=now - timedelta(days=1), end=now + timedelta(days=ahead_days)
        )

    def ensure_room(self, connection, *, start, end) -> list[str]:
        days = _days(start, end)
        if days <= self._known_days:
            return []
        created = partitions.ensure_partitions_for(connection, start=start, end=end)
        # Remembered once committed: a partition made in a transaction that rolls back is gone.
        transaction.on_commit(lambda: self._known_days.update(days), using=connection.alias)
        return created

    def room_missing(self, exc: Exception) -> bool:
        cause = exc.__cause__ if not isinstance(exc, psycopg.Error) else exc
        missing = isinstance(cause, psycopg.errors.CheckViolation) and "no partition" in str(cause)
        if missing:
            self._known_days.clear()
        return missing

    def apply_policies(self, connection, *, retention_days) -> list[str]:
        return []  # retention is the maintenance's drop; PostgreSQL keeps no policy

    def maintain(self, connection, *, now, retention_days, ahead_days) -> MaintenanceResult:
        created = partitions.ensure_partitions_for(
            connection, start=now - timedelta(days=1), end=now + timedelta(days=ahead_days)
        )
        dropped = partitions.drop_partitions_before(
            connection, cutoff=now - timedelta(days=retention_days)
        )
        if dropped:
            self._known_days.clear()
        return MaintenanceResult(created=created, dropped=dropped)

    def describe(self, connection) -> StorageInfo:
        with connection.cursor() as cursor:
            parts = [p for p in partitions.list_partitions(cursor) if not p.detach_pending]
        return StorageInfo(
            backend=self.backend,
            layout="partitioned",
            parts=len(parts),
            oldest=parts[0].start if parts else None,
            newest=parts[-1].end if parts else None,
        )
