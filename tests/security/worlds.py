"""A world built once per test module, and real sockets that run inside its transaction.

The world is tests/community/conftest.py's: groups of every privacy (and two waiting for
site approval) with one person in every standing. It is built inside an outer
transaction and rolled back when the module is done, as the HTTP access matrix does.

Sockets go through the whole ASGI stack (`config.asgi.application`: origin check, session
auth, routing, the consumers). The test stays synchronous and drives the sockets with
`async_to_sync`, so the consumers' database work (thread-sensitive `database_sync_to_async`)
runs on the test's own thread and connection and sees the uncommitted world. For that,
chat's parallel database threads are switched off and channels' "close old connections"
(which would close a connection that is inside a transaction) is a no-op, as channels'
own `ApplicationCommunicator` makes it while it sends and receives.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie

import channels.db
import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from community.models import User
from config.asgi import application
from tests.community.chat_helpers import FAST_HASHERS, ORIGIN, TIMEOUT, ChatSocket
from tests.community.chat_helpers import fresh_cache_keys as _fresh_cache_keys

ESTABLISHED = timezone.timedelta(weeks=6)


@contextlib.contextmanager
def rolled_back(django_db_blocker) -> Iterator[None]:
    """An outer transaction for a module's world, rolled back however the module ends."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def established(*people: User) -> None:
    """People in the world have been here for weeks, as the community they stand for: the
    first-day rules for brand-new accounts are tested elsewhere. (No one: everybody.)"""
    joined = timezone.now() - ESTABLISHED
    rows = User.objects.filter(pk__in=[p.pk for p in people]) if people else User.objects
    rows.update(date_joined=joined)
    for person in people:
        person.date_joined = joined


def build_in(django_db_blocker, build: Callable[[], object]) -> object:
    """Run `build` with database access, fast password hashing (no test types one) and
    rate-limit counts of its own (ids are reused after a rollback, so another module's
    sends must not count against the world's people)."""
    default = dict(settings.CACHES["default"])
    default["KEY_PREFIX"] = f"{default.get('KEY_PREFIX', '')}-world-{uuid.uuid4().hex[:12]}"
    caches = {**settings.CACHES, "default": default}
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=FAST_HASHERS,
                                                        CACHES=caches):
        made = build()
        established()
        return made


@pytest.fixture(scope="module")
def _module_client() -> Client:
    return Client()


@pytest.fixture
def web(_module_client) -> Client:
    """One test client per module (loading the middleware once), with fresh cookies."""
    _module_client.cookies = SimpleCookie()
    return _module_client


@pytest.fixture
def live_sockets(settings, monkeypatch) -> Callable:
    """`live_sockets(coroutine function, *args)`: run it with sockets on this thread."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.KINDRED_CHAT_DB_PARALLEL = False
    _fresh_cache_keys(settings)
    monkeypatch.setattr(channels.db, "close_old_connections", lambda **kwargs: None)

    def run(func, *args, **kwargs):
        return async_to_sync(func)(*args, **kwargs)

    return run


def cookie_header(session_key: str | None) -> list[tuple[bytes, bytes]]:
    headers = [ORIGIN]
    if session_key is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()))
    return headers


async def open_socket(path: str, session_key: str | None) -> ChatSocket:
    """Open a socket at `path` with an allowed Origin, signed in with this session (if any).

    `ChatSocket` (tests/community/chat_helpers.py) keeps every frame it reads, and reads
    the close code; it serves the notifications socket as well as chat.
    """
    communicator = WebsocketCommunicator(application, path, headers=cookie_header(session_key))
    accepted, _ = await communicator.connect(timeout=TIMEOUT)
    return ChatSocket(communicator=communicator, accepted=accepted)
