"""The live pipeline through its real processes: celery generator, worker and beat.

Each test runs the processes on its own Redis key/queue prefix; the fault tests that stop a
server use private PostgreSQL/Redis instances (never the machine's shared ones).
"""

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psycopg
import pytest
import redis
from django.db import connection

from testsupport.checks import assert_gap_free, bar_mismatches, grid_report
from testsupport.services import PrivatePostgres, PrivateRedis, free_port
from testsupport.stack import ROOT, Stack
from ticks.models import Ticker

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
logger = logging.getLogger(__name__)
SYMBOLS = ("ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH")
# The session's Redis: REDIS_URL, or the embedded Valkey the test session started.
SHARED_REDIS = os.environ["REDIS_URL"]


def shared_database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Probe:
    """Reads what a stack wrote: its Redis keys and its database."""

    def __init__(self, stack: Stack, redis_url: str, database_url: str):
        self.r = redis.Redis.from_url(redis_url)
        self.prefix = stack.redis_prefix
        self.database_url = database_url.replace("postgres://", "postgresql://")

    def key(self, *parts) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    def replay(self, symbol):
        return [json.loads(f[b"d"]) for _, f in self.r.xrange(self.key("replay", symbol))]

    def quote(self, symbol):
        raw = self.r.hget(self.key("quotes"), symbol)
        return json.loads(raw) if raw else None

    def buffered(self) -> int:
        return int(self.r.get(self.key("buffer", "ticks")) or 0)

    def drained(self) -> bool:
        return self.buffered() == 0 and not self.r.exists(
            self.key("dirty"), self.key("lock", "flush"), self.key("lock", "rollup")
        )

    def cursor(self):
        conn = psycopg.connect(self.database_url, autocommit=True)
        return conn, conn.cursor()

    def report(self):
        conn, cur = self.cursor()
        with conn:
            return grid_report(cur), bar_mismatches(cur)

    def db_ticks(self, symbol):
        conn, cur = self.cursor()
        with conn:
            cur.execute(
                "SELECT t.seq, (extract(epoch FROM t.time) * 1000)::bigint, t.price::float8, "
                "t.bid::float8, t.ask::float8, t.volume FROM ticks_tick t JOIN ticks_ticker k "
                "ON k.id = t.ticker_id WHERE k.symbol = %s ORDER BY t.time",
                [symbol],
            )
            return cur.fetchall()


def as_rows(ticks):
    return [(t["seq"], t["timestamp"], t["price"], t["bid"], t["ask"], t["volume"]) for t in ticks]


def drain_and_stop(stack: Stack, probe: Probe) -> None:
    """Stop generating, let the worker flush and roll up everything, then stop all."""
    stack.stop("generator")
    stack.wait_for(probe.drained, timeout=30, what="buffer drained and bars refreshed")
    time.sleep(0.5)
    stack.stop()


def market_status_command(stack: Stack) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "market_status", "--json"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def market():
    """``market(database_url=..., redis_url=...)`` starts generator, worker and beat, waits for
    the first ticks and returns ``(stack, probe)``; every stack is stopped afterwards."""
    started = []

    def start(
        *, database_url: str, redis_url: str, env: dict | None = None, web: bool = False
    ) -> tuple[Stack, Probe]:
        stack = Stack(
            database_url=database_url,
            redis_url=redis_url,
            env=env,
            web_port=free_port() if web else None,
        )
        started.append(stack)
        probe = Probe(stack, redis_url, database_url)
        stack.start("generator", "worker", "beat", *(["web"] if web else []))
        stack.wait_for(
            lambda: all(probe.quote(s) for s in SYMBOLS), timeout=30, what="the first ticks"
        )
        return stack, probe

    yield start
    for stack in started:
        stack.close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_seconds_of_live_market(market):
    stack, probe = market(database_url=shared_database_url(), redis_url=SHARED_REDIS)
    time.sleep(20)
    assert all(stack.alive().values()), stack.logs()
    healthy = market_status_command(stack)
    assert healthy.returncode == 0, healthy.stderr
    assert json.loads(healthy.stdout)["stalled"] is False
    drain_and_stop(stack, probe)
    time.sleep(5.5)  # GENERATION_STALL_MS after the last cycle
    stalled = market_status_command(stack)
    assert stalled.returncode == 1 and "generation is not running" in stalled.stderr
    report, mismatched_bars = probe.report()
    assert_gap_free(report, SYMBOLS, min_count=180)
    for symbol in SYMBOLS:
        # Every grid point of the window, once: 10 ticks a second.
        first, last = report[symbol]["time"]
        assert report[symbol]["count"] == round((last - first).total_seconds() * 10) + 1
        assert report[symbol]["seq"][0] == 0
        last_tick = probe.db_ticks(symbol)[-1]
        assert as_rows([probe.quote(symbol)]) == [last_tick]
    assert mismatched_bars == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_killed_generator_worker_leaves_no_gap_and_no_duplicate(market):
    stack, probe = market(database_url=shared_database_url(), redis_url=SHARED_REDIS)
    time.sleep(4)
    stack.kill("generator")  # SIGKILL, mid-run (possibly holding the generation lock)
    time.sleep(3)
    stack.start("generator")
    carry_on_ms = (time.time() + 2) * 1000
    stack.wait_for(
        lambda: probe.quote("SYNTH")["timestamp"] > carry_on_ms,
        timeout=30,
        what="the restarted generator to carry on for 2 s",
    )
    drain_and_stop(stack, probe)
    report, mismatched_bars = probe.report()
    assert_gap_free(report, SYMBOLS, min_count=90)
    assert mismatched_bars == 0


