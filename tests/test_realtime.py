"""Real-time delivery through the real services: Redis, daphne and a browser's WebSocket.

The in-memory layer and `WebsocketCommunicator` hide two production facts these tests
pin: events cross processes only through Redis, and a refusal must reach a real client
as a close code after the handshake, not as an HTTP 403.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer
from django.db import connection

from community import realtime, services
from community.models import Group, Notification
from config.asgi import application
from tests.community.test_notification_socket import (
    ORIGIN,
    release_db_worker_connections,  # noqa: F401 - a fixture used below
    session_cookie,
)
from tests.conftest import add_membership, need_service
from tests.e2e.live import (
    OPEN_SOCKET_JS,
    launch_chromium,
    new_visitor,
    raw_websocket_handshake,
    redis_for_tests,
    run_daphne,
)

TIMEOUT = 10  # seconds; generous for a loaded machine, still bounded


@pytest.fixture(scope="module")
def redis_url() -> str:
    return redis_for_tests()


@pytest.fixture
def need_redis(redis_url: str) -> str:
    need_service("redis", bool(redis_url), "nothing answers PING at $REDIS_URL or "
                 "redis://127.0.0.1:6379/0 (start redis-server)")
    return redis_url


@pytest.fixture
def redis_layer_settings(need_redis, settings):
    """Point this process's default channel layer at real Redis, with a prefix of its own."""
    prefix = f"rt{uuid.uuid4().hex[:10]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [need_redis], "prefix": prefix},
        }
    }
    return prefix


# --- The Redis layer itself ------------------------------------------------------------


@pytest.mark.redis
async def test_redis_layer_group_round_trip(need_redis):
    layer = RedisChannelLayer(hosts=[need_redis], prefix=f"rt{uuid.uuid4().hex[:10]}")
    try:
        listener = await layer.new_channel()
        stranger = await layer.new_channel()
        await layer.group_add(realtime.user_group(7), listener)
        event = {"type": realtime.NOTIFICATION, "notification": {"id": 1, "text": "Hello"}}
        await layer.group_send(realtime.user_group(7), event)
        assert await asyncio.wait_for(layer.receive(listener), TIMEOUT) == event
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive(stranger), 0.3)
    finally:
        await layer.flush()
        await layer.close_pools()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_publish_reaches_a_group_member_through_redis(redis_layer_settings):
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    try:
        listener = await layer.new_channel()
        await layer.group_add(realtime.moderators_group(3), listener)
        event = {"type": realtime.NOTIFICATION, "notification": {"id": 2, "text": "Flag"}}
        # publish() is the sync call services make; run it off the event loop as they do.
        await sync_to_async(realtime.publish)(realtime.moderators_group(3), event)
        assert await asyncio.wait_for(layer.receive(listener), TIMEOUT) == event
    finally:
        await layer.flush()
        await layer.close_pools()


@pytest.fixture
def waiting_request(make_user, make_group):
    moderator = make_user("Rae Moderator")
    group = make_group(Group.Privacy.APPROVAL, name="Long Covid Pacers", slug="lc-pacers")
    add_membership(moderator, group, "approved", "moderator")
    newcomer = make_user("Nico Newcomer")
    pending = add_membership(newcomer, group, "pending",
                             answers=[{"question": "Why?", "answer": "Tired all the time"}])
    bystander = make_user("Bo Bystander")
    add_membership(bystander, group, "approved")
    return {"group": group, "moderator": moderator, "newcomer": newcomer, "pending": pending,
            "bystander": bystander}


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("release_db_worker_connections")
async def test_approval_reaches_the_notification_socket_through_redis(
    redis_layer_settings, waiting_request
):
    headers = [ORIGIN, (b"cookie", await database_sync_to_async(session_cookie)(
        waiting_request["newcomer"]))]
    other_headers = [ORIGIN, (b"cookie", await database_sync_to_async(session_cookie)(
        waiting_request["bystander"]))]
    theirs = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
    others = WebsocketCommunicator(application, "/ws/notifications/", headers=other_headers)
    try:
        assert (await theirs.connect(timeout=TIMEOUT))[0]
        assert (await others.connect(timeout=TIMEOUT))[0]
        assert await theirs.receive_nothing(timeout=0.2)
        await database_sync_to_async(services.approve_membership)(
            actor=waiting_request["moderator"], membership=waiting_request["pending"]
        )
        frame = await theirs.receive_json_from(timeout=TIMEOUT)
        assert frame["type"] == "notification" and frame["kind"] == "request_approved"
        assert await others.receive_nothing(timeout=0.3)
    finally:
        await theirs.disconnect()
        await others.disconnect()
        await get_channel_layer().flush()
        await get_channel_layer().close_pools()


