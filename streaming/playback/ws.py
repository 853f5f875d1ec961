"""Playback on ``/ws``: the ``playback``, ``pause``, ``resume`` and ``stop`` messages.

Client: ``{"type": "playback", "tickers": [...] | "SYM" | "*", "start": ms | ISO, "end": ms |
ISO, "speed": 60 | "max", "channels"?: ["ticks", "bars"]}``, then ``{"type": "pause"}``,
``{"type": "resume"}``, ``{"type": "stop"}``. Server: ``playback_started`` (the request as
understood), the stored ``tick`` (and ``bar``) messages in exactly the live shapes, with their
original ``timestamp``/``seq``, ``playback_paused``/``playback_resumed`` (with ``time``, the
market time of the last message sent), and ``playback_done`` with ``reason`` (``end``,
``stopped``, ``error``) and the counts.

A connection is either live or playing back: a ``playback`` while subscribed is refused
(``live_active``: unsubscribe first), a ``subscribe`` or a second ``playback`` while one runs too
(``playback_active``: ``stop`` it or wait for ``playback_done``).
"""

from dataclasses import dataclass

import orjson

from .. import protocol
from ..protocol import ErrorCode, Frame, ProtocolError
from ..publish import bar_wire, tick_wire
from . import request
from .player import Progress
from .run import PlaybackRun, Refused, open_range
from .source import TICK, Event

PLAYBACK_ACTIVE = "playback_active"
LIVE_ACTIVE = "live_active"
NO_PLAYBACK = "no_playback"
CONTROLS = ("pause", "resume", "stop")


@dataclass(frozen=True)
class PlaybackRequest:
    tickers: tuple[str, ...] | None  # None: "*"
    range: request.Range
    channels: frozenset[str]


@dataclass(frozen=True)
class PlaybackControl:
    action: str  # one of CONTROLS


def parse_playback(data: dict) -> PlaybackRequest:
    tickers = protocol._tickers(data)
    channels = protocol._channels(data, default=("ticks",))
    try:
        playback_range = request.parse_range(data.get("start"), data.get("end"), data.get("speed"))
    except request.BadRequest as e:
        raise ProtocolError(e.code, e.message) from None
    return PlaybackRequest(tickers=tickers, range=playback_range, channels=channels)


def parse_control(data: dict) -> PlaybackControl:
    return PlaybackControl(action=data["type"])


def register() -> None:
    """Teach ``streaming.protocol.parse`` the playback messages."""
    protocol.EXTRA_TYPES["playback"] = parse_playback
    for action in CONTROLS:
        protocol.EXTRA_TYPES[action] = parse_control


def _frame(message: dict) -> Frame:
    return Frame(orjson.dumps(message).decode())


def render(events: list[Event]) -> list[Frame]:
    """``tick`` and ``bar`` messages, as the live stream writes them."""
    out = []
    for event in events:
        if event.kind == TICK:
            out.append(protocol.tick_frame(orjson.dumps(tick_wire(event.payload)).decode()))
        else:
            out.append(protocol.bar_frame(orjson.dumps(bar_wire(event.payload)).decode()))
    return out


class WsPlayback:
    """One ``/ws`` connection's playback side."""

    def __init__(self, outbox, session, *, key_id: int | None, max_tickers: int) -> None:
        self.outbox = outbox
        self.session = session
        self.key_id = key_id
        self.max_tickers = max_tickers
        self.run: PlaybackRun | None = None
        self._starting = False

    @property
    def active(self) -> bool:
        return self._starting or (self.run is not None and not self.run.done)

    def check_not_playing(self) -> None:
        """Before a subscribe: a connection plays back or is live, not both."""
        if self.active:
            raise ProtocolError(
                PLAYBACK_ACTIVE,
                "this connection is playing back; send stop (or wait for playback_done) "
                "before subscribing",
            )

    async def handle(self, message: PlaybackRequest | PlaybackControl) -> None:
        if isinstance(message, PlaybackRequest):
            await self._start(message)
            return
        run = self.run if self.active else None
        if run is None:
            raise ProtocolError(NO_PLAYBACK, f"no playback is running to {message.action}")
        if message.action == "stop":
            await run.stop()
        elif message.action == "pause":
            run.pause()
            self.outbox.put(_frame({"type": "playback_paused", "time": self._position(run)}))
        else:
            run.resume()
            self.outbox.put(_frame({"type": "playback_resumed", "time": self._position(run)}))

    @staticmethod
    def _position(run: PlaybackRun) -> int:
        last = run.progress.last_ms
        return last if last is not None else run.range.start_ms

    async def _start(self, message: PlaybackRequest) -> None:
        if self.active:
            raise ProtocolError(
                PLAYBACK_ACTIVE, "a playback is already running on this connection; stop it first"
            )
        if self.session.ticks or self.session.bars:
            raise ProtocolError(
                LIVE_ACTIVE,
                'this connection is subscribed to the live stream; send {"type": "unsubscribe", '
                '"tickers": "*"} (or open another connection) to play back',
            )
        if message.tickers is not None and len(message.tickers) > self.max_tickers:
            raise ProtocolError(
                ErrorCode.TOO_MANY_TICKERS,
                f"{len(message.tickers)} tickers exceed the limit of {self.max_tickers}",
            )
        self._starting = True
        try:
            tickers, slot = await open_range(
                symbols=message.tickers, playback_range=message.range, key_id=self.key_id
            )
        except Refused as e:
            raise ProtocolError(e.code, e.message, **e.extra) from None
        finally:
            self._starting = False
        speed = message.range.speed
        self.outbox.put(
            _frame(
                {
                    "type": "playback_started",
                    "tickers": [t.symbol for t in tickers],
                    "start": message.range.start_ms,
                    "end": message.range.end_ms,
                    "speed": speed if speed is not None else request.MAX,
                    "channels": sorted(message.channels),
                }
            )
        )
        self.run = PlaybackRun(
            tickers=tickers,
            playback_range=message.range,
            outbox=self.outbox,
            render=render,
            slot=slot,
            on_end=self._ended,
            ticks="ticks" in message.channels,
            bars="bars" in message.channels,
        )
        self.run.start()

    def _ended(self, progress: Progress, reason: str) -> None:
        if reason == "closed":
            return
        if reason == "error":
            self.outbox.put(
                protocol.error(
                    ErrorCode.UNAVAILABLE,
                    "reading the stored range failed; the playback ended early",
                )
            )
        run = self.run
        self.outbox.put(
            _frame(
                {
                    "type": "playback_done",
                    "reason": reason,
                    "ticks": progress.ticks,
                    "bars": progress.bars,
                    "counts": dict(sorted(progress.per_ticker.items())),
                    "start": run.range.start_ms if run else None,
                    "end": run.range.end_ms if run else None,
                    "time": progress.last_ms,
                }
            )
        )

    async def close(self) -> None:
        if self.run is not None:
            await self.run.stop("closed")
