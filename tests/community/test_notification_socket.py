"""`/ws/notifications/` through the whole ASGI stack (origin check, session auth, routing).

The same flow over real daphne and the real Redis layer is in tests/test_realtime.py.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client

from community import services
from community.models import Group, Membership, Notification
from config.asgi import application
from tests.conftest import add_membership

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("release_db_worker_connections"),
]

PATH = "/ws/notifications/"
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
TIMEOUT = 5


def session_cookie(user) -> bytes:
    """A real session for `user`, made the way the site makes one."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return f"{name}={client.cookies[name].value}".encode()


async def connect_as(user=None, *, headers=None) -> tuple[WebsocketCommunicator, bool]:
    if headers is None:
        headers = [ORIGIN]
        if user is not None:
            headers.append((b"cookie", await database_sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application, PATH, headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    return communicator, connected


@pytest.fixture
async def release_db_worker_connections():
    """Close the connection left open on the ORM worker thread (CONN_MAX_AGE keeps it),
    so the test database can be dropped at the end of the run."""
    yield
    await database_sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """These tests never type a password; a fast hasher keeps the set-up short."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def waiting_request(make_user, make_group):
    """An approval group, its moderator, a person waiting to join and an unrelated member."""
    moderator = make_user("Mo Mod")
    group = make_group(Group.Privacy.APPROVAL, name="Breathe Easy Leeds", slug="breathe-leeds")
    add_membership(moderator, group, "approved", "moderator")
    newcomer = make_user("Nia Newcomer")
    pending = add_membership(newcomer, group, "pending",
                             answers=[{"question": "Why?", "answer": "COPD since 2019"}])
    bystander = make_user("Bea Bystander")
    add_membership(bystander, group, "approved")
    return {"group": group, "moderator": moderator, "newcomer": newcomer,
            "pending": pending, "bystander": bystander}


async def test_anonymous_is_accepted_then_closed_with_4401():
    communicator, connected = await connect_as(None)
    try:
        assert connected, "accept first, so a browser can read the close code"
        closing = await communicator.receive_output(timeout=TIMEOUT)
        assert closing == {"type": "websocket.close", "code": 4401}
    finally:
        await communicator.disconnect()


@pytest.mark.parametrize(
    "headers",
    [[], [(b"origin", b"https://evil.example")], [(b"origin", b"http://127.0.0.1.evil.example")]],
    ids=["no-origin", "foreign-origin", "lookalike-origin"],
)
async def test_handshake_without_an_allowed_origin_is_refused(headers, waiting_request):
    cookie = await database_sync_to_async(session_cookie)(waiting_request["newcomer"])
    communicator, connected = await connect_as(headers=[*headers, (b"cookie", cookie)])
    try:
        assert not connected
    finally:
        await communicator.disconnect()


async def test_member_hears_of_their_approval_and_no_one_else_does(waiting_request):
    newcomer, bystander = waiting_request["newcomer"], waiting_request["bystander"]
    theirs, connected = await connect_as(newcomer)
    assert connected
    others, other_connected = await connect_as(bystander)
    assert other_connected
    try:
        assert await theirs.receive_nothing(timeout=0.2)  # connected, not closed

        await database_sync_to_async(services.approve_membership)(
            actor=waiting_request["moderator"], membership=waiting_request["pending"]
        )

        frame = await theirs.receive_json_from(timeout=TIMEOUT)
        notification = await database_sync_to_async(Notification.objects.get)(
            user=newcomer, kind=Notification.Kind.REQUEST_APPROVED
        )
        assert frame["type"] == "notification"
        assert frame["id"] == notification.pk
        assert frame["kind"] == "request_approved"
        assert frame["group"] == "breathe-leeds"
        assert "Breathe Easy Leeds" in frame["text"] and "accepted" in frame["text"]
        assert frame["url"] == "/groups/breathe-leeds/"
        assert await theirs.receive_nothing(timeout=0.3)
        assert await others.receive_nothing(timeout=0.3)
        membership = await database_sync_to_async(Membership.objects.get)(
            pk=waiting_request["pending"].pk
        )
        assert membership.status == Membership.Status.APPROVED
    finally:
        await theirs.disconnect()
        await others.disconnect()


async def test_moderator_hears_of_a_new_request(waiting_request, make_user):
    moderator, group = waiting_request["moderator"], waiting_request["group"]
    asker = await database_sync_to_async(make_user)("Ash Asker")
    mods, connected = await connect_as(moderator)
    assert connected
    bystanders, _ = await connect_as(waiting_request["bystander"])
    try:
        await database_sync_to_async(services.request_membership)(
            actor=asker, group=group, answers=["Newly diagnosed"]
        )
        frame = await mods.receive_json_from(timeout=TIMEOUT)
        assert frame["type"] == "notification"
        assert frame["kind"] == "new_request"
        assert frame["url"] == "/groups/breathe-leeds/requests/"
        assert await bystanders.receive_nothing(timeout=0.3)
    finally:
        await mods.disconnect()
        await bystanders.disconnect()


async def test_socket_is_read_only(waiting_request):
    communicator, connected = await connect_as(waiting_request["newcomer"])
    assert connected
    try:
        await communicator.send_json_to({"type": "notification", "text": "spoof"})
        frame = await communicator.receive_json_from(timeout=TIMEOUT)
        assert frame["type"] == "error" and frame["code"] == "read_only"
        assert await communicator.receive_nothing(timeout=0.2)
    finally:
        await communicator.disconnect()
