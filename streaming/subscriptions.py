"""What a ``/ws`` connection is subscribed to, and the errors a subscribe can end in: the plain
rules of ``streaming.session``, without its I/O."""

from dataclasses import dataclass, field

from django.conf import settings

from . import protocol
from .protocol import ErrorCode, ProtocolError, Subscribe


@dataclass
class Selection:
    """The tickers of one channel (``ticks`` or ``bars``): named ones, or all (``*``)."""

    symbols: set[str] = field(default_factory=set)
    all: bool = False

    def wants(self, symbol: str) -> bool:
        return self.all or symbol in self.symbols

    def __bool__(self) -> bool:
        return self.all or bool(self.symbols)


def selections_after(
    ticks: Selection, bars: Selection, request: Subscribe
) -> tuple[Selection, Selection]:
    """The ``ticks`` and ``bars`` selections once ``request`` is applied."""
    out = []
    for channel, current in zip(protocol.CHANNELS, (ticks, bars)):
        if channel not in request.channels:
            out.append(current)
        elif request.tickers is None or current.all:
            out.append(Selection(all=True))
        else:
            out.append(Selection(symbols=current.symbols | set(request.tickers)))
    return out[0], out[1]


def count(*selections: Selection) -> int:
    """Subscriptions held: each named ticker once, ``*`` as one."""
    named = set().union(*(s.symbols for s in selections if not s.all))
    return len(named) + (1 if any(s.all for s in selections) else 0)


def listed(active: frozenset[str], *selections: Selection) -> set[str]:
    """Every ticker the selections name, ``*`` standing for the active ones."""
    names: set[str] = set()
    for selection in selections:
        names |= set(active) if selection.all else selection.symbols
    return names


def too_many(count: int, limit: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.TOO_MANY_TICKERS,
        f"{count} subscriptions exceed the limit of {limit} "
        'per connection; subscribe to "*" for every ticker',
    )


def too_old(what: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.REPLAY_UNAVAILABLE,
        f"{what} is older than the {settings.WS_REPLAY_SECONDS} s replay window; fetch the "
        "missing ticks from GET /api/v1/history/<ticker> and subscribe again with a newer "
        "since (or without one)",
    )


def unavailable() -> ProtocolError:
    return ProtocolError(
        ErrorCode.UNAVAILABLE, "market data is unavailable for a moment; try again shortly"
    )


def error_frame(e: ProtocolError) -> protocol.Frame:
    return protocol.error(e.code, e.message, **e.extra)
