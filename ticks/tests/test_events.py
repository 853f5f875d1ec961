"""Scenario events (ticks.events) against the real PostgreSQL and Redis: validation, the
server-set start, cancel and resume, and the live market: halts (no ticks, consecutive seq,
statuses in order with the ticks), an admin-created event applied within one cycle, bit-identical
regeneration after Redis lost a window with events, and a backfill over a past event."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from ticks import events, live_configs
from ticks.backfill import plan_backfill, write_plan
from ticks.event_cycle import _announced
from ticks.events import event_cancel, event_create, halt_windows, reset_halt_cache
from ticks.flush import ticks_flush
from ticks.live import ticks_generate
from ticks.live_store import KEYS
from ticks.market import to_ms
from ticks.models import MarketEvent, Ticker

from .live_helpers import db_ticks, replay

pytestmark = pytest.mark.django_db
UTC = UTC
S = timedelta(seconds=1)


@pytest.fixture(autouse=True)
def _fresh():
    reset_halt_cache()
    _announced.clear()
    yield
    reset_halt_cache()
    _announced.clear()


@pytest.fixture
def create(django_capture_on_commit_callbacks):
    def make(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return event_create(**kwargs)

    return make


class Heard:
    """Ticks and statuses in the order the domain announced them."""

    def __init__(self) -> None:
        self.log: list[tuple] = []

    def on_ticks(self, ticks_by_symbol) -> None:
        for symbol, ticks in ticks_by_symbol.items():
            self.log += [("tick", symbol, t.time_ms, t.seq) for t in ticks]

    def on_statuses(self, statuses) -> None:
        self.log += [("status", s.ticker, s.time_ms, s.status, s.reason) for s in statuses]


@pytest.fixture
def heard():
    from ticks import announce

    listener = Heard()
    announce.register(listener)
    yield listener
    announce.unregister(listener)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"kind": "move", "scope": "market", "change_pct": -10}, "duration"),
        ({"kind": "move", "scope": "market", "duration": 300 * S}, "change_pct"),
        ({"kind": "move", "scope": "market", "change_pct": -95, "duration": S}, "change_pct"),
        ({"kind": "gap", "scope": "market", "change_pct": 5, "duration": S}, "duration"),
        ({"kind": "gap", "scope": "market", "change_pct": 500}, "change_pct"),
        ({"kind": "volatility", "scope": "market", "vol_factor": 50, "duration": S}, "vol_factor"),
        ({"kind": "volatility", "scope": "market", "vol_factor": 1, "duration": S}, "vol_factor"),
        ({"kind": "halt", "scope": "market", "duration": timedelta(days=8)}, "duration"),
        ({"kind": "halt", "scope": "market", "duration": S, "change_pct": 3}, "change_pct"),
        ({"kind": "halt", "scope": "sector", "duration": S}, "sector"),
        ({"kind": "halt", "scope": "sector", "sector": "Nowhere", "duration": S}, "sector"),
        ({"kind": "halt", "scope": "ticker", "duration": S}, "ticker"),
        ({"kind": "halt", "scope": "market", "sector": "Energy", "duration": S}, "sector"),
        ({"kind": "crash", "scope": "market"}, "kind"),
        ({"kind": "halt", "scope": "galaxy", "duration": S}, "scope"),
    ],
)
def test_bad_events_are_refused_with_a_clear_error_and_nothing_written(kwargs, field, create):
    with pytest.raises(ValidationError) as caught:
        create(**kwargs)
    assert field in caught.value.message_dict
    assert MarketEvent.objects.count() == 0


def test_a_gap_across_a_bound_is_refused(create):
    Ticker.objects.filter(symbol="SYNTH").update(max_price="155")
    with pytest.raises(ValidationError) as caught:
        create(kind="gap", scope="sector", sector="Technology", change_pct=5)
    message = caught.value.message_dict["change_pct"][0]
    assert "SYNTH 150.00 → 157.50, above its max price 155.00" in message
    assert MarketEvent.objects.count() == 0
    create(kind="gap", scope="sector", sector="Technology", change_pct=3)  # 154.50: fine


def test_the_start_is_after_the_newest_tick_of_every_ticker_touched(live_redis, t0, create):
    ticks_generate(now=t0 + 5 * S)  # the market's newest ticks are ahead of "now"
    event = create(kind="halt", scope="market", duration=10 * S, now=t0)
    assert event.start == t0 + 6 * S  # newest tick + the lead, up to a whole second
    assert event.end == event.start + 10 * S
    assert set(event.tickers.values_list("symbol", flat=True)) == set(
        Ticker.objects.values_list("symbol", flat=True)
    )
    later = create(kind="gap", scope="ticker", ticker=Ticker.objects.get(symbol="TECH"),
                   change_pct=-4, start=t0 + 60 * S, now=t0)  # fmt: skip
    assert later.start == later.end == t0 + 60 * S  # a future start is kept
    past = create(kind="gap", scope="market", change_pct=2, start=t0 - 60 * S, now=t0)
    assert past.start == t0 + 6 * S  # never in the past


def test_halts_do_not_overlap_and_a_resume_ends_one_early(live_redis, t0, create):
    halt = create(kind="halt", scope="sector", sector="Technology", duration=60 * S, now=t0)
    with pytest.raises(ValidationError, match="overlap another halt of SYNTH, TECH"):
        create(kind="halt", scope="market", duration=10 * S, start=halt.start + 30 * S, now=t0)
    create(kind="halt", scope="market", duration=10 * S, start=halt.end, now=t0)  # right after
    with pytest.raises(ValidationError, match="No halt of these tickers is running"):
        create(kind="resume", scope="ticker", ticker=Ticker.objects.get(symbol="ENERGY"),
               start=halt.start + 20 * S, now=t0)  # fmt: skip
    resume = create(kind="resume", scope="market", start=halt.start + 20 * S, now=t0)
    assert set(resume.tickers.values_list("symbol", flat=True)) == {"SYNTH", "TECH"}
    cut = [w for w in halt_windows() if w.event_id == halt.pk]
    assert {(w.symbol, w.end_ms - w.start_ms) for w in cut} == {("SYNTH", 20_000), ("TECH", 20_000)}


def test_only_a_future_event_can_be_cancelled(live_redis, t0, create):
    event = create(kind="move", scope="market", change_pct=-10, duration=300 * S, now=t0)
    with pytest.raises(ValidationError, match="has started"):
        event_cancel(event=event, now=event.start)
    event_cancel(event=event, now=t0)
    assert MarketEvent.objects.get(pk=event.pk).cancelled_at == t0
    with pytest.raises(ValidationError, match="already cancelled"):
        event_cancel(event=event, now=t0)


# --- the live market ------------------------------------------------------------------------


def test_a_halt_stores_no_ticks_and_is_announced_in_order_with_the_ticks(
    live_redis, t0, create, heard
):
    ticks_generate(now=t0)
    synth = Ticker.objects.get(symbol="SYNTH")
    halt = create(kind="halt", scope="ticker", ticker=synth, duration=5 * S, reason="news pending",
                  now=t0)  # fmt: skip
    h0, h1 = to_ms(halt.start), to_ms(halt.end)
    mid = to_ms(halt.start + 2 * S)
    assert events.trading_status(symbol="SYNTH", active=True, at_ms=mid) == "halted"
    assert events.trading_status(symbol="SYNTH", active=True, at_ms=h1) == "trading"
    assert events.trading_status(symbol="TECH", active=True, at_ms=mid) == "trading"
    for seconds in range(1, 11):  # one beat a second, across the whole halt
        ticks_generate(now=t0 + seconds * S)
    ticks = replay(live_redis, "SYNTH")
    times = [t["timestamp"] for t in ticks]
    assert not [t for t in times if h0 <= t < h1]
    assert [t["seq"] for t in ticks] == list(range(len(ticks)))  # consecutive across it
    assert times[times.index(h0 - 100) + 1] == h1  # the grid goes on at its end
    assert len(replay(live_redis, "TECH")) == 101  # the others trade on
    synth_log = [e for e in heard.log if e[1] == "SYNTH"]
    statuses = [e for e in synth_log if e[0] == "status"]
    assert statuses == [
        ("status", "SYNTH", h0, "halted", "news pending"),
        ("status", "SYNTH", h1, "trading", "halt ended"),
    ]
    at = [synth_log.index(s) for s in statuses]
    assert all(e[2] < h0 for e in synth_log[: at[0]])  # ticks before it, then halted
    assert synth_log[at[0] + 1] == statuses[1]  # nothing while halted
    assert all(e[0] == "tick" and e[2] >= h1 for e in synth_log[at[1] + 1 :])
    ticks_flush()
    stored = [row[1] for row in db_ticks("SYNTH")]
    assert not [t for t in stored if h0 <= to_ms(t) < h1]


def test_an_event_created_in_the_admin_applies_live_within_one_cycle(admin_client, live_redis,
                                                                     django_capture_on_commit_callbacks):  # fmt: skip
    now = timezone.now().replace(microsecond=0)
    ticks_generate(now=now)  # the generator's configs are loaded (the version they saw)
    tech = Ticker.objects.get(symbol="TECH")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/ticks/marketevent/add/",
            {"kind": "gap", "scope": "ticker", "ticker": tech.pk, "change_pct": "5"},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = MarketEvent.objects.get()
    start = to_ms(event.start)
    ticks_generate(now=event.start - timedelta(milliseconds=1))
    before = replay(live_redis, "TECH")[-1]
    ticks_generate(now=event.start)  # the first cycle at or after its start
    after = replay(live_redis, "TECH")
    first = next(t for t in after if t["timestamp"] >= start)
    assert first["timestamp"] == start and first["seq"] == before["seq"] + 1
    assert abs(first["price"] / before["price"] - 1.05) < 0.002
    steps = [b["price"] / a["price"] for a, b in zip(after, after[1:]) if b is not first]
    assert max(abs(r - 1) for r in steps) < 0.002  # the gap is the only jump
    synth = replay(live_redis, "SYNTH")
    assert max(abs(b["price"] / a["price"] - 1) for a, b in zip(synth, synth[1:])) < 0.002


def test_an_admin_event_refused_at_save_is_an_error_message_not_a_500(admin_client, monkeypatch):
    """Another event can make the service refuse one between the form's check and the save."""
    from django.core.exceptions import ValidationError

    from ticks import events as events_module

    def refuse(**arguments):
        raise ValidationError("SYNTH already has a halt overlapping this one")

    monkeypatch.setattr(events_module, "event_create", refuse)
    tech = Ticker.objects.get(symbol="TECH")
    response = admin_client.post(
        "/admin/ticks/marketevent/add/",
        {"kind": "gap", "scope": "ticker", "ticker": tech.pk, "change_pct": "5"},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The event was not created: SYNTH already has a halt overlapping this one" in page
    assert not MarketEvent.objects.exists()
    from django.contrib.admin.models import LogEntry

    assert not LogEntry.objects.exists()


def test_regenerating_a_window_with_events_after_redis_lost_it_is_bit_identical(
    live_redis, t0, create
):
    ticks_generate(now=t0 + 1 * S)
    ticks_flush()
    tech = Ticker.objects.get(symbol="TECH")
    create(kind="move", scope="market", change_pct=-10, duration=3 * S, now=t0 + S)
    create(kind="volatility", scope="sector", sector="Technology", vol_factor=3,
           duration=4 * S, now=t0 + S)  # fmt: skip
    create(kind="gap", scope="ticker", ticker=tech, change_pct=4, start=t0 + 3500 * S / 1000,
           now=t0 + S)  # fmt: skip
    create(kind="halt", scope="sector", sector="Energy", duration=2 * S, now=t0 + S)
    for seconds in (3, 4, 6, 8):
        ticks_generate(now=t0 + seconds * S)  # never flushed...
    symbols = list(Ticker.objects.values_list("symbol", flat=True))
    lost = {s: replay(live_redis, s) for s in symbols}
    live_redis.delete(*live_redis.keys(f"{KEYS.state.rsplit(':', 1)[0]}:*"))  # ...Redis lost them
    live_configs.reset_config_cache()
    _announced.clear()
    ticks_generate(now=t0 + 8 * S)  # catch-up from the database's state
    for symbol in symbols:
        again = [t for t in replay(live_redis, symbol) if t["seq"] > 10]
        assert again == [t for t in lost[symbol] if t["seq"] > 10], symbol


def test_a_backfill_over_a_past_events_window_reproduces_it(live_redis, t0, create):
    """Ticks deleted and backfilled over a move and a halt: the same grid points, seqs and
    prices (to the cent the anchor's stored price carries)."""
    synth = Ticker.objects.get(symbol="SYNTH")
    ticks_generate(now=t0)
    create(kind="halt", scope="ticker", ticker=synth, duration=2 * S, now=t0)
    create(kind="move", scope="ticker", ticker=synth, change_pct=20, duration=3 * S,
           start=t0 + 4 * S, now=t0)  # fmt: skip
    for seconds in range(1, 13):
        ticks_generate(now=t0 + seconds * S)
    ticks_flush()
    original = db_ticks("SYNTH")
    cut = t0 + 10 * S
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ticks_tick WHERE ticker_id = %s AND time < %s", [synth.pk, cut])
    plan = plan_backfill(tickers=[synth], duration=11 * S, end=cut, now=datetime.now(UTC))
    write_plan(plan)
    again = db_ticks("SYNTH")
    assert [r[0] for r in again if r[0] < 0] == list(range(-10, 0))  # [t0 - 1 s, t0)
    again = [r for r in again if r[0] >= 0]
    assert [r[:2] for r in again] == [r[:2] for r in original]  # the halt skipped alike
    old = {r[0]: r for r in original}
    worst = max(abs(r[2] - old[r[0]][2]) for r in again)
    assert float(worst) <= 0.01
    new = {r[0]: r for r in again}
    assert math.isclose(float(new[50][2]) / float(new[10][2]), 1.2, rel_tol=0.01)  # the move
