"""WebSocket URL routes (the consumer arrives with the streaming issue)."""

websocket_urlpatterns: list = []
