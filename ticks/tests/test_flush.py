"""The flush (ticks.flush): the durable buffer into PostgreSQL, exactly once."""

import json
from datetime import UTC, timedelta

import pytest

from ticks.flush import ticks_flush
from ticks.lease import Lease
from ticks.live import ticks_generate
from ticks.live_store import KEYS, LiveState
from ticks.models import Ticker, TickerState

from .live_helpers import as_db_rows, db_ticks, replay

pytestmark = pytest.mark.django_db
UTC = UTC


def test_flush_stores_exactly_the_streamed_ticks_and_the_exact_state(live_redis, t0):
    for k in range(0, 31, 3):
        ticks_generate(now=t0 + timedelta(milliseconds=100 * k))
    report = ticks_flush()
    assert (report.ticks, report.skipped) == (5 * 31, None)
    assert live_redis.xlen(KEYS.buffer) == 0 and int(live_redis.get(KEYS.buffer_ticks)) == 0
    for symbol in ("SYNTH", "ENERGY"):
        assert db_ticks(symbol) == as_db_rows(replay(live_redis, symbol))
        ticker = Ticker.objects.get(symbol=symbol)
        state = LiveState.loads(live_redis.hget(KEYS.state, str(ticker.pk)))
        stored = TickerState.objects.get(ticker=ticker)
        assert (stored.seq, stored.log_price) == (state.seq, state.log_price)
        assert json.loads(live_redis.hget(KEYS.quotes, symbol)) == replay(live_redis, symbol)[-1]
    assert ticks_flush().ticks == 0


def test_a_flush_that_died_before_acknowledging_is_merged_without_duplicates(live_redis, t0):
    ticks_generate(now=t0)
    ticks_generate(now=t0 + timedelta(seconds=1))
    entry_id, fields = live_redis.xrange(KEYS.buffer)[-1]
    ticks_flush()
    live_redis.xadd(KEYS.buffer, {b"rows": fields[b"rows"], b"meta": fields[b"meta"]})
    live_redis.incrby(KEYS.buffer_ticks, json.loads(fields[b"meta"])["n"])
    ticks_generate(now=t0 + timedelta(seconds=2))
    report = ticks_flush()
    assert report.merged and live_redis.xlen(KEYS.buffer) == 0
    assert [row[0] for row in db_ticks("SYNTH")] == list(range(21))


def test_a_flusher_whose_lease_was_taken_over_leaves_its_entries_to_the_new_holder(live_redis, t0):
    from ticks import flush

    ticks_generate(now=t0)
    ticks_generate(now=t0 + timedelta(seconds=1))
    stalled = Lease(flush.LEASE_NAME)
    assert stalled.acquire()
    live_redis.delete(KEYS.lock(flush.LEASE_NAME))  # it expired while the flusher stalled
    taker = Lease(flush.LEASE_NAME)
    assert taker.acquire()
    report = flush._flush(600, stalled)  # its rows commit, its acknowledgement is refused
    assert report.skipped == "lease lost"
    assert live_redis.xlen(KEYS.buffer) == 2 and int(live_redis.get(KEYS.buffer_ticks)) == 55
    taker.release()
    assert ticks_flush().merged
    assert live_redis.xlen(KEYS.buffer) == 0 and int(live_redis.get(KEYS.buffer_ticks)) == 0
    assert [row[0] for row in db_ticks("SYNTH")] == list(range(11))
