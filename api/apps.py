from django.apps import AppConfig
from django.core import checks


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        checks.register(check_rate_limits)


def check_rate_limits(app_configs=None, **kwargs):
    """A malformed API_RATE_LIMIT_* stops start-up with a clear message, not the first request."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from .throttling import parse_rate

    errors = []
    for name in ("API_RATE_LIMIT_ANON", "API_RATE_LIMIT_KEY"):
        try:
            parse_rate(getattr(settings, name, None))
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(f"{name}: {exc}", id="api.E001"))
    return errors
