"""Our ticks and bars in Alpaca Market Data v2's shapes: one owner for the REST and the stream.

Every tick of ours is one Alpaca trade and one quote:

- trade ``{"t", "x", "p", "s", "c", "i", "z"}``: ``p`` the tick's price, ``s`` its volume,
  ``i`` its ``seq`` (stable per ticker, +1 per tick, so consecutive ids mean no gap; backfilled
  history before a ticker's first live tick has negative ids);
- quote ``{"t", "ax", "ap", "as", "bx", "bp", "bs", "c", "z"}``: ``bp``/``ap`` the tick's bid and
  ask, ``bs``/``as`` their sizes in round lots (``ticks.engine.sizes``: a pure function of the
  ticker's seed and the tick's seq);
- bar ``{"t", "o", "h", "l", "c", "v", "n", "vw"}``.

Fixed values (documented in the README): every trade and quote comes from one synthetic venue,
exchange code ``EXCHANGE`` ("E", which Alpaca lists as "Market Independent"), on tape ``TAPE``;
trades carry the regular-sale condition ``TRADE_CONDITIONS``, quotes the regular-quote condition
``QUOTE_CONDITIONS``. Prices are numbers with two decimals (cents / 100).

The time field ``t`` is left to the caller, who writes it for its transport (an RFC 3339 string
with nanoseconds for JSON, a msgpack Timestamp on the msgpack stream): ``time_ns`` gives it.
"""

from __future__ import annotations

import numpy as np

from .engine.sizes import quote_sizes
from .payloads import (
    SESSION_BREAK,
    SESSION_CLOSED,
    SESSION_OPEN,
    SESSION_POST,
    SESSION_PRE,
    STATUS_HALTED,
    STATUS_TRADING,
    BarPayload,
    StatusPayload,
    TickPayload,
)

__all__ = [
    "EXCHANGE",
    "TRADING_STATUS_CODES",
    "QUOTE_CONDITIONS",
    "TAPE",
    "TRADE_CONDITIONS",
    "bar_fields",
    "quote_fields",
    "rfc3339_ns",
    "tick_sizes",
    "time_ns",
    "trade_fields",
    "trading_status_fields",
]

EXCHANGE = "E"
TAPE = "C"
TRADE_CONDITIONS = ("@",)
QUOTE_CONDITIONS = ("R",)

_NS_PER_MS = 1_000_000


def tick_sizes(seed: int, ticks: list[TickPayload]) -> tuple[list[int], list[int]]:
    """Bid and ask sizes (round lots) of ``ticks``, all of the ticker whose seed is ``seed``."""
    bid, ask = quote_sizes(seed, np.fromiter((t.seq for t in ticks), np.int64, len(ticks)))
    return bid.tolist(), ask.tolist()


def trade_fields(tick: TickPayload, t: object) -> dict:
    """An Alpaca trade of ``tick`` with ``t`` as its time field, as written by the caller."""
    return {
        "t": t,
        "x": EXCHANGE,
        "p": tick.price_cents / 100,
        "s": tick.volume,
        "c": list(TRADE_CONDITIONS),
        "i": tick.seq,
        "z": TAPE,
    }


def quote_fields(tick: TickPayload, t: object, bid_size: int, ask_size: int) -> dict:
    """An Alpaca quote of ``tick`` (sizes from ``tick_sizes``) with ``t`` as its time field."""
    return {
        "t": t,
        "ax": EXCHANGE,
        "ap": tick.ask_cents / 100,
        "as": ask_size,
        "bx": EXCHANGE,
        "bp": tick.bid_cents / 100,
        "bs": bid_size,
        "c": list(QUOTE_CONDITIONS),
        "z": TAPE,
    }


def bar_fields(bar: BarPayload, t: object) -> dict:
    """An Alpaca bar of ``bar`` with ``t`` (the bucket start) as its time field."""
    return {
        "t": t,
        "o": float(bar.open),
        "h": float(bar.high),
        "l": float(bar.low),
        "c": float(bar.close),
        "v": bar.volume,
        "n": bar.trade_count,
        "vw": float(bar.vwap),
    }


def time_ns(time_ms: int) -> int:
    """Epoch nanoseconds of an epoch-millisecond time."""
    return time_ms * _NS_PER_MS


def rfc3339_ns(time_ms: int) -> str:
    """``2026-12-02T10:00:00.100000000Z``: RFC 3339 UTC with nanoseconds, as Alpaca writes trade
    and quote times (bars are written the same way; Alpaca's clients parse both)."""
    seconds, ms = divmod(time_ms, 1000)
    stamp = np.datetime64(seconds, "s").astype(str)
    return f"{stamp}.{ms:03d}000000Z"


# Trading status messages (``T: "s"``), in the codes of the UTP tape (Nasdaq; our tape is "C"):
# status (sc, sm) and reason (rc, rm). A ticker deactivated in the admin is a halt for operational
# reasons; activated again, trading resumes (no reason code: UTP sends none on a resumption).
# A session's open and close: Alpaca documents no status for them (a real SIP sends none), so they
# take the two codes a bot already handles, "T" when the market opens (or its pre- or
# post-market) and "H" when it closes (or breaks for lunch), with no reason code (none of UTP's
# fits) and the change in words as the reason message, which tells them from halts.
TRADING_STATUS_CODES = {
    STATUS_HALTED: ("H", "Trading Halt", "O1", "Operations Halt; Contact Market Operations"),
    STATUS_TRADING: ("T", "Trading Resumption", "", ""),
    SESSION_OPEN: ("T", "Trading Resumption", "", "Market Open"),
    SESSION_PRE: ("T", "Trading Resumption", "", "Pre-Market Open"),
    SESSION_POST: ("T", "Trading Resumption", "", "Post-Market Open"),
    SESSION_BREAK: ("H", "Trading Halt", "", "Lunch Break"),
    SESSION_CLOSED: ("H", "Trading Halt", "", "Market Closed"),
}


def trading_status_fields(status: StatusPayload, t: object) -> dict:
    """An Alpaca trading status message's fields (every field alpaca-py's ``TradingStatus``
    requires) with ``t`` as its time field."""
    sc, sm, rc, rm = TRADING_STATUS_CODES[status.status]
    return {"t": t, "sc": sc, "sm": sm, "rc": rc, "rm": rm, "z": TAPE}
