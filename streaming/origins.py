"""Origin check for WebSockets.

Browsers always send ``Origin``; it must be in ``WS_ALLOWED_ORIGINS`` (default: the allowed hosts).
Scripts and bots (the first version's documented Python client among them) send none and are
accepted.
Channels' stock ``AllowedHostsOriginValidator`` rejects a missing Origin, so it is not used as is.
The allowed list is read from the settings on every handshake (cheap), so it follows them.
"""

from channels.security.websocket import OriginValidator
from django.conf import settings


def allowed_origins() -> list[str]:
    allowed = list(settings.WS_ALLOWED_ORIGINS) or list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not settings.WS_ALLOWED_ORIGINS:
        allowed += ["localhost", ".localhost", "127.0.0.1", "[::1]"]
    return allowed


class OptionalOriginValidator(OriginValidator):
    def __init__(self, application):
        super().__init__(application, [])

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        self.allowed_origins = allowed_origins()
        return super().valid_origin(parsed_origin)
