"""Faults without loss (issue 9, part 4), small and fast: the heavy run is bench/faults.py.

Two real daphne processes on the test database, their channel layer on a private
`redis-server` this module starts and kills (never the shared one), and, on PostgreSQL,
their database connections through a loopback proxy this module cuts. Ten members in two
groups chat through clients that behave as CONTRACT.md asks (bench/faultkit.py: reconnect
with `?after=`, resend unacknowledged sends with the same client_id, count deliveries by
message id). After each fault every acknowledged message has reached every member of its
group exactly once, every typed message was acknowledged, and the stored rows hold
nothing half-written.

The first tests need no servers: the chat consumer and the WebSocket stack turn a lost
channel layer or database into close code 4503 ("try again") instead of a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.exceptions
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import OperationalError, connection

from bench import faultkit as fk
from community.consumers import chat as chat_consumer
from community.consumers.guard import TryAgainWhenUnavailable
from community.layers import SweepingInMemoryChannelLayer
from community.models import ChatMessage, Group
from config.asgi import application
from tests.community.chat_helpers import (
    FAST_HASHERS,
    ORIGIN,
    close_orm_thread_connections,
    fresh_cache_keys,
    open_chat,
    session_cookie,
)
from tests.conftest import add_membership, need_service
from tests.e2e.live import child_database_url

pytestmark = pytest.mark.django_db(transaction=True)

RECOVER = 30.0  # longest wait for any recovery here
OUTAGE = 2.0


# --- without servers: what a lost layer or database looks like to a socket ----------------

class BreakableLayer(SweepingInMemoryChannelLayer):
    """The in-memory layer, until `break_now()`: then every pending and later receive
    raises what channels-redis raises when Redis has gone."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.broken = asyncio.Event()

    def break_now(self) -> None:
        self.broken.set()

    async def receive(self, channel):
        getting = asyncio.ensure_future(super().receive(channel))
        breaking = asyncio.ensure_future(self.broken.wait())
        done, _ = await asyncio.wait({getting, breaking}, return_when=asyncio.FIRST_COMPLETED)
        if getting in done:
            breaking.cancel()
            return getting.result()
        getting.cancel()
        raise redis.exceptions.ConnectionError("Connection closed by server.")


@pytest.fixture
def breakable(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.BreakableLayer"}}
    fresh_cache_keys(settings)


async def test_chat_socket_closes_with_4503_when_the_channel_layer_is_lost(
        breakable, make_user, make_group):
    from channels.layers import get_channel_layer

    group, person = await database_sync_to_async(
        lambda: (make_group(Group.Privacy.APPROVAL), make_user("Ada")))()
    await database_sync_to_async(add_membership)(person, group, "approved")
    cookie = await database_sync_to_async(session_cookie)(person)
    before = len(chat_consumer.roster())
    sock = await open_chat(application, None, group.slug,
                           headers=[ORIGIN, (b"cookie", cookie.encode())])
    try:
        await sock.next("history")
        # The socket joins the roster just after its history frame (after presence).
        assert await fk.wait_for(lambda: len(chat_consumer.roster()) == before + 1, 3) \
            is not None
        get_channel_layer().break_now()
        assert await sock.close_code() == 4503, "not a crash (1011): try again"
        await asyncio.wait_for(sock.communicator.future, 2)
        assert sock.communicator.future.exception() is None, "the consumer ended cleanly"
        assert len(chat_consumer.roster()) == before, "the dead socket left the roster"
    finally:
        await sock.disconnect()
        await close_orm_thread_connections()


async def test_handshake_is_accepted_then_closed_4503_when_set_up_hits_a_lost_database():
    async def needs_the_database(scope, receive, send):
        raise OperationalError("could not connect to server: Connection refused")

    communicator = WebsocketCommunicator(TryAgainWhenUnavailable(needs_the_database), "/ws/x/")
    connected, code = await communicator.connect(timeout=2)
    assert connected, "accepted, so a browser can read the code"
    assert (await communicator.receive_output(1))["code"] == 4503

    async def fails_after_accepting(scope, receive, send):
        await send({"type": "websocket.accept"})
        raise OperationalError("lost")

    communicator = WebsocketCommunicator(TryAgainWhenUnavailable(fails_after_accepting), "/x/")
    await communicator.connect(timeout=2)
    with pytest.raises(OperationalError):  # a consumer's own failure stays its own
        await communicator.wait(timeout=1)


async def test_a_frame_for_a_socket_that_has_just_closed_is_dropped():
    """Found by bench/fuzz.py: a presence list or message on its way to a socket that had
    just closed raised out of the consumer (a traceback, and no disconnect tidy-up)."""
    from autobahn.exception import Disconnected

    from community.consumers import NotificationConsumer

    async def gone(message):
        raise Disconnected("Attempt to send on a closed protocol")

    for consumer in (chat_consumer.ChatConsumer(), NotificationConsumer()):
        consumer.base_send = gone
        await consumer.send(text_data="{}")  # dropped, not raised


# --- with servers: the faults themselves ---------------------------------------------------

def _proxied(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2
                                     else host))


