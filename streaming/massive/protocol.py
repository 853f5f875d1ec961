"""The Massive stocks stream's wire protocol: client requests parsed and validated, server
status messages built (pure: no Django, no I/O).

Every server message is a JSON array of objects with an event type ``ev``. Control messages are
``{"ev": "status", "status", "message"}``; data messages are ``T`` trades, ``Q`` quotes, ``A``
per-second and ``AM`` per-minute aggregates (``ticks.massive_shapes``). Client messages are JSON
(text, or bytes holding JSON), up to ``MAX_MESSAGE_BYTES``: ``{"action": "auth", "params":
key}`` and ``{"action": "subscribe" | "unsubscribe", "params": "T.SYNTH,Q.*,AM.*"}``
(comma-separated ``<channel>.<symbol>`` topics, ``*`` for every ticker).
"""

from dataclasses import dataclass

import orjson

from ..protocol import Frame

MAX_MESSAGE_BYTES = 256 * 1024  # a subscribe naming thousands of topics fits
MAX_SYMBOL_LEN = 32
WILDCARD = "*"
CHANNELS = ("T", "Q", "A", "AM")
# Massive's other stocks channels: limit up/down, fair market value, imbalances, launchpad.
NOT_SIMULATED = ("LULD", "FMV", "NOI", "LV")


class Status:
    CONNECTED = "connected"
    AUTH_SUCCESS = "auth_success"
    AUTH_FAILED = "auth_failed"
    AUTH_TIMEOUT = "auth_timeout"
    SUCCESS = "success"
    ERROR = "error"
    MAX_CONNECTIONS = "max_connections"
    SLOW_CONSUMER = "slow_consumer"
    FORCE_DISCONNECT = "force_disconnect"


CONNECTED_MESSAGE = "Connected Successfully"
AUTHENTICATED_MESSAGE = "authenticated"
AUTH_FAILED_MESSAGE = "authentication failed"
AUTH_TIMEOUT_MESSAGE = "No authentication request received."
MAX_CONNECTIONS_MESSAGE = (
    "Maximum number of websocket connections exceeded. You have reached the connection limit "
    "for your API key (WS_MAX_CONNECTIONS_PER_KEY)."
)
SLOW_CONSUMER_MESSAGE = (
    "The connection fell too far behind the stream and is closed; reconnect and resubscribe."
)
KEY_REVOKED_MESSAGE = "The API key was revoked."


class MassiveError(Exception):
    """A client error: answered with a ``status`` message; ``fatal`` ones close the connection."""

    def __init__(self, message: str, *, status: str = Status.ERROR, fatal: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.fatal = status, message, fatal


@dataclass(frozen=True)
class Auth:
    key: object


@dataclass(frozen=True)
class Subscribe:
    """``topics``: the valid ``(channel, symbol)`` pairs named, in order, without repeats;
    ``invalid``: the topics named that are not (each answered with an error)."""

    topics: tuple[tuple[str, str], ...]
    invalid: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unsubscribe:
    topics: tuple[tuple[str, str], ...]
    invalid: tuple[str, ...] = ()


Request = Auth | Subscribe | Unsubscribe


def parse(raw: str | bytes) -> Request:
    """One client message -> a request; ``MassiveError`` for anything else."""
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > MAX_MESSAGE_BYTES:
        raise MassiveError(f"message too large (at most {MAX_MESSAGE_BYTES} bytes)")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MassiveError("invalid JSON") from None
    if not isinstance(data, dict):
        raise MassiveError('invalid message: expected {"action": ..., "params": ...}')
    action = data.get("action")
    if action == "auth":
        return Auth(key=data.get("params"))
    if action in ("subscribe", "unsubscribe"):
        topics, invalid = _topics(data.get("params"))
        return (Subscribe if action == "subscribe" else Unsubscribe)(topics, invalid)
    if isinstance(action, str):
        raise MassiveError(f"unknown action: {_shown(action)}")
    raise MassiveError('invalid message: expected {"action": ..., "params": ...}')


def _topics(params) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    if not isinstance(params, str):
        raise MassiveError('invalid params: expected a string such as "T.SYNTH,Q.*"')
    topics: dict[tuple[str, str], None] = {}
    invalid: list[str] = []
    for part in params.split(","):
        part = part.strip()
        if not part:
            continue
        channel, dot, symbol = part.partition(".")
        if (
            dot
            and channel in CHANNELS
            and 0 < len(symbol) <= MAX_SYMBOL_LEN
            and symbol.isprintable()
            and " " not in symbol
        ):
            topics[(channel, symbol)] = None
        else:
            invalid.append(part)
    return tuple(topics), tuple(invalid)


def invalid_topic_message(topic: str) -> str:
    channel = topic.partition(".")[0]
    if channel in NOT_SIMULATED:
        return f"channel not available: {_shown(topic)} (this market streams T, Q, A and AM)"
    return f"invalid subscription: {_shown(topic)} (expected <T|Q|A|AM>.<ticker or *>)"


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "..."


# --- server messages ----------------------------------------------------------------------------


class JsonCodec:
    """The stream's one encoding: JSON text frames (``streaming.batches`` codec)."""

    name = "json"

    @staticmethod
    def piece(message: dict) -> bytes:
        return orjson.dumps(message)

    @staticmethod
    def frame(pieces: list[bytes]) -> Frame:
        return Frame((b"[" + b",".join(pieces) + b"]").decode())


def status_message(status: str, message: str) -> dict:
    return {"ev": "status", "status": status, "message": message}


def statuses(*messages: dict) -> Frame:
    return JsonCodec.frame([orjson.dumps(m) for m in messages])


def status(status: str, message: str) -> Frame:
    return statuses(status_message(status, message))


def topic(channel: str, symbol: str) -> str:
    return f"{channel}.{symbol}"
