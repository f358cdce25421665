"""`/groups/<slug>/chat/`: server-rendered history (it reads without JavaScript), who may
see it, the no-JavaScript send form, and the moderator's remove button."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from community.models import ChatMessage, Group
from community.services.chat import post_chat_message
from moderation.models import AuditEntry
from tests.community.chat_helpers import FAST_HASHERS, fresh_cache_keys, seed_messages
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """A fast hasher (no test types a password) and rate-limit counts of this test's own."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
    fresh_cache_keys(settings)


@pytest.fixture
def chat_room(make_user, make_group):
    group = make_group(Group.Privacy.APPROVAL, name="Long Covid Friends")
    owner = group.memberships.get(role="owner").user
    moderator = make_user("Mo Moderator")
    add_membership(moderator, group, "approved", "moderator")
    ada, ben = make_user("Ada"), make_user("Ben")
    add_membership(ada, group, "approved")
    add_membership(ben, group, "approved")
    return SimpleNamespace(group=group, owner=owner, moderator=moderator, ada=ada, ben=ben,
                           url=f"/groups/{group.slug}/chat/")


def logged_in(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def shown_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li class="chat-message" id="message-(\d+)"', html)]


# --- reading -------------------------------------------------------------------------------


def test_member_sees_the_newest_page_of_history_rendered_on_the_server(chat_room):
    rows = seed_messages(chat_room.group, [chat_room.ada, chat_room.ben], 60)
    removed = rows[-2]
    ChatMessage.objects.filter(pk=removed.pk).update(status=ChatMessage.Status.REMOVED)

    response = logged_in(chat_room.ben).get(chat_room.url)

    assert response.status_code == 200
    html = response.content.decode()
    visible = [r.pk for r in rows if r.pk != removed.pk]
    assert shown_ids(html) == visible[-50:], "the newest 50, oldest first, none removed"
    assert f"<p>{rows[-1].body}</p>" in html and f"<p>{rows[0].body}</p>" not in html
    assert f"<p>{removed.body}</p>" not in html
    assert "Show earlier messages" in html
    assert f'data-last-id="{rows[-1].pk}"' in html
    assert response.headers["X-Robots-Tag"].startswith("noindex")


def test_history_shows_authors_and_safe_html_only(chat_room):
    post_chat_message(actor=chat_room.ada, group=chat_room.group, client_id="x",
                      body="<script>alert(1)</script> **take care**")
    html = logged_in(chat_room.ben).get(chat_room.url).content.decode()

    assert "<strong>take care</strong>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert "<strong>Ada</strong>" in html


def test_the_page_works_without_javascript(chat_room):
    html = logged_in(chat_room.ada).get(chat_room.url).content.decode()

    form = re.search(r'<form id="chat-form" method="post" action="([^"]+)"', html)
    assert form and form.group(1) == chat_room.url
    assert re.search(r'<textarea[^>]+name="body"', html)
    assert re.search(r'<input type="hidden" name="client_id" value="[0-9a-f-]{36}"', html)
    assert "No messages yet" in html


ACCESS = [
    # (privacy, standing, status, where a redirect goes)
    ("approval", "anonymous", 302, "login"),
    ("approval", "outsider", 404, None),
    ("approval", "pending", 404, None),
    ("approval", "declined", 404, None),
    ("approval", "banned", 404, None),
    ("approval", "member", 200, None),
    ("approval", "muted", 200, None),
    ("approval", "moderator", 200, None),
    ("open", "anonymous", 302, "login"),
    ("open", "outsider", 302, "home"),
    ("open", "member", 200, None),
    ("open", "banned", 404, None),
    ("invite", "anonymous", 404, None),
    ("invite", "outsider", 404, None),
    ("invite", "member", 200, None),
]


@pytest.mark.parametrize(("privacy", "role", "status", "redirect"), ACCESS,
                         ids=[f"{p}-{r}-{s}" for p, r, s, _ in ACCESS])
def test_who_may_read_the_chat_page(privacy, role, status, redirect, make_group, people_in):
    group = make_group(privacy)
    seed_messages(group, group.memberships.get(role="owner").user, 1, prefix="Canary")
    url = f"/groups/{group.slug}/chat/"

    response = logged_in(people_in(group)[role]).get(url)

    assert response.status_code == status
    if redirect == "login":
        assert response.headers["Location"] == f"/accounts/login/?next={url}"
    elif redirect == "home":
        assert response.headers["Location"] == f"/groups/{group.slug}/"
    body = response.content.decode()
    assert ("Canary" in body) is (status == 200)


def test_unknown_group_chat_is_404(chat_room):
    assert logged_in(chat_room.ada).get("/groups/no-such-group/chat/").status_code == 404


def test_muted_member_reads_but_gets_no_form(make_group, people_in):
    group = make_group(Group.Privacy.APPROVAL)
    html = logged_in(people_in(group)["muted"]).get(f"/groups/{group.slug}/chat/").content
    assert b'id="chat-form"' not in html
    assert b"paused your messages" in html


# --- sending without JavaScript ---------------------------------------------------------------


def test_form_post_sends_a_message_and_a_double_submit_sends_it_once(chat_room):
    client = logged_in(chat_room.ada)
    form = {"body": "Hello from the **form**", "client_id": "form-1"}

    response = client.post(chat_room.url, form)
    again = client.post(chat_room.url, form)

    assert response.status_code == again.status_code == 302
    assert response.headers["Location"] == chat_room.url
    message = ChatMessage.objects.get()
    assert (message.author, message.client_id) == (chat_room.ada, "form-1")
    assert message.body == "Hello from the **form**"
    html = client.get(chat_room.url).content.decode()
    assert "Hello from the <strong>form</strong>" in html


@pytest.mark.parametrize("body", ["x" * 4001, "   "], ids=["too-long", "blank"])
def test_form_post_with_a_bad_body_keeps_the_text_and_says_why(body, chat_room):
    response = logged_in(chat_room.ada).post(chat_room.url, {"body": body, "client_id": "b"})

    assert response.status_code == 400
    html = response.content.decode()
    textarea = re.search(r'<textarea id="chat-body"[^>]*>(.*?)</textarea>', html, re.S)
    assert textarea and textarea.group(1) == body, "the writer's text is kept"
    assert "Not sent:" in html and 'role="alert"' in html
    if len(body) > 4000:
        assert "4000" in html
    assert not ChatMessage.objects.exists()


def test_form_post_from_a_muted_member_is_refused_with_a_reason(make_group, people_in):
    group = make_group(Group.Privacy.APPROVAL)
    person = people_in(group)["muted"]
    response = logged_in(person).post(f"/groups/{group.slug}/chat/", {"body": "Hi"})
    assert response.status_code == 400
    assert b"paused your messages" in response.content
    assert not ChatMessage.objects.exists()


@pytest.mark.parametrize(("role", "status"), [("anonymous", 302), ("outsider", 404),
                                              ("banned", 404), ("pending", 404)])
def test_form_post_from_a_non_member_stores_nothing(role, status, make_group, people_in):
    group = make_group(Group.Privacy.APPROVAL)
    response = logged_in(people_in(group)[role]).post(f"/groups/{group.slug}/chat/",
                                                      {"body": "Let me in", "client_id": "n"})
    assert response.status_code == status
    assert not ChatMessage.objects.exists()


# --- removing ------------------------------------------------------------------------------


def remove_url(chat_room, message) -> str:
    return f"{chat_room.url}{message.pk}/remove/"


@pytest.mark.parametrize("who", ["moderator", "owner"])
def test_moderator_removes_a_message_from_the_page(who, chat_room):
    [message] = seed_messages(chat_room.group, chat_room.ada, 1, prefix="Call me on")
    moderator = getattr(chat_room, who)
    page = logged_in(moderator).get(chat_room.url).content.decode()
    assert f'action="{remove_url(chat_room, message)}"' in page

    response = logged_in(moderator).post(remove_url(chat_room, message),
                                         {"reason": "Shares a phone number"})

    assert response.status_code == 302 and response.headers["Location"] == chat_room.url
    message.refresh_from_db()
    assert message.status == ChatMessage.Status.REMOVED and message.removed_by == moderator
    entry = AuditEntry.objects.get(action=AuditEntry.Action.MESSAGE_REMOVED)
    assert entry.actor == moderator and entry.reason == "Shares a phone number"
    assert message.body not in logged_in(chat_room.ben).get(chat_room.url).content.decode()


@pytest.mark.parametrize("who", ["author", "member", "outsider", "anonymous"])
def test_remove_endpoint_is_404_for_everyone_but_moderators(who, chat_room, make_user):
    [message] = seed_messages(chat_room.group, chat_room.ada, 1)
    person = {"author": chat_room.ada, "member": chat_room.ben, "anonymous": None,
              "outsider": make_user("Olu Outsider")}[who]
    if who == "member":
        page = logged_in(person).get(chat_room.url).content.decode()
        assert "/remove/" not in page, "members see no remove button"

    response = logged_in(person).post(remove_url(chat_room, message), {"reason": "Because"})

    assert response.status_code == 404
    message.refresh_from_db()
    assert message.status == ChatMessage.Status.PUBLISHED
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.MESSAGE_REMOVED).exists()


