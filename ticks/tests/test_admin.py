"""The ticker admin: changelist columns, search and filters, editing with validation, the read-only
symbol, adding with a random seed, list-editable and bulk (de)activation, protected deletion, and
the recent ticks/bars summaries on the change page.

Ticks are inserted within today (UTC): the ticks table is partitioned by day and migrate creates
partitions from yesterday to a few days ahead.
"""

import re
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser

import pytest
from django.utils import formats
from django.utils import timezone as dj_timezone
from django.utils.html import escape

from ticks.config_version import config_version
from ticks.fields import SEED_MAX
from ticks.models import Bar, Tick, Ticker
from ticks.redis_store import get_redis, key

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/ticks/ticker/"
ADD = "/admin/ticks/ticker/add/"
SEEDED = ["ENERGY", "FINANCE", "HEALTH", "SYNTH", "TECH"]  # changelist order: by symbol

# The seeded rows as the changelist shows them (migration 0002), before any tick exists.
SEEDED_ROWS = {
    "ENERGY": ("Energy Solutions", "Energy", "65.00", "0.02", "0.25", "10.00", "300.00"),
    "FINANCE": ("Finance Holdings", "Finance", "85.00", "0.03", "0.15", "20.00", "500.00"),
    "HEALTH": ("Healthcare Partners", "Healthcare", "180.00", "0.06", "0.18", "30.00", "800.00"),
    "SYNTH": ("Synthetic Corp", "Technology", "150.00", "0.05", "0.2", "10.00", "1000.00"),
    "TECH": ("Tech Innovations", "Technology", "320.00", "0.08", "0.3", "50.00", "2000.00"),
}


def change_url(ticker: Ticker) -> str:
    return f"/admin/ticks/ticker/{ticker.pk}/change/"


def delete_url(ticker: Ticker) -> str:
    return f"/admin/ticks/ticker/{ticker.pk}/delete/"


def today_utc(hours: float = 0, **delta) -> datetime:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(hours=hours, **delta)


def add_ticks(ticker: Ticker, rows) -> None:
    """``rows``: (time, seq, price, volume); bid/ask are 5 cents either side of the price."""
    Tick.objects.bulk_create(
        [
            Tick(
                ticker=ticker,
                time=when,
                seq=seq,
                price=Decimal(price),
                bid=Decimal(price) - Decimal("0.05"),
                ask=Decimal(price) + Decimal("0.05"),
                volume=volume,
            )
            for when, seq, price, volume in rows
        ]
    )


def add_bar(ticker: Ticker, when: datetime, timeframe: str = "1m", close: str = "150.30") -> Bar:
    return Bar.objects.create(
        ticker=ticker,
        timeframe=timeframe,
        time=when,
        open=Decimal("150.00"),
        high=Decimal("150.50"),
        low=Decimal("149.90"),
        close=Decimal(close),
        volume=1200,
        trade_count=600,
        vwap=Decimal("150.1234"),
    )


def snapshot(ticker: Ticker) -> dict:
    return Ticker.objects.filter(pk=ticker.pk).values().get()


def form_data(ticker: Ticker, **overrides) -> dict:
    """The change form as the browser posts it, with ``overrides`` (None drops a field)."""
    data = {
        "name": ticker.name,
        "sector": ticker.sector,
        "is_active": "on",
        "start_price": str(ticker.start_price),
        "drift": repr(ticker.drift),
        "volatility": repr(ticker.volatility),
        "min_price": str(ticker.min_price),
        "max_price": str(ticker.max_price),
        "tick_interval_ms": str(ticker.tick_interval_ms),
        "seed": "" if ticker.seed is None else str(ticker.seed),
        "volatility_model": ticker.volatility_model,
        "vol_of_vol": repr(ticker.vol_of_vol),
        "vol_half_life_short": repr(ticker.vol_half_life_short),
        "vol_half_life_long": repr(ticker.vol_half_life_long),
        "leverage": repr(ticker.leverage),
        "jump_rate": repr(ticker.jump_rate),
        "jump_mean": repr(ticker.jump_mean),
        "jump_spread": repr(ticker.jump_spread),
        "calendar": ticker.calendar,
        "extended_hours": "on",
        "_save": "Save",
    }
    if not ticker.is_active:
        del data["is_active"]
    if not ticker.extended_hours:
        del data["extended_hours"]
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


