"""Chat-socket fixtures shared by the chat consumer tests: a group of named members
(`room`) and a set of sockets that are all closed after the test (`chat`)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from community.models import Group, User
from config.asgi import application
from tests.community.chat_helpers import ChatSocket, close_orm_thread_connections, open_chat
from tests.conftest import add_membership


@dataclass
class Room:
    group: Group
    owner: User
    moderator: User
    ada: User
    ben: User
    cal: User
    elsewhere: Group  # another group, with its own member
    eve: User

    @property
    def slug(self) -> str:
        return self.group.slug


@pytest.fixture
def room(make_user, make_group) -> Room:
    group = make_group(Group.Privacy.APPROVAL, name="Pain Pals")
    owner = group.memberships.get(role="owner").user
    moderator = make_user("Mo Moderator")
    add_membership(moderator, group, "approved", "moderator")
    people = {name: make_user(name) for name in ("Ada", "Ben", "Cal")}
    for person in people.values():
        add_membership(person, group, "approved")
    elsewhere = make_group(Group.Privacy.APPROVAL, name="Sleep Circle")
    eve = make_user("Eve")
    add_membership(eve, elsewhere, "approved")
    return Room(group=group, owner=owner, moderator=moderator, ada=people["Ada"],
                ben=people["Ben"], cal=people["Cal"], elsewhere=elsewhere, eve=eve)


class Sockets:
    """Opens chat sockets for a test and disconnects every one of them afterwards."""

    def __init__(self) -> None:
        self.opened: list[ChatSocket] = []

    async def open(self, user, slug: str, **kwargs) -> ChatSocket:
        sock = await open_chat(application, user, slug, **kwargs)
        self.opened.append(sock)
        return sock

    async def join(self, user, slug: str, *, after=None) -> tuple[ChatSocket, dict]:
        """A member's socket, past its opening `history` frame (returned too)."""
        sock = await self.open(user, slug, after=after)
        assert sock.accepted
        history = await sock.next("history")
        return sock, history

    async def close_all(self) -> None:
        for sock in self.opened:
            await sock.disconnect()


@pytest.fixture
async def chat():
    sockets = Sockets()
    try:
        yield sockets
    finally:
        await sockets.close_all()
        await close_orm_thread_connections()
