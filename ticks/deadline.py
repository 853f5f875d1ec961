"""Database reads with a deadline, for the paths that must answer whatever PostgreSQL does (the
readiness probe, API-key checks, WebSocket subscribes).

A PostgreSQL that is hung rather than down (stopped processes, a full disk, a network that drops
packets silently) accepts connections into its kernel backlog and never answers a query on a
connection already open: the server's ``statement_timeout`` cannot fire and psycopg has no
client-side query timeout. So the read runs in a small thread pool and the caller waits at most
``timeout`` seconds; then it gets ``DatabaseDeadlineExceeded`` (an ``OperationalError``, which
the API already answers with 503). A read that hangs keeps its thread until the database answers;
identical reads meanwhile join it instead of starting another, and the pool is bounded, so a hang
costs a few threads, never one per request.

Inside a transaction the read runs on the caller's own connection (another thread's could not
see the transaction's rows), without a deadline.
"""

import asyncio
import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from django.core.exceptions import SynchronousOnlyOperation
from django.db import OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 2.0
WORKERS = 4


class DatabaseDeadlineExceeded(OperationalError):
    """The database did not answer within the deadline."""


_executor: ThreadPoolExecutor | None = None
_inflight: dict[Hashable, Future] = {}
# Re-entrant: a read that is done before add_done_callback runs calls _forget at once, in the
# thread that holds the lock (it deadlocked with a plain Lock).
_lock = threading.RLock()


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="db-deadline")
    return _executor


def _run(read: Callable[[], T]) -> T:
    try:
        return read()
    finally:
        connection.close()  # back to the pool (or closed): the thread keeps nothing open


def read_within(
    read: Callable[[], T],
    *,
    key: Hashable,
    timeout: float = DEFAULT_TIMEOUT_S,
    what: str = "database read",
) -> T:
    """``read()`` (no arguments; it uses Django's ``connection``), or
    ``DatabaseDeadlineExceeded`` after ``timeout`` seconds. Reads with the same ``key`` while one
    is running share its answer."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:  # as Django's ORM does: never block an event loop (callers then use a thread)
        raise SynchronousOnlyOperation("read_within() waits: call it from a thread")
    if connection.in_atomic_block:
        return read()
    with _lock:
        future = _inflight.get(key)
        if future is None or future.done():
            future = _pool().submit(_run, read)
            _inflight[key] = future
            future.add_done_callback(lambda done: _forget(key, done))
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        logger.warning("%s: no answer from the database within %.1f s", what, timeout)
        raise DatabaseDeadlineExceeded(
            f"the database did not answer within {timeout:g} s"
        ) from None


def _forget(key: Hashable, done: Future) -> None:
    with _lock:
        if _inflight.get(key) is done:
            del _inflight[key]