def _migrate(database_url: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "migrate",
            "--noinput",
            "-v",
            "0",
            "--settings=config.settings.test",
        ],
        cwd=ROOT,
        check=True,
        timeout=180,
        env={**__import__("os").environ, "DATABASE_URL": database_url},
    )


@pytest.fixture
def private_postgres(tick_backend):
    from ticks.storage import Backend

    # On the session database's layout: TimescaleDB when it has it (and the binaries do).
    pg = PrivatePostgres(timescaledb=tick_backend is Backend.TIMESCALEDB).init()
    try:
        _migrate(pg.url)
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.destroy()


def test_the_stream_survives_a_database_outage_and_the_buffer_drains(
    market, private_postgres, private_redis
):
    stack, probe = market(database_url=private_postgres.url, redis_url=private_redis.url)
    time.sleep(3)
    private_postgres.stop()
    outage_started = time.time() * 1000
    time.sleep(10)
    # Live ticks kept coming during the outage, and the buffer held them.
    assert probe.quote("SYNTH")["timestamp"] > outage_started + 9_000
    assert probe.buffered() >= 5 * 90
    private_postgres.start()
    time.sleep(3)
    drain_and_stop(stack, probe)
    report, mismatched_bars = probe.report()
    assert_gap_free(report, SYMBOLS, min_count=150)
    assert mismatched_bars == 0
    assert "unreachable" in stack.logs() or "OperationalError" in stack.logs()


def test_after_redis_is_flushed_the_lost_ticks_are_regenerated_identically(
    market, private_postgres, private_redis
):
    stack, probe = market(database_url=private_postgres.url, redis_url=private_redis.url)
    time.sleep(4)
    before = {s: probe.replay(s) for s in SYMBOLS}  # includes ticks not yet flushed
    probe.r.flushall()
    time.sleep(5)
    drain_and_stop(stack, probe)
    report, mismatched_bars = probe.report()
    assert_gap_free(report, SYMBOLS, min_count=80)
    assert mismatched_bars == 0
    for symbol in SYMBOLS:
        stored = {row[0]: row for row in probe.db_ticks(symbol)}
        assert as_rows(before[symbol]) == [stored[t["seq"]] for t in before[symbol]]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_admin_edits_apply_to_the_running_market(market):
    stack, probe = market(database_url=shared_database_url(), redis_url=SHARED_REDIS)
    time.sleep(2)
    from django.test import override_settings

    with override_settings(MARKET_REDIS_PREFIX=stack.redis_prefix):
        energy = Ticker.objects.get(symbol="ENERGY")
        energy.is_active = False
        energy.save()  # the save signal bumps the config version on commit
        deactivated = time.time() * 1000
        synth = Ticker.objects.get(symbol="SYNTH")
        synth.volatility, synth.drift = 0.0, 0.0
        synth.save()
        tech = Ticker.objects.get(symbol="TECH")
        tech.tick_interval_ms = 500
        tech.save()
        edited = time.time() * 1000
    time.sleep(4)
    drain_and_stop(stack, probe)
    energy_ticks = probe.replay("ENERGY")
    assert energy_ticks[-1]["timestamp"] <= deactivated + 1_000
    synth_after = [t for t in probe.replay("SYNTH") if t["timestamp"] > edited + 1_000]
    assert len(synth_after) >= 20 and len({t["price"] for t in synth_after}) == 1
    tech_ticks = probe.replay("TECH")
    late = [t for t in tech_ticks if t["timestamp"] > edited + 1_000]
    assert len(late) >= 4 and all(t["timestamp"] % 500 == 0 for t in late)
    assert [t["seq"] for t in tech_ticks] == list(
        range(tech_ticks[0]["seq"], tech_ticks[0]["seq"] + len(tech_ticks))
    )
    stored = probe.db_ticks("TECH")
    assert [row[0] for row in stored] == list(range(stored[0][0], stored[0][0] + len(stored)))
    steps = {b[1] - a[1] for a, b in zip(stored, stored[1:])}
    assert 100 in steps and 500 in steps and steps <= {100, 200, 300, 400, 500}


