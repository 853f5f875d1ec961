from django.apps import AppConfig


class MarketsiteConfig(AppConfig):
    name = "marketsite"

    def ready(self) -> None:
        from . import login_audit  # noqa: F401 (connects the failed-login log)
