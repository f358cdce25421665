"""Shared fixtures: people in every standing, groups of every privacy."""

from __future__ import annotations

import itertools
import os
import uuid

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone

from community.models import Group, Membership, User

_counter = itertools.count(1)

ROLES = (
    "anonymous", "outsider", "pending", "declined", "member", "muted", "welcomer",
    "moderator", "owner", "banned", "ex_member", "staff",
)
PRIVACIES = (Group.Privacy.OPEN, Group.Privacy.APPROVAL, Group.Privacy.INVITE)


def need_service(name: str, available: bool, reason: str) -> None:
    """Skip without the service only outside CI; in CI a missing service is a failure."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI: {reason}")
    pytest.skip(f"{name} not available: {reason}")


@pytest.fixture(autouse=True)
def own_rate_limit_counts(settings):
    """Each test counts its rate limits from zero: the counts live in the cache (local
    memory, or Redis with REDIS_URL) keyed by person ids, which SQLite reuses after a
    rolled-back test, so without its own key prefix one test's posts count against the
    next one's allowance."""
    default = dict(settings.CACHES["default"])
    default["KEY_PREFIX"] = f"{default.get('KEY_PREFIX', '')}-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {**settings.CACHES, "default": default}


# People in tests are established members (joined weeks ago), as in the community they
# stand for; tests of the first-day rules for new accounts ask for `new=True`.
ESTABLISHED = timezone.timedelta(weeks=6)


@pytest.fixture
def make_user(db):
    def make(name: str | None = None, *, staff: bool = False, password: str = "pw-Kindred-123!",
             verified: bool = True, new: bool = False) -> User:
        n = next(_counter)
        name = name or f"Person {n}"
        email = f"{name.lower().replace(' ', '.')}.{n}@example.org"
        joined = timezone.now() - (timezone.timedelta(0) if new else ESTABLISHED)
        user = User.objects.create_user(email=email, password=password, display_name=name,
                                        is_staff=staff, date_joined=joined)
        EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
        return user

    return make


@pytest.fixture
def make_group(db, make_user):
    def make(privacy: str = Group.Privacy.APPROVAL, *, owner: User | None = None,
             questions: tuple[str, ...] = ("Why would you like to join?",), **fields) -> Group:
        n = next(_counter)
        owner = owner or make_user(f"Owner {n}")
        fields.setdefault("name", f"Group {n}")
        fields.setdefault("slug", f"group-{n}")
        fields.setdefault("description", "A place to talk.")
        group = Group.objects.create(privacy=privacy, created_by=owner, **fields)
        for i, text in enumerate(questions):
            group.questions.create(position=i, text=text)
        add_membership(owner, group, "approved", "owner")
        return group

    return make


def add_membership(user: User, group: Group, status: str, role: str = "member",
                   **extra) -> Membership:
    now = timezone.now()
    return Membership.objects.create(
        user=user, group=group, status=status, role=role, requested_at=now,
        joined_at=now if status == "approved" else None, **extra,
    )


@pytest.fixture
def people_in(make_user):
    """people_in(group) -> {role name: user or None} with one person in every standing."""

    def build(group: Group) -> dict[str, User | None]:
        owner = group.memberships.get(role="owner").user
        people: dict[str, User | None] = {"anonymous": None, "owner": owner}
        for role in ROLES:
            if role in people:
                continue
            person = make_user(f"{role.title()} {group.slug}", staff=(role == "staff"))
            people[role] = person
            if role == "pending":
                add_membership(person, group, "pending",
                               answers=[{"question": "Why?", "answer": "Canary pending"}])
            elif role == "declined":
                add_membership(person, group, "declined")
            elif role == "member":
                add_membership(person, group, "approved")
            elif role == "muted":
                add_membership(person, group, "approved",
                               muted_until=timezone.now() + timezone.timedelta(days=1))
            elif role in ("welcomer", "moderator"):
                add_membership(person, group, "approved", role)
            elif role == "banned":
                add_membership(person, group, "banned")
            elif role == "ex_member":
                add_membership(person, group, "left")
        return people

    return build