# --- Over real daphne -------------------------------------------------------------------
# Kept after the async tests: a running sync Playwright owns this thread's event loop.


@pytest.fixture(scope="module")
def realtime_daphne(django_db_setup, tmp_path_factory, redis_url):
    """A daphne on the test database, on Redis whenever Redis answers."""
    with run_daphne(work_dir=tmp_path_factory.mktemp("realtime"), redis_url=redis_url) as server:
        yield server


@pytest.fixture
def server(realtime_daphne, transactional_db):
    return realtime_daphne


@pytest.fixture
def browser():
    with launch_chromium() as chromium:
        yield chromium


def test_refusals_on_the_wire_over_daphne(server):
    """Without a session: handshake accepted (101), then closed 4401. Bad Origin: 403."""
    origin = server.url
    assert raw_websocket_handshake(server, "/ws/notifications/", origin=origin) == (101, 4401)
    assert raw_websocket_handshake(
        server, "/ws/notifications/", origin="http://evil.example"
    ) == (403, None)
    assert raw_websocket_handshake(server, "/ws/notifications/", origin=None) == (403, None)


@pytest.mark.e2e
def test_browser_reads_4401_when_not_logged_in_over_daphne(server, browser):
    person = new_visitor(browser, server.url)
    try:
        person.open("/help/")
        result = person.page.evaluate(OPEN_SOCKET_JS, f"{server.ws_url}/ws/notifications/")
        if result.get("code") is None:  # opened; wait for the server's close
            person.page.wait_for_function("() => window.__kindredSocket.closed !== null",
                                          timeout=TIMEOUT * 1000)
            result = person.page.evaluate("() => window.__kindredSocket.closed")
        assert result["opened"] is True, "the handshake was refused (HTTP 403?)"
        assert result["code"] == 4401
        assert person.offsite_requests == []
    finally:
        person.context.close()


def _approve_in_another_thread(**kwargs) -> None:
    """Run the service as a worker would: a thread with no event loop, its own connection.

    (This thread has the sync Playwright loop running, where async_to_sync refuses to work.)
    """
    failure: list[BaseException] = []

    def work() -> None:
        try:
            services.approve_membership(**kwargs)
        except BaseException as exc:  # reported below, in the test's thread
            failure.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=15)
    assert not worker.is_alive(), "approve_membership did not finish in 15s"
    if failure:
        raise failure[0]


def _wait_for_subscription(server, user_id: int) -> None:
    """The consumer joins the user's group just after accepting; wait until Redis has it."""
    import redis

    client = redis.Redis.from_url(server.redis_url, socket_timeout=2)
    key = f"{server.channel_prefix}:group:{realtime.user_group(user_id)}"
    try:
        deadline = time.monotonic() + TIMEOUT
        while client.zcard(key) < 1:
            assert time.monotonic() < deadline, f"no subscriber appeared in Redis at {key}"
            time.sleep(0.05)
    finally:
        client.close()


@pytest.mark.e2e
@pytest.mark.redis
def test_notification_crosses_processes_through_redis(server, browser, settings, waiting_request):
    need_service("redis", bool(server.redis_url), "the server could not be given a Redis")
    # This process publishes onto the server's layer, exactly as a second web process would.
    settings.CHANNEL_LAYERS = server.channel_layers()
    newcomer = waiting_request["newcomer"]
    person = new_visitor(browser, server.url)
    try:
        page = person.page
        page.goto("/accounts/login/")
        page.get_by_label("Email", exact=True).fill(newcomer.email)
        page.get_by_label("Password", exact=True).fill("pw-Kindred-123!")
        page.get_by_role("button", name="Sign In").click()
        page.get_by_role("button", name="Log out").wait_for()
        opened = page.evaluate(OPEN_SOCKET_JS, f"{server.ws_url}/ws/notifications/")
        assert opened == {"opened": True}
        _wait_for_subscription(server, newcomer.pk)

        _approve_in_another_thread(actor=waiting_request["moderator"],
                                   membership=waiting_request["pending"])

        page.wait_for_function("() => window.__kindredSocket.frames.length > 0",
                               timeout=TIMEOUT * 1000)
        frames = [json.loads(raw) for raw in page.evaluate("() => window.__kindredSocket.frames")]
        notification = Notification.objects.get(user=newcomer,
                                                kind=Notification.Kind.REQUEST_APPROVED)
        assert frames == [{
            "type": "notification", "id": notification.pk, "kind": "request_approved",
            "text": notification.text, "url": "/groups/lc-pacers/", "group": "lc-pacers",
            "created": notification.created_at.isoformat(),
        }]
        assert page.evaluate("() => window.__kindredSocket.closed") is None
        assert person.offsite_requests == []
    finally:
        person.context.close()
