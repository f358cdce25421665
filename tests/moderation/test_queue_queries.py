"""The review queue and a case page cost a fixed number of SQL queries, whatever the size.

The same pages are asked of a moderator with 3 cases and of one with 30 (more than a
queue page of 25): every kind of item, some urgent, claimed, hidden, passed to staff or
already dealt with, some by a former member (no author), flagged by one to three people.
A case page is asked with 3 and with 30 flags, next to 3 and 30 other cases, with 3 and
30 earlier moderator actions about its author. Each pair must cost the same, and no more
than the bound.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from community.models import ChatMessage, Group, User
from forums.models import TREE_KEY_WIDTH, Category, Post, Thread
from moderation.models import AuditEntry, Case, Flag
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db

SMALL, BIG = 3, 30
# Most queries one view may make, whatever the size: the session, the user and allauth's
# user-session row, the header's counts, then the page's own reads (the queue: cases and
# their count, groups with join requests, duty, who is on duty, this week's work; a case:
# the case, the moderator's membership, the appeal, flags, context, history).
QUEUE_BOUND = 18
CASE_BOUND = 20

REASONS = [r for r, _label in Flag.Reason.choices]
_names = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _person(name: str, **fields) -> User:
    n = next(_names)
    email = f"queries.{n}@example.org"
    user = User.objects.create_user(email=email, password=None, display_name=f"{name} {n}",
                                    **fields)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@dataclass
class Desk:
    moderator: User
    group: Group
    cases: list[Case]
    flagged: dict[str, Case]  # one case of each kind, with `size` flags


def _item(kind: str, i: int, group: Group, author: User | None, category: Category):
    if kind == "chat_message":
        return ChatMessage.objects.create(group=group, seq=i + 1, author=author,
                                          client_id=f"q{i}", body=f"Message {i}",
                                          body_html=f"<p>Message {i}</p>")
    thread = Thread.objects.create(group=group, category=category, title=f"Thread {i}",
                                   author=author)
    if kind == "thread":
        return thread
    post = Post.objects.create(thread=thread, group=group, author=author, body=f"Post {i}",
                               body_html=f"<p>Post {i}</p>", tree_key="")
    Post.objects.filter(pk=post.pk).update(tree_key=str(post.pk).zfill(TREE_KEY_WIDTH))
    return post


def build_desk(size: int) -> Desk:
    """A group with `size` cases (and a second group, empty), one moderator of both."""
    now = timezone.now()
    owner = _person("Owner")
    group = Group.objects.create(name=f"Queries {size}", slug=f"queries-{size}",
                                 privacy=Group.Privacy.APPROVAL, created_by=owner)
    quiet = Group.objects.create(name=f"Quiet {size}", slug=f"quiet-{size}",
                                 privacy=Group.Privacy.OPEN, created_by=owner)
    add_membership(owner, group, "approved", "owner")
    add_membership(owner, quiet, "approved", "owner")
    moderator, other_mod = _person("Moderator"), _person("Other moderator")
    for person in (moderator, other_mod):
        add_membership(person, group, "approved", "moderator")
    add_membership(moderator, quiet, "approved", "moderator", on_duty=False)
    category = Category.objects.create(group=group, name="General")
    people = [_person("Member") for _ in range(max(size, 3))]
    for person in people:
        add_membership(person, group, "approved")
    kinds = ["chat_message", "post", "thread", "profile"]
    cases = []
    for i in range(size):
        kind = kinds[i % 4]
        author = None if i % 7 == 6 and kind != "profile" else people[i]
        fields = {"group": group, "kind": kind, "author": author,
                  "urgent": i % 5 == 0, "auto_hidden": i % 3 == 0,
                  "opened_at": now - timezone.timedelta(minutes=i)}
        if kind == "profile":
            fields["profile"] = people[i]
        else:
            fields[kind] = _item(kind, i, group, author, category)
        if i % 4 == 1:
            fields.update(claimed_by=other_mod, claimed_at=now)
        if i % 6 == 1:
            fields.update(status="escalated", escalated_at=now, decision="escalate",
                          resolved_by=other_mod)
        if i % 10 == 2:
            fields.update(status="resolved", decision="hide", resolved_by=other_mod,
                          resolved_at=now, decision_reason="Not kind")
        cases.append(Case.objects.create(**fields))
    flags = []
    for i, case in enumerate(cases):
        for j in range(1 + i % 3):
            flags.append(Flag(case=case, flagger=people[(i + j + 1) % len(people)],
                              reason=REASONS[(i + j) % len(REASONS)], note=f"Note {i}.{j}"))
    Flag.objects.bulk_create(flags)
    for case in cases:
        case.flag_count = case.flags.count()
        case.score = 10 * case.flag_count
        case.save(update_fields=["flag_count", "score"])
    # one case of each kind with `size` flags, and its author with `size` earlier actions
    flagged = {}
    writer = people[0]
    for kind in kinds:
        item = writer if kind == "profile" else _item(kind, 1000 + kinds.index(kind), group,
                                                      writer, category)
        case = Case.objects.create(group=group, kind=kind, author=writer, urgent=True,
                                   **{kind: item}, flag_count=size, score=size * 40)
        Flag.objects.bulk_create(
            Flag(case=case, flagger=people[1 + j % (len(people) - 1)] if j < len(people) - 1
                 else _person("Flagger"), reason=REASONS[j % len(REASONS)],
                 note=f"Worry {j}", by_moderator=j == 0)
            for j in range(size)
        )
        flagged[kind] = case
    AuditEntry.objects.bulk_create(
        AuditEntry(action=AuditEntry.Action.MEMBER_MUTED, actor=other_mod,
                   actor_name=other_mod.display_name, group=group, group_name=group.name,
                   target_user=writer, target_name=writer.display_name, reason=f"Time out {j}")
        for j in range(size)
    )
    # chat around the flagged message, so the case page has context to show
    for j in range(size):
        ChatMessage.objects.create(group=group, seq=5000 + j, author=people[j % len(people)],
                                   client_id=f"ctx{j}", body=f"Around {j}",
                                   body_html=f"<p>Around {j}</p>")
    return Desk(moderator, group, cases, flagged)


@pytest.fixture
def desks() -> dict[int, Desk]:
    return {size: build_desk(size) for size in (SMALL, BIG)}


def _count(client: Client, url: str, bound: int, django_assert_max_num_queries) -> int:
    assert client.get(url).status_code == 200  # warm: nothing cached differs by size
    with django_assert_max_num_queries(bound) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("filters", [
    pytest.param("", id="everything-waiting"),
    pytest.param("?status=resolved", id="dealt-with"),
    pytest.param("?reason=unsafe_advice&urgent=1", id="reason-and-urgent"),
    pytest.param("?group={slug}", id="one-group"),
])
def test_the_queue_costs_the_same_with_3_or_30_cases(desks, django_assert_max_num_queries,
                                                     filters):
    counts = {}
    for size, desk in desks.items():
        client = Client()
        client.force_login(desk.moderator)
        url = reverse("moderation:queue") + filters.format(slug=desk.group.slug)
        counts[size] = _count(client, url, QUEUE_BOUND, django_assert_max_num_queries)
    assert counts[SMALL] == counts[BIG], counts


@pytest.mark.parametrize("filters", ["", "?status=resolved", "?reason=unsafe_advice&urgent=1",
                                     "?group={slug}"])
def test_each_desk_has_cases_for_every_filter(desks, filters):
    """So the counts above compare pages that list something, in both sizes."""
    for desk in desks.values():
        client = Client()
        client.force_login(desk.moderator)
        url = reverse("moderation:queue") + filters.format(slug=desk.group.slug)
        assert 'href="/moderation/cases/' in client.get(url).content.decode()


def test_the_queue_shows_a_full_page_of_the_big_desk(desks):
    """The big desk really is bigger than one page (so the count above covers paging)."""
    client = Client()
    client.force_login(desks[BIG].moderator)
    body = client.get(reverse("moderation:queue")).content.decode()
    assert body.count('href="/moderation/cases/') == 25


@pytest.mark.parametrize("kind", ["chat_message", "post", "thread", "profile"])
def test_a_case_page_costs_the_same_with_3_or_30_flags(desks, django_assert_max_num_queries,
                                                       kind):
    counts = {}
    for size, desk in desks.items():
        client = Client()
        client.force_login(desk.moderator)
        case = desk.flagged[kind]
        url = reverse("moderation:case", kwargs={"case_id": case.pk})
        counts[size] = _count(client, url, CASE_BOUND, django_assert_max_num_queries)
        body = client.get(url).content.decode()
        assert f"Worry {size - 1}" in body  # every flag is on the page
    assert counts[SMALL] == counts[BIG], counts
