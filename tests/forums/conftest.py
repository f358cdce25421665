"""Fixtures for the forum tests: a group with its default categories and its people."""

from __future__ import annotations

from dataclasses import dataclass
from http.cookies import SimpleCookie

import pytest
from django.test import Client
from django.urls import reverse

from community.models import Group, User
from forums import services
from forums.models import Category, Post, Thread
from tests.conftest import add_membership

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Password hashing dominates user creation; no test here checks a password."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(scope="module")
def _module_client() -> Client:
    return Client()


@pytest.fixture
def web(_module_client) -> Client:
    """One test client per module (its middleware loads once), with fresh cookies."""
    _module_client.cookies = SimpleCookie()
    return _module_client


@dataclass
class Forum:
    group: Group
    owner: User
    moderator: User
    member: User  # "Robin Member"
    other: User  # "Sam Other", a second plain member
    outsider: User

    @property
    def categories(self) -> list[Category]:
        return list(Category.objects.filter(group=self.group))

    @property
    def category(self) -> Category:
        return self.categories[0]

    def url(self, name: str, **kwargs) -> str:
        return reverse(f"forums:{name}", kwargs={"slug": self.group.slug, **kwargs})

    def thread_url(self, thread: Thread, **params) -> str:
        url = self.url("thread", thread_id=thread.pk)
        if params:
            url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        return url

    def start(self, author: User | None = None, *, title: str = "Finding my feet",
              body: str = "Hello everyone, I am new here.", category: Category | None = None,
              content_warning: str = "") -> Thread:
        return services.start_thread(
            actor=author or self.member, group=self.group, category=category or self.category,
            title=title, body=body, content_warning=content_warning,
        )

    def reply(self, author: User, thread: Thread, body: str = "Welcome!", *,
              parent: Post | None = None, content_warning: str = "") -> Post:
        post = services.reply(actor=author, thread=thread, body=body, parent=parent,
                              content_warning=content_warning)
        # As stored: the returned object's tree_key is only written to the table, and a
        # stale one would give the next reply a wrong place in the tree.
        return Post.objects.get(pk=post.pk)


def opening(thread: Thread) -> Post:
    return Post.objects.get(thread=thread, parent__isnull=True)


def make_forum(make_group, make_user, privacy: str = Group.Privacy.APPROVAL, *,
               tag: str = "") -> Forum:
    """A group with its forum and people; `tag` tells the names of a second forum apart
    (display names are unique)."""
    owner = make_user(f"Olive Owner{tag}")
    group = make_group(privacy, owner=owner)
    services.create_default_categories(group)
    moderator = make_user(f"Morgan Moderator{tag}")
    add_membership(moderator, group, "approved", "moderator")
    member = make_user(f"Robin Member{tag}")
    add_membership(member, group, "approved")
    other = make_user(f"Sam Other{tag}")
    add_membership(other, group, "approved")
    outsider = make_user(f"Alex Outsider{tag}")
    return Forum(group=group, owner=owner, moderator=moderator, member=member, other=other,
                 outsider=outsider)


@pytest.fixture
def forum(make_group, make_user) -> Forum:
    """An approval group's forum: owner, moderator, two members and an outsider."""
    return make_forum(make_group, make_user)
