"""Ticker validation, the read-only symbol, protected deletion, seeds, and the seeded rows."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from ticks.fields import SEED_MAX
from ticks.models import Bar, Tick, Ticker

pytestmark = pytest.mark.django_db

VALID = {
    "symbol": "ACME",
    "name": "Acme Corp",
    "sector": "Industrials",
    "start_price": Decimal("100.00"),
    "drift": 0.05,
    "volatility": 0.2,
    "min_price": Decimal("10.00"),
    "max_price": Decimal("1000.00"),
}


def make(**overrides) -> Ticker:
    return Ticker(**{**VALID, **overrides})


def errors_of(ticker: Ticker) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        ticker.full_clean()
    return info.value.message_dict


def test_valid_ticker_passes_and_saves():
    ticker = make()
    ticker.full_clean()
    ticker.save()
    assert Ticker.objects.get(symbol="ACME").tick_interval_ms == 100


@pytest.mark.parametrize("volatility", [-0.01, 5.01, 10])
def test_volatility_outside_0_to_5_is_rejected(volatility):
    assert "volatility" in errors_of(make(volatility=volatility))


@pytest.mark.parametrize("volatility", [0, 5])
def test_volatility_bounds_are_inclusive(volatility):
    make(volatility=volatility).full_clean()


@pytest.mark.parametrize("low,high", [("100", "100"), ("200", "100")])
def test_min_not_below_max_is_rejected(low, high):
    errors = errors_of(
        make(min_price=Decimal(low), max_price=Decimal(high), start_price=Decimal(low))
    )
    assert errors["max_price"] == ["Max price must be greater than min price."]


@pytest.mark.parametrize("start", ["9.99", "1000.01"])
def test_start_price_outside_bounds_is_rejected(start):
    errors = errors_of(make(start_price=Decimal(start)))
    assert errors["start_price"] == ["Start price must lie within [10.00, 1000.00]."]


@pytest.mark.parametrize("interval", [0, -5, 60001])
def test_interval_out_of_range_is_rejected(interval):
    assert "tick_interval_ms" in errors_of(make(tick_interval_ms=interval))


def test_interval_that_is_not_an_integer_is_rejected():
    assert "tick_interval_ms" in errors_of(make(tick_interval_ms="2.5"))


@pytest.mark.parametrize("interval", [1, 60000])
def test_interval_bounds_are_inclusive(interval):
    make(tick_interval_ms=interval).full_clean()


@pytest.mark.parametrize("symbol", ["", "TOOLONGSYMBOL1", "AB CD", "ÄBC", "A/B", "A_B"])
def test_bad_symbols_are_rejected(symbol):
    assert "symbol" in errors_of(make(symbol=symbol))


@pytest.mark.parametrize(
    "symbol,stored", [("brk.b", "BRK.B"), ("x-1", "X-1"), ("a" * 12, "A" * 12)]
)
def test_symbols_are_stored_upper_case(symbol, stored):
    ticker = make(symbol=symbol)
    ticker.full_clean()
    ticker.save()
    assert Ticker.objects.filter(symbol=stored).exists()


def test_symbol_uniqueness_ignores_input_case():
    make(symbol="ACME").save()
    assert "symbol" in errors_of(make(symbol="acme"))


def test_database_refuses_impossible_configs_that_skip_validation():
    with pytest.raises(IntegrityError), transaction.atomic():
        make(min_price=Decimal("500"), max_price=Decimal("100"), start_price=Decimal("200")).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        make(volatility=7).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        make(tick_interval_ms=0).save()


def test_symbol_cannot_be_changed_after_creation():
    ticker = make()
    ticker.save()
    ticker.symbol = "OTHER"
    assert errors_of(ticker)["symbol"] == ["The symbol cannot be changed after creation."]
    # Not even by skipping validation: the database refuses it.
    with pytest.raises(IntegrityError, match="read-only"), transaction.atomic():
        ticker.save()
    assert Ticker.objects.filter(symbol="ACME").exists()
    assert not Ticker.objects.filter(symbol="OTHER").exists()


def test_other_fields_stay_editable():
    ticker = make()
    ticker.save()
    ticker.volatility = 0.35
    ticker.full_clean()
    ticker.save()
    assert Ticker.objects.get(pk=ticker.pk).volatility == 0.35


def test_blank_seed_gets_a_random_one_and_an_explicit_one_is_kept():
    first, second = make(symbol="S1"), make(symbol="S2")
    first.full_clean()
    first.save()
    second.save()
    assert first.seed is not None and 0 <= first.seed <= SEED_MAX
    assert first.seed != second.seed
    assert Ticker.objects.get(pk=first.pk).seed == first.seed
    kept = make(symbol="S3", seed=42)
    kept.save()
    assert Ticker.objects.get(pk=kept.pk).seed == 42


def _tick(ticker, when):
    price = Decimal("100.00")
    return Tick(
        ticker=ticker, time=when, seq=0, price=price, bid=price - 1, ask=price + 1, volume=5
    )


def test_deleting_a_ticker_with_ticks_is_refused():
    ticker = make()
    ticker.save()
    Tick.objects.bulk_create([_tick(ticker, datetime.now(UTC))])
    with pytest.raises(ProtectedError, match="protected foreign keys"):
        ticker.delete()
    # The database refuses too, for deletes that bypass Django.
    with pytest.raises(IntegrityError, match="has ticks"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM ticks_ticker WHERE id = %s", [ticker.pk])
    assert Ticker.objects.filter(pk=ticker.pk).exists()


def test_deleting_a_ticker_with_bars_only_is_refused_and_without_data_works():
    ticker = make()
    ticker.save()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    p = Decimal("1.00")
    Bar.objects.create(
        ticker=ticker,
        timeframe="1m",
        time=now,
        open=p,
        high=p,
        low=p,
        close=p,
        volume=1,
        trade_count=1,
        vwap=p,
    )
    with pytest.raises(ProtectedError):
        ticker.delete()
    Bar.objects.filter(ticker=ticker).delete()
    ticker.delete()
    assert not Ticker.objects.filter(symbol="ACME").exists()


SEEDED = {
    # symbol: (name, sector, start, drift, vol, min, max)
    "SYNTH": ("Synthetic Corp", "Technology", "150.00", 0.05, 0.20, "10.00", "1000.00"),
    "TECH": ("Tech Innovations", "Technology", "320.00", 0.08, 0.30, "50.00", "2000.00"),
    "FINANCE": ("Finance Holdings", "Finance", "85.00", 0.03, 0.15, "20.00", "500.00"),
    "ENERGY": ("Energy Solutions", "Energy", "65.00", 0.02, 0.25, "10.00", "300.00"),
    "HEALTH": ("Healthcare Partners", "Healthcare", "180.00", 0.06, 0.18, "30.00", "800.00"),
}


def test_migration_seeds_the_five_seed_tickers():
    rows = {
        t.symbol: (
            t.name,
            t.sector,
            str(t.start_price),
            t.drift,
            t.volatility,
            str(t.min_price),
            str(t.max_price),
        )
        for t in Ticker.objects.all()
    }
    assert rows == SEEDED
    for ticker in Ticker.objects.all():
        assert ticker.is_active and ticker.tick_interval_ms == 100 and ticker.seed is not None
        ticker.full_clean()
