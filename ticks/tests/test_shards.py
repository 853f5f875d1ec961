"""Sharded generation (``ticks.shards``, ``GENERATION_SHARDS``) at the cycle level, against the
real Redis and PostgreSQL: the rule, bit-identical series whatever the number of shards and
however it changes, one writer per ticker across shard counts, one lease per shard, the shards
in ``market_status``, the beat schedule and the task."""

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.test import override_settings

from testsupport.stack import ROOT
from ticks import live, live_configs, live_store
from ticks.config_version import bump_config_version
from ticks.flush import ticks_flush
from ticks.lease import Lease, lease
from ticks.live import ticks_generate
from ticks.live_store import KEYS, LiveState
from ticks.models import Tick, Ticker, TickerState
from ticks.shards import ALL, Shard, all_shards, cycle_records, shard_of
from ticks.status import market_status
from ticks.tasks import generate_ticks

from .conftest import _clear_market_keys
from .live_helpers import db_ticks, replay

pytestmark = pytest.mark.django_db
SYMBOLS = ("ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH")


# --- the rule ------------------------------------------------------------------------------------


def test_the_shard_of_a_ticker_is_its_id_mod_n_and_adding_tickers_moves_none():
    assert [shard_of(i, 3) for i in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    tickers = [SimpleNamespace(pk=pk) for pk in (4, 7, 9, 12)]
    before = {t.pk: [s.index for s in all_shards(3) if t.pk in _ids(s, tickers)] for t in tickers}
    grown = tickers + [SimpleNamespace(pk=pk) for pk in (13, 14, 15)]
    after = {t.pk: [s.index for s in all_shards(3) if t.pk in _ids(s, grown)] for t in tickers}
    assert before == after == {4: [1], 7: [1], 9: [0], 12: [0]}
    # every ticker in exactly one shard, whatever N
    for n in (1, 2, 5):
        ids = sorted(pk for s in all_shards(n) for pk in _ids(s, grown))
        assert ids == sorted(t.pk for t in grown)


def _ids(shard, tickers):
    return [tickers[i].pk for i in shard.members(tickers)]


def test_shards_are_named_validated_and_leased_apart():
    assert (ALL.name, ALL.lease_name) == ("0/1", "generate")  # the unsharded lease, as before
    assert (Shard(1, 2).name, Shard(1, 2).lease_name) == ("1/2", "generate:1/2")
    for index, count in ((0, 0), (2, 2), (-1, 2)):
        with pytest.raises(ValueError):
            Shard(index, count)


# --- bit-identical series ---------------------------------------------------------------------


def _beats(t0, plan):
    """``plan``: (beats, shard counts run at each beat); every beat runs every shard of every
    listed count, the shards in reverse order (order does not matter either)."""
    k = 0
    for beats, counts in plan:
        for _ in range(beats):
            k += 1
            now = t0 + timedelta(milliseconds=100 * k + (37 if k % 4 == 0 else 0))
            for count in counts:
                for shard in reversed(all_shards(count)):
                    report = ticks_generate(now=now, shard=shard)
                    assert report.skipped in (None, "conflict"), report
            if k % 7 == 0:
                ticks_flush()
    ticks_flush()
    return {s: (replay_of(s), db_ticks(s)) for s in SYMBOLS}


def replay_of(symbol):
    return replay(live_store.get_redis(), symbol)


def _reset():
    """Forget the run: Redis market keys, stored ticks and states, the config cache."""
    _clear_market_keys()
    Tick.objects.all().delete()
    TickerState.objects.all().delete()
    live_configs.reset_config_cache()


def test_two_or_three_shards_give_the_series_of_one_bit_for_bit(live_redis, t0):
    one = _beats(t0, [(40, [1])])
    assert all(len(ticks) == len(stored) == 40 for ticks, stored in one.values())
    for counts in ([2], [3]):
        _reset()
        assert _beats(t0, [(40, counts)]) == one, counts


def test_changing_the_number_of_shards_keeps_every_series_continuous(live_redis, t0):
    one = _beats(t0, [(60, [1])])
    _reset()
    # 1 -> 2 -> 3 -> 1 shards, with beats where an old and a new count run side by side (a
    # restart with another GENERATION_SHARDS while the old beat still sends its tasks)
    changed = _beats(t0, [(10, [1]), (5, [1, 2]), (15, [2]), (5, [2, 3]), (10, [3]), (15, [1])])
    assert changed == one
    for ticks, stored in changed.values():
        assert [t["seq"] for t in ticks] == list(range(60))
        assert [row[0] for row in stored] == list(range(60))


def test_a_cycle_of_another_shard_count_that_wrote_first_wins_the_compare_and_set(
    live_redis, t0, monkeypatch
):
    """Shard 0/2 plans its tickers, then (before its commit) a one-shard cycle advances every
    ticker: shard 0/2's commit finds the states moved and writes nothing; each tick once."""
    ticks_generate(now=t0)
    commit = live_store.commit_cycle
    overtaken = []

    def overtaking_commit(**kwargs):
        if not overtaken:
            overtaken.append(None)  # (the one-shard cycle commits through here too)
            overtaken[0] = ticks_generate(now=t0 + timedelta(milliseconds=300), shard=ALL)
        return commit(**kwargs)

    monkeypatch.setattr(live_store, "commit_cycle", overtaking_commit)
    report = ticks_generate(now=t0 + timedelta(milliseconds=300), shard=Shard(0, 2))
    assert report.skipped == "conflict" and overtaken[0].ticks == 15
    monkeypatch.undo()
    assert ticks_generate(now=t0 + timedelta(milliseconds=300), shard=Shard(1, 2)).ticks == 0
    ticks_flush()
    for symbol in SYMBOLS:
        assert [t["seq"] for t in replay_of(symbol)] == [0, 1, 2, 3]
        assert [row[0] for row in db_ticks(symbol)] == [0, 1, 2, 3]


def test_each_shard_has_its_own_lease(live_redis, t0):
    other = Lease(Shard(0, 2).lease_name)
    assert other.acquire()
    try:
        assert ticks_generate(now=t0, shard=Shard(0, 2)).skipped == "locked"
        report = ticks_generate(now=t0, shard=Shard(1, 2))
        assert report.skipped is None and report.tickers == len(_members(1, 2))
    finally:
        other.release()
    report = ticks_generate(now=t0, shard=Shard(0, 2))
    assert report.tickers == len(_members(0, 2)) and report.ticks == report.tickers
    assert live_redis.hlen(KEYS.state) == 5


def _members(index, count):
    return [t for t in Ticker.objects.filter(is_active=True) if t.pk % count == index]


def test_a_deactivated_ticker_is_paused_by_its_own_shard(live_redis, t0):
    for shard in all_shards(2):
        ticks_generate(now=t0, shard=shard)
    energy = Ticker.objects.get(symbol="ENERGY")
    energy.is_active = False
    energy.save()
    bump_config_version()
    owner, other = Shard(shard_of(energy.pk, 2), 2), Shard(1 - shard_of(energy.pk, 2), 2)
    ticks_generate(now=t0 + timedelta(seconds=1), shard=other)
    assert LiveState.loads(live_redis.hget(KEYS.state, str(energy.pk))).active is True
    ticks_generate(now=t0 + timedelta(seconds=1), shard=owner)
    assert LiveState.loads(live_redis.hget(KEYS.state, str(energy.pk))).active is False
    assert len(replay_of("ENERGY")) == 1


# --- bookkeeping and status ---------------------------------------------------------------------


@override_settings(GENERATION_SHARDS=2)
def test_market_status_shows_each_shards_lag_and_worker(live_redis):
    now = datetime.now(UTC)
    ticks_generate(now=now - timedelta(seconds=1), shard=Shard(0, 2), worker="gen-a@host:1")
    ticks_generate(now=now, shard=Shard(0, 2), worker="gen-a@host:1")
    ticks_generate(now=now - timedelta(seconds=1), shard=Shard(1, 2), worker="gen-b@host:2")
    assert cycle_records(2)["1/2"]["worker"] == "gen-b@host:2"
    status = market_status(now_ms=int(time.time() * 1000))
    shards = {s.shard: s for s in status.shards}
    assert set(shards) == {"0/2", "1/2"}
    assert shards["0/2"].worker == "gen-a@host:1" and shards["1/2"].worker == "gen-b@host:2"
    assert shards["0/2"].tickers + shards["1/2"].tickers == 5
    assert shards["0/2"].lag_ms < shards["1/2"].lag_ms  # shard 1 is a second behind
    assert shards["1/2"].lag_ms >= 1_000 and not any(s.stalled for s in status.shards)
    assert all(s.held_by is None for s in status.shards)  # nobody mid-cycle
    with lease(Shard(1, 2).lease_name) as held:
        shards = {s.shard: s for s in market_status(now_ms=int(time.time() * 1000)).shards}
        assert shards["1/2"].held_by == held.token
    # shard 1's worker stops: its shard (and its tickers) are reported stalled
    later = int(time.time() * 1000) + 6_000
    ticks_generate(now=datetime.fromtimestamp(later / 1000, UTC), shard=Shard(0, 2))
    status = market_status(now_ms=later)
    assert [s.shard for s in status.shards if s.stalled] == ["1/2"]
    assert any(p.startswith("generation shard 1/2: last cycle") for p in status.problems)
    assert "gen-b@host:2" in " ".join(status.problems)
    assert json.dumps(status.as_dict())  # the --json form


def test_the_generation_task_runs_the_shard_it_is_given(live_redis):
    generate_ticks.apply(kwargs={"shard": 1, "shards": 2})
    records = cycle_records(2)
    assert records["0/2"] is None and records["1/2"]["tickers"] == len(_members(1, 2))
    assert records["1/2"]["worker"].endswith(f":{os.getpid()}")
    generate_ticks.apply()  # a task without arguments (beat with one shard): every ticker
    assert cycle_records(1)["0/1"]["tickers"] == 5


# --- the beat schedule --------------------------------------------------------------------------


def _schedule(shards: str) -> subprocess.CompletedProcess:
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps({k: [v['task'], v.get('kwargs'), v['options']['queue']] "
        "for k, v in settings.CELERY_BEAT_SCHEDULE.items() if v['task'] == 'ticks.generate'}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "GENERATION_SHARDS": shards,
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_beat_schedules_one_generation_task_per_shard_on_the_generation_queue():
    one = _schedule("1")
    assert json.loads(one.stdout) == {"generate-ticks": ["ticks.generate", None, "generation"]}
    three = json.loads(_schedule("3").stdout)
    assert three == {
        f"generate-ticks-{i}": ["ticks.generate", {"shard": i, "shards": 3}, "generation"]
        for i in range(3)
    }
    bad = _schedule("0")
    assert bad.returncode != 0 and "GENERATION_SHARDS must be at least 1" in bad.stderr


def test_live_module_generates_every_ticker_by_default(live_redis, t0):
    assert live.ticks_generate(now=t0).tickers == 5
