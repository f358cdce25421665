"""Every WebSocket route, for every standing and every group, answers as CONTRACT.md says.

Real sockets through `config.asgi.application` (origin check, session cookie, routing, the
consumer) for each person of the world: anonymous, outsider, pending, declined, member,
muted, welcomer, moderator, owner, banned, ex-member and site staff, against an open, an
approval and an invite-only group, and the two groups still waiting for (or refused) site
approval. `test_every_websocket_route_has_a_matrix` walks the ASGI application's URL
routers, so a new socket route without a table here fails the suite.

Close codes (CONTRACT.md): 4401 not logged in; 4403 not a member of a group the person can
see; 4404 no such group, an invite-only group the person is not in, or banned. The server
accepts first and then closes, so a browser can read the code, and says nothing before it.
An accepted chat socket gets its `history`, answers a `history` request, and takes a
message (a muted member's gets the `muted` error instead). The same close codes over real
daphne are in tests/test_chat_two_processes.py.
"""

from __future__ import annotations

import inspect

import pytest
from channels.routing import URLRouter
from django.urls import URLPattern

from community.models import Group
from config import routing
from config.asgi import application
from tests.community.chat_helpers import AMBIENT, ChatSocket, SocketClosed, new_client_id
from tests.community.conftest import WORLD_GROUPS, World, build_world
from tests.conftest import ROLES
from tests.security.worlds import build_in, live_sockets, open_socket, rolled_back

pytestmark = pytest.mark.django_db

__all__ = ["live_sockets"]  # a fixture, used by name

STAYS_OPEN = None  # accepted, and the socket stays open
CHAT_ROUTE = "ws/groups/<slug:slug>/chat/"
NOTIFICATIONS_ROUTE = "ws/notifications/"
NO_SUCH_GROUP = "unknown"  # a slug no group has


def row(*values) -> dict:
    """One table row, in the order of ROLES."""
    assert len(values) == len(ROLES), values
    return dict(zip(ROLES, values, strict=True))


# Column order of every row below:
#   anon  outsdr pendng declnd member muted  welcmr modrtr owner  banned ex_mem staff
MEMBERS_ONLY = (STAYS_OPEN,) * 5
CHAT = {
    # A group anyone may see: people who are not (or no longer) in it are told so (4403);
    # a banned person is told nothing more than "not found".
    "open": row(4401, 4403, 4403, 4403, *MEMBERS_ONLY, 4404, 4403, 4403),
    "approval": row(4401, 4403, 4403, 4403, *MEMBERS_ONLY, 4404, 4403, 4403),
    # An invite-only group the person is not in is "not found", whoever they are: site
    # staff included (CONTRACT.md), though staff may read its public description.
    "invite": row(4401, 4404, 4404, 4404, *MEMBERS_ONLY, 4404, 4404, 4404),
    # A group the site has not approved (yet) exists only for its founder and site staff;
    # staff may see it but are not in it.
    "pending": row(4401, 4404, 4404, 4404, 4404, 4404, 4404, 4404, STAYS_OPEN, 4404, 4404,
                   4403),
    "declined": row(4401, 4404, 4404, 4404, 4404, 4404, 4404, 4404, STAYS_OPEN, 4404, 4404,
                    4403),
    # No group has this slug: the same "not found" as a hidden group.
    NO_SUCH_GROUP: row(4401, *(4404,) * 11),
}
# Personal notifications: anyone signed in hears their own; the group does not matter, but
# each group of the world has its own people, so every one of them is tried.
NOTIFICATIONS = {key: row(4401, *(STAYS_OPEN,) * 11) for key in ("open", "approval", "invite")}

# route (as written in config/routing.py) -> {group key: {role: close code or STAYS_OPEN}}
SOCKET_ROUTES = {
    CHAT_ROUTE: CHAT,
    NOTIFICATIONS_ROUTE: NOTIFICATIONS,
}


# --- the world ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> World:
    with rolled_back(django_db_blocker):
        yield build_in(django_db_blocker, lambda: build_world("sockets"))


def session_of(world: World, key: str, role: str) -> str | None:
    person = world.people[key][role]
    return None if person is None else world.sessions[person.pk]


def path_for(route: str, world: World, key: str) -> str:
    if route == CHAT_ROUTE:
        slug = "no-such-group-anywhere" if key == NO_SUCH_GROUP else world.groups[key].slug
        return f"/ws/groups/{slug}/chat/"
    return "/ws/notifications/"


# --- what a socket does -------------------------------------------------------------------


async def refused(sock: ChatSocket) -> int:
    """A refused socket: accepted first (so the code can be read), then closed having said
    nothing at all, even when asked for history straight away."""
    assert sock.accepted, "accept first, so a browser can read the close code"
    await sock.send({"type": "history", "before": 2**53 - 1, "limit": 50})
    code = await sock.close_code()
    assert sock.frames == [], f"nothing may be sent before the close: {sock.frames}"
    return code


