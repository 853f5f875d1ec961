"""Celery tasks: thin wrappers that call one service each (the schedule is in settings)."""

import logging

from celery import shared_task
from django.utils import timezone

from .flush import ticks_flush
from .live import ticks_generate
from .market_time import market_now
from .refresh import bars_refresh
from .services import storage_maintain
from .shards import Shard, worker_name

logger = logging.getLogger(__name__)


@shared_task(name="ticks.generate", bind=True, ignore_result=True)
def generate_ticks(self, shard: int = 0, shards: int = 1) -> None:
    report = ticks_generate(
        now=market_now(),
        shard=Shard(shard, shards),
        worker=worker_name(self.request.hostname),
    )
    if report.gaps:
        logger.warning("generation skipped ahead for %s", ", ".join(report.gaps))


@shared_task(name="ticks.flush", ignore_result=True)
def flush_ticks() -> None:
    report = ticks_flush()
    if report.ticks:
        logger.debug("flushed %d ticks in %d entries", report.ticks, report.entries)


@shared_task(name="ticks.refresh_bars", ignore_result=True)
def refresh_bars() -> None:
    bars_refresh()


@shared_task(name="ticks.maintain", ignore_result=True)
def maintain_storage() -> None:
    result = storage_maintain(now=timezone.now())
    logger.info("storage maintenance: %s", result.as_dict())
