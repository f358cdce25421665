"""Privacy rights (issue 9, part 8): download my data, delete my account, and a security
log that never holds personal data.

Every test builds one small community around Ada: her own words and data carry an
`ADA-` marker, and other people's private words carry a CANARY, which must never appear
in Ada's export.
"""

from __future__ import annotations

import html
import itertools
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from community import services
from community.models import (
    ChatMessage,
    CheckInReceipt,
    Group,
    Meeting,
    MeetingReply,
    Membership,
    Notification,
    User,
)
from community.security_log import pseudonym, security_event
from community.services.chat import post_chat_message
from forums import services as forum_services
from forums.models import Category, Post, PostRevision, Reaction, Thread, ThreadFollow
from moderation.models import AuditEntry, Case, Flag
from moderation.services.cases import flag_content, resolve_case
from tests.community.chat_helpers import FAST_HASHERS, fresh_cache_keys
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Kindred-123!"
CANARY = "CANARY-7f3a"  # in other people's private words only
_addresses = itertools.count(1)


@pytest.fixture(autouse=True)
def quick(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    fresh_cache_keys(settings)


def new_address() -> str:
    n = next(_addresses)
    return f"10.91.{n // 256 % 256}.{n % 256}"


def log_in(user: User) -> Client:
    client = Client(REMOTE_ADDR=new_address())
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


@dataclass
class Community:
    group: Group
    owner: User
    moderator: User
    ada: User
    ben: User
    ada_thread: Thread  # Ada started it; Ben replied
    ada_alone_thread: Thread  # Ada started it; nobody replied
    ben_thread: Thread  # Ben started it; Ada replied
    ada_message: ChatMessage
    ben_message: ChatMessage
    ben_reply: Post  # Ben's reply in Ada's thread
    ada_reply: Post  # Ada's reply in Ben's thread


def chat(actor: User, group: Group, body: str) -> ChatMessage:
    return post_chat_message(actor=actor, group=group, body=body,
                             client_id=f"c-{body[:40]}").message


@pytest.fixture
def community(make_user, make_group) -> Community:
    group = make_group(Group.Privacy.APPROVAL, name="Kind Hearts", slug="kind-hearts",
                       questions=("What brings you here?",))
    forum_services.create_default_categories(group)
    owner = group.memberships.get(role="owner").user
    moderator = make_user("Mo Moderator")
    add_membership(moderator, group, "approved", "moderator")
    ada = make_user("Ada Lovelace")
    User.objects.filter(pk=ada.pk).update(about="ADA-ABOUT I like long walks",
                                          home_town="ADA-TOWN Fort William")
    add_membership(ada, group, "approved", calendar_token="ada-secret-calendar-token",
                   answers=[{"question": "What brings you here?",
                             "answer": "ADA-JOIN-ANSWER my knees"}])
    ben = make_user("Ben Marsh")
    User.objects.filter(pk=ben.pk).update(about=f"{CANARY} Ben's private about")
    add_membership(ben, group, "approved",
                   answers=[{"question": "What brings you here?",
                             "answer": f"{CANARY} Ben's join answer"}])
    category = Category.objects.filter(group=group).first()

    ada_message = chat(ada, group, "ADA-CHAT hello everyone")
    ben_message = chat(ben, group, f"{CANARY} Ben's chat message")
    ada_thread = forum_services.start_thread(actor=ada, group=group, category=category,
                                             title="ADA-THREAD-TITLE Walking aids",
                                             body="ADA-OPENING what helps you walk?")
    ben_reply = forum_services.reply(actor=ben, thread=ada_thread,
                                     body=f"{CANARY} Ben's reply to Ada")
    ada_alone_thread = forum_services.start_thread(
        actor=ada, group=group, category=category, title="ADA-ALONE-TITLE Quiet thread",
        body="ADA-ALONE-BODY anyone there?")
    ben_thread = forum_services.start_thread(actor=ben, group=group, category=category,
                                             title="Ben asks about sleep",
                                             body=f"{CANARY} Ben's opening post")
    ada_reply = forum_services.reply(actor=ada, thread=ben_thread, body="ADA-REPLY draft one")
    forum_services.edit_post(actor=ada, post=ada_reply, body="ADA-REPLY sleep helps")
    forum_services.toggle_reaction(actor=ada, post=ben_reply, kind="thanks")

    meeting = Meeting.objects.create(group=group, title="ADA-MEETING Coffee morning",
                                     starts_at=timezone.now() + timedelta(days=3),
                                     created_by=owner)
    MeetingReply.objects.create(meeting=meeting, user=ada, occurrence=meeting.starts_at,
                                answer="going")
    CheckInReceipt.objects.create(group=group, user=ada, month=timezone.localdate().replace(
        day=1))

    # Ada flags Ben's post; Ben flags Ada's with a private note; a moderator decides
    # about Ada's post (she is told the reason) and passes another case to staff with a
    # note only staff may read.
    flag_content(actor=ada, kind="post", item_id=ben_reply.pk, reason="other",
                 note="ADA-FLAG-NOTE this seems unkind")
    case = flag_content(actor=ben, kind="post", item_id=ada_reply.pk, reason="other",
                        note=f"{CANARY} Ben's flag note")
    case.refresh_from_db()
    resolve_case(actor=moderator, case=case, decision="keep",
                 reason=f"{CANARY} moderator's note on keeping", version=case.version)
    thread_case = flag_content(actor=ben, kind="thread", item_id=ada_thread.pk,
                               reason="risk_self", note=f"{CANARY} worried")
    thread_case.refresh_from_db()
    resolve_case(actor=moderator, case=thread_case, decision="escalate",
                 reason=f"{CANARY} private escalation note for staff",
                 version=thread_case.version)
    Notification.objects.create(user=ben, kind="mention",
                                text=f"{CANARY} Ben's own notification")
    return Community(group=group, owner=owner, moderator=moderator, ada=ada, ben=ben,
                     ada_thread=ada_thread, ada_alone_thread=ada_alone_thread,
                     ben_thread=ben_thread, ada_message=ada_message, ben_message=ben_message,
                     ben_reply=ben_reply, ada_reply=ada_reply)


def download(client: Client, path: str) -> tuple[object, str]:
    response = client.get(path)
    body = b"".join(response.streaming_content).decode() if response.streaming else ""
    return response, body


# --- download my data ---------------------------------------------------------------------

def test_export_json_has_everything_of_mine_and_nothing_private_of_anyone_else(
        community, django_assert_max_num_queries):
    client = log_in(community.ada)
    with django_assert_max_num_queries(40):
        response, body = download(client, "/accounts/export.json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "no-store" in response["Cache-Control"].split(", ")
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(body)
    assert CANARY not in body
    assert community.ben.email not in body
    assert data["account"][0]["email"] == community.ada.email
    assert data["account"][0]["about_me"].startswith("ADA-ABOUT")
    assert data["account"][0]["home_town"].startswith("ADA-TOWN")
    assert [row["email"] for row in data["email_addresses"]] == [community.ada.email]
    assert data["groups"][0]["join_answers"] == [
        {"question": "What brings you here?", "answer": "ADA-JOIN-ANSWER my knees"}]
    assert data["groups"][0]["has_a_calendar_feed"] is True
    assert "ada-secret-calendar-token" not in body
    assert [m["text"] for m in data["chat_messages"]] == ["ADA-CHAT hello everyone"]
    assert {t["title"] for t in data["forum_threads"]} == {
        "ADA-THREAD-TITLE Walking aids", "ADA-ALONE-TITLE Quiet thread"}
    assert {p["text"] for p in data["forum_posts"]} == {
        "ADA-OPENING what helps you walk?", "ADA-ALONE-BODY anyone there?",
        "ADA-REPLY sleep helps"}
    assert [r["text"] for r in data["post_versions"]] == ["ADA-REPLY draft one"]
    assert [r["reaction"] for r in data["reactions"]] == ["Thank you"]
    assert [r["meeting"] for r in data["meeting_replies"]] == ["ADA-MEETING Coffee morning"]
    assert len(data["checkins"]) == 1 and "score" not in data["checkins"][0]
    assert [f["my_note"] for f in data["flags"]] == ["ADA-FLAG-NOTE this seems unkind"]
    decisions = {c["decision"]: c["reason_given"] for c in data["moderation_of_your_posts"]}
    assert decisions == {"Keep it (no action)": "", "Pass to site staff": ""}
    assert data["sessions"] and data["notifications"] is not None
    assert data["about_this_file"]["not_included"]
    # No moderator is named anywhere in it.
    assert community.moderator.display_name not in body


def test_export_web_page_is_readable_and_holds_the_same(community):
    client = log_in(community.ada)
    response, body = download(client, "/accounts/export.html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "no-store" in response["Cache-Control"].split(", ")
    assert "attachment" in response["Content-Disposition"]
    assert body.startswith("<!DOCTYPE html>") and body.rstrip().endswith("</html>")
    for mine in ("ADA-CHAT hello everyone", "ADA-JOIN-ANSWER my knees", "ADA-REPLY sleep helps",
                 "ADA-MEETING Coffee morning", "ADA-FLAG-NOTE", "What is not in this file"):
        assert mine in body
    assert CANARY not in body
    assert "<script" not in body and "style=" not in body  # nothing the CSP would block


def test_export_escapes_what_members_wrote(community):
    User.objects.filter(pk=community.ada.pk).update(about="<script>alert(1)</script>")
    _, body = download(log_in(community.ada), "/accounts/export.html")
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body


def test_export_queries_stay_flat_as_the_data_grows(community, django_assert_num_queries):
    """Each section is one query per batch, whatever it holds (no query per row)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = log_in(community.ada)
    client.get("/accounts/profile/")  # the first page after login records the session

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            download(client, "/accounts/export.json")
        return len(queries)

    before = count()
    category = Category.objects.filter(group=community.group).first()
    for i in range(12):
        ChatMessage.objects.create(group=community.group, seq=1000 + i, author=community.ada,
                                   client_id=f"extra-{i}", body=f"ADA-MORE {i}",
                                   body_html="")
        thread = Thread.objects.create(group=community.group, category=category,
                                       author=community.ada, title=f"ADA-MORE {i}")
        Post.objects.create(thread=thread, group=community.group, author=community.ada,
                            body=f"ADA-MORE {i}", body_html="", tree_key=f"{i:010}")
    assert count() == before


@pytest.mark.django_db(transaction=True)
async def test_export_streams_in_steps_under_the_asgi_server(community):
    """Under daphne the download is an async stream, each piece made on the ORM thread."""
    from django.test import AsyncClient

    from tests.community.chat_helpers import close_orm_thread_connections

    client = AsyncClient()
    await client.aforce_login(community.ada)
    try:
        response = await client.get("/accounts/export.json")
        assert response.status_code == 200 and response.is_async
        body = b"".join([piece async for piece in response.streaming_content]).decode()
    finally:
        await close_orm_thread_connections()
    data = json.loads(body)
    assert [m["text"] for m in data["chat_messages"]] == ["ADA-CHAT hello everyone"]
    assert CANARY not in body


def test_export_pages_need_login(client):
    for path in ("/accounts/export/", "/accounts/export.json", "/accounts/export.html"):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_profile_page_links_to_download_and_delete(community):
    page = log_in(community.ada).get("/accounts/profile/").content.decode()
    for path in ("/accounts/export/", "/accounts/delete/", "/accounts/sessions/"):
        assert f'href="{path}"' in page


def test_export_page_explains_and_offers_both_files(community):
    page = log_in(community.ada).get("/accounts/export/").content.decode()
    assert 'href="/accounts/export.html"' in page and 'href="/accounts/export.json"' in page


# --- delete my account --------------------------------------------------------------------

def delete(client: Client, posts: str, password: str = PASSWORD, **extra):
    return client.post("/accounts/delete/", {"posts": posts, "password": password,
                                             "understood": "on", **extra})


def assert_personal_data_is_gone(community, ada_id: int, session_key: str) -> None:
    assert not User.objects.filter(pk=ada_id).exists()
    assert not User.objects.filter(email=community.ada.email).exists()
    assert not User.objects.filter(display_name=community.ada.display_name).exists()
    assert not EmailAddress.objects.filter(email=community.ada.email).exists()
    assert not Membership.objects.filter(user_id=ada_id).exists()
    assert not Membership.objects.filter(calendar_token="ada-secret-calendar-token").exists()
    assert not MeetingReply.objects.filter(user_id=ada_id).exists()
    assert not CheckInReceipt.objects.filter(user_id=ada_id).exists()
    assert not Notification.objects.filter(user_id=ada_id).exists()
    assert not Flag.objects.filter(flagger_id=ada_id).exists()
    assert not Reaction.objects.filter(user_id=ada_id).exists()
    assert not ThreadFollow.objects.filter(user_id=ada_id).exists()
    assert not UserSession.objects.filter(user_id=ada_id).exists()
    assert not Session.objects.filter(session_key=session_key).exists()
    assert not Flag.objects.filter(note__startswith="ADA-").exists()
    # Others' words are untouched.
    ben_reply = Post.objects.get(pk=community.ben_reply.pk)
    assert ben_reply.body.startswith(CANARY) and ben_reply.deleted_at is None
    assert ChatMessage.objects.get(pk=community.ben_message.pk).body.startswith(CANARY)
    assert Post.objects.get(thread=community.ben_thread, parent=None).body.startswith(CANARY)


def assert_audit_names_only_a_pseudonym(community, ada_id: int) -> None:
    reference = pseudonym(ada_id)
    rows = AuditEntry.objects.all()
    assert not rows.filter(actor_name=community.ada.display_name).exists()
    assert not rows.filter(target_name=community.ada.display_name).exists()
    about_her = rows.filter(target_name=reference)
    assert about_her.filter(action=AuditEntry.Action.CASE_DECIDED).exists()
    assert rows.filter(actor_name=reference, action=AuditEntry.Action.CASE_FLAGGED).exists()
    deleted = rows.get(action=AuditEntry.Action.ACCOUNT_DELETED)
    assert deleted.actor_name == reference == deleted.target_name
    assert community.ada.email not in json.dumps(deleted.detail)
    assert reference.startswith("member-") and len(reference) == len("member-") + 16


def test_delete_keeping_posts_erases_her_and_keeps_her_words_as_former_member(
        community, caplog):
    caplog.set_level(logging.INFO, logger="kindred.security")
    client = log_in(community.ada)
    key = client.cookies["sessionid"].value
    ada_id = community.ada.pk
    audit_rows = AuditEntry.objects.count()

    response = delete(client, "keep")

    assert response.status_code == 302 and response["Location"] == "/"
    assert_personal_data_is_gone(community, ada_id, key)
    message = ChatMessage.objects.get(pk=community.ada_message.pk)
    assert message.author_id is None and message.body == "ADA-CHAT hello everyone"
    assert message.status == ChatMessage.Status.PUBLISHED
    reply = Post.objects.get(pk=community.ada_reply.pk)
    assert reply.author_id is None and reply.body == "ADA-REPLY sleep helps"
    assert Thread.objects.get(pk=community.ada_alone_thread.pk).status == "visible"
    assert AuditEntry.objects.count() == audit_rows + 1  # nothing dropped, one added
    assert_audit_names_only_a_pseudonym(community, ada_id)
    assert client.get("/accounts/profile/").status_code == 302  # logged out
    # The thread page shows her kept words as written by a former member.
    ben = log_in(community.ben)
    page = ben.get(f"/groups/kind-hearts/forum/t/{community.ben_thread.pk}/").content.decode()
    assert "ADA-REPLY sleep helps" in page and "former member" in page.lower()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "kindred.security")
    assert "account_deleted" in logged and community.ada.email not in logged
    events = [(r.security_event["event"], r.security_event.get("reason"))
              for r in caplog.records if r.name == "kindred.security"]
    assert ("sessions_ended", "account_deleted") in events
    assert ("sessions_ended", "logout") not in events
    assert community.ada.display_name not in logged


def test_delete_removing_posts_takes_her_words_out_and_keeps_others_replies(community):
    client = log_in(community.ada)
    key = client.cookies["sessionid"].value
    ada_id = community.ada.pk

    response = delete(client, "remove")

    assert response.status_code == 302
    assert_personal_data_is_gone(community, ada_id, key)
    message = ChatMessage.objects.get(pk=community.ada_message.pk)
    assert (message.author_id, message.body, message.body_html, message.status) == (
        None, "", "", ChatMessage.Status.REMOVED)
    for post in Post.objects.filter(pk__in=[community.ada_reply.pk]) | Post.objects.filter(
            thread__in=[community.ada_thread, community.ada_alone_thread], parent=None):
        assert (post.body, post.body_html, post.author_id) == ("", "", None)
        assert post.deleted_at is not None
    assert not PostRevision.objects.filter(body__startswith="ADA-").exists()
    assert not Post.objects.filter(body__startswith="ADA-").exists()
    assert not ChatMessage.objects.filter(body__startswith="ADA-").exists()
    # Her thread with Ben's reply stays readable; the one nobody answered goes.
    assert Thread.objects.get(pk=community.ada_thread.pk).status == "visible"
    assert Thread.objects.get(pk=community.ada_alone_thread.pk).status == "removed"
    ben = log_in(community.ben)
    page = ben.get(f"/groups/kind-hearts/forum/t/{community.ada_thread.pk}/")
    assert page.status_code == 200 and CANARY in page.content.decode()
    assert_audit_names_only_a_pseudonym(community, ada_id)


def test_removed_chat_messages_leave_the_screens_of_members_online(community,
                                                                   django_capture_on_commit_callbacks):
    from community.services.erasure import delete_account

    published = []
    from community import realtime

    original = realtime.publish

    def capture(group, event):
        published.append((group, event))
        original(group, event)

    realtime.publish = capture
    try:
        with django_capture_on_commit_callbacks(execute=True):
            delete_account(actor=community.ada, remove_posts=True)
    finally:
        realtime.publish = original
    removed = [e for g, e in published if g == realtime.chat_group(community.group.pk)]
    assert [e["id"] for e in removed] == [community.ada_message.pk]
    assert json.loads(removed[0]["frame"]) == {"type": "message.removed",
                                               "id": community.ada_message.pk}
    closed = [e for g, e in published if g == realtime.user_group(community.ada.pk or 0)
              or e.get("type") == realtime.SESSIONS_ENDED]
    assert closed and all("sessions" not in e and "keep" not in e for e in closed)


def test_wrong_password_deletes_nothing_and_says_what_to_do(community, caplog):
    caplog.set_level(logging.INFO, logger="kindred.security")
    client = log_in(community.ada)

    response = delete(client, "remove", password="not-my-password")

    assert response.status_code == 400
    assert "That password isn't right" in html.unescape(response.content.decode())
    assert User.objects.filter(pk=community.ada.pk).exists()
    assert ChatMessage.objects.get(pk=community.ada_message.pk).body.startswith("ADA-")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "kindred.security")
    assert "login_failed" in logged and "not-my-password" not in logged
    assert community.ada.email not in logged


def test_a_choice_and_the_tick_are_needed(community):
    client = log_in(community.ada)
    response = client.post("/accounts/delete/", {"password": PASSWORD})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Please choose what should happen" in html and "Please tick the box" in html
    assert User.objects.filter(pk=community.ada.pk).exists()


def test_delete_page_explains_in_plain_words_with_labelled_fields(community):
    page = log_in(community.ada).get("/accounts/delete/").content.decode()
    assert "can't be undone" in page and "Former member" in page
    for field in ("id_password", "id_posts_0", "id_posts_1", "id_understood"):
        assert f'for="{field}"' in page
    assert "<script>" not in page and "style=" not in page


def test_delete_page_needs_login(client):
    response = client.get("/accounts/delete/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_only_owner_must_hand_over_the_group_first(community):
    owner = community.owner
    client = log_in(owner)

    page = client.get("/accounts/delete/").content.decode()
    assert "only owner of these groups" in page and "Kind Hearts" in page
    refused = delete(client, "keep")

    assert refused.status_code == 400
    assert "You are the only owner of Kind Hearts" in refused.content.decode()
    assert User.objects.filter(pk=owner.pk).exists()
    assert Group.objects.filter(pk=community.group.pk).exists()

    services.set_role(actor=owner, membership=Membership.objects.select_related("group").get(
        user=community.moderator, group=community.group), role="owner")
    assert delete(client, "keep").status_code == 302
    assert not User.objects.filter(pk=owner.pk).exists()
    assert Group.objects.filter(pk=community.group.pk).exists()


def test_a_group_nobody_else_was_ever_in_closes_with_the_account(make_user, make_group):
    founder = make_user("Lone Founder")
    group = make_group(Group.Privacy.APPROVAL, owner=founder, slug="lone-group")
    client = log_in(founder)

    assert "will be closed and deleted" in client.get("/accounts/delete/").content.decode()
    assert delete(client, "keep").status_code == 302
    assert not Group.objects.filter(pk=group.pk).exists()


def test_cases_about_her_content_stay_for_moderators(community):
    case = Case.objects.get(post=community.ada_reply)
    delete(log_in(community.ada), "keep")
    case.refresh_from_db()
    assert case.author_id is None and case.decision == "keep"


# --- the security log ---------------------------------------------------------------------

def security_lines(caplog) -> list[dict]:
    return [r.security_event for r in caplog.records if r.name == "kindred.security"]


def test_security_event_keeps_out_personal_fields_and_hashes_addresses(caplog):
    caplog.set_level(logging.INFO, logger="kindred.security")
    security_event("something", user=42, email="a@example.org", body="secret words",
                   display_name="Ada", ip="192.0.2.7", count=3)
    [line] = security_lines(caplog)
    assert line["event"] == "something" and line["user"] == pseudonym(42)
    assert line["count"] == 3 and "192.0.2.7" not in json.dumps(line)
    assert {"email", "body", "display_name"}.isdisjoint(line)
    text = caplog.records[-1].getMessage()
    assert "a@example.org" not in text and "secret words" not in text and "Ada" not in text


def test_failed_login_is_logged_without_the_email_or_password(community, caplog):
    caplog.set_level(logging.INFO, logger="kindred.security")
    client = Client(REMOTE_ADDR=new_address())
    client.post("/accounts/login/", {"login": community.ada.email, "password": "guess-1"})
    client.post("/accounts/login/", {"login": "nobody@example.org", "password": "guess-2"})

    lines = [line for line in security_lines(caplog) if line["event"] == "login_failed"]
    assert [line.get("user") for line in lines] == [pseudonym(community.ada.pk), None]
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (community.ada.email, "nobody@example.org", "guess-1", "guess-2",
                   client.defaults["REMOTE_ADDR"]):
        assert secret not in text


def test_password_change_logout_and_export_are_logged_without_personal_data(
        community, caplog):
    caplog.set_level(logging.INFO, logger="kindred.security")
    client = log_in(community.ada)
    log_in(community.ada)  # a second browser, ended by the change
    client.post("/accounts/password/change/", {
        "oldpassword": PASSWORD, "password1": "Another-pass-789", "password2":
        "Another-pass-789"})
    download(client, "/accounts/export.json")
    client.post("/accounts/logout/")

    events = [(line["event"], line.get("reason")) for line in security_lines(caplog)]
    assert ("password_changed", None) in events
    assert ("sessions_ended", "password_changed") in events
    assert ("data_exported", None) in events
    assert ("sessions_ended", "logout") in events
    changed = next(line for line in security_lines(caplog)
                   if line["event"] == "password_changed")
    assert changed["other_sessions_ended"] == 1
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "kindred.security")
    assert community.ada.email not in text and community.ada.display_name not in text
    assert "ADA-" not in text
