"""ASGI entry point served by Daphne: HTTP through Django, WebSockets (``/ws``) through Channels.

A composition root: the one place in ``config`` (with ``config.urls``) that imports the apps.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# Django must be set up before anything imports models (the routing does).
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

from config.asgi_handler import OnServingLoop, ReusedRequestThreads  # noqa: E402
from config.hot_reads import HotReads  # noqa: E402
from streaming.origins import OptionalOriginValidator  # noqa: E402
from streaming.routing import websocket_urlpatterns  # noqa: E402
from ticks.redis_store import mark_serving_loop  # noqa: E402


def http_application():
    """Django's ASGI handler; with request threads reused (``FAST_HTTP_THREAD_REUSE``); the hot
    reads of ``api.hot_urls`` answered on the loop before it (``FAST_HTTP_HOT_READS``); its
    event loop marked as a serving loop, on which async views may use the shared asyncio Redis
    client (``ticks.redis_store``)."""
    app = get_asgi_application()
    if settings.FAST_HTTP_THREAD_REUSE:
        app = ReusedRequestThreads(app)
    if settings.FAST_HTTP_HOT_READS:
        app = HotReads(app, urlconf="api.hot_urls")
    return OnServingLoop(app, mark_serving_loop)


application = ProtocolTypeRouter(
    {
        "http": http_application(),
        # Browsers' Origin checked against WS_ALLOWED_ORIGINS; clients without one accepted.
        "websocket": OptionalOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)
