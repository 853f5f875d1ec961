"""`manage.py generate --steps N`: on the grid, never past now, continuing the same path."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ticks.generation import ticks_generate_steps
from ticks.models import Bar, Tick, Ticker, TickerState

pytestmark = pytest.mark.django_db
UTC = UTC


def series(symbol):
    return list(
        Tick.objects.filter(ticker__symbol=symbol)
        .order_by("time")
        .values_list("seq", "time", "price")
    )


def test_generate_advances_active_tickers_on_their_grid_up_to_now():
    Ticker.objects.filter(symbol="HEALTH").update(is_active=False)
    now = datetime(2026, 11, 28, 12, 0, 0, 50_000, tzinfo=UTC)
    result = ticks_generate_steps(now=now, max_steps=30)
    assert result.ticks == 4 * 30
    assert result.per_ticker == {"ENERGY": 30, "FINANCE": 30, "SYNTH": 30, "TECH": 30}
    rows = series("SYNTH")
    assert [r[0] for r in rows] == list(range(30))
    assert rows[-1][1] == datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)  # last grid point <= now
    assert all(int(r[1].timestamp() * 1000) % 100 == 0 for r in rows)
    assert not Tick.objects.filter(ticker__symbol="HEALTH").exists()
    assert Bar.objects.filter(ticker__symbol="SYNTH", timeframe="1m").count() >= 1
    # Nothing is due until the next grid point.
    assert ticks_generate_steps(now=now + timedelta(milliseconds=49), max_steps=30).ticks == 0
    later = ticks_generate_steps(now=now + timedelta(seconds=1), max_steps=30)
    assert later.per_ticker["SYNTH"] == 10
    assert [r[0] for r in series("SYNTH")] == list(range(40))


def test_one_call_of_many_steps_equals_many_calls_of_few():
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    ticks_generate_steps(now=now, max_steps=40)
    once = series("TECH")
    Tick.objects.all().delete()
    TickerState.objects.all().delete()
    start = now - timedelta(seconds=4)
    ticks_generate_steps(now=start + timedelta(seconds=1), max_steps=10)
    for k in range(2, 5):
        ticks_generate_steps(now=start + timedelta(seconds=k), max_steps=40)
    assert series("TECH") == once


def test_the_command_refuses_while_the_live_pipeline_runs(live_redis):
    from ticks.live import ticks_generate

    ticks_generate(now=datetime.now(UTC))
    with pytest.raises(CommandError, match="live pipeline is generating"):
        call_command("generate", steps=5)
    assert Tick.objects.count() == 0


def test_the_command_reports_and_validates(live_redis, capsys):
    call_command("generate", steps=5)
    assert "Generated 25 ticks" in capsys.readouterr().out
    with pytest.raises(CommandError, match="at least 1"):
        call_command("generate", steps=0)
