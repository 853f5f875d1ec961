"""The live market's Redis side: engine state, durable buffer, latest quotes, replay streams.

One Lua script commits a generation cycle atomically: it checks every ticker's state is still
the one the cycle started from (compare-and-set, so two generators can never both write a
step), then stores the new states, appends the cycle's COPY rows to the durable buffer stream,
sets the latest quotes and appends to the per-ticker replay streams.
"""

from dataclasses import dataclass, field

import orjson
from django.conf import settings

from .market import vol_dumps, vol_loads
from .payloads import TickPayload
from .redis_store import get_redis, key

BUFFER_MAX_ENTRIES = 36_000  # one hour of 100 ms cycles; trimming beyond it is logged as loss

COMMIT_LUA = """
local items = cjson.decode(ARGV[7])
for _, it in ipairs(items) do
  local current = redis.call('HGET', KEYS[1], it[1])
  if current == false then current = '' end
  if current ~= it[2] then return 0 end
end
for _, it in ipairs(items) do
  redis.call('HSET', KEYS[1], it[1], it[3])
  if it[5] ~= '' then redis.call('HSET', KEYS[4], it[4], it[5]) end
  for _, e in ipairs(it[7]) do
    redis.pcall('XADD', it[6], 'MINID', '~', ARGV[5], e[1], 'd', e[2])
  end
end
local count = tonumber(ARGV[3])
if count > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'rows', ARGV[1], 'meta', ARGV[2])
  redis.call('INCRBY', KEYS[3], count)
end
redis.call('SET', KEYS[5], ARGV[6])
return 1
"""

# Takes entries off the buffer after their rows are committed to PostgreSQL, only while the
# flusher still holds its lease (KEYS[3] = ARGV[2]): a flusher that lost it leaves the entries to
# the new holder, which merges the rows already stored, so the tick count is never taken twice.
ACK_LUA = """
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return -1 end
local removed = redis.call('XDEL', KEYS[1], unpack(ARGV, 3))
redis.call('DECRBY', KEYS[2], ARGV[1])
return removed
"""

# Widens the range of tick times whose bars need a refresh.
DIRTY_LUA = """
local lo = redis.call('HGET', KEYS[1], 'min')
local hi = redis.call('HGET', KEYS[1], 'max')
if lo == false or tonumber(ARGV[1]) < tonumber(lo) then redis.call('HSET', KEYS[1], 'min', ARGV[1]) end
if hi == false or tonumber(ARGV[2]) > tonumber(hi) then redis.call('HSET', KEYS[1], 'max', ARGV[2]) end
return 1
"""

TAKE_DIRTY_LUA = """
local v = redis.call('HMGET', KEYS[1], 'min', 'max')
redis.call('DEL', KEYS[1])
return v
"""


class Keys:
    """Every live key, under ``MARKET_REDIS_PREFIX``."""

    state = property(lambda self: key("state"))
    buffer = property(lambda self: key("buffer"))
    buffer_ticks = property(lambda self: key("buffer", "ticks"))
    quotes = property(lambda self: key("quotes"))
    generated_at = property(lambda self: key("generated_at"))
    flushed_at = property(lambda self: key("flushed_at"))
    rolled_at = property(lambda self: key("rolled_at"))
    rolled_through = property(lambda self: key("rolled_through"))  # newest tick in the bars
    dirty = property(lambda self: key("dirty"))

    @staticmethod
    def replay(symbol: str) -> str:
        return key("replay", symbol)

    @staticmethod
    def lock(name: str) -> str:
        return key("lock", name)

    @staticmethod
    def metric(name: str) -> str:
        return key("metrics", name)


KEYS = Keys()


@dataclass(frozen=True)
class LiveState:
    """A ticker's engine state in Redis. ``active`` False marks a paused ticker, so that when it
    is re-activated it resumes at its last price from now instead of catching up the pause.
    ``vol``: the volatility factors of a ``stochastic`` ticker (exact, as ``float.hex``), None
    when unknown or unused; a state without them (every state stored before they existed, and
    every ``constant`` ticker's) has no ``v`` key, so its text is what it always was."""

    seq: int
    time_ms: int
    log_price: float
    active: bool = True
    vol: tuple[float, ...] | None = None

    def dumps(self) -> str:
        data = {
            "seq": self.seq,
            "t": self.time_ms,
            "x": self.log_price.hex(),
            "on": int(self.active),
        }
        vol = vol_dumps(self.vol)
        if vol is not None:
            data["v"] = vol
        return orjson.dumps(data).decode()

    @classmethod
    def loads(cls, raw: bytes | str) -> "LiveState":
        data = orjson.loads(raw)
        return cls(
            seq=int(data["seq"]),
            time_ms=int(data["t"]),
            log_price=float.fromhex(data["x"]),
            active=bool(data["on"]),
            vol=vol_loads(data.get("v")),
        )


