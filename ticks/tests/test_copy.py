"""The NumPy-built binary COPY: every value survives the round trip through PostgreSQL."""

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import psycopg
import pytest
from django.db import connection, transaction

from ticks.models import Tick, Ticker
from ticks.storage.copy import MAX_CENTS, ROW_DTYPE, copy_rows, encode_rows

pytestmark = pytest.mark.django_db


def test_row_layout_is_fixed_width():
    assert ROW_DTYPE.itemsize == 2 + 4 * (4 + 8) + 3 * (4 + 16)


def test_round_trip_of_extreme_values():
    synth = Ticker.objects.get(symbol="SYNTH")
    now_ms = int(datetime.now(UTC).timestamp() * 1000) // 100 * 100
    cents = np.array([1, 2, 99, 100, 10_000, 15_234, 99_999_999, 100_000_000, MAX_CENTS])
    n = len(cents)
    time_ms = now_ms - 100 * np.arange(n)[::-1]
    seq = np.arange(-3, n - 3, dtype=np.int64) * 1_000_000_000_000
    rows = encode_rows(
        ticker_id=np.full(n, synth.pk),
        time_ms=time_ms,
        seq=seq,
        price_cents=cents,
        bid_cents=np.maximum(cents - 1, 0),
        ask_cents=cents + 0,
        volume=np.arange(1, n + 1) * 7,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        copy_rows(cursor.connection.cursor(), rows)
    stored = list(Tick.objects.filter(ticker=synth).order_by("time"))
    assert [t.price for t in stored] == [Decimal(int(c)) / 100 for c in cents]
    assert [t.bid for t in stored] == [Decimal(int(max(c - 1, 0))) / 100 for c in cents]
    assert [t.seq for t in stored] == seq.tolist()
    assert [t.volume for t in stored] == (np.arange(1, n + 1) * 7).tolist()
    assert [int(t.time.timestamp() * 1000) for t in stored] == time_ms.tolist()
    assert all(t.time.tzinfo is not None for t in stored)


@pytest.mark.parametrize("bad", [-1, MAX_CENTS + 1])
def test_prices_outside_numeric_12_2_are_refused_before_sending(bad):
    with pytest.raises(ValueError, match="numeric"):
        encode_rows(
            ticker_id=np.array([1]),
            time_ms=np.array([0]),
            seq=np.array([0]),
            price_cents=np.array([bad]),
            bid_cents=np.array([1]),
            ask_cents=np.array([3]),
            volume=np.array([1]),
        )


def test_a_duplicate_tick_fails_the_whole_copy():
    synth = Ticker.objects.get(symbol="SYNTH")
    now_ms = int(datetime.now(UTC).timestamp() * 1000) // 100 * 100
    one = dict(
        ticker_id=np.array([synth.pk] * 2),
        time_ms=np.array([now_ms] * 2),
        seq=np.array([1, 2]),
        price_cents=np.array([100, 100]),
        bid_cents=np.array([99, 99]),
        ask_cents=np.array([101, 101]),
        volume=np.array([1, 1]),
    )
    with (
        pytest.raises(psycopg.errors.UniqueViolation),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        copy_rows(cursor.connection.cursor(), encode_rows(**one))
    assert Tick.objects.count() == 0
