"""One WebSocket connection's subscriptions and its gap-free, duplicate-free tick sequence.

The invariant that makes resume and the replay seam exact: every tick reaches the client
through ``_accept``, which passes a tick only if its ``seq`` is above the last one sent for its
ticker. A subscribe (or a resume, or the repair of a gap) first marks its tickers *syncing*, so
that live ticks for them are held back; makes sure the process's hub subscription is live;
reads the snapshot (latest quote, or the replay stream after ``since``/``from_seq``); sends it;
then releases the held live ticks through the same filter. Whatever the snapshot and the live
stream have in common is dropped once, and nothing between them is missed.
"""

import asyncio
import logging

import orjson

from . import protocol, replay, symbols
from .hub import BarUpdate, Cycle, Hub
from .outbox import Outbox
from .protocol import Subscribe, Unsubscribe
from .subscriptions import (
    Selection,
    error_frame,
    listed,
    selections_after,
    too_many,
    too_old,
    unavailable,
)
from .subscriptions import count as subscription_count

logger = logging.getLogger(__name__)

REPLAY_BATCH = 500  # ticks per ``ticks`` frame when a replay is sent in batch mode


class Session:
    def __init__(self, outbox: Outbox, *, hub: Hub, max_subscriptions: int) -> None:
        self.outbox = outbox
        self.hub = hub
        self.max_subscriptions = max_subscriptions
        self.ticks = Selection()
        self.bars = Selection()
        self.batch = False
        self.last_seq: dict[str, int] = {}
        self.last_ts: dict[str, int] = {}
        self.syncing: dict[str, list[tuple[dict, str]]] = {}  # held-back live (tick, json text)
        self.last_bars: dict[str, dict[int, dict]] = {}  # symbol -> bar time -> bar sent
        self._tasks: set[asyncio.Task] = set()
        self._registered = False

    # --- live data from the hub (synchronous: the hub never waits for a client) --------------

    def on_ticks(self, cycle: Cycle) -> None:
        selection = self.ticks
        if not (selection.all or selection.symbols):
            return
        everything, named = selection.all, selection.symbols
        syncing, last_seq, last_ts = self.syncing, self.last_seq, self.last_ts
        wanted: list[int] = []
        for i, tick in enumerate(cycle.ticks):
            symbol = tick["ticker"]
            if not everything and symbol not in named:
                continue
            if syncing and symbol in syncing:
                held = syncing[symbol]
                held.append((tick, cycle.jsons[i]))
                if len(held) > self.outbox.limit:
                    self.outbox.overflow()
                continue
            seq = tick["seq"]
            last = last_seq.get(symbol)
            if last is not None:
                if seq <= last:
                    continue  # already sent (a snapshot overlapped the live stream)
                if seq > last + 1:
                    self._repair(symbol, tick, cycle.jsons[i])
                    continue
            last_seq[symbol] = seq
            last_ts[symbol] = tick["timestamp"]
            wanted.append(i)
        if not wanted:
            return
        if self.batch:
            self.outbox.put(cycle.batch(tuple(wanted)))
        else:
            frames = cycle.frames
            self.outbox.put_many([frames[i] for i in wanted])

    def on_bars(self, update: BarUpdate) -> None:
        selection = self.bars
        if not selection:
            return
        frames = []
        for bar, frame in zip(update.bars, update.frames):
            symbol = bar["ticker"]
            if not selection.wants(symbol):
                continue
            sent = self.last_bars.setdefault(symbol, {})
            if sent.get(bar["time"]) == bar:
                continue  # unchanged since the last rollup
            sent[bar["time"]] = bar
            if len(sent) > 2:  # keep the open bar and the one before it
                del sent[min(sent)]
            frames.append(frame)
        if frames:
            self.outbox.put_many(frames)

    def on_statuses(self, statuses: list) -> None:
        """Trading status changes ``(data, frame)``, for the tickers subscribed (either
        channel), in the order they come: after the ticks before them, before those after."""
        frames = [
            frame
            for status, frame in statuses
            if self.ticks.wants(status["ticker"]) or self.bars.wants(status["ticker"])
        ]
        if frames:
            self.outbox.put_many(frames)

    def _accept(self, tick: dict) -> bool:
        symbol, seq = tick["ticker"], tick["seq"]
        last = self.last_seq.get(symbol)
        if last is not None and seq <= last:
            return False
        self.last_seq[symbol] = seq
        self.last_ts[symbol] = tick["timestamp"]
        return True

    def _repair(self, symbol: str, tick: dict, text: str) -> None:
        """A live tick skipped some (a lost publish): fetch the missing ones from the replay
        stream, holding live ticks back meanwhile."""
        logger.info(
            "%s: live seq jumped from %s to %s; filling the gap from the replay stream",
            symbol,
            self.last_seq.get(symbol),
            tick["seq"],
        )
        self.syncing[symbol] = [(tick, text)]
        self._spawn(self._sync({symbol: ("seq", self.last_seq[symbol])}))

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- client requests ---------------------------------------------------------------------

    async def subscribe(self, request: Subscribe) -> None:
        names = set(request.tickers or ()) | set(request.from_seq)
        if request.tickers is not None and len(request.tickers) > self.max_subscriptions:
            raise too_many(len(request.tickers), self.max_subscriptions)
        active, unknown = await symbols.check(names)
        if unknown:
            raise protocol.unknown_tickers(unknown)
        targets = set(active) if request.tickers is None else set(request.tickers)
        ticks, bars = selections_after(self.ticks, self.bars, request)
        count = subscription_count(ticks, bars)
        if count > self.max_subscriptions:
            raise too_many(count, self.max_subscriptions)
        await self._check_replay(request, targets)

        # Valid: from here on the subscription changes.
        newly: set[str] = set()
        if "ticks" in request.channels:
            newly = {s for s in targets if not self.ticks.wants(s)}
        self.ticks, self.bars = ticks, bars
        if request.batch is not None:
            self.batch = request.batch
        self.outbox.put(protocol.subscribed("subscribed", listed(active, self.ticks, self.bars)))
        plan: dict[str, tuple] = {}
        if "ticks" in request.channels:
            for symbol in sorted(targets):
                if symbol in request.from_seq:
                    plan[symbol] = ("seq", request.from_seq[symbol])
                elif request.since is not None:
                    plan[symbol] = ("since", request.since)
                elif symbol in newly:
                    plan[symbol] = ("latest",)
        if not self._registered:
            self.hub.add(self)
            self._registered = True
        if plan:
            await self._sync(plan)
        else:
            await self.hub.ready()

    async def unsubscribe(self, request: Unsubscribe) -> None:
        active = await symbols.active_symbols()
        if request.tickers is None:
            for channel in request.channels:
                setattr(self, channel, Selection())
        else:
            names = set(request.tickers)
            unknown = names - active - self.ticks.symbols - self.bars.symbols
            if unknown:
                raise protocol.unknown_tickers(unknown)
            for channel in request.channels:
                selection: Selection = getattr(self, channel)
                # Leaving one ticker of "*" turns it into the list of all the others.
                remaining = (set(active) if selection.all else selection.symbols) - names
                setattr(self, channel, Selection(symbols=remaining))
        for symbol in list(self.last_seq):
            if not self.ticks.wants(symbol):
                self.last_seq.pop(symbol, None)
                self.last_ts.pop(symbol, None)
                self.syncing.pop(symbol, None)
        for symbol in list(self.last_bars):
            if not self.bars.wants(symbol):
                del self.last_bars[symbol]
        self.outbox.put(protocol.subscribed("unsubscribed", listed(active, self.ticks, self.bars)))

    async def _check_replay(self, request: Subscribe, targets: set[str]) -> None:
        """Refuse a resume the replay stream cannot serve, before anything changes."""
        if request.since is not None and request.since < replay.window_start_ms():
            raise too_old(f"since={request.since}")
        try:
            for symbol, seq in request.from_seq.items():
                if symbol in targets:
                    await replay.check_seq(symbol, seq)
        except replay.ReplayUnavailable as e:
            raise too_old(f"from_seq of {e.args[0]}") from None
        except Exception:
            logger.warning("reading the replay stream failed", exc_info=True)
            raise unavailable() from None

    # --- snapshot + held-back live ticks = the seam ------------------------------------------

    async def _sync(self, plan: dict[str, tuple]) -> None:
        for symbol, start in plan.items():
            self.syncing.setdefault(symbol, [])
            if start[0] == "seq":
                self.last_seq[symbol] = start[1]
            elif start[0] == "since" and start[1] < self.last_ts.get(symbol, start[1]):
                self.last_seq.pop(symbol, None)  # a resume from before the cursor rewinds it
        snapshot: list[tuple[dict, str]] = []
        try:
            await self.hub.ready()
            snapshot = await self._read(plan)
        except replay.ReplayUnavailable as e:
            self.outbox.put(error_frame(too_old(f"the ticks of {e.args[0]}")))
        except Exception:
            logger.warning("reading the snapshot for a subscribe failed", exc_info=True)
            self.outbox.put(error_frame(unavailable()))
        snapshot.sort(key=lambda pair: pair[0]["timestamp"])
        accepted = [
            text
            for tick, text in snapshot
            if self.ticks.wants(tick["ticker"]) and self._accept(tick)
        ]
        if accepted:
            if self.batch:
                frames = [
                    protocol.ticks_frame(accepted[i : i + REPLAY_BATCH])
                    for i in range(0, len(accepted), REPLAY_BATCH)
                ]
            else:
                frames = [protocol.tick_frame(text) for text in accepted]
            await self.outbox.put_paced(frames)
        # Release the held-back live ticks (no await from here on: nothing can interleave).
        held: list[tuple[dict, str]] = []
        for symbol in plan:
            held += self.syncing.pop(symbol, [])
        held.sort(key=lambda pair: pair[0]["timestamp"])
        live = [
            text for tick, text in held if self.ticks.wants(tick["ticker"]) and self._accept(tick)
        ]
        if live and self.batch:
            self.outbox.put(protocol.ticks_frame(live))
        elif live:
            self.outbox.put_many(protocol.tick_frame(text) for text in live)

    async def _read(self, plan: dict[str, tuple]) -> list[tuple[dict, str]]:
        latest = [s for s, start in plan.items() if start[0] == "latest"]
        reads = []
        for symbol, start in plan.items():
            if start[0] == "since":
                reads.append(replay.ticks_since(symbol, start[1]))
            elif start[0] == "seq":
                reads.append(replay.ticks_after_seq(symbol, start[1]))
        results = await asyncio.gather(replay.latest(latest), *reads)
        out = [(orjson.loads(text), text) for text in results[0].values()]
        for pairs in results[1:]:
            out += pairs
        return out

    async def close(self) -> None:
        if self._registered:
            self.hub.discard(self)
            self._registered = False
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
