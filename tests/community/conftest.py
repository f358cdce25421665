"""Fixtures for the community access tests: one shared "world" per test module.

The access matrices ask hundreds of read-only questions of the same people and groups, so
the world is built once per module inside an outer transaction (each test then runs in a
savepoint and is rolled back as usual) and the whole world is rolled back at module end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import SimpleCookie

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from community.models import Group, Invite, Membership, User
from tests.conftest import ROLES, add_membership

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The groups every world holds: one per privacy, and two that wait for (or were refused)
# site approval, which only their founder and site staff may see.
WORLD_GROUPS = {
    "open": {"privacy": Group.Privacy.OPEN},
    "approval": {"privacy": Group.Privacy.APPROVAL},
    "invite": {"privacy": Group.Privacy.INVITE},
    "pending": {"privacy": Group.Privacy.APPROVAL, "status": Group.Status.PENDING},
    "declined": {"privacy": Group.Privacy.APPROVAL, "status": Group.Status.DECLINED},
}
ACTIVE_KEYS = ("open", "approval", "invite")


@dataclass
class World:
    groups: dict[str, Group] = field(default_factory=dict)
    # people[group key][role] -> the person in that standing (None for anonymous)
    people: dict[str, dict[str, User | None]] = field(default_factory=dict)
    memberships: dict[str, dict[str, Membership]] = field(default_factory=dict)
    invites: dict[str, Invite] = field(default_factory=dict)
    sessions: dict[int, str] = field(default_factory=dict)  # user pk -> session key

    def login(self, client: Client, user: User | None) -> None:
        """Sign the client in as this person with their ready-made session (or not at all)."""
        if user is None:
            return
        key = self.sessions.get(user.pk)
        if key is None:
            client.force_login(user)
        else:
            client.cookies[settings.SESSION_COOKIE_NAME] = key

    @property
    def group_pks(self) -> set[int]:
        return {group.pk for group in self.groups.values()}


@pytest.fixture
def fast_passwords(settings):
    """Password hashing dominates user creation; tests here never check a password."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(scope="module")
def _module_client() -> Client:
    return Client()


@pytest.fixture
def web(_module_client) -> Client:
    """The test client, with its middleware loaded once per module and fresh cookies.

    A new client loads the middleware again, and WhiteNoise then scans every static file
    (about 60 ms): over hundreds of access checks that is most of the run time.
    """
    _module_client.cookies = SimpleCookie()
    return _module_client


def _person(name: str, *, staff: bool = False) -> User:
    email = f"{name.lower().replace(' ', '.')}@example.org"
    user = User.objects.create_user(
        email=email, password="pw-Kindred-123!", display_name=name, is_staff=staff
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def build_world(tag: str) -> World:
    """Groups of every kind with one person in every standing (as `people_in` makes them)."""
    world = World()
    for key, fields in WORLD_GROUPS.items():
        owner = _person(f"W{tag} owner {key}")
        group = Group.objects.create(
            name=f"World {tag} {key} group",
            slug=f"world-{tag}-{key}",
            description=f"The {key} world group.",
            rules="Be kind.",
            created_by=owner,
            **fields,
        )
        group.questions.create(position=0, text="Why would you like to join?")
        people: dict[str, User | None] = {"anonymous": None, "owner": owner}
        rows = {"owner": add_membership(owner, group, "approved", "owner")}
        for role in ROLES:
            if role in people:
                continue
            person = _person(f"W{tag} {role} {key}", staff=(role == "staff"))
            people[role] = person
            if role == "pending":
                rows[role] = add_membership(
                    person, group, "pending",
                    answers=[{"question": "Why?", "answer": "Canary pending"}],
                )
            elif role == "declined":
                rows[role] = add_membership(person, group, "declined")
            elif role == "member":
                rows[role] = add_membership(person, group, "approved")
            elif role == "muted":
                rows[role] = add_membership(
                    person, group, "approved",
                    muted_until=timezone.now() + timezone.timedelta(days=1),
                )
            elif role in ("welcomer", "moderator"):
                rows[role] = add_membership(person, group, "approved", role)
            elif role == "banned":
                rows[role] = add_membership(person, group, "banned", decided_at=timezone.now())
            elif role == "ex_member":
                rows[role] = add_membership(person, group, "left")
        world.groups[key] = group
        world.people[key] = people
        world.memberships[key] = rows
        world.invites[key] = Invite.objects.create(
            group=group, created_by=owner, expires_at=timezone.now() + timezone.timedelta(days=7)
        )
    for people in world.people.values():
        for person in people.values():
            if person is not None:
                client = Client()
                client.force_login(person)
                world.sessions[person.pk] = client.session.session_key
    return world


@pytest.fixture(scope="module")
def world(request, django_db_setup, django_db_blocker):
    """One world per test module, rolled back when the module is done."""
    tag = request.module.__name__.rsplit(".", 1)[-1].replace("test_", "")[:12]
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
                built = build_world(tag.replace("_", "-"))
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield built
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


from tests.community.chat_fixtures import chat, room  # noqa: E402, F401  (shared fixtures)
