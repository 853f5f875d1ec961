"""Ticker edits from anywhere (admin, shell, API) tell running processes to reload configs."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .config_version import bump_config_version
from .models import Ticker


@receiver(post_save, sender=Ticker, dispatch_uid="ticker-config-saved")
@receiver(post_delete, sender=Ticker, dispatch_uid="ticker-config-deleted")
def ticker_config_changed(sender, **kwargs) -> None:
    transaction.on_commit(bump_config_version)
