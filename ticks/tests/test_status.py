"""`manage.py market_status`: a health check that fails when the pipeline stalls."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from ticks.flush import ticks_flush
from ticks.live import ticks_generate
from ticks.status import market_status

pytestmark = pytest.mark.django_db
UTC = UTC


def run_status(capsys, *args):
    code = 0
    try:
        call_command("market_status", *args)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_running_pipeline_is_ok(live_redis, capsys):
    now = datetime.now(UTC)
    ticks_generate(now=now - timedelta(seconds=2))
    ticks_generate(now=now)
    ticks_flush()
    code, out, err = run_status(capsys)
    assert code == 0 and "pipeline OK" in out and err == ""
    assert "SYNTH" in out and "STALLED" not in out
    code, out, _ = run_status(capsys, "--json")
    data = json.loads(out)
    assert data["stalled"] is False and data["buffer_ticks"] == 0
    synth = next(t for t in data["tickers"] if t["symbol"] == "SYNTH")
    assert synth["ticks_last_minute"] == 21 and synth["lag_ms"] < 5_000


def test_a_stopped_generator_and_unflushed_ticks_are_reported(live_redis, capsys):
    long_ago = datetime.now(UTC) - timedelta(minutes=2)
    ticks_generate(now=long_ago)
    status = market_status(now_ms=int(time.time() * 1000))
    assert status.stalled
    assert "generation is not running" in status.problems
    assert any("ticks waiting and no recent flush" in p for p in status.problems)
    assert any(p.startswith("SYNTH: last tick 12") for p in status.problems)
    code, out, err = run_status(capsys)
    assert code == 1 and "STALLED: generation is not running" in err


def test_before_any_tick_every_ticker_is_reported(live_redis, capsys):
    code, _, err = run_status(capsys)
    assert code == 1 and "STALLED: SYNTH: no tick yet" in err


def test_the_storage_layout_is_shown(live_redis, capsys, tick_backend):
    from ticks.storage import Backend

    ticks_generate(now=datetime.now(UTC))
    ticks_flush()
    _, out, _ = run_status(capsys)
    _, raw, _ = run_status(capsys, "--json")
    storage = json.loads(raw)["storage"]
    if tick_backend is Backend.PARTITIONED:
        assert storage["layout"] == "partitioned" and storage["parts"] >= 5
        assert f"storage: PostgreSQL partitioned table, {storage['parts']} daily partitions" in out
    else:
        assert storage["layout"] == "hypertable" and storage["parts"] >= 1
        assert storage["retention_days"] == 30 and storage["compress_after_days"] == 2
        assert (
            f"storage: TimescaleDB {storage['version']} hypertable, {storage['parts']} chunks"
            in out
        )
        assert "compressed after 2 days; retention 30 days" in out
