from django.apps import AppConfig


class TicksConfig(AppConfig):
    name = "ticks"
    verbose_name = "Market"

    def ready(self) -> None:
        from . import signals  # noqa: F401