def readyz(port: int) -> tuple[int, float]:
    """``(status, seconds it took)`` of ``GET /readyz``."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.monotonic() - started


def test_a_hung_database_stalls_neither_generation_nor_readyz(
    market, private_postgres, private_redis
):
    """Every PostgreSQL process stopped (SIGSTOP) for 8 s, over several of the generator's config
    reloads (1 s here): the live feed keeps moving, /readyz answers 503 fast, and afterwards
    every grid point is stored exactly once."""
    stack, probe = market(
        database_url=private_postgres.url,
        redis_url=private_redis.url,
        env={"GENERATION_CONFIG_RELOAD_S": "1"},
        web=True,
    )
    stack.wait_for(lambda: readyz(stack.web_port)[0] == 200, timeout=30, what="/readyz 200")
    time.sleep(2)
    lags, probes = [], []
    with private_postgres.hung():
        hung_until = time.monotonic() + 8
        next_probe = time.monotonic() + 1
        while time.monotonic() < hung_until:
            # How far the newest quote trails the wall clock: a stalled generator shows here.
            lags.append(time.time() * 1000 - probe.quote("SYNTH")["timestamp"])
            if time.monotonic() >= next_probe:
                probes.append(readyz(stack.web_port))
                next_probe = time.monotonic() + 1
            time.sleep(0.05)
    stall_ms = max(lags)
    logger.info("hung 8 s: worst quote lag %.0f ms; readyz %s", stall_ms, probes)
    assert stall_ms < 1_000, (stall_ms, stack.logs())
    assert len(probes) >= 3 and all(status == 503 and took < 2.0 for status, took in probes), (
        probes,
        stack.logs(),
    )
    stack.wait_for(lambda: readyz(stack.web_port)[0] == 200, timeout=30, what="/readyz 200")
    stack.wait_for(lambda: probe.buffered() < 100, timeout=30, what="the buffer to drain")
    drain_and_stop(stack, probe)
    report, mismatched_bars = probe.report()
    assert_gap_free(report, SYMBOLS, min_count=100)
    assert mismatched_bars == 0


def test_a_killed_flush_lease_holder_delays_persistence_by_at_most_5_s(
    market, private_postgres, private_redis
):
    """A flush is held mid-write (the ticks table locked by another session), its lease renewed
    meanwhile, past its 3 s TTL; the pool child holding it is killed (SIGKILL) and the table
    unlocked: the next flush commits within 5 s."""
    stack, probe = market(database_url=private_postgres.url, redis_url=private_redis.url)
    time.sleep(3)
    lease_key = probe.key("lock", "flush")
    locker = psycopg.connect(probe.database_url)
    try:
        locker.execute("LOCK TABLE ticks_tick IN ACCESS EXCLUSIVE MODE")
        holder = stack.wait_for(
            lambda: probe.r.get(lease_key), timeout=10, what="a flush holding its lease"
        ).decode()
        time.sleep(4.5)  # longer than the lease's TTL: renewed by its holder
        assert probe.r.get(lease_key).decode() == holder
        os.kill(int(holder.split(":")[1]), signal.SIGKILL)
        killed_ms = time.time() * 1000
    finally:
        locker.rollback()
        locker.close()
    flushed_ms = stack.wait_for(
        lambda: (
            int(probe.r.get(probe.key("flushed_at")) or 0) > killed_ms
            and int(probe.r.get(probe.key("flushed_at")))
        ),
        timeout=30,
        what="the next flush",
        interval=0.05,
    )
    delay_ms = flushed_ms - killed_ms
    logger.info("killed flush lease holder: next flush committed %.0f ms later", delay_ms)
    assert delay_ms <= 5_000, (delay_ms, stack.logs())
    stack.wait_for(lambda: probe.buffered() < 100, timeout=30, what="the buffer to drain")
    drain_and_stop(stack, probe)
    report, mismatched_bars = probe.report()
    assert_gap_free(report, SYMBOLS, min_count=100)
    assert mismatched_bars == 0
