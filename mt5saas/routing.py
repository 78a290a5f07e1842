"""WebSocket routes; the isolation test walks this list as it walks the URLconf."""

websocket_urlpatterns: list = []
