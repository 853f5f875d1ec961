"""Persistence: drain the durable Redis buffer into PostgreSQL in batches (binary COPY).

Entries are removed from the buffer only after their transaction committed, so a database
outage loses nothing: the buffer grows (bounded, logged) and drains when it returns. If a crash
came between the commit and the removal, the re-sent rows are merged without duplicates. The
storage makes room for a batch's time range first (``ticks.storage``).
"""

import json
import logging
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import connection, transaction

from . import live_store, metrics
from .lease import Lease, lease
from .live_store import BUFFER_MAX_ENTRIES, KEYS
from .market import from_ms
from .market_time import market_now_ms
from .redis_store import get_redis
from .storage import tick_storage
from .storage.copy import COPY_COLUMNS, HEADER, TRAILER

logger = logging.getLogger(__name__)

MAX_ENTRIES_PER_FLUSH = 600  # a minute of 100 ms cycles per transaction
LEASE_NAME = "flush"
LEASE_TTL_MS = 3_000  # renewed while flushing: a killed flusher delays the next by this at most

_STATE_UPSERT = """
INSERT INTO ticks_tickerstate (ticker_id, seq, "time", log_price, vol_state, updated_at)
VALUES (%s, %s, %s, %s, %s::jsonb, now())
ON CONFLICT (ticker_id) DO UPDATE SET seq = EXCLUDED.seq, "time" = EXCLUDED."time",
    log_price = EXCLUDED.log_price, vol_state = EXCLUDED.vol_state, updated_at = now()
WHERE ticks_tickerstate.seq < EXCLUDED.seq
"""


@dataclass
class FlushReport:
    entries: int = 0
    ticks: int = 0
    skipped: str | None = None
    merged: bool = False  # duplicates were present and merged


def _copy(cursor, rows: bytes, *, merge: bool) -> None:
    columns = ", ".join(COPY_COLUMNS)
    if not merge:
        with cursor.copy(f"COPY ticks_tick ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(HEADER + rows + TRAILER)
        return
    cursor.execute("CREATE TEMP TABLE flush_ticks (LIKE ticks_tick) ON COMMIT DROP")
    with cursor.copy(f"COPY flush_ticks ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(HEADER + rows + TRAILER)
    cursor.execute(
        f"INSERT INTO ticks_tick ({columns}) SELECT {columns} FROM flush_ticks "
        "ON CONFLICT DO NOTHING"
    )


def _write(rows: bytes, states: dict, *, merge: bool) -> None:
    with transaction.atomic():
        raw = connection.connection  # psycopg connection behind Django's
        with raw.cursor() as cursor:
            _copy(cursor, rows, merge=merge)
            cursor.executemany(
                _STATE_UPSERT,
                [
                    # [seq, t, x] or, with stochastic volatility, [seq, t, x, factors]
                    (
                        int(tid),
                        entry[0],
                        from_ms(entry[1]),
                        float.fromhex(entry[2]),
                        json.dumps(entry[3]) if len(entry) > 3 else None,
                    )
                    for tid, entry in states.items()
                ],
            )


def ticks_flush(*, max_entries: int | None = None) -> FlushReport:
    """Move up to ``max_entries`` buffer entries into PostgreSQL; one flusher at a time (a
    renewed lease, so a flusher killed mid-flush holds the others up for ``LEASE_TTL_MS`` at
    most). By default a minute of cycles: ``MAX_ENTRIES_PER_FLUSH`` per generation shard (every
    shard adds its own entry each beat, the flush takes them all, in order)."""
    if max_entries is None:
        max_entries = MAX_ENTRIES_PER_FLUSH * settings.GENERATION_SHARDS
    with lease(LEASE_NAME, ttl_ms=LEASE_TTL_MS) as held:
        if not held:
            return FlushReport(skipped="locked")
        return _flush(max_entries, held)


def _flush(max_entries: int, held: Lease) -> FlushReport:
    r = get_redis()
    entries = r.xrange(KEYS.buffer, "-", "+", count=max_entries)
    if not entries:
        return FlushReport()
    depth = r.xlen(KEYS.buffer)
    bound = BUFFER_MAX_ENTRIES * settings.GENERATION_SHARDS
    if depth >= bound * 0.9:
        logger.error(
            "tick buffer at %d of %d entries: the database is not keeping up; beyond "
            "the bound the oldest unflushed ticks are dropped",
            depth,
            bound,
        )
    ids, chunks, states, oldest = [], [], {}, []
    count, first_ms, last_ms = 0, None, None
    for entry_id, fields in entries:
        meta = json.loads(fields[b"meta"])
        ids.append(entry_id)
        chunks.append(fields[b"rows"])
        count += meta["n"]
        oldest.append(meta["t0"])
        first_ms = meta["t0"] if first_ms is None else min(first_ms, meta["t0"])
        last_ms = meta["t1"] if last_ms is None else max(last_ms, meta["t1"])
        states.update(meta["states"])  # later entries win: the newest state per ticker
    rows = b"".join(chunks)
    storage = tick_storage()
    storage.ensure_room(connection, start=from_ms(first_ms), end=from_ms(last_ms))
    report = FlushReport(entries=len(ids), ticks=count)
    try:
        _write(rows, states, merge=False)
    except psycopg.errors.UniqueViolation:
        logger.warning(
            "buffer held %d ticks already stored (a flush died before its "
            "acknowledgement); merging",
            count,
        )
        _write(rows, states, merge=True)
        report.merged = True
    except psycopg.errors.CheckViolation as exc:
        if not storage.room_missing(exc):
            raise
        storage.ensure_room(connection, start=from_ms(first_ms), end=from_ms(last_ms))
        _write(rows, states, merge=False)
    committed_ms = market_now_ms()
    # Dirty before the acknowledgement: once the buffer looks empty, the refresh is scheduled.
    live_store.mark_dirty(first_ms, last_ms)
    if not live_store.ack_entries(ids, count, lease_name=LEASE_NAME, token=held.token):
        # Our lease expired mid-flush and another flusher took over: it merges these rows.
        logger.warning(
            "flush lease lost before the acknowledgement; %d entries left to the next flusher",
            len(ids),
        )
        report.skipped = "lease lost"
        return report
    r.set(KEYS.flushed_at, committed_ms)
    metrics.ticks_stored(count)
    # Tick-to-database lag of each entry's oldest tick (its worst).
    live_store.record_samples("db_lag_ms", [committed_ms - t0 for t0 in oldest])
    return report
