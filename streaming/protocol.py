"""The ``/ws`` wire protocol: client requests parsed and validated, server messages built.

Pure functions and data (no Django, no I/O), so every rule is testable on its own. Shapes are
pinned for clients (README, "WebSocket API"): numbers as numbers, times in epoch milliseconds.

Client: ``{"type": "subscribe", "tickers": [...] | "SYM" | "*", "channels"?: ["ticks", "bars"],
"since"?: ms, "from_seq"?: {"SYM": n}, "batch"?: bool}``, ``unsubscribe`` (``tickers``,
optional ``channels``) and ``ping``. Server: ``connected``, ``subscribed``/``unsubscribed``,
``tick``, ``ticks`` (batch mode), ``bar``, ``status`` (a subscribed ticker halted or trading
again, or its session opening or closing), ``pong`` and ``error``.
"""

import math
from dataclasses import dataclass, field

import orjson

CHANNELS = ("ticks", "bars")
WILDCARD = "*"
MAX_NAMED = 10  # unknown tickers named in one error message
MAX_SYMBOL_LEN = 32  # longer names are shortened in error messages


class ErrorCode:
    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_TICKER = "unknown_ticker"
    TOO_MANY_TICKERS = "too_many_tickers"
    MESSAGE_TOO_LARGE = "message_too_large"
    RATE_LIMITED = "rate_limited"
    REPLAY_UNAVAILABLE = "replay_unavailable"
    SLOW_CLIENT = "slow_client"
    UNAUTHORIZED = "unauthorized"
    KEY_REVOKED = "key_revoked"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    UNAVAILABLE = "unavailable"


class ProtocolError(Exception):
    """A client error: answered with an ``error`` message, the connection stays usable."""

    def __init__(self, code: str, message: str, **extra) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


@dataclass(frozen=True)
class Subscribe:
    tickers: tuple[str, ...] | None  # None: "*" (every active ticker, also ones added later)
    channels: frozenset[str] = frozenset({"ticks"})
    since: int | None = None
    from_seq: dict[str, int] = field(default_factory=dict)
    batch: bool | None = None  # None: leave the connection's mode as it is

    @property
    def resumes(self) -> bool:
        return self.since is not None or bool(self.from_seq)


@dataclass(frozen=True)
class Unsubscribe:
    tickers: tuple[str, ...] | None  # None: "*" (everything)
    channels: frozenset[str] = frozenset(CHANNELS)


@dataclass(frozen=True)
class Ping:
    pass


Request = Subscribe | Unsubscribe | Ping

#: More message types and their parsers (``data`` -> request), added by the features that
#: handle them (``streaming.playback.ws``: ``playback``, ``pause``, ``resume``, ``stop``).
EXTRA_TYPES: dict = {}


def parse(raw: str | bytes, *, max_bytes: int) -> Request:
    """One client frame → a request; ``ProtocolError`` for anything malformed."""
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise ProtocolError(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"message of {size} bytes exceeds the limit of {max_bytes} bytes",
        )
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError(ErrorCode.INVALID_JSON, "message is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "message must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, 'message needs a string "type"')
    if kind == "subscribe":
        return _subscribe(data)
    if kind == "unsubscribe":
        tickers = _tickers(data)
        return Unsubscribe(tickers=tickers, channels=_channels(data, default=CHANNELS))
    if kind == "ping":
        return Ping()
    extra = EXTRA_TYPES.get(kind)
    if extra is not None:
        return extra(data)
    raise ProtocolError(
        ErrorCode.UNKNOWN_TYPE,
        f"unknown message type {_short(kind)!r}; expected subscribe, unsubscribe or ping",
    )


def _subscribe(data: dict) -> Subscribe:
    tickers = _tickers(data)
    since = data.get("since")
    if since is not None:
        if (
            isinstance(since, bool)
            or not isinstance(since, (int, float))
            or not (math.isfinite(since) and since >= 0)
        ):
            raise ProtocolError(
                ErrorCode.INVALID_MESSAGE, '"since" must be a time in epoch milliseconds'
            )
        since = int(since)
    from_seq = data.get("from_seq")
    if from_seq is None:
        from_seq = {}
    elif not isinstance(from_seq, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in from_seq.values()
    ):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, '"from_seq" must map tickers to integer seq numbers'
        )
    else:
        from_seq = {str(k).strip().upper(): v for k, v in from_seq.items()}
        outside = sorted(set(from_seq) - set(tickers)) if tickers is not None else []
        if outside:
            raise ProtocolError(
                ErrorCode.INVALID_MESSAGE,
                f'"from_seq" names tickers not in "tickers": {_names(outside)}',
            )
    batch = data.get("batch")
    if batch is not None and not isinstance(batch, bool):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, '"batch" must be true or false')
    channels = _channels(data, default=("ticks",))
    if (since is not None or from_seq) and "ticks" not in channels:
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE,
            '"since" and "from_seq" replay ticks: add "ticks" to "channels"',
        )
    return Subscribe(
        tickers=tickers, channels=channels, since=since, from_seq=from_seq, batch=batch
    )


