"""ASGI entry point served by Daphne: HTTP through Django, WebSockets (``/ws``) through Channels."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# Django must be set up before anything imports models (the routing does).
django.setup(set_prefix=False)

from config.asgi_handler import PooledThreadASGIHandler  # noqa: E402

# What get_asgi_application() returns, with request threads reused (see config/asgi_handler.py).
django_asgi_app = PooledThreadASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from streaming.daphne_io import plain_autobahn_log_arguments  # noqa: E402
from streaming.origins import OptionalOriginValidator  # noqa: E402
from streaming.routing import websocket_urlpatterns  # noqa: E402

# Cheap arguments for autobahn's per-frame debug log call (see streaming/daphne_io.py).
plain_autobahn_log_arguments()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Browsers' Origin checked against WS_ALLOWED_ORIGINS; clients without one accepted.
        "websocket": OptionalOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)