@pytest.fixture(scope="module")
def stack(django_db_setup, tmp_path_factory):
    """A private Redis, a proxy in front of PostgreSQL (when the tests run on it) and two
    daphne processes, for the whole module; everything stopped at its end."""
    need_service("redis-server", bool(shutil.which("redis-server")),
                 "apt-get install redis-server (a private one is started on a spare port)")
    work = tmp_path_factory.mktemp("faults")
    database_url = child_database_url()
    proxy = None
    if connection.vendor == "postgresql":
        port = int(connection.settings_dict.get("PORT") or 5432)
        proxy = fk.ThreadedProxy(port)
        database_url = _proxied(database_url, proxy.port)
    redis = fk.PrivateRedis(work)
    secret = secrets.token_urlsafe(45)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "DJANGO_", "KINDRED_"))
           and k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL=database_url,
               REDIS_URL=redis.url, KINDRED_CACHE_PREFIX=f"faults{secrets.token_hex(4)}",
               DJANGO_DEBUG="0", DJANGO_SECRET_KEY=secret, DJANGO_SSL_REDIRECT="0",
               DJANGO_ALLOWED_HOSTS="127.0.0.1", PYTHONUNBUFFERED="1")
    servers = [fk.Daphne(name, env, work) for name in ("a", "b")]
    try:
        redis.start()
        for server in servers:
            server.start()
        for server in servers:
            server.wait_healthy(timeout=60)
        yield SimpleNamespace(redis=redis, proxy=proxy, servers=servers, secret=secret)
    finally:
        fk.stop_all(servers, timeout=3)
        redis.stop()
        if proxy is not None:
            proxy.close()


@pytest.fixture
def members(stack, settings, make_user, make_group):
    """Two groups of five, each member with a session the servers accept."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.SECRET_KEY = stack.secret  # sessions are signed with the servers' key
    people = []
    for g in range(2):
        group = make_group(Group.Privacy.APPROVAL, name=f"Faults {g}")
        for i in range(5):
            person = make_user(f"Member {g}-{i}")
            add_membership(person, group, "approved")
            people.append({"id": person.pk, "group": group.slug,
                           "cookie": session_cookie(person)})
    return people


@contextlib.asynccontextmanager
async def chatting(stack, people):
    ports = [server.port for server in stack.servers]
    clients = [fk.FaultClient(p["id"], p["group"], p["cookie"], ports, index=i)
               for i, p in enumerate(people)]
    tasks = [asyncio.create_task(c.run()) for c in clients]
    try:
        ledger = fk.Ledger(clients)
        assert await fk.wait_for(ledger.all_ready, 20) is not None, \
            ledger.counters("connect_failures")
        yield clients, ledger
    finally:
        await asyncio.gather(*(c.stop() for c in clients), return_exceptions=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_orm_thread_connections()


async def type_for(clients, seconds: float, rate: float = 10.0) -> None:
    """Random members type messages (whether or not they are connected just now)."""
    import random

    rng = random.Random(len(clients))
    for n in range(int(seconds * rate)):
        client = rng.choice(clients)
        await client.say(f"Message {n} from {client.user_id}")
        await asyncio.sleep(1 / rate)


def readyz(stack) -> dict[str, tuple[int, object]]:
    return {s.name: fk.http_status(f"{s.base_url}/readyz", timeout=5) for s in stack.servers}


async def assert_nothing_lost(ledger, clients) -> dict:
    """Wait for recovery, then: everything typed acknowledged, every acknowledged message
    delivered once to every member, and nothing half-written in the database."""
    recovered = await fk.wait_for(
        lambda: ledger.all_ready() and ledger.nothing_pending() and ledger.all_delivered(),
        RECOVER)
    figures = ledger.figures()
    assert recovered is not None, figures
    assert figures["acked"] == figures["typed"] > 0, figures
    assert figures["refused"] == figures["ack_conflicts"] == 0, figures
    assert figures["lost"] == figures["duplicated"] == figures["unexpected"] == 0, figures

    def stored():
        slugs = sorted({c.group for c in clients})
        seqs = dict(Group.objects.filter(slug__in=slugs).values_list("pk", "chat_seq"))
        rows = list(ChatMessage.objects.filter(group_id__in=seqs).values_list(
            "pk", "group_id", "author_id", "client_id", "seq", "status"))
        return rows, seqs

    rows, seqs = await database_sync_to_async(stored)()
    store = fk.rows_check(rows, clients, seqs)
    assert store == {**store, "rows": figures["acked"], "rows_not_typed": 0,
                     "rows_repeated": 0, "acked_not_stored_as_acked": 0,
                     "stored_not_acked": 0, "acked_not_published": 0, "seq_problems": {}}
    return figures


@pytest.mark.redis
async def test_idle_sockets_stay_open_and_readyz_answers_with_sockets_open(stack, members):
    """Two bugs this found: redis-py 8 reads with a 5 s timeout, the same as the layer's
    blocking pop, so every idle socket was closed with 1011 after ~5 s; and /readyz's
    round trip waited behind the sockets' pop and said 503 about a busy, healthy process."""
    async with chatting(stack, members) as (clients, ledger):
        await asyncio.sleep(6.5)  # longer than redis-py's default read timeout
        assert ledger.counters("closes") == {}, "no socket was closed while idle"
        assert all(c.connects == 1 for c in clients)
        assert {name: status for name, (status, _) in readyz(stack).items()} == {
            "a": 200, "b": 200}
        await type_for(clients, 0.5)
        await assert_nothing_lost(ledger, clients)


