"""The Alpaca stream's wire protocol: client requests parsed and validated, server messages
encoded (pure: no Django, no I/O).

Every server message is an array of objects with a type ``T``; control messages are
``success``, ``error`` and ``subscription``. Frames are JSON text, or msgpack binary when the
handshake said ``Content-Type: application/msgpack`` (``MsgpackCodec``; times as msgpack
Timestamps, ext type -1). Client messages are JSON text or msgpack binary, up to
``MAX_MESSAGE_BYTES`` (the WebSocket layer reassembles fragmented ones first):
``{"action": "auth", "key", "secret"}``, ``{"action": "subscribe" | "unsubscribe", "trades":
[...], "quotes": [...], ...}`` (lists of symbols, or ``"*"``).
"""

import struct
from dataclasses import dataclass

import msgpack
import orjson

from ticks.alpaca_shapes import rfc3339_ns, time_ns

from ..protocol import BinaryFrame, Frame

MAX_MESSAGE_BYTES = (
    256 * 1024
)  # a subscribe naming thousands of symbols fits (alpaca-py: 32 KiB frames)
MAX_SYMBOL_LEN = 32
WILDCARD = "*"
# Channels a stock stream subscribes to, in the order of the subscription message.
CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")
MIRRORS = ("corrections", "cancelErrors")  # follow "trades"; ignored in a request, as Alpaca does
OTHER_STREAMS = ("orderbooks", "news", "imbalances")  # Alpaca's other feeds' channels: 410


class Code:
    INVALID_SYNTAX = 400
    NOT_AUTHENTICATED = 401
    AUTH_FAILED = 402
    ALREADY_AUTHENTICATED = 403
    AUTH_TIMEOUT = 404
    SYMBOL_LIMIT = 405
    CONNECTION_LIMIT = 406
    SLOW_CLIENT = 407
    INSUFFICIENT_SUBSCRIPTION = 409
    INVALID_SUBSCRIBE_ACTION = 410
    RATE_LIMITED = 429  # ours: Alpaca documents no code for a flood of client messages
    INTERNAL = 500


MESSAGES = {
    Code.INVALID_SYNTAX: "invalid syntax",
    Code.NOT_AUTHENTICATED: "not authenticated",
    Code.AUTH_FAILED: "auth failed",
    Code.ALREADY_AUTHENTICATED: "already authenticated",
    Code.AUTH_TIMEOUT: "auth timeout",
    Code.SYMBOL_LIMIT: "symbol limit exceeded",
    Code.CONNECTION_LIMIT: "connection limit exceeded",
    Code.SLOW_CLIENT: "slow client",
    Code.INSUFFICIENT_SUBSCRIPTION: "insufficient subscription",
    Code.INVALID_SUBSCRIBE_ACTION: "invalid subscribe action for this feed",
    Code.RATE_LIMITED: "too many requests",
    Code.INTERNAL: "internal error",
}
# After these the server closes the connection.
FATAL = frozenset({Code.AUTH_FAILED, Code.AUTH_TIMEOUT, Code.CONNECTION_LIMIT, Code.SLOW_CLIENT})


class AlpacaError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(MESSAGES[code])
        self.code = code


@dataclass(frozen=True)
class Auth:
    key: object
    secret: object


@dataclass(frozen=True)
class Subscribe:
    """``channels``: channel -> symbols named (``"*"`` kept as a symbol), in order."""

    channels: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class Unsubscribe:
    channels: dict[str, tuple[str, ...]]


Request = Auth | Subscribe | Unsubscribe


def parse(raw: str | bytes) -> Request:
    """One client message (JSON text, or msgpack or JSON bytes) -> a request; ``AlpacaError``
    (400, 410) for anything else."""
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > MAX_MESSAGE_BYTES:
        raise AlpacaError(Code.INVALID_SYNTAX)
    data = _decode(raw)
    if not isinstance(data, dict):
        raise AlpacaError(Code.INVALID_SYNTAX)
    action = data.get("action")
    if action == "auth":
        return Auth(key=data.get("key"), secret=data.get("secret"))
    if action in ("subscribe", "unsubscribe"):
        channels = _channels(data)
        return Subscribe(channels) if action == "subscribe" else Unsubscribe(channels)
    raise AlpacaError(Code.INVALID_SYNTAX)


def _decode(raw: str | bytes):
    if isinstance(raw, bytes):
        try:
            return msgpack.unpackb(raw, raw=False, strict_map_key=False)
        except Exception:
            pass  # JSON sent in a binary frame is accepted too
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise AlpacaError(Code.INVALID_SYNTAX) from None


def _channels(data: dict) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for name, value in data.items():
        if name == "action" or name in MIRRORS:
            continue
        if name not in CHANNELS:
            if name in OTHER_STREAMS:
                raise AlpacaError(Code.INVALID_SUBSCRIBE_ACTION)
            raise AlpacaError(Code.INVALID_SYNTAX)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(s, str) and 0 < len(s) <= MAX_SYMBOL_LEN and s.isprintable() for s in value
        ):
            raise AlpacaError(Code.INVALID_SYNTAX)
        out[name] = tuple(dict.fromkeys(value))
    return out


# --- encodings ----------------------------------------------------------------------------------


class JsonCodec:
    """JSON text frames; times as RFC 3339 strings with nanoseconds."""

    name = "json"

    @staticmethod
    def time(time_ms: int) -> str:
        return rfc3339_ns(time_ms)

    @staticmethod
    def piece(message: dict) -> bytes:
        return orjson.dumps(message)

    @staticmethod
    def frame(pieces: list[bytes]) -> Frame:
        return Frame((b"[" + b",".join(pieces) + b"]").decode())


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])
    if n < 0x10000:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


class MsgpackCodec:
    """msgpack binary frames; times as msgpack Timestamps (ext type -1)."""

    name = "msgpack"

    @staticmethod
    def time(time_ms: int) -> msgpack.Timestamp:
        return msgpack.Timestamp.from_unix_nano(time_ns(time_ms))

    @staticmethod
    def piece(message: dict) -> bytes:
        return msgpack.packb(message)

    @staticmethod
    def frame(pieces: list[bytes]) -> BinaryFrame:
        return BinaryFrame(_array_header(len(pieces)) + b"".join(pieces))


Codec = JsonCodec | MsgpackCodec
MSGPACK_CONTENT_TYPE = b"application/msgpack"


def codec_for(headers) -> type[JsonCodec] | type[MsgpackCodec]:
    """msgpack when the handshake's ``Content-Type`` asks for it (alpaca-py does), else JSON."""
    for name, value in headers:
        if name.lower() == b"content-type" and value.split(b";")[0].strip().lower() == (
            MSGPACK_CONTENT_TYPE
        ):
            return MsgpackCodec
    return JsonCodec


def control(codec, *messages: dict) -> Frame:
    return codec.frame([codec.piece(m) for m in messages])


def success(codec, msg: str) -> Frame:
    return control(codec, {"T": "success", "msg": msg})


def error(codec, code: int, msg: str | None = None) -> Frame:
    """An error; ``msg`` replaces the code's usual message (playback says what was wrong)."""
    return control(codec, {"T": "error", "code": code, "msg": msg or MESSAGES[code]})


def subscription(codec, channels: dict[str, list[str]]) -> Frame:
    """The complete current subscriptions; ``corrections`` and ``cancelErrors`` mirror trades."""
    message = {"T": "subscription", **{c: list(channels.get(c, ())) for c in CHANNELS}}
    for mirror in MIRRORS:
        message[mirror] = list(channels.get("trades", ()))
    return control(codec, message)