NEW_TICKER = Ticker(
    name="Acme Corp",
    sector="Industrials",
    start_price=Decimal("100.00"),
    drift=0.04,
    volatility=0.22,
    min_price=Decimal("5.00"),
    max_price=Decimal("900.00"),
    tick_interval_ms=250,
)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


class _ChangelistRows(HTMLParser):
    """``{symbol: {column: text}}`` from the changelist table (``is_active`` as a bool)."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self._in_body = False
        self._column: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append({})
        elif self._in_body and tag in ("td", "th"):
            match = re.search(r"\bfield-(\w+)", attrs.get("class") or "")
            self._column = match.group(1) if match else None
            if self._column:
                self.rows[-1][self._column] = ""
        elif self._column == "is_active" and tag == "input":
            self.rows[-1]["is_active"] = "checked" in attrs

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag in ("td", "th"):
            self._column = None

    def handle_data(self, data):
        if self._column and self._column != "is_active":
            self.rows[-1][self._column] += data.strip()


def changelist_rows(response) -> dict[str, dict]:
    assert response.status_code == 200
    parser = _ChangelistRows()
    parser.feed(response.content.decode())
    return {row["symbol"]: row for row in parser.rows}


def seeded_row(symbol: str, *, active=True, last_price="-", last_tick="-") -> dict:
    name, sector, _start, _drift, vol, _low, _high = SEEDED_ROWS[symbol]
    return {
        "symbol": symbol,
        "name": name,
        "sector": sector,
        "volatility": vol,
        "calendar": "24/7",
        "is_active": active,
        "last_price": last_price,
        "last_tick_time": last_tick,
    }


def readonly_value(response, field: str) -> str | list[list[str]]:
    """A read-only field of the change page: its text, or its table's body rows."""
    html = response.content.decode()
    match = re.search(
        rf'class="form-row field-{field}">.*?<div class="readonly">(.*?)</div>', html, re.S
    )
    assert match, f"no read-only {field} on the page"
    inner = match.group(1)
    if "<table>" not in inner:
        return unescape(inner.strip())
    body = inner.split("<tbody>", 1)[1]
    return [
        [unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]


@pytest.fixture
def config_bumps(settings, django_capture_on_commit_callbacks):
    """``with config_bumps(n): ...`` asserts the Redis config version moves by exactly ``n``, and
    only when the transaction commits. A key prefix of its own keeps other tests' bumps out."""
    settings.MARKET_REDIS_PREFIX = f"test-admin-{uuid.uuid4().hex}"

    @contextmanager
    def expect(by: int):
        before = config_version()
        with django_capture_on_commit_callbacks(execute=True):
            yield
            assert config_version() == before, "bumped before the commit"
        assert config_version() == before + by

    try:
        yield expect
    finally:
        get_redis().delete(key("config", "version"))


@pytest.fixture
def synth():
    return Ticker.objects.get(symbol="SYNTH")


# --- The changelist -------------------------------------------------------------------------------


def test_admin_requires_a_staff_login(client):
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={CHANGELIST}"


def test_changelist_lists_the_seeded_tickers_without_ticks(admin_client):
    response = admin_client.get(CHANGELIST)
    assert list(changelist_rows(response)) == SEEDED
    assert changelist_rows(response) == {symbol: seeded_row(symbol) for symbol in SEEDED}
    assert "5 tickers" in response.content.decode()


def test_changelist_shows_the_newest_tick(admin_client, synth):
    newest = today_utc(3, seconds=15)
    # Inserted out of time order, and the newest has neither the highest price nor the highest seq.
    add_ticks(
        synth,
        [
            (today_utc(1), 7, "150.10", 4),
            (newest, 5, "151.25", 2),
            (today_utc(2), 9, "152.40", 3),
        ],
    )
    response = admin_client.get(CHANGELIST)
    shown = formats.localize(dj_timezone.template_localtime(newest))
    assert changelist_rows(response) == {
        symbol: seeded_row(
            symbol, **({"last_price": "151.25", "last_tick": shown} if symbol == "SYNTH" else {})
        )
        for symbol in SEEDED
    }
    annotated = {
        t.symbol: (t.last_price, t.last_tick_time) for t in response.context["cl"].result_list
    }
    assert annotated["SYNTH"] == (Decimal("151.25"), newest)
    assert annotated["TECH"] == (None, None)


@pytest.mark.parametrize(
    "query,symbols",
    [
        ("q=SYNTH", ["SYNTH"]),
        ("q=synth", ["SYNTH"]),  # case-insensitive
        ("q=fin", ["FINANCE"]),
        ("q=Healthcare", ["HEALTH"]),  # by name or sector too
        ("q=tech", ["SYNTH", "TECH"]),  # TECH by symbol, SYNTH by its sector "Technology"
        ("q=NOPE", []),
        ("sector=Technology", ["SYNTH", "TECH"]),  # the filter's own links use `sector=`
        ("sector=Energy", ["ENERGY"]),
        ("is_active__exact=1", SEEDED),
        ("is_active__exact=0", []),
        ("sector=Technology&q=synth", ["SYNTH"]),
        ("sector=Technology&is_active__exact=1", ["SYNTH", "TECH"]),
    ],
)
def test_search_and_filters_narrow_the_list(admin_client, query, symbols):
    response = admin_client.get(f"{CHANGELIST}?{query}")
    assert list(changelist_rows(response)) == symbols


def test_active_filter_after_deactivating(admin_client):
    Ticker.objects.filter(symbol__in=["HEALTH", "TECH"]).update(is_active=False)
    inactive = changelist_rows(admin_client.get(f"{CHANGELIST}?is_active__exact=0"))
    active = changelist_rows(admin_client.get(f"{CHANGELIST}?is_active__exact=1"))
    assert inactive == {s: seeded_row(s, active=False) for s in ("HEALTH", "TECH")}
    assert list(active) == ["ENERGY", "FINANCE", "SYNTH"]


def test_sector_filter_offers_the_sectors(admin_client):
    html = admin_client.get(CHANGELIST).content.decode()
    for sector in ("Energy", "Finance", "Healthcare", "Technology"):
        assert f'<a href="?sector={sector}">{sector}</a>' in html
    assert '<a href="?is_active__exact=0">No</a>' in html


# --- Editing --------------------------------------------------------------------------------------


def test_change_page_saves_an_edit(admin_client, synth, config_bumps):
    before = snapshot(synth)
    with config_bumps(1):
        response = admin_client.post(change_url(synth), form_data(synth, volatility="0.35"))
    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    after = snapshot(synth)
    assert after["volatility"] == 0.35
    assert after["updated_at"] > before["updated_at"]
    unchanged = {k for k in before if k not in ("volatility", "updated_at")}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}


