"""WebSocket URL routes."""

from django.urls import path

from .consumers import MarketConsumer

websocket_urlpatterns = [
    path("ws", MarketConsumer.as_asgi()),
]
