"""The storage seam: every operation whose SQL differs between the two layouts of the ticks
table. Callers ask ``tick_storage()`` (``ticks.storage``) for the layout of their database and
never name partitions, chunks or hypertables themselves."""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime

from .backend import TICK_TABLE, Backend


@dataclass
class StorageInfo:
    """What ``market_status`` shows about the ticks table."""

    backend: Backend
    layout: str  # "hypertable" or "partitioned"
    parts: int  # chunks or partitions
    oldest: datetime | None = None
    newest: datetime | None = None  # end of the newest part's range
    compressed: int | None = None  # chunks compressed (TimescaleDB)
    retention_days: int | None = None  # the retention in force in the database, if it keeps one
    compress_after_days: int | None = None
    version: str | None = None  # TimescaleDB's, as installed in this database
    upgrade_to: str | None = None  # a newer TimescaleDB the server has (ALTER EXTENSION ... UPDATE)

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("oldest", "newest"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    def summary(self) -> str:
        span = (
            f" ({self.oldest:%Y-%m-%d} .. {self.newest:%Y-%m-%d})"
            if self.oldest and self.newest
            else ""
        )
        if self.backend is Backend.TIMESCALEDB:
            kept = (
                f"retention {self.retention_days} days"
                if self.retention_days is not None
                else "no retention policy"
            )
            compress = (
                f"compressed after {self.compress_after_days} days"
                if self.compress_after_days is not None
                else "no compression policy"
            )
            upgrade = (
                f" (the server has {self.upgrade_to}: run ALTER EXTENSION timescaledb "
                "UPDATE, see the README)"
                if self.upgrade_to
                else ""
            )
            return (
                f"TimescaleDB {self.version} hypertable, {self.parts} chunks{span}, "
                f"{self.compressed} compressed; {compress}; {kept}{upgrade}"
            )
        return f"PostgreSQL partitioned table, {self.parts} daily partitions{span}"


@dataclass
class MaintenanceResult:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)  # policy changes made

    def as_dict(self) -> dict:
        return asdict(self)


class TickStorage(ABC):
    """One layout of the ticks table. Methods take Django's connection wrapper."""

    backend: Backend
    table = TICK_TABLE

    @abstractmethod
    def set_up(self, connection, *, now: datetime, retention_days: int, ahead_days: int) -> None:
        """After the table was created (the first migration): what the layout needs first."""

    @abstractmethod
    def ensure_room(self, connection, *, start: datetime, end: datetime) -> list[str]:
        """Before ticks in ``[start, end]`` are written: make the table able to take them.
        Returns the names of what it created."""

    def room_missing(self, exc: Exception) -> bool:
        """Did a write fail only because room made earlier has gone? (The caller then calls
        ``ensure_room`` again and retries once.)"""
        return False

    @contextmanager
    def history_writes(self, connection, *, start: datetime, end: datetime) -> Iterator[None]:
        """Around a bulk write into the past (backfill) and the rollup that reads it back."""
        yield

    def after_bulk_write(self, connection) -> None:
        """New data has no planner statistics until autovacuum gets to it; without them range
        scans are planned for empty tables."""
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {self.table}")

    @abstractmethod
    def apply_policies(self, connection, *, retention_days: int) -> list[str]:
        """Make the database's own policies follow the settings; return the changes made."""

    @abstractmethod
    def maintain(
        self, connection, *, now: datetime, retention_days: int, ahead_days: int
    ) -> MaintenanceResult:
        """The hourly maintenance: room ahead, data past retention dropped, policies current."""

    @abstractmethod
    def describe(self, connection) -> StorageInfo:
        """The layout and its state, for ``market_status``."""
