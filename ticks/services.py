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