def test_change_page_saves_several_fields(admin_client, synth, config_bumps):
    with config_bumps(1):
        response = admin_client.post(
            change_url(synth),
            form_data(
                synth,
                name="Synthetic Corp II",
                drift="-0.1",
                min_price="20.00",
                max_price="400.00",
                tick_interval_ms="60000",
                seed="7",
                is_active=None,
            ),
        )
    assert response.status_code == 302
    stored = snapshot(synth)
    assert {
        k: stored[k]
        for k in (
            "name",
            "drift",
            "min_price",
            "max_price",
            "tick_interval_ms",
            "seed",
            "is_active",
            "start_price",
            "symbol",
        )
    } == {
        "name": "Synthetic Corp II",
        "drift": -0.1,
        "min_price": Decimal("20.00"),
        "max_price": Decimal("400.00"),
        "tick_interval_ms": 60000,
        "seed": 7,
        "is_active": False,
        "start_price": Decimal("150.00"),
        "symbol": "SYNTH",
    }


@pytest.mark.parametrize(
    "overrides,errors",
    [
        ({"min_price": "1000.00"}, {"max_price": ["Max price must be greater than min price."]}),
        (
            {"min_price": "2000.00", "max_price": "100.00"},
            {"max_price": ["Max price must be greater than min price."]},
        ),
        (
            {"start_price": "9.99"},
            {"start_price": ["Start price must lie within [10.00, 1000.00]."]},
        ),
        (
            {"start_price": "1000.01"},
            {"start_price": ["Start price must lie within [10.00, 1000.00]."]},
        ),
        ({"volatility": "6"}, {"volatility": ["Ensure this value is less than or equal to 5.0."]}),
        (
            {"volatility": "-0.1"},
            {"volatility": ["Ensure this value is greater than or equal to 0.0."]},
        ),
        ({"drift": "-6"}, {"drift": ["Ensure this value is greater than or equal to -5.0."]}),
        (
            {"tick_interval_ms": "0"},
            {"tick_interval_ms": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"tick_interval_ms": "60001"},
            {"tick_interval_ms": ["Ensure this value is less than or equal to 60000."]},
        ),
        ({"tick_interval_ms": "2.5"}, {"tick_interval_ms": ["Enter a whole number."]}),
        (
            {"min_price": "0.00"},
            {"min_price": ["Ensure this value is greater than or equal to 0.01."]},
        ),
        ({"seed": "-1"}, {"seed": ["Ensure this value is greater than or equal to 0."]}),
        ({"name": ""}, {"name": ["This field is required."]}),
    ],
    ids=[
        "min-eq-max",
        "min-above-max",
        "start-below",
        "start-above",
        "vol-6",
        "vol-negative",
        "drift-6",
        "interval-0",
        "interval-60001",
        "interval-fraction",
        "min-zero",
        "seed-negative",
        "name-blank",
    ],
)
def test_bad_edit_rerenders_with_the_field_error_and_changes_nothing(
    admin_client, synth, config_bumps, overrides, errors
):
    before = snapshot(synth)
    with config_bumps(0):
        response = admin_client.post(change_url(synth), form_data(synth, **overrides))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    html = response.content.decode()
    assert "Please correct the error below." in html
    ((field, (message,)),) = errors.items()
    assert re.search(
        rf'<ul class="errorlist" id="id_{field}_error"><li>{re.escape(escape(message))}</li></ul>',
        html,
    )
    assert snapshot(synth) == before


