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


def session_ref(session_key: str | None) -> str:
    """A keyed hash of a session key: `user.sessions_ended` events name sessions by this,
    so the secret key itself never travels through the channel layer."""
    from community.security_log import keyed_hash

    return keyed_hash(f"session:{session_key or ''}", length=24)


def sessions_ended_event(*, ended: list[str] | None = None,
                         kept: list[str] | None = None) -> dict[str, Any]:
    """The `user.sessions_ended` event for the person's sockets (session keys in, refs out).

    `ended`: only sockets of these sessions close (a logout, one session ended).
    `kept`: every socket closes except those of these sessions (a password change keeps
    the session it was made in). Neither: every socket of the person closes (account
    deleted, password reset).
    """
    event: dict[str, Any] = {"type": SESSIONS_ENDED}
    if ended is not None:
        event["sessions"] = sorted({session_ref(key) for key in ended if key})
    elif kept is not None:
        event["keep"] = sorted({session_ref(key) for key in kept if key})
    return event


def ends_this_socket(event: dict[str, Any], scope: dict[str, Any]) -> bool:
    """Whether a `user.sessions_ended` event closes the socket with this scope.

    Sockets know the session they were opened with (the cookie in the handshake), so a
    logout in one browser closes only that browser's sockets. Reading the key needs no
    query: the session was already loaded when the socket was authenticated.
    """
    if "sessions" not in event and "keep" not in event:
        return True
    session = scope.get("session")
    ref = session_ref(getattr(session, "session_key", None) if session is not None else None)
    if "sessions" in event:
        return ref in event["sessions"]
    return ref not in event["keep"]


def publish_sessions_ended(user_id: int, *, ended: list[str] | None = None,
                           kept: list[str] | None = None) -> None:
    """After commit, close the person's sockets whose sessions have ended (4401)."""
    publish_on_commit(user_group(user_id), sessions_ended_event(ended=ended, kept=kept))


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
