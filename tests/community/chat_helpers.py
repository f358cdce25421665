"""Shared helpers for the chat tests: sessions, a buffered chat socket and message rows.

A chat socket receives frames it did not ask for (presence when someone joins, typing,
other people's messages), so `ChatSocket` keeps every frame it reads and lets a test
wait for the next frame of one type without losing the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.db.models import F
from django.test import Client

from community.models import ChatMessage, Group, User
from community.text import render_markdown

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
TIMEOUT = 3.0  # the longest any chat test waits for one thing
QUIET = 0.25  # how long "nothing arrives" is watched for
AMBIENT = ("presence", "typing")  # frames that come and go with other people's sockets

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def fresh_cache_keys(settings) -> None:
    """Give this test its own cache key prefix (same backend, Redis or local memory).

    Rate-limit counts are keyed by group and person ids, and SQLite reuses ids after a
    rolled-back test, so without this one test's sends count against the next one's.
    """
    default = dict(settings.CACHES["default"])
    default["KEY_PREFIX"] = f"{default.get('KEY_PREFIX', '')}-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {**settings.CACHES, "default": default}


def session_cookie(user: User) -> str:
    """A real session for `user`, made the way the site makes one: `sessionid=…`."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}"


def chat_path(slug: str, after: int | str | None = None) -> str:
    path = f"/ws/groups/{slug}/chat/"
    return path if after is None else f"{path}?after={after}"


def new_client_id() -> str:
    return str(uuid.uuid4())


class SocketClosed(AssertionError):
    def __init__(self, code: int | None):
        super().__init__(f"the server closed the socket with code {code}")
        self.code = code


@dataclass
class ChatSocket:
    """One chat connection through the whole ASGI stack, with every frame it has read."""

    communicator: WebsocketCommunicator
    accepted: bool
    frames: list[dict] = field(default_factory=list)  # everything read, in order
    unread: list[dict] = field(default_factory=list)  # read but not yet asked for
    closed: int | None = None
    disconnected: bool = False

    async def _output(self, timeout: float) -> dict:
        """The next ASGI message from the app. (`receive_output` would cancel the app on a
        timeout, and a test that waits for silence needs it alive afterwards.)"""
        app = self.communicator.future
        if app.done():
            app.result()  # the consumer crashed: show why
        try:
            return await asyncio.wait_for(self.communicator.output_queue.get(), timeout)
        except TimeoutError:
            if app.done():
                app.result()
            raise

    async def _read(self, timeout: float) -> dict:
        if self.closed is not None:
            raise SocketClosed(self.closed)
        output = await self._output(timeout)
        if output["type"] == "websocket.close":
            self.closed = output.get("code", 1000)
            raise SocketClosed(self.closed)
        assert output["type"] == "websocket.send", output
        assert output.get("text") is not None, f"expected a text frame, got {output}"
        frame = json.loads(output["text"])
        self.frames.append(frame)
        return frame

    async def next(self, *kinds: str, timeout: float = TIMEOUT) -> dict:
        """The next frame of one of `kinds`; other frames stay unread for later."""
        for i, frame in enumerate(self.unread):
            if frame["type"] in kinds:
                return self.unread.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                frame = await self._read(remaining)
            except TimeoutError:
                raise AssertionError(
                    f"no {kinds} frame within {timeout}s; unread: {self.unread}"
                ) from None
            if frame["type"] in kinds:
                return frame
            self.unread.append(frame)

    async def collect(self, kind: str, count: int, *, timeout: float = TIMEOUT) -> list[dict]:
        return [await self.next(kind, timeout=timeout) for _ in range(count)]

    async def quiet(self, *, timeout: float = QUIET, ignore: tuple[str, ...] = AMBIENT):
        """Every frame (apart from `ignore`d ones) that arrives within `timeout`: want []."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            try:
                self.unread.append(await self._read(remaining))
            except TimeoutError:
                break
        return [frame for frame in self.unread if frame["type"] not in ignore]

    async def close_code(self, *, timeout: float = TIMEOUT) -> int:
        """Read (and keep) frames until the server closes; the close code."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                self.unread.append(await self._read(remaining))
            except SocketClosed as closed:
                return closed.code
            except TimeoutError:
                raise AssertionError(
                    f"the socket was not closed within {timeout}s; unread: {self.unread}"
                ) from None

    async def send(self, frame: dict) -> None:
        await self.communicator.send_json_to(frame)

    async def send_text(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def post(self, body: str, client_id: str | None = None, **extra) -> dict:
        """Send a message and wait for its answer: the ack, or an error frame."""
        client_id = client_id or new_client_id()
        await self.send({"type": "message.send", "body": body, "client_id": client_id, **extra})
        return await self.next("message.ack", "error")

    async def disconnect(self) -> None:
        """Tell the consumer the client has gone; stop waiting for it after a second.

        (channels-redis can take several seconds to cancel a consumer's pending receive;
        the socket is gone by then and nothing more is observable.)
        """
        if not self.disconnected:
            self.disconnected = True
            # A socket the server closed has nothing left to say: don't wait long for it.
            wait = 1.0 if self.closed is None else 0.2
            # The communicator waits without limit for a cancelled consumer to finish, and
            # a channels-redis receive being cancelled can stall: bound it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.communicator.disconnect(timeout=wait), wait + 5)


async def open_chat(
    application, user: User | None, slug: str, *, after: int | str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> ChatSocket:
    """Open `/ws/groups/<slug>/chat/` as `user` (None: no session) with an allowed Origin."""
    if headers is None:
        headers = [ORIGIN]
        if user is not None:
            cookie = await database_sync_to_async(session_cookie)(user)
            headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, chat_path(slug, after), headers=headers)
    accepted, _ = await communicator.connect(timeout=TIMEOUT)
    return ChatSocket(communicator=communicator, accepted=accepted)


async def close_orm_thread_connections() -> None:
    """Close the database connections of the thread `database_sync_to_async` uses.

    With CONN_MAX_AGE > 0 that thread keeps its connection open after the test, and
    PostgreSQL then refuses to drop the test database at the end of the run.
    """
    await database_sync_to_async(connections.close_all)()


def seed_messages(
    group: Group, author: User | list[User], count: int, *, prefix: str = "Seeded"
) -> list[ChatMessage]:
    """`count` published messages stored as the service stores them (ids, seq), quickly.

    For history and catch-up tests that need more messages than the rate limit allows.
    Given a list of authors, they take turns.
    """
    authors = author if isinstance(author, list) else [author]
    group.refresh_from_db(fields=["chat_seq"])
    start = group.chat_seq
    rows = [
        ChatMessage(
            group=group, seq=start + i, author=authors[i % len(authors)],
            client_id=new_client_id(),
            body=f"{prefix} {start + i}", body_html=render_markdown(f"{prefix} {start + i}"),
            status=ChatMessage.Status.PUBLISHED,
        )
        for i in range(1, count + 1)
    ]
    created = []
    for row in rows:  # one by one, so ids rise with seq on every database
        row.save()
        created.append(row)
    Group.objects.filter(pk=group.pk).update(chat_seq=F("chat_seq") + count)
    group.refresh_from_db(fields=["chat_seq"])
    return created
