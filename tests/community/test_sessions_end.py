"""Ending sessions closes the sockets opened with them (issue 9, part 3).

Logout, a password change, ending a session on the sessions page, a password reset and
deleting the account each publish `user.sessions_ended`; the chat and notification
sockets of the ended sessions close with 4401 within a second, and sockets of the
person's other browsers stay open where they should. Bans and removals close the chat
socket of that group (`user.membership_changed`). The same over a real daphne process is
at the end of this file.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from allauth.usersessions.models import UserSession
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from community import realtime
from community.models import Membership, User
from config.asgi import application
from tests.community.chat_helpers import (
    FAST_HASHERS,
    ORIGIN,
    close_orm_thread_connections,
    fresh_cache_keys,
)
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-Kindred-123!"
NEW_PASSWORD = "A-new-Kindred-pass-456"
WITHIN_A_SECOND = 1.0
_addresses = itertools.count(1)


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    fresh_cache_keys(settings)
    # On PostgreSQL chat sockets use a pool of database threads whose connections the
    # test cannot close (they live in contexts copied from the sockets' tasks), and the
    # test database then can't be dropped at the end. What is tested here does not
    # depend on it, so the sockets use the one ORM thread, which the fixtures close.
    settings.KINDRED_CHAT_DB_PARALLEL = False


def new_address() -> str:
    n = next(_addresses)
    return f"10.90.{n // 256 % 256}.{n % 256}"


def log_in(user: User, password: str = PASSWORD) -> Client:
    """A browser logged in through the real login form (allauth records the session)."""
    client = Client(REMOTE_ADDR=new_address())
    response = client.post("/accounts/login/", {"login": user.email, "password": password})
    assert response.status_code == 302, response.content[:500]
    return client


def key_of(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def cookie_header(key: str) -> tuple[bytes, bytes]:
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode())


class Socket:
    """A chat or notifications socket opened with one session's cookie."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.closed: int | None = None

    async def close_code(self, timeout: float = WITHIN_A_SECOND) -> int:
        """The close code, if the server closes within `timeout` (else the test fails)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.closed is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"the socket was not closed within {timeout}s")
            try:
                output = await asyncio.wait_for(self.communicator.output_queue.get(),
                                                remaining)
            except TimeoutError:
                continue
            if output["type"] == "websocket.close":
                self.closed = output.get("code", 1000)
        return self.closed

    async def stays_open(self, watch: float = 0.3) -> bool:
        with contextlib.suppress(AssertionError):
            await self.close_code(timeout=watch)
        return self.closed is None


class Sockets:
    def __init__(self) -> None:
        self.opened: list[Socket] = []

    async def open(self, path: str, key: str) -> Socket:
        communicator = WebsocketCommunicator(application, path,
                                             headers=[ORIGIN, cookie_header(key)])
        connected, _ = await communicator.connect(timeout=3)
        assert connected
        socket = Socket(communicator)
        self.opened.append(socket)
        return socket

    async def chat(self, key: str, slug: str) -> Socket:
        socket = await self.open(f"/ws/groups/{slug}/chat/", key)
        first = json.loads((await socket.communicator.receive_output(3))["text"])
        assert first["type"] == "history", first  # a member's socket, open and reading
        return socket

    async def notifications(self, key: str) -> Socket:
        socket = await self.open("/ws/notifications/", key)
        assert await socket.stays_open(0.05)
        return socket

    async def close_all(self) -> None:
        for socket in self.opened:
            with contextlib.suppress(Exception):
                await socket.communicator.disconnect(timeout=0.5)


@pytest.fixture
async def sockets():
    opened = Sockets()
    try:
        yield opened
    finally:
        await opened.close_all()
        await close_orm_thread_connections()


@pytest.fixture
def browsers(room):
    """Ada logged in on two browsers, A and B."""
    a, b = log_in(room.ada), log_in(room.ada)
    assert key_of(a) != key_of(b)
    return a, b


def http(method: str, client: Client, path: str, data: dict | None = None):
    return database_sync_to_async(getattr(client, method))(path, data or {})


# --- the event ----------------------------------------------------------------------------

def test_sessions_ended_event_names_sessions_by_a_hash_never_by_their_key():
    ended = realtime.sessions_ended_event(ended=["abc123"])
    assert "abc123" not in json.dumps(ended)
    assert realtime.ends_this_socket(ended, {"session": Session(session_key="abc123")})
    assert not realtime.ends_this_socket(ended, {"session": Session(session_key="other")})
    kept = realtime.sessions_ended_event(kept=["abc123"])
    assert not realtime.ends_this_socket(kept, {"session": Session(session_key="abc123")})
    assert realtime.ends_this_socket(kept, {"session": Session(session_key="other")})
    assert realtime.ends_this_socket(realtime.sessions_ended_event(), {})


# --- logout -------------------------------------------------------------------------------

async def test_logout_closes_that_browsers_sockets_within_a_second_and_no_others(
        room, browsers, sockets):
    a, b = browsers
    chat_a = await sockets.chat(key_of(a), room.slug)
    notes_a = await sockets.notifications(key_of(a))
    chat_b = await sockets.chat(key_of(b), room.slug)
    notes_b = await sockets.notifications(key_of(b))
    key_a = key_of(a)

    response = await http("post", a, "/accounts/logout/")

    assert response.status_code == 302
    assert await chat_a.close_code() == 4401
    assert await notes_a.close_code() == 4401
    assert await chat_b.stays_open() and await notes_b.stays_open()
    assert (await http("get", b, "/accounts/profile/")).status_code == 200
    assert not await database_sync_to_async(
        UserSession.objects.filter(session_key=key_a).exists)()


# --- password change ----------------------------------------------------------------------

async def test_password_change_ends_other_sessions_and_keeps_this_one(room, browsers, sockets):
    a, b = browsers
    chat_a = await sockets.chat(key_of(a), room.slug)
    notes_a = await sockets.notifications(key_of(a))
    chat_b = await sockets.chat(key_of(b), room.slug)
    notes_b = await sockets.notifications(key_of(b))
    key_b = key_of(b)

    response = await http("post", a, "/accounts/password/change/", {
        "oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 302, response.content[:800]
    assert await chat_b.close_code() == 4401
    assert await notes_b.close_code() == 4401
    assert await chat_a.stays_open() and await notes_a.stays_open()
    # This browser is still logged in; the other one is not, and its session is gone.
    assert (await http("get", a, "/accounts/profile/")).status_code == 200
    assert (await http("get", b, "/accounts/profile/")).status_code == 302

    @database_sync_to_async
    def rows():
        return (Session.objects.filter(session_key=key_b).exists(),
                UserSession.objects.filter(session_key=key_b).exists(),
                UserSession.objects.filter(session_key=key_of(a)).exists())

    assert await rows() == (False, False, True)


# --- the sessions page --------------------------------------------------------------------

async def test_sessions_page_lists_my_sessions_and_ends_one(room, browsers, sockets):
    a, b = browsers
    chat_a = await sockets.chat(key_of(a), room.slug)
    chat_b = await sockets.chat(key_of(b), room.slug)
    page = await http("get", a, "/accounts/sessions/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "This browser" in html and "Another browser" in html
    row_b = await database_sync_to_async(UserSession.objects.get)(session_key=key_of(b))

    response = await http("post", a, f"/accounts/sessions/{row_b.pk}/end/")

    assert response.status_code == 302
    assert await chat_b.close_code() == 4401
    assert await chat_a.stays_open()
    assert (await http("get", b, "/accounts/profile/")).status_code == 302
    assert (await http("get", a, "/accounts/profile/")).status_code == 200


async def test_log_out_everywhere_else_closes_every_other_browsers_sockets(
        room, browsers, sockets):
    a, b = browsers
    c = await database_sync_to_async(log_in)(room.ada)
    chat_a = await sockets.chat(key_of(a), room.slug)
    chat_b = await sockets.chat(key_of(b), room.slug)
    notes_c = await sockets.notifications(key_of(c))

    response = await http("post", a, "/accounts/sessions/")

    assert response.status_code == 302
    assert await chat_b.close_code() == 4401
    assert await notes_c.close_code() == 4401
    assert await chat_a.stays_open()


async def test_someone_elses_session_cannot_be_ended(room, browsers, sockets):
    a, _ = browsers
    ben = await database_sync_to_async(log_in)(room.ben)
    chat_ben = await sockets.chat(key_of(ben), room.slug)
    row = await database_sync_to_async(UserSession.objects.get)(session_key=key_of(ben))

    response = await http("post", a, f"/accounts/sessions/{row.pk}/end/")

    assert response.status_code == 404
    assert await chat_ben.stays_open()
    assert (await http("get", ben, "/accounts/profile/")).status_code == 200


# --- password reset -----------------------------------------------------------------------

async def test_password_reset_from_the_email_link_closes_every_socket(
        room, browsers, sockets, mailoutbox):
    a, b = browsers
    chat_a = await sockets.chat(key_of(a), room.slug)
    notes_b = await sockets.notifications(key_of(b))
    stranger = Client(REMOTE_ADDR=new_address())

    await http("post", stranger, "/accounts/password/reset/", {"email": room.ada.email})
    link = re.search(r"https?://testserver(/accounts/password/reset/key/\S+/)",
                     mailoutbox[-1].body).group(1)
    form = await database_sync_to_async(stranger.get)(link, follow=True)
    done = await http("post", stranger, form.redirect_chain[-1][0] if form.redirect_chain
                      else link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert done.status_code == 302, done.content[:800]
    assert await chat_a.close_code() == 4401
    assert await notes_b.close_code() == 4401
    assert not await database_sync_to_async(
        UserSession.objects.filter(user=room.ada).exists)()


# --- account deletion ---------------------------------------------------------------------

async def test_deleting_the_account_closes_every_socket_within_a_second(
        room, browsers, sockets):
    a, b = browsers
    chat_a = await sockets.chat(key_of(a), room.slug)
    notes_a = await sockets.notifications(key_of(a))
    chat_b = await sockets.chat(key_of(b), room.slug)
    notes_b = await sockets.notifications(key_of(b))
    ben = await database_sync_to_async(log_in)(room.ben)
    chat_ben = await sockets.chat(key_of(ben), room.slug)

    response = await http("post", a, "/accounts/delete/", {
        "posts": "keep", "password": PASSWORD, "understood": "on"})

    assert response.status_code == 302, response.content[:800]
    for socket in (chat_a, notes_a, chat_b, notes_b):
        assert await socket.close_code() == 4401
    assert await chat_ben.stays_open()
    assert (await http("get", b, "/accounts/profile/")).status_code == 302


# --- bans and removals --------------------------------------------------------------------

async def test_ban_closes_that_groups_chat_within_a_second_and_nothing_else(
        room, browsers, sockets):
    from community import services

    a, _ = browsers
    await database_sync_to_async(add_membership)(room.ada, room.elsewhere, "approved")
    chat_here = await sockets.chat(key_of(a), room.slug)
    chat_elsewhere = await sockets.chat(key_of(a), room.elsewhere.slug)
    notes = await sockets.notifications(key_of(a))
    row = await database_sync_to_async(
        Membership.objects.select_related("group", "user").get)(user=room.ada, group=room.group)

    await database_sync_to_async(services.ban_member)(actor=room.owner, membership=row,
                                                      reason="Kept posting adverts")

    assert await chat_here.close_code() == 4404
    assert await chat_elsewhere.stays_open() and await notes.stays_open()


async def test_removal_closes_that_groups_chat_within_a_second(room, browsers, sockets):
    from community import services

    a, _ = browsers
    chat_here = await sockets.chat(key_of(a), room.slug)
    row = await database_sync_to_async(
        Membership.objects.select_related("group", "user").get)(user=room.ada, group=room.group)

    await database_sync_to_async(services.remove_member)(actor=room.moderator, membership=row,
                                                         reason="Asked to leave")

    assert await chat_here.close_code() == 4403


# --- over a real daphne -------------------------------------------------------------------

try:  # a dev dependency (pyproject.toml)
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import ConnectionClosed
except ImportError:  # pragma: no cover
    ws_connect = None


class Browser:
    """A plain HTTP client with cookies, talking to the live daphne (no proxy)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def get(self, path: str) -> tuple[int, str]:
        with self.opener.open(self.base_url + path, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()

    def post(self, path: str, data: dict) -> int:
        body = urllib.parse.urlencode(
            {**data, "csrfmiddlewaretoken": self.cookie("csrftoken")}).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback only
            self.base_url + path, data=body,
            headers={"Referer": self.base_url + path, "Origin": self.base_url})
        with self.opener.open(request, timeout=10) as response:
            return response.status

    def log_in(self, email: str) -> None:
        self.get("/accounts/login/")
        self.post("/accounts/login/", {"login": email, "password": PASSWORD})
        assert self.cookie("sessionid"), "the live server did not log us in"


