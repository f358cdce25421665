"""Group chat over the production shape: two real daphne processes sharing one database
and the real Redis (channel layer, presence and rate limits), with a real WebSocket client.

`WebsocketCommunicator` and the in-memory layer hide what only this shows: events cross
processes only through Redis, a refusal reaches a real client as a close code after the
handshake (not an HTTP 403), and daphne's own frame limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async

from community.models import ChatMessage, Group
from tests.community.chat_helpers import (
    FAST_HASHERS,
    close_orm_thread_connections,
    session_cookie,
)
from tests.conftest import add_membership, need_service
from tests.e2e.live import child_database_url, forget_redis_keys, free_port, redis_for_tests

try:  # a dev dependency (pyproject.toml); without it these tests cannot run
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus
except ImportError:  # pragma: no cover
    connect = None

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[1]
DAPHNE = Path(sys.executable).with_name("daphne")
TIMEOUT = 3.0  # any single wait for the servers to answer
START_TIMEOUT = 20.0  # two daphnes importing Django on a busy machine
SECRET_KEY = secrets.token_urlsafe(45)  # 60 characters, shared by the servers and the test
_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Daphne:
    port: int
    process: subprocess.Popen
    log_path: Path
    ready: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        return ""

    def healthy(self) -> bool:
        try:
            with _no_proxy.open(f"{self.url}/healthz", timeout=1) as response:  # noqa: S310
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@pytest.fixture(scope="module")
def servers(django_db_setup, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """Two daphne processes on the test database and real Redis, started together."""
    need_service("websockets", connect is not None, "pip install -e '.[dev]'")
    url = redis_for_tests()
    need_service("Redis", bool(url), "nothing answers PING at $REDIS_URL or "
                 "redis://127.0.0.1:6379/0 (start redis-server)")
    work = tmp_path_factory.mktemp("chat-two-processes")
    prefix = f"chat2p{secrets.token_hex(6)}"  # this run's cache, presence and layer keys
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST") and k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=child_database_url(),
        REDIS_URL=url,
        KINDRED_CACHE_PREFIX=prefix,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=SECRET_KEY,
        DJANGO_SSL_REDIRECT="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        PYTHONUNBUFFERED="1",
    )
    started: list[Daphne] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log_path = work / f"daphne-{name}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                    cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            started.append(Daphne(port=port, process=process, log_path=log_path))
        deadline = time.monotonic() + START_TIMEOUT
        while not all(d.ready for d in started):
            for daphne in started:
                if daphne.process.poll() is not None:
                    pytest.fail(f"daphne exited early:\n{daphne.log_tail()}")
                daphne.ready = daphne.ready or daphne.healthy()
            if time.monotonic() > deadline:
                logs = "\n".join(d.log_tail() for d in started)
                pytest.fail(f"daphne did not answer /healthz in {START_TIMEOUT}s:\n{logs}")
            time.sleep(0.1)
        yield SimpleNamespace(a=started[0], b=started[1], redis_url=url, prefix=prefix)
    finally:
        for daphne in started:  # both at once: each takes a moment to close its sockets
            if daphne.process.poll() is None:
                daphne.process.terminate()
        for daphne in started:
            daphne.stop()
        forget_redis_keys(url, prefix)


@pytest.fixture
def people(servers, settings, make_user, make_group):
    """A group with three members and an outsider, each with a session the servers accept."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.SECRET_KEY = SECRET_KEY  # sessions are signed with the servers' key
    group = make_group(Group.Privacy.APPROVAL, name="Two Towns")
    found = SimpleNamespace(group=group)
    for name in ("Ada", "Ben", "Cal", "Olu"):
        user = make_user(name)
        if name != "Olu":
            add_membership(user, group, "approved")
        setattr(found, name.lower(), user)
        setattr(found, f"{name.lower()}_cookie", session_cookie(user))
    return found


@pytest.fixture(autouse=True)
async def orm_thread_connections():
    """The test's own ORM reads run on channels' ORM thread: close its connection after."""
    yield
    await close_orm_thread_connections()


