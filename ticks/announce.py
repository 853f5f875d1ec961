"""How the domain tells the layers above it about new market data, without knowing them.

The generator announces each committed cycle's ticks, the bar refresh the bars it rolled up.
Whoever wants them (``streaming``, in its ``AppConfig.ready()``) registers a listener; ``ticks``
imports nothing of theirs. A plain registry rather than Django signals: the tick announcement
runs every generation cycle (100 ms) and is a loop over a tuple of bound methods.

A listener must not raise into the domain: an exception is logged and the other listeners still
run (a dead stream must never stop generation; clients catch up from the replay streams).
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from .payloads import BarPayload, TickPayload

logger = logging.getLogger(__name__)


class Listener(Protocol):
    def on_ticks(self, ticks_by_symbol: Mapping[str, Sequence[TickPayload]]) -> None:
        """One committed generation cycle: each ticker's new ticks, oldest first (no empty
        lists)."""

    def on_bars(self, bars: Sequence[BarPayload]) -> None:
        """The 1m bars a refresh (re)computed, by ticker then time."""


_listeners: tuple[Listener, ...] = ()


def register(listener: Listener) -> None:
    """Add ``listener`` (once: registering the same object again does nothing)."""
    global _listeners
    if not any(existing is listener for existing in _listeners):
        _listeners = (*_listeners, listener)


def unregister(listener: Listener) -> None:
    global _listeners
    _listeners = tuple(existing for existing in _listeners if existing is not listener)


def listeners() -> tuple[Listener, ...]:
    return _listeners


def announce_ticks(ticks_by_symbol: Mapping[str, Sequence[TickPayload]]) -> None:
    if not ticks_by_symbol:
        return
    for listener in _listeners:
        try:
            listener.on_ticks(ticks_by_symbol)
        except Exception:
            logger.warning("a tick listener (%r) failed", listener, exc_info=True)


def announce_bars(bars: Sequence[BarPayload]) -> None:
    if not bars:
        return
    for listener in _listeners:
        try:
            listener.on_bars(bars)
        except Exception:
            logger.warning("a bar listener (%r) failed", listener, exc_info=True)
