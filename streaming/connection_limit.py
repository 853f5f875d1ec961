"""``WS_MAX_CONNECTIONS_PER_KEY``: how many streaming connections (``/ws``, the Alpaca dialect's
``/v2/{feed}`` and the Massive dialect's ``/stocks`` together) one API key may hold open, across
every server process.

The count lives in Redis (``ticks.connection_slots``: one expiring entry per open connection);
this module is a process's side of it: it takes a slot when a connection authenticates with a
key, refreshes all of this event loop's slots in one round trip every ``REFRESH_S`` while they
are open, and gives each back when its connection closes. Connections without a key (keys not
required) are not counted; 0 turns the limit off.
"""

import asyncio
import uuid
import weakref

from django.conf import settings

from ticks import connection_slots


class _Slots:
    def __init__(self) -> None:
        self.held: dict[str, int] = {}  # connection -> key id
        self.task: asyncio.Task | None = None

    async def _refresh(self) -> None:
        while self.held:
            await asyncio.sleep(connection_slots.REFRESH_S)
            await connection_slots.slots_refresh(slots=[(k, c) for c, k in self.held.items()])
        self.task = None


_loops: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slots]" = weakref.WeakKeyDictionary()


def _slots() -> _Slots:
    loop = asyncio.get_running_loop()
    slots = _loops.get(loop)
    if slots is None:
        slots = _loops[loop] = _Slots()
    return slots


async def acquire(key_id: int) -> str | None:
    """A slot of key ``key_id`` for a new connection (its token), or None: the key is at its
    limit. With the limit off, a token that holds nothing."""
    limit = settings.WS_MAX_CONNECTIONS_PER_KEY
    if limit <= 0:
        return ""
    token = uuid.uuid4().hex
    if not await connection_slots.slot_acquire(key_id=key_id, connection=token, limit=limit):
        return None
    slots = _slots()
    slots.held[token] = key_id
    if slots.task is None:
        slots.task = asyncio.get_running_loop().create_task(slots._refresh())
    return token


async def release(token: str | None) -> None:
    if not token:
        return
    slots = _slots()
    key_id = slots.held.pop(token, None)
    if not slots.held and slots.task is not None:
        slots.task.cancel()
        slots.task = None
    if key_id is not None:
        await connection_slots.slot_release(key_id=key_id, connection=token)
