"""Demo and benchmark data, built through the same services members use where it matters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from community.models import Group, Membership, User


def ensure_user(*, email: str, display_name: str, password: str, is_staff: bool = False) -> User:
    """A verified account that can log in at once (idempotent). The demo community's
    people joined weeks ago, so the first-day limits for new accounts don't apply."""
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email, password=password, display_name=display_name, is_staff=is_staff,
            date_joined=timezone.now() - timedelta(weeks=6),
        )
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


@dataclass(frozen=True)
class BenchUser:
    id: int
    group: str
    cookie: str


def _bench_emails(prefix: str) -> str:
    return rf"^{re.escape(prefix)}(owner|user[0-9]+)@bench\.kindred\.invalid$"


def clear_bench_data(prefix: str) -> None:
    slug_pattern = rf"^{re.escape(prefix)}[0-9]+$"
    with transaction.atomic():
        Group.objects.filter(slug__regex=slug_pattern).delete()
        User.objects.filter(email__regex=_bench_emails(prefix)).delete()


def make_bench_data(*, users: int, groups: int, prefix: str) -> tuple[list[str], list[BenchUser]]:
    """G approval groups P0..P(G-1) and N verified, established members spread evenly over
    them (earlier groups take the remainder), each with a ready session cookie."""
    clear_bench_data(prefix)
    now = timezone.now()
    joined = now - timedelta(weeks=6)
    password = make_password(get_random_string(32))
    with transaction.atomic():
        owner = User.objects.create(
            email=f"{prefix}owner@bench.kindred.invalid", display_name=f"{prefix}owner",
            password=password, date_joined=joined,
        )
        group_rows = Group.objects.bulk_create(
            Group(name=f"Bench group {i}", slug=f"{prefix}{i}", description="Benchmark group.",
                  privacy=Group.Privacy.APPROVAL, status=Group.Status.ACTIVE, created_by=owner,
                  created_at=joined)
            for i in range(groups)
        )
        group_rows = list(Group.objects.filter(slug__in=[g.slug for g in group_rows]))
        group_rows.sort(key=lambda g: int(g.slug[len(prefix):]))
        base, extra = divmod(users, groups) if groups else (0, 0)
        plan: list[Group] = []
        for index, group in enumerate(group_rows):
            plan.extend([group] * (base + (1 if index < extra else 0)))
        people = User.objects.bulk_create(
            User(email=f"{prefix}user{i}@bench.kindred.invalid",
                 display_name=f"{prefix}user{i}", password=password, date_joined=joined)
            for i in range(len(plan))
        )
        people = list(
            User.objects.filter(email__regex=rf"^{re.escape(prefix)}user[0-9]+@")
        )
        people.sort(key=lambda u: int(u.email.split("@")[0][len(prefix) + 4:]))
        EmailAddress.objects.bulk_create(
            EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in people
        )
        Membership.objects.bulk_create(
            [Membership(user=owner, group=g, status=Membership.Status.APPROVED,
                        role=Membership.Role.OWNER, requested_at=joined, joined_at=joined)
             for g in group_rows]
            + [Membership(user=u, group=g, status=Membership.Status.APPROVED,
                          role=Membership.Role.MEMBER, requested_at=joined, joined_at=joined)
               for u, g in zip(people, plan, strict=True)]
        )
        cookies = _make_sessions(people)
    name = settings.SESSION_COOKIE_NAME
    result = [
        BenchUser(id=u.pk, group=g.slug, cookie=f"{name}={cookies[u.pk]}")
        for u, g in zip(people, plan, strict=True)
    ]
    return [g.slug for g in group_rows], result


def _make_sessions(people: list[User]) -> dict[int, str]:
    """Sessions in the configured store, as if each person had logged in."""
    backend = settings.AUTHENTICATION_BACKENDS[0]
    keys: dict[int, str] = {}
    if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db":
        expiry = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
        store = SessionStore()
        rows = []
        for user in people:
            key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
            data = {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: backend,
                    HASH_SESSION_KEY: user.get_session_auth_hash()}
            rows.append(Session(session_key=key, session_data=store.encode(data),
                                expire_date=expiry))
            keys[user.pk] = key
        Session.objects.bulk_create(rows, batch_size=500)
        return keys
    from importlib import import_module

    engine = import_module(settings.SESSION_ENGINE)
    for user in people:
        session = engine.SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys[user.pk] = session.session_key
    return keys