def test_symbol_is_read_only_on_the_change_page(admin_client, synth, config_bumps):
    page = admin_client.get(change_url(synth))
    html = page.content.decode()
    assert 'name="symbol"' not in html
    assert readonly_value(page, "symbol") == "SYNTH"
    with config_bumps(1):
        response = admin_client.post(
            change_url(synth), form_data(synth, symbol="OTHER", volatility="0.25")
        )
    assert response.status_code == 302
    stored = snapshot(synth)
    assert (stored["symbol"], stored["volatility"]) == ("SYNTH", 0.25)
    assert not Ticker.objects.filter(symbol="OTHER").exists()


# --- Adding ---------------------------------------------------------------------------------------


def test_add_page_creates_a_ticker_with_a_random_seed(admin_client, config_bumps):
    page = admin_client.get(ADD)
    assert page.status_code == 200
    assert 'name="symbol"' in page.content.decode()
    with config_bumps(2):
        first = admin_client.post(ADD, form_data(NEW_TICKER, symbol="acme"))
        second = admin_client.post(ADD, form_data(NEW_TICKER, symbol="Acme-2", seed=""))
    assert (first.status_code, second.status_code) == (302, 302)
    # Stored upper-case (lookups upper-case their argument too, so compare the stored values).
    assert sorted(Ticker.objects.values_list("symbol", flat=True)) == sorted(
        [*SEEDED, "ACME", "ACME-2"]
    )
    acme = Ticker.objects.get(symbol="ACME")
    created = (
        Ticker.objects.filter(pk=acme.pk)
        .values(
            "symbol",
            "name",
            "sector",
            "start_price",
            "drift",
            "volatility",
            "min_price",
            "max_price",
            "tick_interval_ms",
            "is_active",
        )
        .get()
    )
    assert created == {
        "symbol": "ACME",
        "name": "Acme Corp",
        "sector": "Industrials",
        "start_price": Decimal("100.00"),
        "drift": 0.04,
        "volatility": 0.22,
        "min_price": Decimal("5.00"),
        "max_price": Decimal("900.00"),
        "tick_interval_ms": 250,
        "is_active": True,
    }
    other = Ticker.objects.get(symbol="ACME-2")
    assert 0 <= acme.seed <= SEED_MAX and 0 <= other.seed <= SEED_MAX
    assert acme.seed != other.seed
    assert first["Location"] == CHANGELIST


def test_add_page_keeps_an_explicit_seed(admin_client):
    response = admin_client.post(ADD, form_data(NEW_TICKER, symbol="SEEDED1", seed="42"))
    assert response.status_code == 302
    assert Ticker.objects.get(symbol="SEEDED1").seed == 42


