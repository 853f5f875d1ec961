"""WebSocket URL routes: ``/ws`` (our protocol) and ``/v2/{feed}`` (Alpaca's)."""

from django.urls import path, re_path

from .alpaca.consumer import FEEDS, AlpacaConsumer
from .consumers import MarketConsumer

websocket_urlpatterns = [
    path("ws", MarketConsumer.as_asgi()),
    re_path(rf"^v2/(?P<feed>{'|'.join(FEEDS)})$", AlpacaConsumer.as_asgi()),
]
