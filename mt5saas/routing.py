"""WebSocket routes; the isolation test walks this list as it walks the URLconf."""

from live.routing import websocket_urlpatterns as live_patterns

websocket_urlpatterns: list = [*live_patterns]
