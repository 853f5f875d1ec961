"""Our ticks and bars in Massive's (formerly Polygon.io's) shapes: one owner for the REST
dialect (``api.massive``) and its WebSocket stream (``streaming.massive``, the ``stream_*``
shapes at the end).

Every tick of ours is one Massive trade and one quote:

- trade (``/v3/trades``) ``{"conditions", "exchange", "id", "participant_timestamp", "price",
  "sequence_number", "sip_timestamp", "size", "tape"}``: ``price`` the tick's price, ``size``
  its volume, ``sequence_number`` its ``seq`` and ``id`` the same number as a string (stable per
  ticker, +1 per tick, so consecutive ids mean no gap; backfilled history before a ticker's
  first live tick has negative ones); both timestamps are the tick's time in epoch
  nanoseconds;
- quote (``/v3/quotes``) ``{"ask_exchange", "ask_price", "ask_size", "bid_exchange",
  "bid_price", "bid_size", "conditions", "participant_timestamp", "sequence_number",
  "sip_timestamp", "tape"}``: sizes in round lots (``ticks.engine.sizes``, the very numbers the
  Alpaca dialect serves);
- the v2 "last" forms use Massive's one-letter keys (``T``, ``p``, ``s``, ``x``, ``P``, ``S``,
  ``X``, ``q``, ``t``, ``y``, ``z``, ``c``, ``i``);
- aggregate ``{"o", "h", "l", "c", "v", "vw", "t", "n"}`` with ``t`` the bucket start in epoch
  milliseconds (grouped daily and previous close add ``"T"``, the ticker).

Fixed values (documented in the README): every trade and quote comes from one synthetic venue,
exchange id ``EXCHANGE`` (99: not one of Massive's exchange ids, so it cannot be mistaken for a
real venue), on tape ``TAPE`` (3, tape C, as the Alpaca dialect's ``"C"``); trades carry the
condition ``TRADE_CONDITIONS`` (0, "Regular Sale", the Alpaca dialect's ``"@"``), quotes
``QUOTE_CONDITIONS`` (0, regular). Prices are numbers with two decimals (cents / 100).
"""

from __future__ import annotations

from dataclasses import dataclass

from .alpaca_shapes import time_ns
from .payloads import BarPayload, TickPayload

__all__ = [
    "DayTotals",
    "EXCHANGE",
    "QUOTE_CONDITIONS",
    "TAPE",
    "TRADE_CONDITIONS",
    "agg_fields",
    "last_quote_fields",
    "last_trade_fields",
    "quote_fields",
    "stream_agg",
    "stream_quote",
    "stream_trade",
    "trade_fields",
]

EXCHANGE = 99
TAPE = 3
TRADE_CONDITIONS = (0,)
QUOTE_CONDITIONS = (0,)


def trade_fields(tick: TickPayload) -> dict:
    """A ``/v3/trades`` result of ``tick``."""
    ns = time_ns(tick.time_ms)
    return {
        "conditions": list(TRADE_CONDITIONS),
        "exchange": EXCHANGE,
        "id": str(tick.seq),
        "participant_timestamp": ns,
        "price": tick.price_cents / 100,
        "sequence_number": tick.seq,
        "sip_timestamp": ns,
        "size": tick.volume,
        "tape": TAPE,
    }


def quote_fields(tick: TickPayload, bid_size: int, ask_size: int) -> dict:
    """A ``/v3/quotes`` result of ``tick`` (sizes from ``ticks.alpaca_shapes.tick_sizes``)."""
    ns = time_ns(tick.time_ms)
    return {
        "ask_exchange": EXCHANGE,
        "ask_price": tick.ask_cents / 100,
        "ask_size": ask_size,
        "bid_exchange": EXCHANGE,
        "bid_price": tick.bid_cents / 100,
        "bid_size": bid_size,
        "conditions": list(QUOTE_CONDITIONS),
        "participant_timestamp": ns,
        "sequence_number": tick.seq,
        "sip_timestamp": ns,
        "tape": TAPE,
    }


def last_trade_fields(tick: TickPayload) -> dict:
    """``/v2/last/trade``'s result (one-letter keys)."""
    ns = time_ns(tick.time_ms)
    return {
        "T": tick.ticker,
        "c": list(TRADE_CONDITIONS),
        "i": str(tick.seq),
        "p": tick.price_cents / 100,
        "q": tick.seq,
        "s": tick.volume,
        "t": ns,
        "x": EXCHANGE,
        "y": ns,
        "z": TAPE,
    }


