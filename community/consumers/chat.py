"""`/ws/groups/<slug>/chat/`: a group's live chat (frames as in CONTRACT.md).

Delivery is exact because every published message carries its place in the group (`seq`):
a socket remembers the last place it delivered, drops anything at or before it (so a
message is never doubled) and fills any gap from the database (so none is lost or out of
order, even if the channel layer dropped or reordered an event).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from community import policy, realtime, selectors
from community.consumers.guard import SOCKET_GONE, UNAVAILABLE
from community.consumers.roster import Roster, standings_for
from community.models import Group
from community.presence import get_presence
from community.security_log import security_event
from community.services.chat import ChatError, post_chat_message
from moderation.signposting import ScreeningBlocked, ScreeningPrompt

log = logging.getLogger(__name__)

MAX_FRAME_CHARS = 32 * 1024
TYPING_EVERY = 3.0  # seconds between typing frames a socket passes on
ABUSE_LIMIT = 5  # rate-limit refusals ...
ABUSE_WINDOW = 60.0  # ... within this many seconds close the socket with 4429
CLOSE_ABUSE = 4429
# Applications may only close with 1000 or 3000-4999 (daphne turns anything else into
# 1011), so "too big" and "try again" use the 4xxx range, echoing HTTP 413 and 503.
CLOSE_TOO_BIG = 4413
CLOSE_TRY_AGAIN = 4503
GAP_FILL_MAX = 200  # missed messages sent one by one; further behind, a fresh page instead


def _open(user, slug: str, raw_after: str) -> dict:
    """Everything a new socket needs from the database, in one trip to the ORM thread:
    may this person be here, who are they, and what did they miss."""
    group = Group.objects.filter(slug=slug).first()
    code = policy.chat_close_code(user, group)
    if code is not None:
        return {"code": code}
    membership = policy.membership_of(user, group)
    after, after_error = 0, False
    if raw_after:
        parsed = _as_int(raw_after)
        if parsed is not None and (
            parsed == 0 or selectors.chat_message_in_group(group.pk, parsed)
        ):
            after = parsed
        else:
            after_error = True
    messages, more, snapshot = selectors.chat_catch_up(group.pk, after=after)
    return {
        "code": None,
        "group": group,
        "name": user.display_name,
        "appear_offline": user.appear_offline,
        "muted": bool(membership and membership.is_muted),
        "after": after,
        "after_error": after_error,
        "messages": messages,
        "more": more,
        "snapshot": snapshot,
    }


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


PRESENCE_EVERY = 0.25  # seconds: presence changes within this are sent as one list
_presence_due: dict[str, asyncio.Task] = {}


async def _send_presence(layer, group_id: int, chat_group: str) -> None:
    await asyncio.sleep(PRESENCE_EVERY)
    _presence_due.pop(chat_group, None)
    try:
        online = await get_presence().online(group_id)
        frame = json.dumps({"type": "presence", "online": online})
        await layer.group_send(chat_group, {"type": "chat.presence", "frame": frame})
    except Exception:
        log.warning("chat: presence not sent", exc_info=True)


def db(func):
    """Run database work off the event loop. On PostgreSQL, sockets' database work runs
    side by side in a small pool of threads (each with its own connection; the group row
    lock still orders messages); one shared thread made every send, connect and heartbeat
    of a process queue behind each other. SQLite allows one writer, so it keeps one."""
    return database_sync_to_async(func, thread_sensitive=not settings.KINDRED_CHAT_DB_PARALLEL)


_roster: Roster | None = None


def roster() -> Roster:
    global _roster
    if _roster is None:
        _roster = Roster(db)
    return _roster


def _group_id_for(slug: str) -> int | None:
    return Group.objects.filter(slug=slug).values_list("pk", flat=True).first()


class ChatConsumer(AsyncWebsocketConsumer):
    group: Group | None = None
    chat_group: str | None = None
    user_group: str | None = None
    last_seq = 0

    # Fan-out events never touch the database, so they skip the per-event hop to the ORM
    # thread that channels makes (to close stale connections) before every handler: with
    # hundreds of sockets that hop, not the sending, is what limits delivery.
    FAN_OUT_EVENTS = frozenset({"chat.message", "chat.removed", "chat.typing", "chat.presence"})

    async def __call__(self, scope, receive, send) -> None:
        """The socket's life. If the channel layer goes away while it is open (Redis
        restarted), channels' receive raises out of here (as does a lost database
        connection in a handler that does not catch it): close with 4503 ("try again",
        as at connect) and tidy up as a disconnect would, instead of an unhandled
        exception, a 1011 and a socket left in the process's roster for ever."""
        try:
            await super().__call__(scope, receive, send)
        except UNAVAILABLE:
            log.warning("chat: channel layer or database lost; closing the socket so it "
                        "reconnects", exc_info=True)
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
            with contextlib.suppress(Exception):
                await self.disconnect(CLOSE_TRY_AGAIN)

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        """A frame for a socket that has just gone (its tab closed while a message or a
        presence list was on its way) is dropped: the disconnect that follows tidies up.
        Raising ended the consumer before that tidy-up (roster, presence, groups) and
        logged a traceback for an everyday event."""
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except SOCKET_GONE:
            log.debug("chat: frame for a socket that has closed dropped")

    async def dispatch(self, message: dict) -> None:
        kind = message.get("type", "")
        if self.group is None and kind.startswith(("chat.", "user.")):
            # Listening starts before the checks at connect; a socket that was refused
            # (or is closing) may still get a group's events: nothing is for it.
            return
        if kind in self.FAN_OUT_EVENTS:
            await getattr(self, get_handler_name(message))(message)
            return
        await super().dispatch(message)

    # --- connection -------------------------------------------------------------------

    async def connect(self) -> None:
        await self.accept()  # accept first, so a real browser can read our close code
        user = self.scope.get("user")
        slug = self.scope["url_route"]["kwargs"]["slug"]
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        # Join the channel group before reading the backlog, so nothing committed in
        # between is missed (a message seen both ways is dropped by its seq).
        try:
            await self._join_layer_groups(user, slug)
        except Exception:
            log.exception("chat: channel layer unavailable at connect")
            await self.send_error("unavailable", "Chat is not available just now. "
                                  "We'll keep trying to reconnect.")
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        raw_after = (query.get("after") or [""])[0]
        info = await db(_open)(user, slug, raw_after)
        if info["code"] is None and realtime.chat_group(info["group"].pk) != self.chat_group:
            info = {"code": CLOSE_TRY_AGAIN}  # the slug changed hands between two looks
        if info["code"] is not None:
            await self._leave_layer_groups()
            await self.close(code=info["code"])
            return
        self.user = user
        self.group = info["group"]
        self.name = info["name"]
        self.appear_offline = info["appear_offline"]
        self.muted = info["muted"]
        self.last_typing = 0.0
        self.refusals: deque[float] = deque()
        self.last_seq = info["snapshot"]
        if info["after_error"]:
            await self.send_error("invalid_after", "'after' must be the id of a message in "
                                  "this group. Here are the latest messages instead.")
        await self.send_json({
            "type": "history",
            "messages": info["messages"],
            "more": info["more"],
            "after": info["after"],
        })
        await self.join_presence()
        roster().add(self)

    async def _join_layer_groups(self, user, slug: str) -> None:
        """Listen before looking: the group id comes from a cheap lookup by slug."""
        group_id = await database_sync_to_async(_group_id_for)(slug)
        if group_id is None:
            return
        self.chat_group = realtime.chat_group(group_id)
        self.user_group = realtime.user_group(user.pk)
        await self.channel_layer.group_add(self.chat_group, self.channel_name)
        await self.channel_layer.group_add(self.user_group, self.channel_name)

    async def _leave_layer_groups(self) -> None:
        if self.chat_group is None:
            return
        try:
            await self.channel_layer.group_discard(self.chat_group, self.channel_name)
            await self.channel_layer.group_discard(self.user_group, self.channel_name)
        except Exception:
            log.warning("chat: group_discard failed", exc_info=True)
        self.chat_group = None

    async def disconnect(self, code: int) -> None:
        roster().discard(self)
        if self.group is not None and not self.appear_offline:
            try:
                await get_presence().remove(self.group.pk, self.channel_name)
                await self.broadcast_presence()
            except Exception:
                log.warning("chat: presence update failed on leave", exc_info=True)
        await self._leave_layer_groups()

    async def join_presence(self) -> None:
        if self.appear_offline:
            online = await get_presence().online(self.group.pk)
            await self.send_json({"type": "presence", "online": online})
            return
        try:
            await get_presence().add(self.group.pk, self.user.pk, self.name, self.channel_name)
            await self.broadcast_presence()
        except Exception:
            log.warning("chat: presence update failed on join", exc_info=True)

    async def broadcast_presence(self) -> None:
        """Tell the group who is here, at most once per PRESENCE_EVERY per group and
        process: when many people connect at once (an evening rush, a server restart)
        one list goes out instead of one per arrival."""
        key = self.chat_group
        waiting = _presence_due.get(key)
        loop = asyncio.get_running_loop()
        if waiting is not None and not waiting.done() and waiting.get_loop() is loop:
            return
        _presence_due[key] = loop.create_task(
            _send_presence(self.channel_layer, self.group.pk, key))

    async def recheck_membership(self) -> None:
        pair = (self.user.pk, self.group.pk)
        code, muted, _seq = (await db(standings_for)({pair}))[pair]
        await self.apply_standing(code, muted)

    async def apply_standing(self, code: int | None, muted: bool) -> None:
        """Called by a membership event or the process's heartbeat (see roster.py)."""
        self.muted = muted
        if code is not None:
            await self.close(code=code)

    # --- frames from the client -----------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if self.group is None:
            return
        if len(text_data if text_data is not None else bytes_data or b"") > MAX_FRAME_CHARS:
            await self.close(code=CLOSE_TOO_BIG)  # text or binary: too big either way
            return
        if text_data is None:
            await self.send_error("bad_frame", "Please send JSON text frames.")
            return
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):  # deep nesting ([[[[…) overflows the decoder
            await self.send_error("bad_json", "That frame was not valid JSON.")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error("bad_frame", "Frames must be JSON objects with a 'type'.")
            return
        handler = {
            "message.send": self.on_send,
            "history": self.on_history,
            "typing": self.on_typing,
        }.get(frame["type"])
        if handler is None:
            await self.send_error("unknown_type", f"Unknown frame type: {frame['type'][:40]}")
            return
        await handler(frame)

    async def on_send(self, frame: dict) -> None:
        client_id = frame.get("client_id")
        echo_id = client_id if isinstance(client_id, str) and len(client_id) <= 64 else None
        confirm = frame.get("confirm") is True
        try:
            result = await db(post_chat_message)(
                actor=self.user, group=self.group, body=frame.get("body"),
                client_id=client_id, confirm=confirm,
            )
        except ChatError as error:
            await self.send_error(error.code, error.detail, client_id=echo_id,
                                  retry_after=error.retry_after)
            if error.code == "rate_limited":
                await self.note_refusal()
            return
        except ScreeningPrompt as prompt:
            await self.send_json(prompt.frame(echo_id))
            return
        except ScreeningBlocked as blocked:
            await self.send_error("blocked", blocked.detail, client_id=echo_id)
            return
        except Exception:
            log.exception("chat: could not store a message")
            await self.send_error("unavailable", "Your message was not sent. It is still in "
                                  "the box: please try again in a moment.", client_id=echo_id)
            return
        await self.send_json({
            "type": "message.ack",
            "client_id": result.message.client_id,
            "id": result.message.pk,
            "status": result.status,
        })
        if result.panel is not None:
            await self.send_json(result.panel)

    async def note_refusal(self) -> None:
        now = time.monotonic()
        self.refusals.append(now)
        while self.refusals and self.refusals[0] < now - ABUSE_WINDOW:
            self.refusals.popleft()
        if len(self.refusals) >= ABUSE_LIMIT:
            security_event("chat_closed_for_abuse", user=self.user, group_id=self.group.pk,
                           code=CLOSE_ABUSE)
            await self.close(code=CLOSE_ABUSE)

    async def on_history(self, frame: dict) -> None:
        before = _as_int(frame.get("before"))
        limit = frame.get("limit", selectors.CHAT_PAGE)
        limit = _as_int(limit) if limit is not None else selectors.CHAT_PAGE
        if before is None or before < 1:
            await self.send_error("invalid_before", "'before' must be a message id.")
            return
        if limit is None or not 1 <= limit <= selectors.CHAT_PAGE_MAX:
            await self.send_error("invalid_limit",
                                  f"'limit' must be between 1 and {selectors.CHAT_PAGE_MAX}.")
            return
        messages, more = await db(selectors.chat_before)(
            self.group.pk, before=before, limit=limit
        )
        await self.send_json({
            "type": "history", "messages": messages, "more": more, "before": before,
        })

    async def on_typing(self, frame: dict) -> None:
        now = time.monotonic()
        if self.muted or now - self.last_typing < TYPING_EVERY:
            return
        self.last_typing = now
        frame_text = json.dumps({"type": "typing", "user": {"id": self.user.pk,
                                                             "name": self.name}})
        try:
            await self.channel_layer.group_send(
                self.chat_group,
                {"type": "chat.typing", "user_id": self.user.pk, "frame": frame_text},
            )
        except Exception:
            log.warning("chat: typing not sent", exc_info=True)

    # --- events from the channel layer ------------------------------------------------------

    async def chat_message(self, event: dict) -> None:
        seq = event["seq"]
        if seq <= self.last_seq:
            return  # already delivered (catch-up or gap fill got it first)
        if seq == self.last_seq + 1:
            self.last_seq = seq
            if event["frame"] is not None:  # None: a held message took this place
                await self.send(text_data=event["frame"])
            return
        await self.fill_gap(seq)

    async def fill_gap(self, upto_seq: int) -> None:
        if upto_seq - self.last_seq > GAP_FILL_MAX:
            await self.resync(upto_seq)
            return
        rows = await db(selectors.chat_by_seq)(
            self.group.pk, after_seq=self.last_seq, upto_seq=upto_seq, limit=GAP_FILL_MAX
        )
        for message in rows:
            if message["seq"] <= self.last_seq:
                continue  # delivered while we were reading
            if message["status"] == "published":
                await self.send_json({"type": "message.new", "message": message})
            self.last_seq = message["seq"]
        if self.last_seq < upto_seq:
            self.last_seq = upto_seq  # the rest were deleted (a released held message)

    async def resync(self, upto_seq: int) -> None:
        """Too far behind to fill message by message: this socket's channel overflowed
        (a slow or starved connection). Send the newest page, as a reconnect would, with
        `resync`; the client shows a gap and pages back over it with `history`."""
        log.info("chat: socket %s messages behind; resyncing", upto_seq - self.last_seq)
        messages, more, snapshot = await db(selectors.chat_catch_up)(self.group.pk, after=0)
        self.last_seq = max(self.last_seq, upto_seq, snapshot)
        await self.send_json({"type": "history", "messages": messages, "more": more,
                              "resync": True})

    async def check_caught_up(self, group_seq: int) -> None:
        """From the heartbeat: if the group is ahead of this socket, queue a catch-up on
        the socket's own channel, so it runs in order with its other events."""
        if group_seq > self.last_seq:
            await self.channel_layer.send(self.channel_name,
                                          {"type": "chat.catch_up", "seq": group_seq})

    async def chat_catch_up(self, event: dict) -> None:
        if event["seq"] > self.last_seq:
            log.info("chat: socket behind its group by %s; catching up",
                     event["seq"] - self.last_seq)
            await self.fill_gap(event["seq"])

    async def chat_removed(self, event: dict) -> None:
        await self.send(text_data=event["frame"])

    async def chat_typing(self, event: dict) -> None:
        if event["user_id"] != self.user.pk:
            await self.send(text_data=event["frame"])

    async def chat_presence(self, event: dict) -> None:
        await self.send(text_data=event["frame"])

    async def user_membership_changed(self, event: dict) -> None:
        if event.get("group_id") == self.group.pk:
            await self.recheck_membership()

    async def user_sessions_ended(self, event: dict) -> None:
        if realtime.ends_this_socket(event, self.scope):  # only this browser's session
            await self.close(code=4401)

    async def notify_notification(self, event: dict) -> None:
        """Notifications have their own socket; the chat socket ignores them."""

    async def notify_case(self, event: dict) -> None:
        """Queue changes go to the notifications socket; the chat socket ignores them."""

    # --- helpers ----------------------------------------------------------------------------

    async def send_json(self, data: dict) -> None:
        await self.send(text_data=json.dumps(data))

    async def send_error(self, code: str, detail: str, *, client_id: str | None = None,
                         retry_after: int | None = None) -> None:
        frame = {"type": "error", "code": code, "detail": detail}
        if client_id is not None:
            frame["client_id"] = client_id
        if retry_after is not None:  # seconds until a rate-limited send may go through
            frame["retry_after"] = retry_after
        await self.send_json(frame)
