"""The personal notifications socket.

No ORM call runs on the event loop: anything that touches the database goes through
`database_sync_to_async`.
"""

from __future__ import annotations

import json
import logging

from channels.generic.websocket import AsyncWebsocketConsumer

from community import realtime
from community.consumers.guard import SOCKET_GONE

log = logging.getLogger(__name__)

CLOSE_NOT_LOGGED_IN = 4401


class NotificationConsumer(AsyncWebsocketConsumer):
    """`/ws/notifications/`: the signed-in person's own notifications, live."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        # Accept first, then close with the code, so browsers can read why.
        await self.accept()
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_NOT_LOGGED_IN)
            return
        self.user_channel_group = realtime.user_group(user.pk)
        await self.channel_layer.group_add(self.user_channel_group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        group = getattr(self, "user_channel_group", None)
        if group:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # a layer outage at close must not crash the process
                log.warning("notifications: group_discard failed", exc_info=True)

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        """A notification for a socket that has just closed is dropped (see the chat
        consumer): the disconnect that follows tidies up."""
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except SOCKET_GONE:
            log.debug("notifications: frame for a socket that has closed dropped")

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        await self.send(
            text_data=json.dumps(
                {"type": "error", "code": "read_only", "detail": "This socket only sends."}
            )
        )

    async def notify_notification(self, event: dict) -> None:
        await self.send(text_data=json.dumps({"type": "notification", **event["notification"]}))

    async def notify_case(self, event: dict) -> None:
        """Live review-queue changes for moderators."""
        await self.send(text_data=json.dumps({"type": "case", **event["case"]}))

    async def user_membership_changed(self, event: dict) -> None:
        """Chat sockets act on this; the notifications socket has nothing to close."""

    async def user_sessions_ended(self, event: dict) -> None:
        if realtime.ends_this_socket(event, self.scope):  # only this browser's session
            await self.close(code=CLOSE_NOT_LOGGED_IN)