def _tickers(data: dict) -> tuple[str, ...] | None:
    """``"*"`` → None; a string or a list of strings → upper-cased, de-duplicated, in order."""
    value = data.get("tickers")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE,
            '"tickers" must be a ticker, a non-empty list of tickers, or "*"',
        )
    if not all(isinstance(v, str) for v in value):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, '"tickers" must hold strings only')
    symbols = [v.strip().upper() for v in value]
    if WILDCARD in symbols:
        return None
    return tuple(dict.fromkeys(symbols))


def _channels(data: dict, *, default: tuple[str, ...]) -> frozenset[str]:
    value = data.get("channels")
    if value is None:
        return frozenset(default)
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v in CHANNELS for v in value)
    ):
        raise ProtocolError(
            ErrorCode.INVALID_MESSAGE, '"channels" must be a non-empty list of "ticks" and "bars"'
        )
    return frozenset(value)


def _short(text: str) -> str:
    return text if len(text) <= MAX_SYMBOL_LEN else text[:MAX_SYMBOL_LEN] + "…"


def _names(symbols) -> str:
    symbols = [_short(s) for s in symbols]
    more = len(symbols) - MAX_NAMED
    return ", ".join(symbols[:MAX_NAMED]) + (f" and {more} more" if more > 0 else "")


def unknown_tickers(symbols) -> ProtocolError:
    symbols = sorted(symbols)
    return ProtocolError(
        ErrorCode.UNKNOWN_TICKER,
        f"unknown or inactive ticker(s): {_names(symbols)}; nothing was "
        "changed (GET /api/v1/tickers lists them)",
        tickers=[_short(s) for s in symbols[:MAX_NAMED]],
    )


# --- Server messages --------------------------------------------------------------------------


class Frame:
    """A server message: its JSON text, built once and shared by every connection of the
    process that gets it. ``prepared`` is left to the transport, which may cache there its own
    encoding of the message (``streaming.daphne_io`` does, under daphne)."""

    __slots__ = ("text", "prepared")
    binary = False

    def __init__(self, text: str) -> None:
        self.text = text
        self.prepared = None

    def payload(self) -> bytes:
        """The frame's bytes on the wire (UTF-8 text)."""
        return self.text.encode()

    def asgi(self) -> dict:
        """The ASGI ``websocket.send`` event of this frame."""
        return {"type": "websocket.send", "text": self.text}

    def __repr__(self) -> str:
        return f"Frame({self.text!r})"


class BinaryFrame(Frame):
    """A binary server message (the Alpaca dialect's msgpack), shared the same way."""

    __slots__ = ("data",)
    binary = True

    def __init__(self, data: bytes) -> None:
        self.text = None
        self.data = data
        self.prepared = None

    def payload(self) -> bytes:
        return self.data

    def asgi(self) -> dict:
        return {"type": "websocket.send", "bytes": self.data}

    def __repr__(self) -> str:
        return f"BinaryFrame({self.data!r})"


def _frame(message: dict) -> Frame:
    return Frame(orjson.dumps(message).decode())


def connected(*, client_id: str, timestamp: int) -> Frame:
    return _frame({"type": "connected", "clientId": client_id, "timestamp": timestamp})


def subscribed(kind: str, tickers) -> Frame:
    return _frame({"type": kind, "tickers": sorted(tickers)})


def pong(*, timestamp: int) -> Frame:
    return _frame({"type": "pong", "timestamp": timestamp})


def error(code: str, message: str, **extra) -> Frame:
    return _frame({"type": "error", "code": code, "message": message, **extra})


def tick_frame(tick_json: str) -> Frame:
    """A ``tick`` message around an already encoded tick (encoded once per process)."""
    return Frame('{"type":"tick","data":' + tick_json + "}")


def ticks_frame(tick_jsons) -> Frame:
    """A batch-mode ``ticks`` message: the ticks of one generation cycle (or a replay chunk)."""
    return Frame('{"type":"ticks","data":[' + ",".join(tick_jsons) + "]}")


def bar_frame(bar_json: str) -> Frame:
    return Frame('{"type":"bar","data":' + bar_json + "}")


def status_frame(status: dict) -> Frame:
    """A ``status`` message: a ticker halted or trading again, or its market's session changing
    (``{ticker, status, reason, time}``, sessions also ``next_open``, ``next_close``; times in
    epoch ms)."""
    return _frame({"type": "status", "data": status})


def encode(data: dict) -> str:
    """Tick or bar data as compact JSON."""
    return orjson.dumps(data).decode()