async def chat_stays_open(sock: ChatSocket, *, muted: bool) -> None:
    assert sock.accepted
    opening = await sock.next("history")
    assert opening["type"] == "history" and isinstance(opening["messages"], list)
    await sock.send({"type": "history", "before": 2**53 - 1, "limit": 5})
    answer = await sock.next("history", "error")
    assert answer["type"] == "history", answer
    reply = await sock.post("Hello from the socket matrix", client_id=new_client_id())
    if muted:
        assert (reply["type"], reply["code"]) == ("error", "muted"), reply
    else:
        assert (reply["type"], reply["status"]) == ("message.ack", "published"), reply
    await sock.send({"type": "history", "before": 2**53 - 1, "limit": 1})  # a sentinel
    await sock.next("history")
    leftovers = [f for f in sock.unread if f["type"] not in AMBIENT]
    assert leftovers == [], leftovers
    assert sock.closed is None


async def notifications_stay_open(sock: ChatSocket) -> None:
    assert sock.accepted
    await sock.send({"type": "hello"})
    answer = await sock.next("error")
    assert answer["code"] == "read_only"
    assert sock.frames == [answer], "nothing else is said to a quiet person"
    assert sock.closed is None


async def try_socket(route: str, path: str, session_key: str | None, expected,
                     muted: bool) -> int | None:
    sock = await open_socket(path, session_key)
    try:
        if expected is not STAYS_OPEN:
            return await refused(sock)
        if route == CHAT_ROUTE:
            await chat_stays_open(sock, muted=muted)
        else:
            await notifications_stay_open(sock)
        return STAYS_OPEN
    except SocketClosed as closed:
        return closed.code
    finally:
        await sock.disconnect()


# --- the matrix ---------------------------------------------------------------------------

SOCKET_MATRIX = [
    pytest.param(route, key, role, id=f"{route.split('/')[1]}-{key}-{role}")
    for route, table in SOCKET_ROUTES.items()
    for key in table
    for role in ROLES
]


@pytest.mark.parametrize(("route", "key", "role"), SOCKET_MATRIX)
def test_socket_access(world, live_sockets, route, key, role):
    expected = SOCKET_ROUTES[route][key][role]
    people_key = "open" if key == NO_SUCH_GROUP else key
    got = live_sockets(try_socket, route, path_for(route, world, key),
                       session_of(world, people_key, role), expected,
                       muted=(role == "muted"))
    assert got == expected


# --- the routers: every socket route has a matrix ------------------------------------------


def _routes_of(app, prefix: str = "", seen: set[int] | None = None, depth: int = 0
               ) -> list[str]:
    """Every route of every URLRouter inside an ASGI application, however it is wrapped:
    the walk looks through every attribute of every wrapper (channels' middleware keep
    what they wrap as `inner` or `application`; others may not)."""
    seen = set() if seen is None else seen
    if isinstance(app, URLRouter):
        found = []
        for route in app.routes:
            pattern = prefix + str(route.pattern)
            inner = getattr(route, "callback", None)
            if isinstance(inner, URLRouter):
                found += _routes_of(inner, pattern, seen, depth + 1)
            else:
                found.append(pattern)
        return found
    if depth > 8 or id(app) in seen or isinstance(app, str | bytes | int | float | type):
        return []
    seen.add(id(app))
    if isinstance(app, dict):
        children = list(app.values())
    elif isinstance(app, list | tuple):
        children = list(app)
    elif hasattr(app, "__dict__") and not inspect.ismodule(app) and not inspect.isroutine(app):
        children = list(vars(app).values())
    else:
        children = []
    return [r for child in children for r in _routes_of(child, prefix, seen, depth + 1)]


def test_every_websocket_route_has_a_matrix():
    served = _routes_of(application)
    assert CHAT_ROUTE in served, served  # the walk works
    assert sorted(served) == sorted(str(r.pattern) for r in routing.websocket_urlpatterns)
    assert all(isinstance(r, URLPattern) for r in routing.websocket_urlpatterns)
    missing = sorted(set(served) - set(SOCKET_ROUTES))
    assert not missing, f"socket routes without a close-code table in {__name__}: {missing}"
    assert not set(SOCKET_ROUTES) - set(served), "a table for a route that no longer exists"


def test_every_table_has_every_standing_and_every_group():
    for route, table in SOCKET_ROUTES.items():
        for key, codes in table.items():
            assert list(codes) == list(ROLES), (route, key)
    active = {key for key, fields in WORLD_GROUPS.items() if "status" not in fields}
    assert active == {"open", "approval", "invite"}
    assert set(CHAT) == set(WORLD_GROUPS) | {NO_SUCH_GROUP}
    assert set(NOTIFICATIONS) == active
    assert {Group.Privacy.OPEN, Group.Privacy.APPROVAL, Group.Privacy.INVITE} <= set(CHAT)
