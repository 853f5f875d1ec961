"""The live market's Redis side: engine state, durable buffer, latest quotes, replay streams.

One Lua script commits a generation cycle atomically: it checks every ticker's state is still
the one the cycle started from (compare-and-set, so two generators can never both write a
step), then stores the new states, appends the cycle's COPY rows to the durable buffer stream,
sets the latest quotes and appends to the per-ticker replay streams.
"""

import json
from dataclasses import dataclass

from django.conf import settings

from .redis_store import get_redis, key

BUFFER_MAX_ENTRIES = 36_000  # one hour of 100 ms cycles; trimming beyond it is logged as loss

COMMIT_LUA = """
local n = tonumber(ARGV[1])
local pos = 8
local starts = {}
for i = 1, n do
  local current = redis.call('HGET', KEYS[1], ARGV[pos])
  if current == false then current = '' end
  if current ~= ARGV[pos + 1] then return 0 end
  starts[i] = pos
  pos = pos + 7 + 2 * tonumber(ARGV[pos + 6])
end
for i = 1, n do
  local p = starts[i]
  redis.call('HSET', KEYS[1], ARGV[p], ARGV[p + 2])
  if ARGV[p + 4] ~= '' then redis.call('HSET', KEYS[4], ARGV[p + 3], ARGV[p + 4]) end
  local m = tonumber(ARGV[p + 6])
  for j = 0, m - 1 do
    redis.pcall('XADD', ARGV[p + 5], 'MINID', '~', ARGV[6], ARGV[p + 7 + 2 * j],
                'd', ARGV[p + 8 + 2 * j])
  end
end
local count = tonumber(ARGV[4])
if count > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'rows', ARGV[2], 'meta', ARGV[3])
  redis.call('INCRBY', KEYS[3], count)
end
redis.call('SET', KEYS[5], ARGV[7])
return 1
"""

# Takes entries off the buffer after their rows are committed to PostgreSQL.
ACK_LUA = """
local removed = redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
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

RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
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
    dirty = property(lambda self: key("dirty"))

    @staticmethod
    def replay(symbol: str) -> str:
        return key("replay", symbol)

    @staticmethod
    def lock(name: str) -> str:
        return key("lock", name)


KEYS = Keys()


@dataclass(frozen=True)
class LiveState:
    """A ticker's engine state in Redis. ``active`` False marks a paused ticker, so that when it
    is re-activated it resumes at its last price from now instead of catching up the pause."""

    seq: int
    time_ms: int
    log_price: float
    active: bool = True

    def dumps(self) -> str:
        return json.dumps(
            {"seq": self.seq, "t": self.time_ms, "x": self.log_price.hex(), "on": int(self.active)},
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, raw: bytes | str) -> "LiveState":
        data = json.loads(raw)
        return cls(seq=int(data["seq"]), time_ms=int(data["t"]),
                   log_price=float.fromhex(data["x"]), active=bool(data["on"]))


def _script(source: str):
    return get_redis().register_script(source)


def commit_cycle(*, tickers: list[dict], rows: bytes, meta: dict, count: int, now_ms: int) -> bool:
    """Atomically commit one generation cycle; False when another writer got there first.

    Each item of ``tickers``: ``id``, ``expected`` (the state string read, "" if none),
    ``state`` (LiveState), ``symbol``, ``quote`` (dict or None), ``replay`` (list of
    ``(time_ms, payload_json)``).
    """
    minid = max(0, now_ms - settings.WS_REPLAY_SECONDS * 1000)
    args: list = [len(tickers), rows, json.dumps(meta, separators=(",", ":")), count,
                  BUFFER_MAX_ENTRIES, minid, now_ms]
    for item in tickers:
        args += [item["id"], item["expected"], item["state"].dumps(), item["symbol"],
                 json.dumps(item["quote"], separators=(",", ":")) if item["quote"] else "",
                 KEYS.replay(item["symbol"]), len(item["replay"])]
        for time_ms, payload in item["replay"]:
            args += [f"{time_ms}-0", payload]
    keys = [KEYS.state, KEYS.buffer, KEYS.buffer_ticks, KEYS.quotes, KEYS.generated_at]
    return bool(_script(COMMIT_LUA)(keys=keys, args=args))


def ack_entries(entry_ids: list[bytes], ticks: int) -> None:
    if entry_ids:
        _script(ACK_LUA)(keys=[KEYS.buffer, KEYS.buffer_ticks], args=[ticks, *entry_ids])


def mark_dirty(first_ms: int, last_ms: int) -> None:
    _script(DIRTY_LUA)(keys=[KEYS.dirty], args=[first_ms, last_ms])


def take_dirty() -> tuple[int, int] | None:
    lo, hi = _script(TAKE_DIRTY_LUA)(keys=[KEYS.dirty])
    if lo is None or hi is None:
        return None
    return int(lo), int(hi)


def try_lock(name: str, token: str, ttl_ms: int) -> bool:
    return bool(get_redis().set(KEYS.lock(name), token, nx=True, px=ttl_ms))


def release_lock(name: str, token: str) -> None:
    _script(RELEASE_LUA)(keys=[KEYS.lock(name)], args=[token])
