"""WebSocket URL routes: ``/ws`` (our protocol), ``/v2/{feed}`` (Alpaca's) and its playback feed
``/v2/playback``, and ``/stocks`` (Massive's) and its playback feed
``/playback/<start>/<end>/<speed>/stocks``."""

from django.urls import path, re_path

from .alpaca.consumer import FEEDS, AlpacaConsumer
from .consumers import MarketConsumer
from .massive.consumer import MassiveConsumer
from .playback.alpaca import AlpacaPlaybackConsumer
from .playback.massive import MassivePlaybackConsumer

websocket_urlpatterns = [
    path("ws", MarketConsumer.as_asgi()),
    re_path(r"^v2/(?P<feed>playback)$", AlpacaPlaybackConsumer.as_asgi()),
    re_path(rf"^v2/(?P<feed>{'|'.join(FEEDS)})$", AlpacaConsumer.as_asgi()),
    path("stocks", MassiveConsumer.as_asgi()),
    re_path(
        r"^playback/(?P<start>[^/]+)/(?P<end>[^/]+)/(?P<speed>[^/]+)/stocks$",
        MassivePlaybackConsumer.as_asgi(),
    ),
]