def test_remove_without_a_reason_removes_nothing(chat_room):
    [message] = seed_messages(chat_room.group, chat_room.ada, 1)
    client = logged_in(chat_room.moderator)
    response = client.post(remove_url(chat_room, message), {"reason": " "}, follow=True)
    assert response.status_code == 200
    assert b"say why" in response.content
    message.refresh_from_db()
    assert message.status == ChatMessage.Status.PUBLISHED


def test_remove_endpoint_only_takes_messages_of_that_group_and_only_by_post(
    chat_room, make_group
):
    other = make_group(Group.Privacy.APPROVAL)
    [elsewhere] = seed_messages(other, other.memberships.get(role="owner").user, 1)
    client = logged_in(chat_room.moderator)
    assert client.post(remove_url(chat_room, elsewhere), {"reason": "x"}).status_code == 404
    [mine] = seed_messages(chat_room.group, chat_room.ada, 1)
    assert client.get(remove_url(chat_room, mine)).status_code == 405
    elsewhere.refresh_from_db()
    mine.refresh_from_db()
    assert elsewhere.status == mine.status == ChatMessage.Status.PUBLISHED


# --- query shape -----------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ["member", "moderator"])
def test_chat_page_query_count_is_flat_from_5_to_50_messages(
    viewer, make_user, make_group, django_assert_max_num_queries
):
    def group_with(count: int) -> tuple[Group, Client]:
        group = make_group(Group.Privacy.APPROVAL)
        authors = [make_user() for _ in range(count)]  # one author each: N+1 would show
        for author in authors:
            add_membership(author, group, "approved")
        seed_messages(group, authors, count)
        reader = make_user()
        add_membership(reader, group, "approved",
                       "moderator" if viewer == "moderator" else "member")
        client = logged_in(reader)
        client.get("/help/")  # settle the session first
        return group, client

    small, small_client = group_with(5)
    large, large_client = group_with(50)
    with CaptureQueriesContext(connection) as baseline:
        assert small_client.get(f"/groups/{small.slug}/chat/").status_code == 200

    with django_assert_max_num_queries(len(baseline)):
        response = large_client.get(f"/groups/{large.slug}/chat/")
    assert len(shown_ids(response.content.decode())) == 50
