"""Sharded generation through the real processes: one shard, then two shards on two generator
workers, one of them killed (SIGKILL) mid-run, then back to one shard: every grid point of every
ticker stored exactly once, from seq 0, and every bar right."""

import json
import time

import orjson
import pytest

from testsupport.checks import assert_gap_free
from testsupport.stack import Stack

from .test_pipeline_e2e import (
    SHARED_REDIS,
    SYMBOLS,
    Probe,
    market_status_command,
    shared_database_url,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def shard_records(probe: Probe) -> dict[str, dict]:
    """What each shard's last cycle recorded (``ticks.shards.record_cycle``)."""
    raw = probe.r.hgetall(probe.key("generation", "shards"))
    return {name.decode(): orjson.loads(value) for name, value in raw.items()}


def ran_since(probe: Probe, names, since_ms: float) -> bool:
    records = shard_records(probe)
    return all(name in records and records[name]["at"] > since_ms for name in names)


def restart_beat(stack: Stack, shards: int) -> float:
    """Beat again with ``GENERATION_SHARDS=shards`` (as after a configuration change)."""
    stack.stop("beat")
    stack.env["GENERATION_SHARDS"] = str(shards)
    stack.start("beat")
    return time.time() * 1000


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_shards_on_two_workers_survive_a_killed_worker_and_shard_count_changes():
    stack = Stack(database_url=shared_database_url(), redis_url=SHARED_REDIS)
    probe = Probe(stack, SHARED_REDIS, shared_database_url())
    try:
        stack.start("generator", "worker", "beat")
        stack.wait_for(
            lambda: all(probe.quote(s) for s in SYMBOLS), timeout=30, what="the first ticks"
        )
        time.sleep(2)

        # Two shards, two generator workers: both shards run, and the workers share them.
        stack.start("generator2")
        switched = restart_beat(stack, 2)
        stack.wait_for(
            lambda: ran_since(probe, ("0/2", "1/2"), switched), timeout=30, what="both shards"
        )
        workers = set()

        def both_workers_took_cycles():
            workers.update(r["worker"] for r in shard_records(probe).values())
            return len({w for w in workers if w.startswith("generator")}) >= 2

        stack.wait_for(both_workers_took_cycles, timeout=20, what="cycles on both workers")
        status = market_status_command(stack)
        assert status.returncode == 0, status.stderr
        shards = json.loads(status.stdout)["shards"]
        assert [s["shard"] for s in shards] == ["0/2", "1/2"]
        assert sum(s["tickers"] for s in shards) == len(SYMBOLS)
        assert all(s["worker"] and s["lag_ms"] < 5_000 and not s["stalled"] for s in shards)

        # One worker killed mid-run (possibly holding a shard's lease): the other carries both.
        time.sleep(1)
        stack.kill("generator")
        killed = time.time() * 1000
        stack.wait_for(
            lambda: ran_since(probe, ("0/2", "1/2"), killed + 3_000),
            timeout=30,
            what="the surviving worker to carry both shards",
        )

        # Back to one shard.
        switched = restart_beat(stack, 1)
        stack.wait_for(
            lambda: ran_since(probe, ("0/1",), switched + 1_000), timeout=30, what="one shard"
        )
        stack.stop("generator2")
        stack.wait_for(probe.drained, timeout=30, what="buffer drained and bars refreshed")
        time.sleep(0.5)
        stack.stop()
        report, mismatched_bars = probe.report()
    finally:
        stack.close()
    assert_gap_free(report, SYMBOLS, min_count=100)
    for symbol in SYMBOLS:
        first, last = report[symbol]["time"]
        assert report[symbol]["seq"][0] == 0
        # every grid point from the first tick to the last, once
        assert report[symbol]["count"] == round((last - first).total_seconds() * 10) + 1
    assert mismatched_bars == 0
