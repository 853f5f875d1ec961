"""Writes: every change to market data or configuration goes through a function here."""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction

from .config_version import bump_config_version
from .models import Ticker
from .storage import MaintenanceResult, tick_storage
from .trading_status import statuses_announce_on_commit

logger = logging.getLogger(__name__)


def tickers_set_active(*, tickers: Iterable[Ticker] | None = None, ids=None, active: bool) -> int:
    """Activate or deactivate tickers; running generators pick it up from the next step, the
    stream announces their new trading status."""
    ids = list(ids or []) + [t.pk for t in tickers or []]
    with transaction.atomic():
        changing = Ticker.objects.filter(pk__in=ids).exclude(is_active=active)
        symbols = list(changing.select_for_update().values_list("symbol", flat=True))
        count = changing.update(is_active=active)
        transaction.on_commit(bump_config_version)
        statuses_announce_on_commit(changes=[(symbol, active) for symbol in symbols])
    logger.info("set is_active=%s on %d ticker(s)", active, count)
    return count


def storage_maintain(*, now: datetime) -> MaintenanceResult:
    """The hourly upkeep of the ticks table: room for the next days, data past
    ``TICK_RETENTION_DAYS`` dropped, and the database's own policies (TimescaleDB's retention)
    following the settings."""
    return tick_storage(connection).maintain(
        connection,
        now=now,
        retention_days=settings.TICK_RETENTION_DAYS,
        ahead_days=settings.TICK_PARTITIONS_AHEAD_DAYS,
    )


#: The demo tickers ``manage.py demo_tickers`` creates (README, "The price model").
DEMO_TICKERS = (
    {
        "symbol": "SVJ",
        "name": "Stochastic Volatility & Jumps Demo",
        "seed": 2026_12_18,
        "sector": "Demo",
        "start_price": "100.00",
        "drift": 0.05,
        "volatility": 0.3,
        "min_price": "1.00",
        "max_price": "10000.00",
        "volatility_model": "stochastic",
        "vol_of_vol": 0.6,
        "vol_half_life_short": 300.0,
        "vol_half_life_long": 172_800.0,
        "leverage": -0.6,
        "jump_rate": 100.0,
        "jump_mean": -0.01,
        "jump_spread": 0.02,
    },
    {
        "symbol": "SVOL",
        "name": "Stochastic Volatility Demo",
        "seed": 2026_12_19,
        "sector": "Demo",
        "start_price": "50.00",
        "drift": 0.03,
        "volatility": 0.25,
        "min_price": "1.00",
        "max_price": "5000.00",
        "volatility_model": "stochastic",
        "vol_of_vol": 0.5,
        "leverage": -0.5,
    },
)


def tickers_create_demo() -> list[tuple[str, bool]]:
    """Create the demo tickers that do not exist yet (validated like an admin edit); existing
    ones are left untouched. Returns ``(symbol, created)`` pairs."""
    done = []
    with transaction.atomic():
        for spec in DEMO_TICKERS:
            if Ticker.objects.filter(symbol=spec["symbol"]).exists():
                done.append((spec["symbol"], False))
                continue
            ticker = Ticker(**spec)
            ticker.full_clean()
            ticker.save()
            done.append((spec["symbol"], True))
    logger.info("demo tickers: %s", ", ".join(f"{s} {'created' if c else 'kept'}" for s, c in done))
    return done