def tick_record(tick: TickPayload) -> str:
    """A tick as the live store keeps it (latest-quote hash, replay streams): JSON with the
    prices in currency units as numbers and the time in epoch milliseconds. Readers serve this
    text as it is (the ``/ws`` replay) or parse it (the REST quote), so it is pinned: it is the
    ``/ws`` ``tick`` data, byte for byte (``streaming.publish.tick_data`` builds the same for the
    live stream; a test holds them equal)."""
    ticker, price_cents, volume, bid_cents, ask_cents, time_ms, seq = tick  # fast on a tuple
    return orjson.dumps(
        {
            "ticker": ticker,
            "price": price_cents / 100,
            "volume": volume,
            "bid": bid_cents / 100,
            "ask": ask_cents / 100,
            "timestamp": time_ms,
            "seq": seq,
        }
    ).decode()


@dataclass(slots=True)
class TickerWrite:
    """One ticker's part of a committed cycle.

    ``expected``: the state string the cycle read ("" if none; the compare-and-set); ``state``:
    the new one; ``records``: ``(time_ms, tick_record)`` of its new ticks, oldest first (the last
    becomes its latest quote; none leaves the quote as it is)."""

    id: str
    expected: str
    state: LiveState
    symbol: str
    records: list[tuple[int, str]] = field(default_factory=list)


def _script(source: str):
    return get_redis().register_script(source)


def commit_cycle(
    *,
    tickers: list[TickerWrite],
    rows: bytes,
    meta: dict,
    count: int,
    now_ms: int,
    max_entries: int = BUFFER_MAX_ENTRIES,
) -> bool:
    """Atomically commit one generation cycle; False when another writer got there first.
    ``max_entries``: the buffer's bound (N generation shards add N entries per beat).

    The items travel as one JSON document that the script decodes, which is far cheaper than
    thousands of separate arguments.
    """
    minid = max(0, now_ms - settings.WS_REPLAY_SECONDS * 1000)
    items = [
        [
            item.id,
            item.expected,
            item.state.dumps(),
            item.symbol,
            item.records[-1][1] if item.records else "",
            KEYS.replay(item.symbol),
            [[f"{t}-0", record] for t, record in item.records],
        ]
        for item in tickers
    ]
    args = [rows, orjson.dumps(meta), count, max_entries, minid, now_ms, orjson.dumps(items)]
    keys = [KEYS.state, KEYS.buffer, KEYS.buffer_ticks, KEYS.quotes, KEYS.generated_at]
    return bool(_script(COMMIT_LUA)(keys=keys, args=args))


def ack_entries(entry_ids: list[bytes], ticks: int, *, lease_name: str, token: str) -> bool:
    """Remove flushed entries, if lease ``lease_name`` is still held by ``token``."""
    if not entry_ids:
        return True
    done = _script(ACK_LUA)(
        keys=[KEYS.buffer, KEYS.buffer_ticks, KEYS.lock(lease_name)],
        args=[ticks, token, *entry_ids],
    )
    return done != -1


def mark_dirty(first_ms: int, last_ms: int) -> None:
    _script(DIRTY_LUA)(keys=[KEYS.dirty], args=[first_ms, last_ms])


def take_dirty() -> tuple[int, int] | None:
    lo, hi = _script(TAKE_DIRTY_LUA)(keys=[KEYS.dirty])
    if lo is None or hi is None:
        return None
    return int(lo), int(hi)


METRIC_SAMPLES = 10_000


def record_samples(name: str, values: list[float]) -> None:
    """Keep the newest samples of a pipeline metric (for market_status and the benchmarks)."""
    if values:
        pipe = get_redis().pipeline(transaction=False)
        pipe.lpush(KEYS.metric(name), *values)
        pipe.ltrim(KEYS.metric(name), 0, METRIC_SAMPLES - 1)
        pipe.execute()


def read_samples(name: str) -> list[float]:
    return [float(v) for v in get_redis().lrange(KEYS.metric(name), 0, -1)]
