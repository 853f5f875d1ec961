"""A short lease in Redis that its holder renews while it works: one holder at a time, and a
holder that dies (``kill -9``, a lost machine) costs at most ``ttl_ms`` before another may take
over, however long the work itself runs.

    with lease("flush") as held:
        if not held:
            return  # someone else holds it
        ...         # renewed every ttl/4 by a thread of this process while the block runs

The value is ``<host>:<pid>:<random>``, so whoever holds a lease can be told (``holder``).
Renewal and release are compare-and-set on that value: a holder whose lease expired (it was
stalled longer than its TTL) and was taken by another can neither renew nor release the new
holder's lease; it sees ``held`` turn False (``Lease.lost``) and writes guarded by the lease
(``fence``) are refused.

One daemon thread per process renews every lease the process holds; it is started on first use
(after a fork too, since a prefork pool child inherits no threads).
"""

import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager

import redis

from .live_store import KEYS
from .redis_store import get_redis

logger = logging.getLogger(__name__)

DEFAULT_TTL_MS = 3_000

RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(self, name: str, *, ttl_ms: int = DEFAULT_TTL_MS) -> None:
        if ttl_ms < 100:
            raise ValueError("a lease lives at least 100 ms")
        self.name = name
        self.key = KEYS.lock(name)
        self.ttl_ms = ttl_ms
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        self.held = False
        self.lost = False  # it was held, and a renewal found it gone or taken
        self._renewed_at = 0.0

    def __bool__(self) -> bool:
        return self.held

    def acquire(self) -> bool:
        self.held = bool(get_redis().set(self.key, self.token, nx=True, px=self.ttl_ms))
        if self.held:
            self._renewed_at = time.monotonic()
        return self.held

    def renew(self) -> bool:
        """Extend the lease to a full TTL from now; False (and ``lost``) if it is not ours."""
        if not self.held:
            return False
        ok = bool(
            get_redis().register_script(RENEW_LUA)(keys=[self.key], args=[self.token, self.ttl_ms])
        )
        if ok:
            self._renewed_at = time.monotonic()
        else:
            self.held, self.lost = False, True
            logger.warning("lease %s was lost (expired or taken over) while held", self.name)
        return ok

    def release(self) -> None:
        """Give the lease up, if it is still ours (never another holder's)."""
        if self.held:
            self.held = False
            get_redis().register_script(RELEASE_LUA)(keys=[self.key], args=[self.token])

    def renew_due(self, now: float) -> bool:
        return self.held and (now - self._renewed_at) * 1000 >= self.ttl_ms / 4


def holder(name: str) -> str | None:
    """The value of lease ``name`` (``<host>:<pid>:<random>``), or None when nobody holds it."""
    value = get_redis().get(KEYS.lock(name))
    return value.decode() if value is not None else None


class _Renewer:
    """The process's one renewal thread, waking often enough for the shortest lease held."""

    TICK_S = 0.05

    def __init__(self) -> None:
        self._leases: set[Lease] = set()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def add(self, lease: Lease) -> None:
        with self._lock:
            self._leases.add(lease)
            if self._pid != os.getpid():  # first use here, or a forked child: no thread yet
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="lease-renewer", daemon=True).start()

    def remove(self, lease: Lease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK_S)
            now = time.monotonic()
            with self._lock:
                due = [lease for lease in self._leases if lease.renew_due(now)]
            for lease in due:
                try:
                    lease.renew()
                except redis.RedisError:
                    logger.warning("could not renew lease %s; retrying", lease.name, exc_info=True)


_renewer = _Renewer()


@contextmanager
def lease(name: str, *, ttl_ms: int = DEFAULT_TTL_MS):
    """Hold lease ``name`` for the block, renewed in the background; yields the ``Lease``
    (truthy ``held`` when acquired). Released on exit, only if still ours."""
    current = Lease(name, ttl_ms=ttl_ms)
    if not current.acquire():
        yield current
        return
    _renewer.add(current)
    try:
        yield current
    finally:
        _renewer.remove(current)
        try:
            current.release()
        except redis.RedisError:
            logger.warning("could not release lease %s (it expires by itself)", name, exc_info=True)
