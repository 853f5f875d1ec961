"""How the domain tells the layers above it about what happened, without knowing them.

The generator announces each committed cycle's ticks, the bar refresh the bars it rolled up,
``ticks.api_keys`` the keys revoked or deleted (after the commit), ``ticks.trading_status`` the
tickers halted (deactivated) or trading again (activated). Whoever wants them
(``streaming``, in its ``AppConfig.ready()``) registers a listener: an object with any of the
``Listener`` methods. ``ticks`` imports nothing of theirs. A plain registry rather than Django
signals: the tick announcement runs every generation cycle (100 ms) and is a loop over a tuple
of bound methods, collected when a listener registers.

A listener must not raise into the domain: an exception is logged and the other listeners still
run (a dead stream must never stop generation; clients catch up from the replay streams).
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from .payloads import BarPayload, StatusPayload, TickPayload

logger = logging.getLogger(__name__)


class Listener(Protocol):
    """Any subset of these methods."""

    def on_ticks(self, ticks_by_symbol: Mapping[str, Sequence[TickPayload]]) -> None:
        """One committed generation cycle: each ticker's new ticks, oldest first (no empty
        lists)."""

    def on_bars(self, bars: Sequence[BarPayload]) -> None:
        """The 1m bars a refresh (re)computed, by ticker then time."""

    def on_keys_revoked(self, key_ids: Sequence[int]) -> None:
        """API keys revoked or deleted (committed): their open connections must close."""

    def on_statuses(self, statuses: Sequence[StatusPayload]) -> None:
        """Tickers' trading status changed (committed): deactivated (halted) or activated."""


EVENTS = ("on_ticks", "on_bars", "on_keys_revoked", "on_statuses")
_listeners: tuple[object, ...] = ()
_handlers: dict[str, tuple[Callable, ...]] = {event: () for event in EVENTS}


def _collect() -> None:
    for event in EVENTS:
        _handlers[event] = tuple(
            getattr(listener, event)
            for listener in _listeners
            if callable(getattr(listener, event, None))
        )


def register(listener: Listener) -> None:
    """Add ``listener`` (once: registering the same object again does nothing)."""
    global _listeners
    if not any(existing is listener for existing in _listeners):
        _listeners = (*_listeners, listener)
        _collect()


def unregister(listener: Listener) -> None:
    global _listeners
    _listeners = tuple(existing for existing in _listeners if existing is not listener)
    _collect()


def listeners() -> tuple[object, ...]:
    return _listeners


def _announce(event: str, what: object) -> None:
    for handler in _handlers[event]:
        try:
            handler(what)
        except Exception:
            logger.exception("%s failed (%s)", handler, event)


def announce_ticks(ticks_by_symbol: Mapping[str, Sequence[TickPayload]]) -> None:
    if ticks_by_symbol:
        _announce("on_ticks", ticks_by_symbol)


def announce_bars(bars: Sequence[BarPayload]) -> None:
    if bars:
        _announce("on_bars", bars)


def announce_keys_revoked(key_ids: Sequence[int]) -> None:
    if key_ids:
        _announce("on_keys_revoked", key_ids)


def announce_statuses(statuses: Sequence[StatusPayload]) -> None:
    if statuses:
        _announce("on_statuses", statuses)
