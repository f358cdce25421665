"""Screening in the forum, through its pages: new threads, replies and edits.

Unsafe advice asks first (the page again, every word kept, with "Post anyway"); sent
anyway it is saved with a review case. A crisis is saved, gets an urgent case, and the
writer sees a help panel once. Blocked words are refused with the reason and the text
kept. In a group that holds unsafe advice, what is held stays out of sight of other
members until a moderator lets it in; its author still sees it, with a note.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils.html import escape

from community import realtime
from community.models import Group, Notification
from forums.models import Post, PostRevision, Thread
from moderation import rulebook
from moderation.models import Case
from moderation.signposting import BLOCKED, PANELS, PROMPTS
from tests.forums.conftest import FAST_HASHERS, Forum, make_forum, opening

pytestmark = pytest.mark.django_db

UNSAFE = "Honestly, you should stop your meds, it's what I did & I'm fine"
CRISIS = "I don't want to be here anymore"
SLUR = "go home you paki"
KIND = "Sending love. Your diabetes team can help you with this."


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    """No channel layer here: notifications are stored, not pushed."""
    monkeypatch.setattr(realtime, "publish", lambda group, event: None)


@pytest.fixture(autouse=True)
def fresh_rules(settings):
    """Fast passwords, and screening caches that start and end empty (ids are reused
    between tests, so a rule set cached for one test's group could leak into the next)."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
    rulebook.forget()
    yield
    rulebook.forget()


@pytest.fixture
def forum(make_group, make_user) -> Forum:
    """An approval group's forum: owner, moderator, two members and an outsider."""
    return make_forum(make_group, make_user)


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    return response.content.decode()


def textarea(page: str, name: str = "body") -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, f"no {name} box on the page"
    return match.group(1).removeprefix("\n")


def title_box(page: str) -> str:
    match = re.search(r'<input[^>]*name="title"[^>]*>', page)
    assert match, "no title box on the page"
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


POST_ANYWAY = re.compile(r'<button type="submit" name="confirm" value="1">Post anyway</button>')


def assert_prompt_page(response, text: str) -> str:
    assert response.status_code == 200
    page = html(response)
    title, explanation = PROMPTS["unsafe_advice"]
    assert escape(title) in page and escape(explanation) in page
    assert textarea(page) == escape(text), "every word is kept"
    assert POST_ANYWAY.search(page), "the writer may post it anyway"
    return page


def help_panels(page: str) -> int:
    return page.count('id="help-panel-title"')


def holding(forum: Forum) -> Forum:
    Group.objects.filter(pk=forum.group.pk).update(hold_unsafe_advice=True)
    forum.group.refresh_from_db()
    return forum


def rule_keys(case: Case) -> list[str]:
    return [m["key"] for m in case.screening]


# --- new threads -----------------------------------------------------------------------------


def new_thread_data(forum: Forum, body: str, **extra) -> dict:
    return {"title": "Coming off things", "category": forum.category.pk, "body": body,
            "content_warning": "", **extra}


def test_new_thread_with_unsafe_advice_asks_first_then_posts_with_a_case(forum):
    client = as_user(forum.member)
    url = forum.url("new_thread")

    page = assert_prompt_page(client.post(url, new_thread_data(forum, UNSAFE)), UNSAFE)
    assert title_box(page) == "Coming off things"
    assert Thread.objects.count() == 0 and Case.objects.count() == 0

    response = client.post(url, new_thread_data(forum, UNSAFE, confirm="1"))
    thread = Thread.objects.get()
    assert response.status_code == 302
    assert response["Location"] == forum.url("thread", thread_id=thread.pk)
    assert thread.status == Thread.Status.VISIBLE
    assert opening(thread).body == UNSAFE
    case = Case.objects.get(thread=thread)
    assert case.kind == Case.Kind.THREAD and not case.urgent and not case.auto_hidden
    assert "unsafe.stop-meds" in rule_keys(case)
    assert "Coming off things" in html(as_user(forum.other).get(forum.url("index")))


def test_new_thread_with_a_slur_is_refused_with_the_reason_and_the_text_kept(forum):
    response = as_user(forum.member).post(forum.url("new_thread"),
                                          new_thread_data(forum, SLUR, confirm="1"))
    assert response.status_code == 400
    page = html(response)
    assert escape(BLOCKED["abuse"]) in page
    assert textarea(page) == escape(SLUR)
    assert title_box(page) == "Coming off things"
    assert not POST_ANYWAY.search(page)
    assert Thread.objects.count() == 0 and Case.objects.count() == 0


def test_a_held_new_thread_stays_out_of_the_index_for_others(forum):
    holding(forum)
    client = as_user(forum.member)
    client.post(forum.url("new_thread"), new_thread_data(forum, UNSAFE))
    response = client.post(forum.url("new_thread"), new_thread_data(forum, UNSAFE, confirm="1"),
                           follow=True)

    thread = Thread.objects.get()
    assert thread.status == Thread.Status.HIDDEN
    case = Case.objects.get(thread=thread)
    assert case.auto_hidden
    page = html(response)
    assert response.status_code == 200, "the author can open their own held thread"
    assert "waiting for a moderator" in page
    assert escape(UNSAFE) in page or opening(thread).body_html in page

    other_index = html(as_user(forum.other).get(forum.url("index")))
    assert "Coming off things" not in other_index
    assert as_user(forum.other).get(forum.url("thread", thread_id=thread.pk)).status_code == 404
    assert "Coming off things" in html(as_user(forum.moderator).get(forum.url("index")))


def test_a_crisis_thread_is_posted_with_an_urgent_case_and_a_help_panel(forum):
    client = as_user(forum.member)
    response = client.post(forum.url("new_thread"), new_thread_data(forum, CRISIS))
    thread = Thread.objects.get()
    assert response.status_code == 302
    assert thread.status == Thread.Status.VISIBLE
    assert Case.objects.get(thread=thread).urgent
    page = html(client.get(response["Location"]))
    assert help_panels(page) == 1 and "Samaritans" in page and "116 123" in page


# --- replies ------------------------------------------------------------------------------


def test_reply_with_unsafe_advice_asks_first_then_posts_with_a_case(forum):
    thread = forum.start(forum.other, title="Tired all the time")
    client = as_user(forum.member)
    url = forum.url("reply", thread_id=thread.pk)

    assert_prompt_page(client.post(url, {"body": UNSAFE}), UNSAFE)
    assert Post.objects.filter(thread=thread).count() == 1
    assert not Case.objects.exists()

    response = client.post(url, {"body": UNSAFE, "confirm": "1"})
    reply = Post.objects.get(thread=thread, author=forum.member)
    assert response.status_code == 302
    assert response["Location"].startswith(forum.url("thread", thread_id=thread.pk))
    assert reply.status == Post.Status.PUBLISHED and reply.body == UNSAFE
    case = Case.objects.get(post=reply)
    assert case.kind == Case.Kind.POST and not case.urgent
    assert "unsafe.stop-meds" in rule_keys(case)
    page = html(client.get(response["Location"]))
    assert help_panels(page) == 1
    assert escape(PANELS[("unsafe_advice", "self")][0]) in page


def test_a_crisis_reply_is_posted_urgently_and_the_next_page_shows_help_once(forum):
    thread = forum.start(forum.other, title="Tired all the time")
    client = as_user(forum.member)

    response = client.post(forum.url("reply", thread_id=thread.pk), {"body": CRISIS})

    assert response.status_code == 302
    reply = Post.objects.get(thread=thread, author=forum.member)
    assert reply.status == Post.Status.PUBLISHED
    case = Case.objects.get(post=reply)
    assert case.urgent and "crisis.not-be-here" in rule_keys(case)
    assert Notification.objects.filter(user=forum.moderator,
                                       kind=Notification.Kind.NEW_CASE).exists()
    page = html(client.get(response["Location"]))
    assert help_panels(page) == 1
    assert escape(PANELS[("crisis", "self")][0]) in page
    assert "Samaritans" in page and "116 123" in page
    assert reply.body_html in page, "the reply is there for everyone"
    assert reply.body_html in html(as_user(forum.other).get(response["Location"]))

    assert help_panels(html(client.get(response["Location"]))) == 0, "shown once"
    assert help_panels(html(as_user(forum.other).get(response["Location"]))) == 0


def test_a_reply_with_a_slur_is_refused_with_the_reason_and_the_text_kept(forum):
    thread = forum.start(forum.other, title="Tired all the time")
    text = f"Oh {SLUR}"
    response = as_user(forum.member).post(forum.url("reply", thread_id=thread.pk),
                                          {"body": text})
    assert response.status_code == 400
    page = html(response)
    assert escape(BLOCKED["abuse"]) in page
    assert textarea(page) == escape(text)
    assert Post.objects.filter(thread=thread).count() == 1


def test_a_held_reply_is_hidden_from_others_and_shown_to_its_author_with_a_note(forum):
    holding(forum)
    thread = forum.start(forum.other, title="Tired all the time")
    client = as_user(forum.member)
    url = forum.url("reply", thread_id=thread.pk)
    assert_prompt_page(client.post(url, {"body": UNSAFE}), UNSAFE)
    response = client.post(url, {"body": UNSAFE, "confirm": "1"}, follow=True)

    reply = Post.objects.get(thread=thread, author=forum.member)
    assert reply.status == Post.Status.HIDDEN
    assert Case.objects.get(post=reply).auto_hidden
    mine = html(response)
    assert "waiting for a moderator" in mine
    assert reply.body_html in mine, "the author still sees what they wrote"
    assert "Hidden while moderators take a look" in mine

    thread_url = forum.url("thread", thread_id=thread.pk)
    theirs = html(as_user(forum.other).get(thread_url))
    assert reply.body_html not in theirs and "stop your meds" not in theirs
    assert html(as_user(forum.moderator).get(thread_url)).count(reply.body_html) == 1


# --- edits -------------------------------------------------------------------------------------


def test_editing_a_post_to_add_unsafe_advice_is_screened_too(forum):
    thread = forum.start(forum.other, title="Tired all the time")
    reply = forum.reply(forum.member, thread, "Have you asked about your iron levels?")
    client = as_user(forum.member)
    url = forum.url("edit_post", post_id=reply.pk)
    edited = f"{reply.body} Also, {UNSAFE}"

    assert_prompt_page(client.post(url, {"body": edited, "content_warning": ""}), edited)
    reply.refresh_from_db()
    assert reply.body == "Have you asked about your iron levels?"
    assert not PostRevision.objects.filter(post=reply).exists()
    assert not Case.objects.exists()

    response = client.post(url, {"body": edited, "content_warning": "", "confirm": "1"})
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.body == edited and reply.status == Post.Status.PUBLISHED
    assert "unsafe.stop-meds" in rule_keys(Case.objects.get(post=reply))


def test_editing_an_opening_post_into_unsafe_advice_is_screened_too(forum):
    thread = forum.start(title="Hello", body="Hello everyone, I am new here.")
    post = opening(thread)
    client = as_user(forum.member)
    data = {"title": "Hello", "body": UNSAFE, "content_warning": ""}

    assert_prompt_page(client.post(forum.url("edit_post", post_id=post.pk), data), UNSAFE)
    post.refresh_from_db()
    assert post.body == "Hello everyone, I am new here."


def test_an_edit_in_a_holding_group_hides_the_post_until_a_moderator_looks(forum):
    holding(forum)
    thread = forum.start(forum.other, title="Tired all the time")
    reply = forum.reply(forum.member, thread, "Have you asked about your iron levels?")
    client = as_user(forum.member)
    url = forum.url("edit_post", post_id=reply.pk)

    client.post(url, {"body": UNSAFE, "content_warning": ""})
    client.post(url, {"body": UNSAFE, "content_warning": "", "confirm": "1"})

    reply.refresh_from_db()
    assert reply.status == Post.Status.HIDDEN and reply.body == UNSAFE
    assert Case.objects.get(post=reply).auto_hidden
    theirs = html(as_user(forum.other).get(forum.url("thread", thread_id=thread.pk)))
    assert reply.body_html not in theirs


def test_editing_a_post_into_a_slur_is_refused_and_the_post_is_unchanged(forum):
    thread = forum.start(forum.other, title="Tired all the time")
    reply = forum.reply(forum.member, thread, "Have you asked about your iron levels?")
    response = as_user(forum.member).post(forum.url("edit_post", post_id=reply.pk),
                                          {"body": SLUR, "content_warning": "",
                                           "confirm": "1"})
    assert response.status_code == 400
    assert escape(BLOCKED["abuse"]) in html(response)
    assert textarea(html(response)) == escape(SLUR)
    reply.refresh_from_db()
    assert reply.body == "Have you asked about your iron levels?"


def test_kind_words_are_posted_without_any_prompt_case_or_panel(forum):
    thread = forum.start(forum.other, title="Tired all the time")
    client = as_user(forum.member)
    response = client.post(forum.url("reply", thread_id=thread.pk), {"body": KIND})
    assert response.status_code == 302
    assert not Case.objects.exists()
    assert help_panels(html(client.get(response["Location"]))) == 0
