"""The market's tick and bar as the domain hands them out: one shape each, money exact.

A tick's prices are integer cents (as the engine makes them and the ticks table stores them); a
bar's are ``Decimal`` (the bars table's ``numeric`` columns). Times are epoch milliseconds. How
they are written on a wire (JSON numbers for ``/ws``, strings for REST) is the business of the
layer that writes them: ``streaming.publish`` for the stream. The one exception is the live
store's record of a tick in Redis (``ticks.live_store.tick_record``), which readers serve as it
is stored.

``NamedTuple`` rather than a dataclass: the generator builds one per tick on its 100 ms path,
and a tuple is the cheapest immutable typed record to build.
"""

from decimal import Decimal
from typing import NamedTuple


class TickPayload(NamedTuple):
    ticker: str
    price_cents: int
    volume: int
    bid_cents: int
    ask_cents: int
    time_ms: int
    seq: int


class BarPayload(NamedTuple):
    """An OHLCV bar ``[time, time + timeframe)`` labelled by its start."""

    ticker: str
    timeframe: str
    time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    trade_count: int
    vwap: Decimal


class StatusPayload(NamedTuple):
    """A ticker's trading status changed at ``time_ms``: ``status`` is one of ``STATUSES``;
    ``reason`` says why in words (a halt event's reason, "ticker deactivated", "market open",
    ...). A session's status (``SESSION_STATUSES``) also carries where the ticker's market goes
    next, as ``market_status`` shows it: ``next_open_ms`` (the start of its next open stretch)
    and ``next_close_ms`` (the end of the open stretch it is in, or of the next one when
    closed); None when not known (or for the other statuses)."""

    ticker: str
    status: str
    time_ms: int
    reason: str = ""
    next_open_ms: int | None = None
    next_close_ms: int | None = None


#: A ticker deactivated (in the admin) or in a halt (a scenario event): no ticks until it is
#: activated again or the halt ends.
STATUS_HALTED = "halted"
#: A ticker (re)activated: ticks resume.
STATUS_TRADING = "trading"

#: A calendar ticker's market entered a phase of its session (``ticks.session_announce``):
#: its regular session, the pre- or post-market (extended hours), a lunch break, or closed.
SESSION_OPEN = "open"
SESSION_PRE = "pre"
SESSION_POST = "post"
SESSION_BREAK = "break"
SESSION_CLOSED = "closed"
SESSION_STATUSES = (SESSION_OPEN, SESSION_PRE, SESSION_POST, SESSION_BREAK, SESSION_CLOSED)

STATUSES = (STATUS_HALTED, STATUS_TRADING, *SESSION_STATUSES)
#: The statuses after which a ticker has no ticks until its next status.
NOT_TRADING = (STATUS_HALTED, SESSION_BREAK, SESSION_CLOSED)