@pytest.mark.redis
async def test_redis_restart_loses_no_acknowledged_message(stack, members):
    async with chatting(stack, members) as (clients, ledger):
        await type_for(clients, 1.0)
        stack.redis.kill()
        await type_for(clients, OUTAGE)
        during = await asyncio.to_thread(readyz, stack)
        stack.redis.start()
        await type_for(clients, 1.0)
        figures = await assert_nothing_lost(ledger, clients)
        closes = ledger.counters("closes")
    assert all(status == 503 and body["failed"] == ["channel_layer"]
               for status, body in during.values()), during
    assert closes.get("4503") and "1011" not in closes, closes
    assert figures["delivered"] == figures["expected"] == figures["acked"] * 5


@pytest.mark.redis
async def test_killed_daphne_process_loses_no_acknowledged_message(stack, members):
    victim = stack.servers[0]
    async with chatting(stack, members) as (clients, ledger):
        await type_for(clients, 1.0)
        victim.kill()  # SIGKILL: mid-whatever, no goodbyes
        await type_for(clients, OUTAGE)
        victim.start()
        restart = asyncio.create_task(asyncio.to_thread(victim.wait_healthy, 60))
        await type_for(clients, 1.0)
        await restart
        figures = await assert_nothing_lost(ledger, clients)
        failures = ledger.counters("connect_failures")
    assert sum(c.connects for c in clients) > len(clients), "its clients reconnected"
    assert set(failures) <= {"ConnectionRefusedError", "TimeoutError"}, failures
    assert readyz(stack)["a"][0] == 200
    assert figures["lost"] == 0


@pytest.mark.redis
@pytest.mark.postgres
async def test_database_outage_fails_sends_clearly_and_loses_nothing(stack, members):
    need_service("PostgreSQL", stack.proxy is not None, "set DATABASE_URL to a PostgreSQL "
                 "database (the outage is a cut proxy in front of it)")
    async with chatting(stack, members) as (clients, ledger):
        await type_for(clients, 1.0)
        stack.proxy.cut()
        try:
            await type_for(clients, OUTAGE)
            during = await asyncio.to_thread(readyz, stack)
            unavailable = ledger.counters("errors").get("unavailable", 0)
            # Someone arriving now is told "try again" (4503), not an HTTP 500.
            arriving = fk.FaultClient(members[0]["id"], members[0]["group"],
                                      members[0]["cookie"], [stack.servers[1].port])
            arrival = asyncio.create_task(arriving.run())
            await fk.wait_for(lambda: arriving.closes or arriving.connect_failures, 10)
            await arriving.stop()
            arrival.cancel()
            pending_during = sum(len(c.pending) for c in clients)
        finally:
            stack.proxy.restore()
        await type_for(clients, 1.0)
        await assert_nothing_lost(ledger, clients)
    after = await asyncio.to_thread(readyz, stack)
    assert all(status == 503 and body["failed"] == ["database"]
               for status, body in during.values()), during
    assert unavailable > 0, "sends failed with a clear error frame"
    assert pending_during > 0, "the clients kept the text to send again"
    assert dict(arriving.closes) == {4503: 1} and not arriving.connect_failures, (
        arriving.closes, arriving.connect_failures)
    assert {name: status for name, (status, _) in after.items()} == {"a": 200, "b": 200}


def test_the_clients_count_what_they_were_sent():
    """The ledger's own arithmetic, on a made-up exchange (so a pass above means what it
    says): one loss, one duplicate, and a stored row nobody typed."""
    a = fk.FaultClient(1, "g", "", [0])
    b = fk.FaultClient(2, "g", "", [0])
    a.sent = {"x": "hi", "y": "there"}
    a.acked = {"x": (10, "published"), "y": (11, "published")}
    a.delivered.update({10: 1, 11: 1})
    b.delivered.update({10: 2})
    figures = fk.Ledger([a, b]).figures()
    assert (figures["expected"], figures["delivered"], figures["lost"],
            figures["duplicated"]) == (4, 3, 1, 1)
    rows = [(10, 7, 1, "x", 1, "published"), (11, 7, 1, "y", 2, "published"),
            (12, 7, 1, "z", 4, "published")]
    store = fk.rows_check(rows, [a, b], {7: 3})
    assert store["rows_not_typed"] == 1
    assert store["seq_problems"] == {7: {"rows": 3, "counter": 3, "first_gap": 3}}
    assert json.dumps(store)
