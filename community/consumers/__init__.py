"""WebSocket consumers: authenticate, authorise through the policy, validate, call a
service through `database_sync_to_async`, forward channel-layer events."""

from community.consumers.chat import ChatConsumer
from community.consumers.notifications import NotificationConsumer

__all__ = ["ChatConsumer", "NotificationConsumer"]
