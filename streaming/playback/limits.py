"""How many playbacks may run at once: ``PLAYBACK_MAX_PER_PROCESS`` in this daphne process (a
count per event loop) and ``PLAYBACK_MAX_PER_KEY`` per API key across every process (expiring
entries in Redis, ``ticks.connection_slots`` in its own pool; refreshed while the playback
runs). Playbacks without a key (keys not required) count only towards the process's limit.
"""

import asyncio
import uuid
import weakref

from django.conf import settings

from ticks import connection_slots

POOL = "playback"

_running: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int]" = weakref.WeakKeyDictionary()


def running() -> int:
    """Playbacks running in this process (event loop)."""
    return _running.get(asyncio.get_running_loop(), 0)


class Slot:
    """One running playback's place under the limits; ``release()`` when it ends."""

    def __init__(self, key_id: int | None) -> None:
        self.key_id = key_id
        self.token: str | None = None
        self._refresh: asyncio.Task | None = None
        self._released = False

    def hold(self, token: str) -> None:
        self.token = token
        self._refresh = asyncio.get_running_loop().create_task(self._keep())

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(connection_slots.REFRESH_S)
            await connection_slots.slots_refresh(slots=[(self.key_id, self.token)], pool=POOL)

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        loop = asyncio.get_running_loop()
        _running[loop] = max(0, _running.get(loop, 0) - 1)
        if self._refresh is not None:
            self._refresh.cancel()
        if self.token is not None:
            await connection_slots.slot_release(
                key_id=self.key_id, connection=self.token, pool=POOL
            )


class LimitReached(Exception):
    pass


async def acquire(key_id: int | None) -> Slot:
    """A slot for a new playback, or ``LimitReached`` (its message says which limit)."""
    loop = asyncio.get_running_loop()
    per_process = settings.PLAYBACK_MAX_PER_PROCESS
    if per_process > 0 and _running.get(loop, 0) >= per_process:
        raise LimitReached(
            f"this server already runs PLAYBACK_MAX_PER_PROCESS={per_process} playbacks; "
            "try again later"
        )
    _running[loop] = _running.get(loop, 0) + 1  # before any await: no two take the last one
    slot = Slot(key_id)
    per_key = settings.PLAYBACK_MAX_PER_KEY
    if key_id is not None and per_key > 0:
        token = uuid.uuid4().hex
        if not await connection_slots.slot_acquire(
            key_id=key_id, connection=token, limit=per_key, pool=POOL
        ):
            await slot.release()
            raise LimitReached(
                f"this API key already runs PLAYBACK_MAX_PER_KEY={per_key} playbacks"
            )
        slot.hold(token)
    return slot
