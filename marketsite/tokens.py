"""Who may have the dashboard and its read-only token (the token itself: ``ticks.stream_tokens``).

With ``API_KEYS_REQUIRED`` only a signed-in user gets one (the page and ``/dashboard/token``),
unless ``DASHBOARD_PUBLIC`` makes the dashboard public on purpose.
"""

from django.conf import settings


def dashboard_access_allowed(request) -> bool:
    """Whether ``request`` may have the dashboard and its token: always when keys are not
    required; with ``API_KEYS_REQUIRED``, a signed-in user, or anyone if ``DASHBOARD_PUBLIC``."""
    if not settings.API_KEYS_REQUIRED or settings.DASHBOARD_PUBLIC:
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_active)
