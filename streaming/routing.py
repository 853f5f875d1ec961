"""WebSocket URL routes: ``/ws`` (our protocol), ``/v2/{feed}`` (Alpaca's) and its playback feed
``/v2/playback``, and ``/stocks`` (Massive's)."""

from django.urls import path, re_path

from .alpaca.consumer import FEEDS, AlpacaConsumer
from .consumers import MarketConsumer
from .massive.consumer import MassiveConsumer
from .playback.alpaca import AlpacaPlaybackConsumer

websocket_urlpatterns = [
    path("ws", MarketConsumer.as_asgi()),
    re_path(r"^v2/(?P<feed>playback)$", AlpacaPlaybackConsumer.as_asgi()),
    re_path(rf"^v2/(?P<feed>{'|'.join(FEEDS)})$", AlpacaConsumer.as_asgi()),
    path("stocks", MassiveConsumer.as_asgi()),
]