class Peer:
    """A real WebSocket client (the `websockets` package) on one chat socket."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.frames: list[dict] = []
        self.unread: list[dict] = []

    async def next(self, *kinds: str, timeout: float = TIMEOUT) -> dict:
        for i, frame in enumerate(self.unread):
            if frame["type"] in kinds:
                return self.unread.pop(i)
        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await self.connection.recv())
                self.frames.append(frame)
                if frame["type"] in kinds:
                    return frame
                self.unread.append(frame)

    async def presence_until(self, ids: list[int], timeout: float = TIMEOUT) -> None:
        """Presence frames until one lists exactly `ids` (presence is shared via Redis)."""
        async with asyncio.timeout(timeout):
            while sorted(p["id"] for p in (await self.next("presence"))["online"]) != ids:
                pass

    async def close_code(self, timeout: float = TIMEOUT) -> int | None:
        async with asyncio.timeout(timeout):
            try:
                while True:
                    self.unread.append(json.loads(await self.connection.recv()))
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None

    async def send(self, frame: dict | str) -> None:
        await self.connection.send(frame if isinstance(frame, str) else json.dumps(frame))


@contextlib.asynccontextmanager
async def peer(server: Daphne, slug: str, cookie: str | None, *, origin: str | None = None):
    headers = {"Cookie": cookie} if cookie else {}
    connection = await connect(
        server.ws(f"/ws/groups/{slug}/chat/"), origin=origin or server.url,
        additional_headers=headers, proxy=None, compression=None, open_timeout=TIMEOUT,
        close_timeout=1, max_size=None,
    )
    try:
        yield Peer(connection)
    finally:
        await connection.close()


async def test_members_on_two_processes_see_each_others_messages_and_presence(
    servers, people
):
    slug = people.group.slug
    async with (
        peer(servers.a, slug, people.ada_cookie) as ada,
        peer(servers.b, slug, people.ben_cookie) as ben,
    ):
        await ada.next("history")
        await ben.next("history")
        both = sorted([people.ada.pk, people.ben.pk])
        for person in (ada, ben):  # each sees both, whichever join was counted first
            await person.presence_until(both)

        await ada.send({"type": "message.send", "body": "Hello from A", "client_id": "a-1"})
        ack = await ada.next("message.ack")
        heard = await ben.next("message.new")
        assert heard["message"]["id"] == ack["id"]
        assert heard["message"]["body"] == "Hello from A"
        assert heard["message"]["author"] == {"id": people.ada.pk, "name": "Ada"}

        await ben.send({"type": "message.send", "body": "Hello from B", "client_id": "b-1"})
        reply = await ben.next("message.ack")
        assert (await ben.next("message.new"))["message"]["id"] == reply["id"]
        heard_by_ada = [(await ada.next("message.new"))["message"] for _ in range(2)]
        assert [(m["id"], m["author"]["name"]) for m in heard_by_ada] == [
            (ack["id"], "Ada"), (reply["id"], "Ben")
        ], "each side gets both messages, in order, once"
        await ben.send({"type": "typing"})
        assert (await ada.next("typing"))["user"]["id"] == people.ben.pk

    rows = await database_sync_to_async(
        lambda: list(ChatMessage.objects.order_by("pk").values_list("pk", "body"))
    )()
    assert rows == [(ack["id"], "Hello from A"), (reply["id"], "Hello from B")]


async def test_refusals_reach_a_real_client_as_close_codes_after_the_handshake(
    servers, people
):
    slug = people.group.slug
    cases = [(None, slug, 4401), (people.olu_cookie, slug, 4403),
             (people.ada_cookie, "no-such-group", 4404)]
    for cookie, where, code in cases:
        async with peer(servers.a, where, cookie) as refused:  # the handshake succeeded
            assert await refused.close_code() == code, (cookie, where)
            assert refused.frames == []

    with pytest.raises(InvalidStatus) as foreign:
        async with peer(servers.b, slug, people.ada_cookie, origin="https://evil.example"):
            pass
    assert foreign.value.response.status_code == 403


async def test_oversize_frame_closes_that_socket_while_others_keep_working(servers, people):
    slug = people.group.slug
    async with (
        peer(servers.a, slug, people.ada_cookie) as ada,
        peer(servers.a, slug, people.cal_cookie) as cal,
        peer(servers.b, slug, people.ben_cookie) as ben,
    ):
        for person in (ada, cal, ben):
            await person.next("history")

        await ada.send(json.dumps({"type": "message.send", "body": "x" * 1_000_000,
                                   "client_id": "huge"}))

        code = await ada.close_code()
        await cal.send({"type": "message.send", "body": "Still here", "client_id": "c-1"})
        ack = await cal.next("message.ack")
        assert (await ben.next("message.new"))["message"]["id"] == ack["id"]
        assert (await cal.next("message.new"))["message"]["id"] == ack["id"]
        assert code in (4413, 1009), "a frame over 32 KB closes as too big"

    bodies = await database_sync_to_async(
        lambda: list(ChatMessage.objects.values_list("body", flat=True))
    )()
    assert bodies == ["Still here"]
