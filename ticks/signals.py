"""Ticker edits from anywhere (admin, shell, API) tell running processes to reload configs; a
change of ``is_active`` announces the ticker's trading status (``ticks.trading_status``)."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from .config_version import bump_config_version
from .models import Ticker
from .trading_status import statuses_announce_on_commit


@receiver(post_save, sender=Ticker, dispatch_uid="ticker-config-saved")
@receiver(post_delete, sender=Ticker, dispatch_uid="ticker-config-deleted")
def ticker_config_changed(sender, **kwargs) -> None:
    transaction.on_commit(bump_config_version)


@receiver(pre_save, sender=Ticker, dispatch_uid="ticker-status-before-save")
def ticker_status_before_save(sender, instance: Ticker, raw=False, **kwargs) -> None:
    """Remember whether a saved ticker was active, to announce a change of its trading status."""
    if raw or instance.pk is None:
        instance._was_active = None
        return
    instance._was_active = (
        Ticker.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
    )


@receiver(post_save, sender=Ticker, dispatch_uid="ticker-status-saved")
def ticker_status_saved(sender, instance: Ticker, created=False, raw=False, **kwargs) -> None:
    was = getattr(instance, "_was_active", None)
    if not (raw or created) and was is not None and was != instance.is_active:
        statuses_announce_on_commit(changes=[(instance.symbol, instance.is_active)])
