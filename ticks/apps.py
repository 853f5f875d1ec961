from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _storage_policies_follow_settings(sender, using, plan=None, **kwargs) -> None:
    """After every ``migrate``: a changed ``TICK_RETENTION_DAYS`` reaches the database's own
    retention policy (TimescaleDB) without waiting for the hourly maintenance."""
    from django.conf import settings
    from django.db import connections

    from .storage import tick_storage
    from .storage.backend import TICK_TABLE

    connection = connections[using]
    if TICK_TABLE not in connection.introspection.table_names():
        return  # migrated backwards past the ticks table
    tick_storage(connection).apply_policies(connection, retention_days=settings.TICK_RETENTION_DAYS)


class TicksConfig(AppConfig):
    name = "ticks"
    verbose_name = "Market"

    def ready(self) -> None:
        from . import checks, signals  # noqa: F401

        post_migrate.connect(
            _storage_policies_follow_settings, sender=self, dispatch_uid="ticks-storage-policies"
        )