@pytest.fixture(scope="module")
def live(django_db_setup, tmp_path_factory):
    from tests.e2e.live import run_daphne

    if ws_connect is None:
        pytest.skip("websockets is not installed (pip install -e '.[dev]')")
    redis_url = os.environ.get("REDIS_URL", "").strip()
    with run_daphne(work_dir=tmp_path_factory.mktemp("sessions-end"),
                    redis_url=redis_url) as server:
        yield server


async def _socket(live, path: str, browser: Browser):
    return await ws_connect(
        live.ws_url + path, origin=live.url,
        additional_headers={"Cookie": f"sessionid={browser.cookie('sessionid')}"},
        open_timeout=5)


async def _close_code(connection, timeout: float = WITHIN_A_SECOND) -> int | None:
    async with asyncio.timeout(timeout):
        try:
            while True:
                await connection.recv()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


async def _stays_open(connection, watch: float = 0.3) -> bool:
    try:
        await _close_code(connection, watch)
    except TimeoutError:
        return True
    return False


async def test_over_real_daphne_logout_and_ban_close_sockets_within_a_second(
        live, settings, make_user, make_group):
    """Everything through the production server: log in over HTTP, real WebSockets, log
    out and ban over HTTP (the server publishes, its own sockets close)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]

    @database_sync_to_async
    def setup():
        owner = make_user("Live Owner")
        group = make_group(owner=owner, name="Live Group", slug="live-sessions")
        ada = make_user("Live Ada")
        add_membership(ada, group, "approved")
        return owner, group, ada, Membership.objects.get(user=ada, group=group)

    owner, group, ada, ada_row = await setup()
    a, b, mod = Browser(live.url), Browser(live.url), Browser(live.url)
    await asyncio.gather(*(asyncio.to_thread(browser.log_in, email) for browser, email in
                           ((a, ada.email), (b, ada.email), (mod, owner.email))))
    chat_path = f"/ws/groups/{group.slug}/chat/"
    chat_a = await _socket(live, chat_path, a)
    notes_a = await _socket(live, "/ws/notifications/", a)
    chat_b = await _socket(live, chat_path, b)
    try:
        assert json.loads(await asyncio.wait_for(chat_a.recv(), 3))["type"] == "history"
        assert json.loads(await asyncio.wait_for(chat_b.recv(), 3))["type"] == "history"

        await asyncio.to_thread(a.post, "/accounts/logout/", {})
        assert await _close_code(chat_a) == 4401
        assert await _close_code(notes_a) == 4401
        assert await _stays_open(chat_b)

        await asyncio.to_thread(mod.get, f"/groups/{group.slug}/members/")
        await asyncio.to_thread(mod.post, f"/groups/{group.slug}/members/{ada_row.pk}/ban/",
                                {"reason": "Kept posting adverts"})
        assert await _close_code(chat_b) == 4404
    finally:
        for connection in (chat_a, notes_a, chat_b):
            await connection.close()
        await close_orm_thread_connections()
