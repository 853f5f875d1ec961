from django.conf import settings
from rest_framework.permissions import BasePermission


class ApiKeyIfRequired(BasePermission):
    """With ``API_KEYS_REQUIRED``: an API key, the dashboard token or a staff session."""

    def has_permission(self, request, view) -> bool:
        if not settings.API_KEYS_REQUIRED:
            return True
        user = request.user
        return request.auth is not None or bool(user and user.is_staff)
