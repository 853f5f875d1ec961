"""Stored ranges for the playback tests: ticks written to the database (1 tick/s, seq from 0)
and their minute bars rolled up, as the flush and the refresh leave them."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection

from ticks.models import Tick, Ticker
from ticks.rollup import bars_rollup
from ticks.storage import tick_storage


def minute_ago() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)


def store_range(symbols, *, start: datetime, seconds: int, step_s: float = 1.0) -> dict:
    """``seconds`` of ticks of each symbol from ``start``; returns ``{symbol: [(ms, seq,
    price_cents)]}``."""
    out = {}
    end = start + timedelta(seconds=seconds)
    tick_storage().ensure_room(connection, start=start, end=end)
    for n, symbol in enumerate(symbols):
        ticker = Ticker.objects.get(symbol=symbol)
        ticks, rows = [], []
        count = int(seconds / step_s)
        for seq in range(count):
            time = start + timedelta(seconds=seq * step_s)
            cents = 10_000 + 100 * n + seq
            price = Decimal(cents) / 100
            ticks.append(
                Tick(
                    ticker=ticker,
                    time=time,
                    seq=seq,
                    price=price,
                    bid=price - Decimal("0.05"),
                    ask=price + Decimal("0.05"),
                    volume=10 + seq,
                )
            )
            rows.append((int(time.timestamp() * 1000), seq, cents))
        Tick.objects.bulk_create(ticks)
        bars_rollup(start=start, end=end, tickers=[ticker.pk])
        out[symbol] = rows
    return out


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
