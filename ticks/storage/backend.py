"""Which storage layout the database gets: decided once, by the TimescaleDB extension's presence."""

from enum import StrEnum

TICK_TABLE = "ticks_tick"


class Backend(StrEnum):
    TIMESCALEDB = "timescaledb"
    PARTITIONED = "partitioned"


def timescaledb_installed(cursor) -> bool:
    """Is the extension created in this database already?"""
    cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    return cursor.fetchone() is not None


def timescaledb_available(cursor) -> bool:
    """Can ``CREATE EXTENSION timescaledb`` succeed here?

    The extension must be installed on the server (``pg_available_extensions``) and, since it
    hooks the planner, preloaded (``shared_preload_libraries``); the official images do both.
    """
    if timescaledb_installed(cursor):
        return True
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    if cursor.fetchone() is None:
        return False
    cursor.execute("SELECT current_setting('shared_preload_libraries')")
    preload = cursor.fetchone()[0] or ""
    return "timescaledb" in [lib.strip() for lib in preload.split(",")]


def choose_backend(cursor) -> Backend:
    """The layout a fresh migration creates on this database."""
    return Backend.TIMESCALEDB if timescaledb_available(cursor) else Backend.PARTITIONED


def current_backend(cursor) -> Backend:
    """The layout an existing ticks table has (hypertable or partitioned)."""
    if timescaledb_installed(cursor):
        cursor.execute(
            "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = %s",
            [TICK_TABLE],
        )
        if cursor.fetchone() is not None:
            return Backend.TIMESCALEDB
    return Backend.PARTITIONED