def last_quote_fields(tick: TickPayload, bid_size: int, ask_size: int) -> dict:
    """``/v2/last/nbbo``'s result (one-letter keys: ``P``/``S``/``X`` ask, ``p``/``s``/``x``
    bid)."""
    ns = time_ns(tick.time_ms)
    return {
        "T": tick.ticker,
        "P": tick.ask_cents / 100,
        "S": ask_size,
        "X": EXCHANGE,
        "c": list(QUOTE_CONDITIONS),
        "p": tick.bid_cents / 100,
        "q": tick.seq,
        "s": bid_size,
        "t": ns,
        "x": EXCHANGE,
        "y": ns,
        "z": TAPE,
    }


def agg_fields(bar: BarPayload, *, ticker: bool = False) -> dict:
    """An aggregate of ``bar`` (``t`` its start in epoch ms); with ``ticker``, ``T`` too."""
    out = {"T": bar.ticker} if ticker else {}
    out.update(
        o=float(bar.open),
        h=float(bar.high),
        l=float(bar.low),
        c=float(bar.close),
        v=bar.volume,
        vw=float(bar.vwap),
        t=bar.time_ms,
        n=bar.trade_count,
    )
    return out


# --- the WebSocket stream (``/stocks``): one-letter keys, times in epoch milliseconds ----------
# Trade ``{"ev": "T", "sym", "x", "i", "z", "p", "s", "c", "t", "q"}``, quote ``{"ev": "Q",
# "sym", "bx", "bp", "bs", "ax", "ap", "as", "c", "t", "q", "z"}`` (``c`` one condition code,
# as Massive's stream writes quote conditions) and aggregate ``{"ev": "A" | "AM", "sym", "v",
# "av", "op", "vw", "o", "c", "h", "l", "a", "z", "s", "e"}``: ``v`` the window's volume, ``vw``
# its VWAP, ``z`` its average trade size, ``s``/``e`` its start and end; ``av``, ``op`` and ``a``
# the day so far (its volume, opening price and VWAP through the window's end: ``DayTotals``),
# left out when the day is not known.


@dataclass(frozen=True)
class DayTotals:
    """The day so far of one ticker: its opening price, volume and sum of price x volume."""

    open: float
    volume: int
    price_volume: float


def stream_trade(tick: TickPayload) -> dict:
    return {
        "ev": "T",
        "sym": tick.ticker,
        "x": EXCHANGE,
        "i": str(tick.seq),
        "z": TAPE,
        "p": tick.price_cents / 100,
        "s": tick.volume,
        "c": list(TRADE_CONDITIONS),
        "t": tick.time_ms,
        "q": tick.seq,
    }


def stream_quote(tick: TickPayload, bid_size: int, ask_size: int) -> dict:
    return {
        "ev": "Q",
        "sym": tick.ticker,
        "bx": EXCHANGE,
        "bp": tick.bid_cents / 100,
        "bs": bid_size,
        "ax": EXCHANGE,
        "ap": tick.ask_cents / 100,
        "as": ask_size,
        "c": QUOTE_CONDITIONS[0],
        "t": tick.time_ms,
        "q": tick.seq,
        "z": TAPE,
    }


def stream_agg(
    ev: str,
    symbol: str,
    *,
    start_ms: int,
    end_ms: int,
    ohlc: tuple[float, float, float, float],
    volume: int,
    vwap: float,
    trades: int,
    day: DayTotals | None,
) -> dict:
    """An aggregate (``ev`` ``"A"`` per second, ``"AM"`` per minute) of ``[start_ms, end_ms)``."""
    o, h, low, c = ohlc
    out = {"ev": ev, "sym": symbol, "v": volume}
    if day is not None:
        out["av"] = day.volume
        out["op"] = day.open
    out.update(vw=round(vwap, 4), o=o, c=c, h=h, l=low)
    if day is not None and day.volume:
        out["a"] = round(day.price_volume / day.volume, 4)
    out.update(z=round(volume / trades) if trades else 0, s=start_ms, e=end_ms)
    return out
