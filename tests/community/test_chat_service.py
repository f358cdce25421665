"""`post_chat_message` and `remove_chat_message`: the rows, the audit entry and the
broadcast (captured after commit), and the chat selectors' query shape."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from community import ratelimit, realtime, selectors
from community.models import ChatMessage, Group, Notification
from community.services.chat import (
    ChatError,
    message_payload,
    post_chat_message,
    remove_chat_message,
)
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
def published(monkeypatch) -> list[tuple[str, dict]]:
    """Every event handed to the channel layer, in order (nothing is really sent)."""
    events: list[tuple[str, dict]] = []
    monkeypatch.setattr(realtime, "publish", lambda group, event: events.append((group, event)))
    return events


@pytest.fixture
def chat_room(make_user, make_group):
    group = make_group(Group.Privacy.APPROVAL, name="Heart Friends")
    owner = group.memberships.get(role="owner").user
    moderator = make_user("Mo Moderator")
    add_membership(moderator, group, "approved", "moderator")
    ada, ben = make_user("Ada"), make_user("Ben")
    add_membership(ada, group, "approved")
    add_membership(ben, group, "approved")
    return SimpleNamespace(group=group, owner=owner, moderator=moderator, ada=ada, ben=ben)


def chat_events(events: list[tuple[str, dict]], kind: str) -> list[tuple[str, dict]]:
    return [(group, event) for group, event in events if event["type"] == kind]


# --- posting ------------------------------------------------------------------------------


def test_post_stores_a_published_message_with_the_next_seq(chat_room, published):
    result = post_chat_message(actor=chat_room.ada, group=chat_room.group,
                               body="  Good morning all \n", client_id="c-1")

    message = ChatMessage.objects.get()
    assert result.created is True and result.message == message
    assert result.status == "published"
    assert message.group == chat_room.group and message.author == chat_room.ada
    assert message.client_id == "c-1"
    assert message.body == "Good morning all"
    assert message.body_html == "<p>Good morning all</p>"
    assert message.status == ChatMessage.Status.PUBLISHED
    assert message.seq == 1
    chat_room.group.refresh_from_db()
    assert chat_room.group.chat_seq == 1


def test_ids_and_seq_rise_together_and_each_group_counts_its_own(
    chat_room, make_group, published
):
    other = make_group(Group.Privacy.OPEN)
    add_membership(chat_room.ada, other, "approved")
    first = post_chat_message(actor=chat_room.ada, group=chat_room.group, body="1",
                              client_id="a").message
    elsewhere = post_chat_message(actor=chat_room.ada, group=other, body="x",
                                  client_id="b").message
    second = post_chat_message(actor=chat_room.ben, group=chat_room.group, body="2",
                               client_id="a").message

    assert (first.seq, second.seq, elsewhere.seq) == (1, 2, 1)
    assert first.pk < elsewhere.pk < second.pk
    assert ChatMessage.objects.count() == 3, "client_id is unique per author, not site-wide"


def test_body_html_is_rendered_markdown_with_raw_html_escaped(chat_room, published):
    body = '<script>alert("x")</script> **brave** [link](https://example.org) <img src=x>'
    message = post_chat_message(actor=chat_room.ada, group=chat_room.group, body=body,
                                client_id="html").message

    assert message.body == body, "the source is kept as written"
    assert "<script" not in message.body_html and "<img" not in message.body_html
    assert "&lt;script&gt;" in message.body_html
    assert "<strong>brave</strong>" in message.body_html
    assert '<a href="https://example.org" rel="nofollow ugc noopener">link</a>' in (
        message.body_html
    )


def test_broadcast_goes_out_only_after_commit(
    chat_room, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = post_chat_message(actor=chat_room.ada, group=chat_room.group,
                                   body="Hello *you*", client_id="c-bc")
        assert published == [], "nothing is sent before the transaction commits"

    assert len(callbacks) == 1
    message = result.message
    [(group_name, event)] = published
    assert group_name == realtime.chat_group(chat_room.group.pk) == f"chat.{chat_room.group.pk}"
    assert event["type"] == "chat.message"
    assert (event["id"], event["seq"]) == (message.pk, message.seq)
    frame = json.loads(event["frame"])
    assert frame["type"] == "message.new"
    assert frame["message"]["id"] == message.pk
    assert frame["message"]["client_id"] == "c-bc"
    assert frame["message"]["author"] == {"id": chat_room.ada.pk, "name": "Ada"}
    assert frame["message"]["body"] == "Hello *you*"
    assert frame["message"]["body_html"] == "<p>Hello <em>you</em></p>"
    assert frame["message"]["created"] == message.created_at.isoformat()


def test_nothing_is_stored_or_published_when_the_transaction_rolls_back(
    chat_room, published, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
            post_chat_message(actor=chat_room.ada, group=chat_room.group, body="Oops",
                              client_id="c-rb")
            raise RuntimeError("the surrounding work failed")

    assert callbacks == [] and published == []
    assert not ChatMessage.objects.exists()
    chat_room.group.refresh_from_db()
    assert chat_room.group.chat_seq == 0


def test_resend_with_the_same_client_id_returns_the_stored_message_and_sends_nothing(
    chat_room, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = post_chat_message(actor=chat_room.ada, group=chat_room.group, body="Once",
                                  client_id="same")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = post_chat_message(actor=chat_room.ada, group=chat_room.group,
                                  body="Once (edited?)", client_id="same")

    assert again.created is False and again.message.pk == first.message.pk
    assert ChatMessage.objects.get().body == "Once"
    assert callbacks == []
    assert len(chat_events(published, "chat.message")) == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_client_id_sent_at_once_from_two_threads_is_one_message(chat_room):
    """Two connections (web processes) race with one client_id: one row, one answer."""
    barrier = threading.Barrier(2, timeout=5)
    results: list = []

    def send() -> None:
        try:
            barrier.wait()
            results.append(post_chat_message(actor=chat_room.ada, group=chat_room.group,
                                              body="Sent twice", client_id="race"))
        except BaseException as exc:  # reported in the test's thread
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert not any(t.is_alive() for t in threads)
    assert all(not isinstance(r, BaseException) for r in results), results
    [row] = ChatMessage.objects.all()
    assert {r.message.pk for r in results} == {row.pk}
    assert sorted(r.created for r in results) == [False, True]
    chat_room.group.refresh_from_db()
    assert (row.seq, chat_room.group.chat_seq) == (1, 1)


def test_client_id_already_used_in_another_group_is_refused(chat_room, make_group, published):
    other = make_group(Group.Privacy.OPEN)
    add_membership(chat_room.ada, other, "approved")
    post_chat_message(actor=chat_room.ada, group=other, body="There", client_id="reuse")

    with pytest.raises(ChatError) as refused:
        post_chat_message(actor=chat_room.ada, group=chat_room.group, body="Here",
                          client_id="reuse")

    assert refused.value.code == "duplicate_client_id"
    assert not ChatMessage.objects.filter(group=chat_room.group).exists()


@pytest.mark.parametrize(
    ("body", "client_id", "code"),
    [
        (None, "c", "invalid_body"),
        (12, "c", "invalid_body"),
        (["hi"], "c", "invalid_body"),
        ("", "c", "invalid_body"),
        ("  \n\t", "c", "invalid_body"),
        ("x" * 4001, "c", "invalid_body"),
        ("hi", None, "invalid_client_id"),
        ("hi", "", "invalid_client_id"),
        ("hi", "c" * 65, "invalid_client_id"),
        ("hi", 7, "invalid_client_id"),
        ("hi", "tab\there", "invalid_client_id"),
    ],
    ids=["body-none", "body-int", "body-list", "body-empty", "body-blank", "body-4001",
         "cid-none", "cid-empty", "cid-65", "cid-int", "cid-control"],
)
def test_bad_body_or_client_id_is_refused_and_nothing_is_stored(
    body, client_id, code, chat_room, published
):
    with pytest.raises(ChatError) as refused:
        post_chat_message(actor=chat_room.ada, group=chat_room.group, body=body,
                          client_id=client_id)
    assert refused.value.code == code and refused.value.detail
    assert not ChatMessage.objects.exists() and published == []


def test_body_of_4000_characters_after_trimming_and_64_character_client_id_are_fine(
    chat_room, published
):
    message = post_chat_message(actor=chat_room.ada, group=chat_room.group,
                                body="  " + "é" * 4000 + "\n", client_id="c" * 64).message
    assert message.body == "é" * 4000 and message.client_id == "c" * 64


@pytest.mark.parametrize(
    ("role", "code"),
    [("member", None), ("moderator", None), ("owner", None), ("muted", "muted"),
     ("outsider", "not_allowed"), ("pending", "not_allowed"), ("declined", "not_allowed"),
     ("banned", "not_allowed"), ("ex_member", "not_allowed")],
)
def test_only_members_who_are_not_muted_may_post(role, code, make_group, people_in, published):
    group = make_group(Group.Privacy.APPROVAL)
    person = people_in(group)[role]
    if code is None:
        result = post_chat_message(actor=person, group=group, body="Hi", client_id="c")
        assert result.message.author == person
        return
    with pytest.raises(ChatError) as refused:
        post_chat_message(actor=person, group=group, body="Hi", client_id="c")
    assert refused.value.code == code
    assert not ChatMessage.objects.exists()


def test_a_mute_takes_effect_for_an_author_object_that_was_already_checked(
    chat_room, published
):
    """A socket keeps one user object for hours; a mute must still apply to its next send."""
    post_chat_message(actor=chat_room.ada, group=chat_room.group, body="Before", client_id="1")
    chat_room.group.memberships.filter(user=chat_room.ada).update(
        muted_until=timezone.now() + timezone.timedelta(hours=1)
    )
    with pytest.raises(ChatError) as refused:
        post_chat_message(actor=chat_room.ada, group=chat_room.group, body="After",
                          client_id="2")
    assert refused.value.code == "muted"


def test_eleventh_message_in_ten_seconds_is_rate_limited_per_member_per_group(
    chat_room, make_group, published, monkeypatch
):
    now = timezone.now().timestamp()
    frozen = (now // 10) * 10 + 5  # the middle of one fixed window
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: frozen))
    other = make_group(Group.Privacy.OPEN)
    add_membership(chat_room.ada, other, "approved")
    for i in range(10):
        post_chat_message(actor=chat_room.ada, group=chat_room.group, body=f"{i}",
                          client_id=f"c{i}")

    with pytest.raises(ChatError) as refused:
        post_chat_message(actor=chat_room.ada, group=chat_room.group, body="11",
                          client_id="c10")

    assert refused.value.code == "rate_limited"
    assert ChatMessage.objects.filter(author=chat_room.ada).count() == 10
    resend = post_chat_message(actor=chat_room.ada, group=chat_room.group, body="0",
                               client_id="c0")
    assert resend.created is False, "a resend is answered even when the limit is reached"
    post_chat_message(actor=chat_room.ben, group=chat_room.group, body="Me too",
                      client_id="b")
    post_chat_message(actor=chat_room.ada, group=other, body="Elsewhere", client_id="o")
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: frozen + 10))
    post_chat_message(actor=chat_room.ada, group=chat_room.group, body="Next window",
                      client_id="c11")


# --- mentions ------------------------------------------------------------------------------


def test_mention_notifies_the_named_member_only(
    chat_room, make_user, published, django_capture_on_commit_callbacks
):
    stranger = make_user("Priya Patel")  # not a member: naming her tells her nothing
    with django_capture_on_commit_callbacks(execute=True):
        message = post_chat_message(
            actor=chat_room.ada, group=chat_room.group, client_id="m",
            body="Thanks @ben for the tip! And @Priya Patel, and me @Ada, and email@Ben.org",
            confirm=True,  # the email address would otherwise prompt first
        ).message

    [note] = Notification.objects.filter(kind=Notification.Kind.MENTION)
    assert note.user == chat_room.ben and note.group == chat_room.group
    assert "Ada" in note.text and "Heart Friends" in note.text
    assert note.url == f"/groups/{chat_room.group.slug}/chat/#message-{message.pk}"
    assert not Notification.objects.filter(user__in=[stranger, chat_room.ada,
                                                     chat_room.moderator]).exists()
    pushed = chat_events(published, realtime.NOTIFICATION)
    assert [group for group, _ in pushed] == [realtime.user_group(chat_room.ben.pk)]


def test_mention_of_a_longer_name_does_not_notify_a_member_with_the_shorter_name(
    chat_room, make_user, published
):
    sam, sam_lee = make_user("Sam"), make_user("Sam Lee")
    add_membership(sam, chat_room.group, "approved")
    add_membership(sam_lee, chat_room.group, "approved")

    post_chat_message(actor=chat_room.ada, group=chat_room.group, client_id="m",
                      body="@Sam Lee that really helped")

    mentioned = Notification.objects.filter(kind=Notification.Kind.MENTION)
    assert [n.user for n in mentioned] == [sam_lee]


# --- removing -----------------------------------------------------------------------------


@pytest.mark.parametrize("remover", ["moderator", "owner", "staff"])
def test_moderator_removes_a_message_audited_and_broadcast_after_commit(
    remover, chat_room, make_user, published, django_capture_on_commit_callbacks
):
    actor = make_user("Sita Staff", staff=True) if remover == "staff" else getattr(
        chat_room, remover)
    message = post_chat_message(actor=chat_room.ada, group=chat_room.group,
                                body="My number is ...", client_id="r").message
    published.clear()

    with django_capture_on_commit_callbacks(execute=True):
        remove_chat_message(actor=actor, message=message, reason="  Personal details  ")
        assert published == []

    message.refresh_from_db()
    assert message.status == ChatMessage.Status.REMOVED
    assert message.removed_by == actor and message.removed_at is not None
    assert message.removal_reason == "Personal details"
    entry = AuditEntry.objects.get(action="chat.message_removed")
    assert entry.action == AuditEntry.Action.MESSAGE_REMOVED
    assert entry.actor == actor and entry.group == chat_room.group
    assert entry.target_user == chat_room.ada
    assert entry.reason == "Personal details"
    assert entry.detail == {"message_id": message.pk}
    [(group_name, event)] = published
    assert group_name == realtime.chat_group(chat_room.group.pk)
    assert event["type"] == "chat.removed" and event["id"] == message.pk
    assert json.loads(event["frame"]) == {"type": "message.removed", "id": message.pk}
    page, _ = selectors.chat_before(chat_room.group.pk, before=message.pk + 1)
    assert page == []


@pytest.mark.parametrize("who", ["author", "member", "outsider", "other_moderator"])
def test_non_moderator_cannot_remove_a_message(
    who, chat_room, make_user, make_group, published
):
    message = post_chat_message(actor=chat_room.ada, group=chat_room.group, body="Mine",
                                client_id="nm").message
    if who == "author":
        actor = chat_room.ada
    elif who == "member":
        actor = chat_room.ben
    else:
        actor = make_user("Olu Other")
        if who == "other_moderator":
            add_membership(actor, make_group(Group.Privacy.OPEN), "approved", "moderator")
    published.clear()

    with pytest.raises(Http404):
        remove_chat_message(actor=actor, message=message, reason="I don't like it")

    message.refresh_from_db()
    assert message.status == ChatMessage.Status.PUBLISHED and message.removed_by is None
    assert not AuditEntry.objects.filter(action="chat.message_removed").exists()
    assert published == []


def test_removal_needs_a_reason(chat_room, published):
    message = post_chat_message(actor=chat_room.ada, group=chat_room.group, body="Hi",
                                client_id="nr").message
    with pytest.raises(ValidationError):
        remove_chat_message(actor=chat_room.moderator, message=message, reason="  ")
    message.refresh_from_db()
    assert message.status == ChatMessage.Status.PUBLISHED
    assert not AuditEntry.objects.filter(action="chat.message_removed").exists()


def test_removing_twice_is_one_removal_and_one_audit_entry(
    chat_room, published, django_capture_on_commit_callbacks
):
    message = post_chat_message(actor=chat_room.ada, group=chat_room.group, body="Hi",
                                client_id="tw").message
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        remove_chat_message(actor=chat_room.moderator, message=message, reason="Spam")
        remove_chat_message(actor=chat_room.owner, message=message, reason="Spam too")

    message.refresh_from_db()
    assert message.removed_by == chat_room.moderator
    assert AuditEntry.objects.filter(action="chat.message_removed").count() == 1
    assert len(chat_events(published, "chat.removed")) == 1


# --- selectors: query shape ----------------------------------------------------------------


def _frames(rows) -> str:
    """Serialise rows as the socket does (model objects or ready payloads)."""
    return json.dumps([row if isinstance(row, dict) else message_payload(row) for row in rows])


def _group_with_messages(make_user, make_group, count: int) -> Group:
    group = make_group(Group.Privacy.APPROVAL)
    authors = [make_user() for _ in range(min(count, 20))]
    for author in authors:
        add_membership(author, group, "approved")
    seed_messages(group, authors, count)  # many authors: a lazy lookup would show as N+1
    return group


def _queries(func) -> int:
    with CaptureQueriesContext(connection) as captured:
        func()
    return len(captured)


@pytest.mark.parametrize(
    "read",
    [
        lambda g: _frames(selectors.chat_before(g.pk, before=2**62, limit=100)[0]),
        lambda g: _frames(selectors.chat_catch_up(g.pk, after=0)[0]),
    ],
    ids=["chat_before", "chat_catch_up"],
)
def test_chat_reads_take_the_same_few_queries_for_10_or_200_messages(
    read, make_user, make_group, django_assert_max_num_queries
):
    small = _group_with_messages(make_user, make_group, 10)
    large = _group_with_messages(make_user, make_group, 200)
    baseline = _queries(lambda: read(small))
    assert baseline <= 2

    with django_assert_max_num_queries(baseline):
        read(large)
