"""WebSocket routes (see CONTRACT.md)."""

from django.urls import path

from community.consumers import ChatConsumer, NotificationConsumer

websocket_urlpatterns = [
    path("ws/groups/<slug:slug>/chat/", ChatConsumer.as_asgi()),
    path("ws/notifications/", NotificationConsumer.as_asgi()),
]