@pytest.mark.parametrize(
    "symbol,errors",
    [
        ("AB CD", {"symbol": ["A symbol is 1–12 characters of A–Z, 0–9, '.' and '-'."]}),
        ("A/B", {"symbol": ["A symbol is 1–12 characters of A–Z, 0–9, '.' and '-'."]}),
        ("A" * 13, {"symbol": ["Ensure this value has at most 12 characters (it has 13)."]}),
        ("", {"symbol": ["This field is required."]}),
        ("synth", {"symbol": ["Ticker with this Symbol already exists."]}),
    ],
    ids=["space", "slash", "too-long", "blank", "duplicate-lower-case"],
)
def test_add_page_rejects_a_bad_symbol(admin_client, config_bumps, symbol, errors):
    count = Ticker.objects.count()
    with config_bumps(0):
        response = admin_client.post(ADD, form_data(NEW_TICKER, symbol=symbol))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert escape(errors["symbol"][0]) in response.content.decode()
    assert Ticker.objects.count() == count


def test_add_page_rejects_bounds_that_do_not_fit(admin_client):
    response = admin_client.post(ADD, form_data(NEW_TICKER, symbol="BOUNDS", start_price="1.00"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "start_price": ["Start price must lie within [5.00, 900.00]."]
    }
    assert not Ticker.objects.filter(symbol="BOUNDS").exists()


# --- Activation -----------------------------------------------------------------------------------


def _changelist_formset(active: dict[str, bool]) -> dict:
    tickers = list(Ticker.objects.order_by("symbol"))
    data = {
        "form-TOTAL_FORMS": str(len(tickers)),
        "form-INITIAL_FORMS": str(len(tickers)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for i, ticker in enumerate(tickers):
        data[f"form-{i}-id"] = str(ticker.pk)
        if active.get(ticker.symbol, ticker.is_active):
            data[f"form-{i}-is_active"] = "on"
    return data


def _active_flags() -> dict[str, bool]:
    return dict(Ticker.objects.order_by("symbol").values_list("symbol", "is_active"))


def test_list_editable_is_active(admin_client, config_bumps):
    with config_bumps(1):
        response = admin_client.post(
            CHANGELIST, _changelist_formset({"HEALTH": False}), follow=True
        )
    assert messages_of(response) == ["1 ticker was changed successfully."]
    assert _active_flags() == {s: s != "HEALTH" for s in SEEDED}
    with config_bumps(2):
        admin_client.post(CHANGELIST, _changelist_formset({"HEALTH": True, "TECH": False}))
    assert _active_flags() == {s: s != "TECH" for s in SEEDED}


def _action(name: str, *symbols: str) -> dict:
    ids = Ticker.objects.filter(symbol__in=symbols).values_list("pk", flat=True)
    return {"action": name, "_selected_action": [str(pk) for pk in ids], "index": "0"}


def test_deactivate_and_activate_actions(admin_client, config_bumps):
    with config_bumps(1):
        response = admin_client.post(
            CHANGELIST, _action("deactivate", "SYNTH", "TECH"), follow=True
        )
    assert messages_of(response) == ["Deactivated 2 ticker(s)."]
    assert _active_flags() == {s: s not in ("SYNTH", "TECH") for s in SEEDED}

    with config_bumps(1):
        response = admin_client.post(
            CHANGELIST, _action("activate", "SYNTH", "TECH", "ENERGY"), follow=True
        )
    assert messages_of(response) == ["Activated 2 ticker(s)."]  # ENERGY was active already
    assert _active_flags() == {s: True for s in SEEDED}


def test_actions_are_offered(admin_client):
    html = admin_client.get(CHANGELIST).content.decode()
    assert '<option value="activate">Activate selected tickers</option>' in html
    assert '<option value="deactivate">Deactivate selected tickers</option>' in html


# --- Deleting -------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["ticks", "bars"])
def test_deleting_a_ticker_with_data_is_refused(admin_client, synth, config_bumps, data):
    if data == "ticks":
        add_ticks(synth, [(today_utc(1), 1, "150.00", 1)])
    else:
        add_bar(synth, today_utc(1))
    page = admin_client.get(delete_url(synth))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Cannot delete ticker" in html
    assert "would require deleting the following protected related objects" in html
    assert 'name="post"' not in html  # no confirm button

    with config_bumps(0):
        response = admin_client.post(delete_url(synth), {"post": "yes"})
    assert response.status_code == 200  # the refusal page again, nothing deleted
    assert "Cannot delete ticker" in response.content.decode()
    assert Ticker.objects.filter(pk=synth.pk).exists()
    assert Tick.objects.filter(ticker=synth).count() == (1 if data == "ticks" else 0)
    assert Bar.objects.filter(ticker=synth).count() == (1 if data == "bars" else 0)


def test_deleting_a_ticker_without_data_works(admin_client, config_bumps):
    energy = Ticker.objects.get(symbol="ENERGY")
    page = admin_client.get(delete_url(energy))
    assert page.status_code == 200
    assert "Are you sure you want to delete the ticker" in page.content.decode()
    with config_bumps(1):
        response = admin_client.post(delete_url(energy), {"post": "yes"}, follow=True)
    assert messages_of(response) == ["The ticker “ENERGY” was deleted successfully."]
    assert list(Ticker.objects.order_by("symbol").values_list("symbol", flat=True)) == [
        s for s in SEEDED if s != "ENERGY"
    ]


# --- Recent data on the change page ---------------------------------------------------------------


def _ms(when: datetime) -> str:
    return when.isoformat(sep=" ", timespec="milliseconds")[:23]


def test_change_page_shows_recent_ticks_and_bars(admin_client, synth):
    base = today_utc(1)
    # 12 ticks 100 ms apart; only the newest 10 are shown, newest first.
    add_ticks(
        synth,
        [
            (base + timedelta(milliseconds=100 * k), 100 + k, f"{150 + k}.25", k + 1)
            for k in range(12)
        ],
    )
    for minute in range(3):
        add_bar(synth, base + timedelta(minutes=minute), close=f"150.3{minute}")
    add_bar(synth, base, timeframe="5m")  # not a 1-minute bar: not shown
    add_ticks(Ticker.objects.get(symbol="TECH"), [(base + timedelta(hours=1), 1, "999.00", 1)])

    response = admin_client.get(change_url(synth))
    assert response.status_code == 200
    assert readonly_value(response, "recent_ticks") == [
        [
            _ms(base + timedelta(milliseconds=100 * k)),
            str(100 + k),
            f"{150 + k}.25",
            f"{150 + k}.20",
            f"{150 + k}.30",
            str(k + 1),
        ]
        for k in range(11, 1, -1)
    ]
    assert readonly_value(response, "recent_bars") == [
        [
            (base + timedelta(minutes=minute)).strftime("%Y-%m-%d %H:%M"),
            "150.00",
            "150.50",
            "149.90",
            f"150.3{minute}",
            "1200",
            "600",
            "150.1234",
        ]
        for minute in (2, 1, 0)
    ]
    html = response.content.decode()
    assert "Last 10 ticks" in html and "Last 10 1-minute bars" in html


def test_change_page_without_data_says_so(admin_client):
    response = admin_client.get(change_url(Ticker.objects.get(symbol="ENERGY")))
    assert response.status_code == 200
    assert readonly_value(response, "recent_ticks") == "No ticks yet."
    assert readonly_value(response, "recent_bars") == "No bars yet."


def test_add_page_has_no_recent_data_section(admin_client):
    html = admin_client.get(ADD).content.decode()
    assert "field-recent_ticks" not in html
    assert "No ticks yet." not in html


def test_volatility_model_and_jumps_are_edited_and_applied_live(admin_client, synth, config_bumps):
    with config_bumps(1):
        response = admin_client.post(
            change_url(synth),
            form_data(
                synth,
                volatility_model="stochastic",
                vol_of_vol="0.7",
                vol_half_life_short="120",
                vol_half_life_long="86400",
                leverage="-0.6",
                jump_rate="12",
                jump_mean="-0.02",
                jump_spread="0.03",
            ),
        )
    assert response.status_code == 302
    assert Ticker.objects.filter(pk=synth.pk).values(
        "volatility_model", "vol_of_vol", "vol_half_life_short", "vol_half_life_long",
        "leverage", "jump_rate", "jump_mean", "jump_spread",
    ).get() == {
        "volatility_model": "stochastic", "vol_of_vol": 0.7, "vol_half_life_short": 120.0,
        "vol_half_life_long": 86400.0, "leverage": -0.6, "jump_rate": 12.0,
        "jump_mean": -0.02, "jump_spread": 0.03,
    }  # fmt: skip


@pytest.mark.parametrize(
    "overrides,errors",
    [
        (
            {"volatility_model": "garch"},
            {
                "volatility_model": [
                    "Select a valid choice. garch is not one of the available choices."
                ]
            },
        ),
        (
            {"vol_half_life_short": "7200", "vol_half_life_long": "3600"},
            {"vol_half_life_long": ["The long half-life must be longer than the short one."]},
        ),
        (
            {"leverage": "-1.5"},
            {"leverage": ["Ensure this value is greater than or equal to -1.0."]},
        ),
        ({"vol_of_vol": "2"}, {"vol_of_vol": ["Ensure this value is less than or equal to 1.5."]}),
        (
            {"jump_rate": "-1"},
            {"jump_rate": ["Ensure this value is greater than or equal to 0.0."]},
        ),
        ({"jump_spread": "abc"}, {"jump_spread": ["Enter a number."]}),
    ],
)
def test_bad_model_parameters_are_rejected_and_change_nothing(
    admin_client, synth, overrides, errors
):
    before = snapshot(synth)
    response = admin_client.post(change_url(synth), form_data(synth, **overrides))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert snapshot(synth) == before


# --- Trading sessions ----------------------------------------------------------------------------


def test_the_calendar_is_chosen_from_the_libraries_codes(admin_client, synth):
    html = admin_client.get(change_url(synth)).content.decode()
    select = re.search(r'<select name="calendar"[^>]*>(.*?)</select>', html, re.S).group(1)
    options = re.findall(r'<option value="([^"]*)"', select)
    assert options[0] == "24/7" and {"XNYS", "XNAS", "XLON", "XTKS", "XHKG"} <= set(options)
    assert re.search(r'<option value="24/7"[^>]*selected>', select)
    assert "Available for XNAS and XNYS only." in html


def test_a_calendar_edit_is_saved_and_applied_live(admin_client, synth, config_bumps):
    before = snapshot(synth)
    with config_bumps(1):  # running processes reload the configs, as for every field
        response = admin_client.post(
            change_url(synth), form_data(synth, calendar="XNYS", extended_hours="on")
        )
    assert response.status_code == 302
    after = snapshot(synth)
    assert (after["calendar"], after["extended_hours"]) == ("XNYS", True)
    unchanged = {k for k in before if k not in ("calendar", "extended_hours", "updated_at")}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    rows = changelist_rows(admin_client.get(CHANGELIST))
    assert rows["SYNTH"]["calendar"] == "XNYS" and rows["TECH"]["calendar"] == "24/7"
    filtered = changelist_rows(admin_client.get(f"{CHANGELIST}?calendar=XNYS"))
    assert list(filtered) == ["SYNTH"]


@pytest.mark.parametrize(
    "overrides,errors",
    [
        (
            {"calendar": "XLON", "extended_hours": "on"},
            {
                "extended_hours": [
                    "extended hours are not available for XLON: only XNAS and XNYS have pre- "
                    "and post-market periods"
                ]
            },
        ),
        (
            {"calendar": "24/7", "extended_hours": "on"},
            {
                "extended_hours": [
                    "extended hours are not available for a 24/7 market: only XNAS and XNYS "
                    "have pre- and post-market periods"
                ]
            },
        ),
        (
            {"calendar": "NYSE"},
            {
                "calendar": [
                    "unknown calendar 'NYSE': use '24/7' or an exchange code such as XNYS, "
                    "XNAS, XLON, XTKS or XHKG (the exchange-calendars package's names)"
                ]
            },
        ),
    ],
)
def test_bad_calendars_are_refused_with_the_reason_and_change_nothing(
    admin_client, synth, overrides, errors
):
    before = snapshot(synth)
    response = admin_client.post(change_url(synth), form_data(synth, **overrides))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert snapshot(synth) == before


def test_a_listed_calendar_the_library_cannot_build_is_refused(admin_client, synth):
    response = admin_client.post(change_url(synth), form_data(synth, calendar="ASEX"))
    assert response.status_code == 200
    (message,) = response.context["adminform"].form.errors["calendar"]
    assert message.startswith("calendar ASEX cannot be used")
