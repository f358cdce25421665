"""Real-time event names, channel-layer group names and the one way to publish.

Events are published only after the transaction that stored their data commits, so no
one is ever told about something that was rolled back. A channel-layer failure (Redis
down) is logged and swallowed: the database is the record and clients catch up from it.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

# Channel-layer event types (the "type" key routes to a consumer method: dots become _).
NOTIFICATION = "notify.notification"
MEMBERSHIP_CHANGED = "user.membership_changed"
SESSIONS_ENDED = "user.sessions_ended"


def chat_group(group_id: int) -> str:
    return f"chat.{group_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def moderators_group(group_id: int) -> str:
    return f"moderators.{group_id}"


def publish(channel_group: str, event: dict[str, Any]) -> None:
    """Send now. Use `publish_on_commit` from services."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(channel_group, event)
    except Exception:  # the layer is best effort; the database is the record
        log.exception("realtime: could not publish %s to %s", event.get("type"), channel_group)


def publish_on_commit(channel_group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: publish(channel_group, event))
