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


# --- Trading sessions ----------------------------------------------------------------------------


def _utc_ms(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    "now,session,next_open,next_close,stalled",
    [
        # Thanksgiving: closed; the newest tick is Wednesday's close, which is not a stall.
        (_utc_ms(2026, 11, 26, 15), "closed", _utc_ms(2026, 11, 27, 14, 30), _utc_ms(2026, 11, 27, 18), False),
        # Friday, open for half an hour without a tick: stalled.
        (_utc_ms(2026, 11, 27, 15), "open", _utc_ms(2026, 11, 30, 14, 30), _utc_ms(2026, 11, 27, 18), True),
    ],
)  # fmt: skip
def test_each_ticker_shows_its_session_and_a_closed_one_is_not_stalled(
    live_redis, capsys, settings, now, session, next_open, next_close, stalled
):
    from testsupport.market_clock import market_at
    from ticks.live_store import KEYS, LiveState
    from ticks.models import Ticker

    synth = Ticker.objects.get(symbol="SYNTH")
    synth.calendar = "XNYS"
    synth.save()
    close = _utc_ms(2026, 11, 25, 21) - 100
    live_redis.hset(KEYS.state, str(synth.pk), LiveState(9, close, 4.0, True).dumps())
    status = market_status(now_ms=now)
    row = next(t for t in status.tickers if t.symbol == "SYNTH")
    assert (row.calendar, row.session, row.next_open_ms, row.next_close_ms) == (
        "XNYS",
        session,
        next_open,
        next_close,
    )
    assert row.stalled is stalled and row.stale is stalled
    assert any(p.startswith("SYNTH: last tick") for p in status.problems) is stalled
    tech = next(t for t in status.tickers if t.symbol == "TECH")
    assert (tech.calendar, tech.session, tech.next_open_ms) == ("24/7", "open", None)
    market_at(settings, datetime.fromtimestamp(now / 1000, UTC))  # the command's own clock
    _, out, _ = run_status(capsys)
    line = next(x for x in out.splitlines() if x.startswith("SYNTH "))
    if session == "closed":
        assert "closed (XNYS), opens 2026-11-27 14:30Z" in line and "STALLED" not in line
    else:
        assert "open (XNYS), closes 2026-11-27 18:00Z" in line and "STALLED" in line
    assert "open (24/7)" in next(x for x in out.splitlines() if x.startswith("TECH "))
