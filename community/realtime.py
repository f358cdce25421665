"""Real-time event names, channel-layer group names and the one way to publish.

Events are published only after the transaction that stored their data commits, so no
one is ever told about something that was rolled back. A channel-layer failure (Redis
down) is logged and swallowed: the database is the record and clients catch up from it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
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


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The server's event loop when called from its ORM thread (a consumer or view)."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if loop is None or getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop.is_running() and not loop.is_closed() else None


async def _group_send(layer, channel_group: str, event: dict[str, Any]) -> None:
    try:
        await layer.group_send(channel_group, event)
    except Exception:  # the layer is best effort; the database is the record
        log.exception("realtime: could not publish %s to %s", event.get("type"), channel_group)


def publish(channel_group: str, event: dict[str, Any]) -> None:
    """Send now. Use `publish_on_commit` from services.

    Inside the server the send is handed to its event loop without waiting, so the one
    ORM thread goes straight on to the next write instead of waiting for the fan-out.
    Hand-offs run in the order they were made.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _server_loop()
    if loop is not None:
        asyncio.run_coroutine_threadsafe(_group_send(layer, channel_group, event), loop)
        return
    async_to_sync(_group_send)(layer, channel_group, event)


def publish_on_commit(channel_group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: publish(channel_group, event))
