"""Forum pages: each view's happy path and its bad input, through the test client.

Who may reach each page at all is tests/community/test_views_access.py's matrix; here
members use the pages and get them wrong.
"""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from community import realtime
from community.models import Group, Notification
from community.services import create_group
from forums import selectors, services
from forums.models import Category, Post, PostRevision, Reaction, Thread, ThreadFollow
from moderation.models import AuditEntry
from tests.conftest import add_membership
from tests.forums.conftest import make_forum, opening

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    """No channel layer in these tests: notifications are stored, not pushed."""
    monkeypatch.setattr(realtime, "publish", lambda group, event: None)


def html(response) -> str:
    return response.content.decode()


def post_ids(page: str) -> list[int]:
    """The posts on a thread page, in the order they are drawn."""
    return [int(pk) for pk in re.findall(r'<article class="post[^"]*" id="post-(\d+)"', page)]


def article(page: str, post: Post) -> str:
    """The HTML of one post on a thread page."""
    match = re.search(rf'<article [^>]*id="post-{post.pk}".*?</article>', page, re.S)
    assert match, f"post {post.pk} is not on the page"
    return match.group(0)


def field_error(page: str, field: str) -> bool:
    return f'id="id_{field}-error"' in page


def messages_on(page: str) -> str:
    match = re.search(r'<div class="messages".*?</div>', page, re.S)
    return match.group(0) if match else ""


# --- index -------------------------------------------------------------------------------


def test_index_lists_threads_with_categories_and_the_way_to_start_one(web, forum):
    first, second = forum.categories[:2]
    forum.start(title="Good days and bad", category=first)
    forum.start(forum.other, title="Appointment nerves", category=second)
    web.force_login(forum.member)
    response = web.get(forum.url("index"))
    page = html(response)
    assert response.status_code == 200
    assert "Good days and bad" in page and "Appointment nerves" in page
    for category in forum.categories:
        assert category.name in page
    assert f'href="{forum.url("new_thread")}"' in page
    assert "started by Sam Other" in page

    only_second = html(web.get(forum.url("index"), {"category": second.pk}))
    assert "Appointment nerves" in only_second
    assert "Good days and bad" not in only_second
    assert f'href="{forum.url("new_thread")}?category={second.pk}"' in only_second


def test_index_is_paginated(web, forum):
    now = timezone.now()
    Thread.objects.bulk_create(
        Thread(group=forum.group, category=forum.category, title=f"Thread number {i:02d}",
               author=forum.member, last_post_at=now - timezone.timedelta(minutes=i))
        for i in range(selectors.THREADS_PER_PAGE + 1)
    )
    web.force_login(forum.member)
    first = html(web.get(forum.url("index")))
    assert first.count("Thread number ") == selectors.THREADS_PER_PAGE
    assert "Page 1 of 2" in first and "Thread number 00" in first
    last = html(web.get(forum.url("index"), {"page": 2}))
    assert last.count("Thread number ") == 1
    assert f"Thread number {selectors.THREADS_PER_PAGE:02d}" in last


def test_a_new_group_gets_the_default_categories(make_user):
    founder = make_user("Fran Founder", staff=True)  # staff groups need no site approval
    group = create_group(actor=founder, name="Knitting through it", description="Yarn.")
    names = list(Category.objects.filter(group=group).values_list("name", flat=True))
    assert names == [name for name, _text in services.DEFAULT_CATEGORIES]


# --- new thread ----------------------------------------------------------------------------


def test_new_thread_is_posted_and_followed(web, forum):
    web.force_login(forum.member)
    form = html(web.get(forum.url("new_thread")))
    for field in ("title", "category", "body", "content_warning"):
        assert f'name="{field}"' in form
    assert 'name="preview"' in form  # a second submit button: works without JavaScript
    category = forum.categories[1]
    response = web.post(forum.url("new_thread"), {
        "title": "  Finding   my feet  ", "category": category.pk,
        "body": "Hello **everyone**.", "content_warning": "",
    })
    thread = Thread.objects.get(group=forum.group)
    assert response.status_code == 302
    assert response["Location"] == forum.url("thread", thread_id=thread.pk)
    assert (thread.title, thread.category, thread.author) == ("Finding my feet", category,
                                                              forum.member)
    post = opening(thread)
    assert post.body == "Hello **everyone**."
    assert post.body_html == "<p>Hello <strong>everyone</strong>.</p>"
    assert ThreadFollow.objects.get(thread=thread, user=forum.member).following
    page = html(web.get(response["Location"]))
    assert "Your thread is up" in messages_on(page)
    assert "<h2>Finding my feet</h2>" in page


def test_new_thread_preview_shows_the_html_and_keeps_the_text(web, forum):
    web.force_login(forum.member)
    response = web.post(forum.url("new_thread"), {
        "title": "A title I typed", "category": forum.category.pk,
        "body": "One **brave** step\n\n- a list", "content_warning": "mentions hospital",
        "preview": "1",
    })
    page = html(response)
    assert response.status_code == 200
    assert "Preview: this is how your post will look" in page
    assert "<p>One <strong>brave</strong> step</p>" in page
    assert "<li>a list</li>" in page
    assert "One **brave** step\n\n- a list</textarea>" in page
    assert 'value="A title I typed"' in page and 'value="mentions hospital"' in page
    assert not Thread.objects.filter(group=forum.group).exists()


def test_new_thread_markdown_is_sanitised(web, forum):
    web.force_login(forum.member)
    body = ('<script>alert("boo")</script> <img src=x onerror=alert(1)> '
            '[click](javascript:alert(1)) <b onclick="x()">bold</b>')
    web.post(forum.url("new_thread"), {"title": "Sneaky", "category": forum.category.pk,
                                       "body": body})
    post = Post.objects.get(group=forum.group)
    for bad in ("<script", "<img", 'href="javascript', "<b "):
        assert bad not in post.body_html
    assert not re.search(r"<[^>]+\son\w+=", post.body_html)
    page = html(web.get(forum.url("thread", thread_id=post.thread_id)))
    assert article(page, post).count("<script") == 0
    assert "&lt;script&gt;" in article(page, post)  # shown as text, not dropped


BAD_THREADS = {
    "empty title": ({"title": "", "body": "My words stay put"}, ["title"],
                    "Please give your thread a title."),
    "blank title": ({"title": "   ", "body": "My words stay put"}, ["title"],
                    "Please give your thread a title."),
    "empty body": ({"title": "My title stays put", "body": ""}, ["body"],
                   "Please write something before posting."),
    "both blank": ({"title": " ", "body": "  \n "}, ["title", "body"],
                   "Please write something before posting."),
    "long title": ({"title": "t" * 151, "body": "My words stay put"}, ["title"],
                   "at most 150 characters"),
    "long body": ({"title": "My title stays put", "body": "b" * 20001}, ["body"],
                  "at most 20000 characters"),
    "long warning": ({"title": "My title stays put", "body": "My words stay put",
                      "content_warning": "w" * 101}, ["content_warning"],
                     "at most 100 characters"),
}


@pytest.mark.parametrize("case", list(BAD_THREADS))
def test_bad_new_thread_is_400_with_field_errors_keeping_the_text(web, forum, case):
    data, fields, message = BAD_THREADS[case]
    web.force_login(forum.member)
    response = web.post(forum.url("new_thread"), {"category": forum.category.pk, **data})
    page = html(response)
    assert response.status_code == 400
    for field in ("title", "body", "content_warning"):
        assert field_error(page, field) == (field in fields), field
    assert message in page
    assert "Nothing you typed has been lost." in page
    for value in data.values():
        if value.strip():
            assert value in page  # typed text comes back, however long
    assert not Thread.objects.filter(group=forum.group).exists()
    assert not Post.objects.filter(group=forum.group).exists()


def test_title_of_exactly_150_characters_is_accepted(web, forum):
    web.force_login(forum.member)
    response = web.post(forum.url("new_thread"), {"title": "t" * 150,
                                                  "category": forum.category.pk,
                                                  "body": "Fine."})
    assert response.status_code == 302
    assert Thread.objects.get(group=forum.group).title == "t" * 150


def test_category_of_another_group_is_400(web, forum, make_group):
    elsewhere = make_group(Group.Privacy.APPROVAL)
    services.create_default_categories(elsewhere)
    foreign = Category.objects.filter(group=elsewhere).first()
    web.force_login(forum.member)
    response = web.post(forum.url("new_thread"), {"title": "Mine", "category": foreign.pk,
                                                  "body": "My words stay put"})
    assert response.status_code == 400
    assert field_error(html(response), "category")
    assert "My words stay put" in html(response)
    assert not Thread.objects.exists()


# --- replying ------------------------------------------------------------------------------


def test_reply_to_the_thread_answers_the_opening_post(web, forum):
    thread = forum.start()
    web.force_login(forum.other)
    response = web.post(forum.url("reply", thread_id=thread.pk), {"body": "Welcome *in*!"})
    post = Post.objects.get(thread=thread, author=forum.other)
    assert response.status_code == 302
    assert response["Location"] == f"{forum.thread_url(thread)}?post={post.pk}#post-{post.pk}"
    assert post.parent == opening(thread) and post.depth == 1
    assert post.body_html == "<p>Welcome <em>in</em>!</p>"
    thread.refresh_from_db()
    assert thread.reply_count == 1
    page = html(web.get(response["Location"]))
    assert "Your reply is posted." in messages_on(page)
    assert "Welcome <em>in</em>!" in article(page, post)


def test_reply_to_a_specific_post_sets_its_parent(web, forum):
    thread = forum.start()
    first = forum.reply(forum.other, thread, "First reply")
    web.force_login(forum.member)
    form = html(web.get(forum.url("reply", thread_id=thread.pk), {"to": first.pk}))
    assert "You are replying to Sam Other" in form
    assert f'<input type="hidden" name="to" value="{first.pk}">' in form
    response = web.post(forum.url("reply", thread_id=thread.pk),
                        {"to": first.pk, "body": "Answering Sam"})
    answer = Post.objects.get(thread=thread, body="Answering Sam")
    assert response.status_code == 302
    assert (answer.parent, answer.depth) == (first, 2)
    assert answer.tree_key == first.tree_key + str(answer.pk).zfill(10)
    # the person answered is told
    assert Notification.objects.filter(user=forum.other, kind="forum_reply",
                                       text__contains="replied to your post").exists()


def test_quote_is_one_link_that_prefills_the_reply(web, forum):
    thread = forum.start()
    quoted = forum.reply(forum.other, thread, "Line one\nLine two")
    web.force_login(forum.member)
    page = html(web.get(forum.thread_url(thread)))
    quote_link = (f'href="{forum.url("reply", thread_id=thread.pk)}?to={quoted.pk}'
                  f'&amp;quote=1"')
    assert quote_link in article(page, quoted)
    form = html(web.get(forum.url("reply", thread_id=thread.pk),
                        {"to": quoted.pk, "quote": "1"}))
    assert "&gt; **Sam Other** wrote:\n&gt; Line one\n&gt; Line two\n\n</textarea>" in form
    web.post(forum.url("reply", thread_id=thread.pk), {
        "to": quoted.pk, "body": "> **Sam Other** wrote:\n> Line one\n\nSo true.",
    })
    answer = Post.objects.get(thread=thread, body__endswith="So true.")
    assert answer.parent == quoted
    assert "<blockquote>" in answer.body_html


def test_reply_preview_shows_the_html_and_stores_nothing(web, forum):
    thread = forum.start()
    web.force_login(forum.other)
    response = web.post(forum.url("reply", thread_id=thread.pk),
                        {"body": "So **glad** you came", "preview": "1"})
    page = html(response)
    assert response.status_code == 200
    assert "<p>So <strong>glad</strong> you came</p>" in page
    assert "So **glad** you came</textarea>" in page
    assert Post.objects.filter(thread=thread).count() == 1


@pytest.mark.parametrize(("data", "message"), [
    ({"body": "", "content_warning": "mentions grief"}, "Please write something"),
    ({"body": "   \n  ", "content_warning": "mentions grief"}, "Please write something"),
    ({"body": "r" * 20001, "content_warning": "mentions grief"}, "at most 20000 characters"),
])
def test_bad_reply_is_400_keeping_the_text(web, forum, data, message):
    thread = forum.start()
    web.force_login(forum.other)
    response = web.post(forum.url("reply", thread_id=thread.pk), data)
    page = html(response)
    assert response.status_code == 400
    assert field_error(page, "body") and message in page
    assert 'value="mentions grief"' in page
    if data["body"].strip():
        assert data["body"] in page
    assert Post.objects.filter(thread=thread).count() == 1
    assert Thread.objects.get(pk=thread.pk).reply_count == 0


def test_locked_thread_refuses_replies_clearly_but_moderators_can_reply(web, forum):
    thread = forum.start()
    services.set_locked(actor=forum.moderator, thread=thread, locked=True)
    web.force_login(forum.other)
    page = html(web.get(forum.thread_url(thread)))
    assert "This thread is locked" in page
    assert f'action="{forum.url("reply", thread_id=thread.pk)}"' not in page
    assert "?to=" not in page  # no reply or quote links either
    for method, data in (("get", {}), ("post", {"body": "Can I still say this?"})):
        response = getattr(web, method)(forum.url("reply", thread_id=thread.pk), data)
        assert response.status_code == 302
        assert response["Location"] == forum.thread_url(thread)
        shown = html(web.get(response["Location"]))
        assert "This thread is locked, so no new replies can be added." in messages_on(shown)
    assert Post.objects.filter(thread=thread).count() == 1

    web.force_login(forum.moderator)
    assert f'action="{forum.url("reply", thread_id=thread.pk)}"' in html(
        web.get(forum.thread_url(thread))
    )
    response = web.post(forum.url("reply", thread_id=thread.pk), {"body": "Closing note."})
    assert response.status_code == 302
    assert Post.objects.filter(thread=thread, author=forum.moderator).count() == 1


def test_reply_to_a_post_of_another_thread_or_group_is_404(web, forum, make_group):
    thread = forum.start()
    other_thread = forum.start(forum.other, title="Another one")
    elsewhere = make_group(Group.Privacy.OPEN)
    services.create_default_categories(elsewhere)
    add_membership(forum.member, elsewhere, "approved")
    foreign_thread = services.start_thread(
        actor=forum.member, group=elsewhere, category=Category.objects.filter(
            group=elsewhere).first(), title="Elsewhere", body="Far away")
    before = Post.objects.count()
    web.force_login(forum.member)
    for target in (opening(other_thread), opening(foreign_thread)):
        url = forum.url("reply", thread_id=thread.pk)
        assert web.get(url, {"to": target.pk}).status_code == 404
        assert web.post(url, {"to": target.pk, "body": "Lost"}).status_code == 404
    assert Post.objects.count() == before


def test_thread_of_another_group_or_as_a_non_member_is_404(web, forum, make_group):
    elsewhere = make_group(Group.Privacy.APPROVAL)
    services.create_default_categories(elsewhere)
    add_membership(forum.member, elsewhere, "approved")
    foreign = services.start_thread(
        actor=forum.member, group=elsewhere,
        category=Category.objects.filter(group=elsewhere).first(), title="Elsewhere",
        body="Far away")
    web.force_login(forum.member)
    for name in ("thread", "reply"):
        assert web.get(forum.url(name, thread_id=foreign.pk)).status_code == 404
    assert web.post(forum.url("follow", thread_id=foreign.pk),
                    {"following": "1"}).status_code == 404
    mine = forum.start()
    web.force_login(forum.outsider)
    assert web.get(forum.thread_url(mine)).status_code == 404
    assert web.get(forum.url("reply", thread_id=mine.pk)).status_code == 404
    assert web.get(forum.url("thread", thread_id=999_999)).status_code == 404


def test_hidden_thread_is_seen_only_by_its_author_and_moderators(web, forum):
    thread = forum.start(title="Under review")
    Thread.objects.filter(pk=thread.pk).update(status="hidden")
    for person, status in ((forum.member, 200), (forum.moderator, 200), (forum.owner, 200),
                           (forum.other, 404)):
        web.force_login(person)
        assert web.get(forum.thread_url(thread)).status_code == status
        listed = "Under review" in html(web.get(forum.url("index")))
        if person is not forum.member:  # whether its author finds it listed is open
            assert listed == (status == 200)


# --- editing -------------------------------------------------------------------------------


def test_author_edits_within_the_window_and_a_revision_is_kept(web, forum):
    thread = forum.start()
    post = forum.reply(forum.other, thread, "First words")
    web.force_login(forum.other)
    form = html(web.get(forum.url("edit_post", post_id=post.pk)))
    assert "First words</textarea>" in form
    assert 'name="title"' not in form  # only the opening post carries the title
    response = web.post(forum.url("edit_post", post_id=post.pk),
                        {"body": "Better **words**", "content_warning": ""})
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.body == "Better **words**"
    assert post.body_html == "<p>Better <strong>words</strong></p>"
    assert post.edited_at is not None
    assert list(PostRevision.objects.filter(post=post).values_list("body", flat=True)) == [
        "First words"
    ]
    page = html(web.get(response["Location"]))
    assert "· edited" in article(page, post)
    assert "Your changes are saved." in messages_on(page)


def test_editing_the_opening_post_can_change_the_title(web, forum):
    thread = forum.start(title="Old title")
    web.force_login(forum.member)
    url = forum.url("edit_post", post_id=opening(thread).pk)
    assert 'value="Old title"' in html(web.get(url))
    too_long = web.post(url, {"title": "n" * 151, "body": "Hello everyone, I am new here."})
    assert too_long.status_code == 400 and field_error(html(too_long), "title")
    assert web.post(url, {"title": "New title", "body": "Edited body"}).status_code == 302
    thread.refresh_from_db()
    assert thread.title == "New title"
    assert opening(thread).body == "Edited body"


def test_bad_edit_is_400_keeping_the_text_and_changing_nothing(web, forum):
    thread = forum.start()
    post = forum.reply(forum.other, thread, "Original words")
    web.force_login(forum.other)
    response = web.post(forum.url("edit_post", post_id=post.pk),
                        {"body": "", "content_warning": "my typed warning"})
    assert response.status_code == 400
    assert field_error(html(response), "body")
    assert 'value="my typed warning"' in html(response)
    post.refresh_from_db()
    assert (post.body, post.edited_at) == ("Original words", None)
    assert not PostRevision.objects.filter(post=post).exists()


def test_edit_preview_changes_nothing(web, forum):
    thread = forum.start()
    post = forum.reply(forum.other, thread, "Original words")
    web.force_login(forum.other)
    response = web.post(forum.url("edit_post", post_id=post.pk),
                        {"body": "Maybe *this*", "preview": "1"})
    assert response.status_code == 200
    assert "<p>Maybe <em>this</em></p>" in html(response)
    post.refresh_from_db()
    assert post.body == "Original words"


@pytest.mark.parametrize(("minutes", "allowed"), [(59, True), (61, False)])
def test_the_edit_window_is_an_hour(web, forum, minutes, allowed):
    thread = forum.start()
    post = forum.reply(forum.other, thread, "Original words")
    Post.objects.filter(pk=post.pk).update(
        created_at=timezone.now() - timezone.timedelta(minutes=minutes)
    )
    web.force_login(forum.other)
    url = forum.url("edit_post", post_id=post.pk)
    page = html(web.get(forum.thread_url(thread)))
    assert (f'href="{url}"' in page) == allowed
    assert web.get(url).status_code == (200 if allowed else 404)
    response = web.post(url, {"body": "Changed my mind"})
    assert response.status_code == (302 if allowed else 404)
    post.refresh_from_db()
    assert post.body == ("Changed my mind" if allowed else "Original words")
    assert PostRevision.objects.filter(post=post).count() == (1 if allowed else 0)


def test_the_edit_window_follows_the_clock(web, forum, monkeypatch):
    thread = forum.start()
    post = forum.reply(forum.other, thread, "Original words")
    later = timezone.now() + timezone.timedelta(minutes=61)
    monkeypatch.setattr(timezone, "now", lambda: later)
    web.force_login(forum.other)
    assert web.get(forum.url("edit_post", post_id=post.pk)).status_code == 404
    assert web.post(forum.url("edit_post", post_id=post.pk),
                    {"body": "Too late"}).status_code == 404
    assert Post.objects.get(pk=post.pk).body == "Original words"


@pytest.mark.parametrize("who", ["member", "moderator", "owner"])
def test_nobody_edits_someone_elses_post(web, forum, who):
    thread = forum.start(forum.other)
    post = opening(thread)
    web.force_login(getattr(forum, who))
    assert web.get(forum.url("edit_post", post_id=post.pk)).status_code == 404
    assert web.post(forum.url("edit_post", post_id=post.pk),
                    {"title": "Mine now", "body": "Hijacked"}).status_code == 404
    assert Post.objects.get(pk=post.pk).body == "Hello everyone, I am new here."


def test_edit_history_is_for_moderators(web, forum):
    thread = forum.start()
    post = forum.reply(forum.other, thread, "What I first said")
    services.edit_post(actor=forum.other, post=post, body="What I say now",
                       content_warning="mentions pain")
    url = forum.url("post_history", post_id=post.pk)
    web.force_login(forum.moderator)
    page = html(web.get(url))
    assert "What I first said" in page and "What I say now" in page
    assert f'href="{url}"' in html(web.get(forum.thread_url(thread)))
    for person in (forum.other, forum.member):  # not even the author
        web.force_login(person)
        assert web.get(url).status_code == 404
        assert f'href="{url}"' not in html(web.get(forum.thread_url(thread)))


# --- deleting ------------------------------------------------------------------------------


def test_author_deletes_their_post_and_the_replies_stay(web, forum):
    thread = forum.start()
    mine = forum.reply(forum.other, thread, "Something I regret saying")
    answer = forum.reply(forum.member, thread, "An answer worth keeping", parent=mine)
    services.toggle_reaction(actor=forum.member, post=mine, kind="thanks")
    web.force_login(forum.other)
    assert web.get(forum.url("delete_post", post_id=mine.pk)).status_code == 405
    response = web.post(forum.url("delete_post", post_id=mine.pk))
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.deleted_at is not None and mine.body == "" and mine.body_html == ""
    assert not Reaction.objects.filter(post=mine).exists()
    assert Post.objects.filter(pk=answer.pk, parent=mine).exists()
    page = html(web.get(forum.thread_url(thread)))
    assert "Deleted by the author." in article(page, mine)
    assert "Something I regret saying" not in page
    assert "An answer worth keeping" in article(page, answer)
    assert post_ids(page).index(mine.pk) < post_ids(page).index(answer.pk)
    # deleting twice, editing or reacting to a deleted post is not found
    assert web.post(forum.url("delete_post", post_id=mine.pk)).status_code == 404
    assert web.get(forum.url("edit_post", post_id=mine.pk)).status_code == 404
    web.force_login(forum.member)
    assert web.post(forum.url("react", post_id=mine.pk), {"kind": "thanks"}).status_code == 404
    assert not Reaction.objects.filter(post=mine).exists()
    # moderators still see what was said
    web.force_login(forum.moderator)
    assert "Something I regret saying" in html(
        web.get(forum.url("post_history", post_id=mine.pk)))


@pytest.mark.parametrize("who", ["member", "moderator", "owner"])
def test_nobody_deletes_someone_elses_post(web, forum, who):
    thread = forum.start(forum.other)
    post = forum.reply(forum.other, thread, "Still here")
    web.force_login(getattr(forum, who))
    assert web.post(forum.url("delete_post", post_id=post.pk)).status_code == 404
    post.refresh_from_db()
    assert post.deleted_at is None and post.body == "Still here"


# --- reactions -----------------------------------------------------------------------------


def test_reactions_toggle_one_of_each_kind_per_person(web, forum):
    thread = forum.start()
    post = opening(thread)
    url = forum.url("react", post_id=post.pk)
    web.force_login(forum.other)
    response = web.post(url, {"kind": "thanks"})
    assert response.status_code == 302
    assert response["Location"] == f"{forum.thread_url(thread)}?post={post.pk}#post-{post.pk}"
    web.post(url, {"kind": "me_too"})
    assert sorted(Reaction.objects.filter(post=post, user=forum.other)
                  .values_list("kind", flat=True)) == ["me_too", "thanks"]
    shown = article(html(web.get(forum.thread_url(thread))), post)
    assert re.search(r'aria-pressed="true">Thank you <span aria-hidden="true">·</span> 1',
                     shown)
    assert 'aria-pressed="false">Sending support</button>' in shown
    web.post(url, {"kind": "thanks"})  # again: taken back
    assert list(Reaction.objects.filter(post=post).values_list("kind", flat=True)) == [
        "me_too"
    ]
    web.force_login(forum.member)
    web.post(url, {"kind": "me_too"})
    assert "Me too <span aria-hidden=\"true\">·</span> 2" in article(
        html(web.get(forum.thread_url(thread))), post)


@pytest.mark.parametrize("kind", ["", "hug", "THANKS"])
def test_unknown_reaction_is_refused_with_a_message(web, forum, kind):
    thread = forum.start()
    web.force_login(forum.other)
    response = web.post(forum.url("react", post_id=opening(thread).pk), {"kind": kind},
                        follow=True)
    assert "Please choose one of the reactions." in messages_on(html(response))
    assert "Press “Thank you”, “Me too” or “Sending support”" in messages_on(html(response))
    assert not Reaction.objects.exists()


def test_each_post_has_one_reaction_form_whose_buttons_name_the_reaction(web, forum):
    """No JavaScript needed: the pressed button's name and value are what is posted."""
    thread = forum.start()
    reply = forum.reply(forum.other, thread, "Hello there")
    web.force_login(forum.member)
    page = html(web.get(forum.thread_url(thread)))
    for post in (opening(thread), reply):
        shown = article(page, post)
        forms = re.findall(r'<form method="post" action="([^"]+/react/)">', shown)
        assert forms == [forum.url("react", post_id=post.pk)]
        assert 'role="group" aria-label="Reactions to this post"' in shown
        buttons = re.findall(r'<button type="submit" name="kind" value="(\w+)"', shown)
        assert buttons == ["thanks", "me_too", "support"]
    # what pressing "Me too" on the reply sends
    web.post(forum.url("react", post_id=reply.pk), {"kind": "me_too"})
    assert list(Reaction.objects.values_list("post_id", "kind")) == [(reply.pk, "me_too")]


def test_each_posts_links_point_at_that_post(web, forum):
    """The links are built from one reversed URL per page: check each lands on its post."""
    thread = forum.start()
    mine = forum.reply(forum.member, thread, "My own words")
    theirs = forum.reply(forum.other, thread, "Their words")
    web.force_login(forum.member)
    page = html(web.get(forum.thread_url(thread)))
    shown = article(page, mine)
    assert f'href="{forum.url("edit_post", post_id=mine.pk)}"' in shown
    assert f'action="{forum.url("delete_post", post_id=mine.pk)}"' in shown
    assert f'href="{forum.url("reactions", post_id=mine.pk)}"' in shown
    reply_url = forum.url("reply", thread_id=thread.pk)
    assert f'href="{reply_url}?to={mine.pk}"' in shown
    shown = article(page, theirs)
    assert f'href="/moderation/flag/post/{theirs.pk}/"' in shown
    assert f'href="{reply_url}?to={theirs.pk}&amp;quote=1"' in shown
    assert "/edit/" not in shown and "/delete/" not in shown and "/history/" not in shown
    web.force_login(forum.moderator)
    shown = article(html(web.get(forum.thread_url(thread))), theirs)
    assert f'href="{forum.url("post_history", post_id=theirs.pk)}"' in shown


def test_who_reacted_is_for_members_only(web, forum):
    thread = forum.start()
    post = opening(thread)
    services.toggle_reaction(actor=forum.other, post=post, kind="support")
    services.toggle_reaction(actor=forum.moderator, post=post, kind="thanks")
    url = forum.url("reactions", post_id=post.pk)
    web.force_login(forum.member)
    page = html(web.get(url))
    assert "Sending support: Sam Other" in page
    assert "Thank you: Morgan Moderator" in page
    assert f'href="{url}"' in article(html(web.get(forum.thread_url(thread))), post)
    web.force_login(forum.outsider)
    assert web.get(url).status_code == 404
    web.logout()
    response = web.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- following ---------------------------------------------------------------------------


def test_follow_and_unfollow(web, forum):
    thread = forum.start()
    url = forum.url("follow", thread_id=thread.pk)
    web.force_login(forum.other)
    assert "Follow this thread</button>" in html(web.get(forum.thread_url(thread)))
    assert web.get(url).status_code == 405
    response = web.post(url, {"following": "1"}, follow=True)
    assert "You are following this thread." in messages_on(html(response))
    assert "Stop following</button>" in html(response)
    assert ThreadFollow.objects.get(thread=thread, user=forum.other).following
    forum.reply(forum.owner, thread, "News for followers")
    assert Notification.objects.filter(user=forum.other, kind="forum_reply").count() == 1

    response = web.post(url, {"following": "0"}, follow=True)
    assert "be told about new replies here" in messages_on(html(response))
    assert "Follow this thread</button>" in html(response)
    assert not ThreadFollow.objects.get(thread=thread, user=forum.other).following
    forum.reply(forum.owner, thread, "More news")
    assert Notification.objects.filter(user=forum.other, kind="forum_reply").count() == 1


# --- moderators: pin, lock, categories ---------------------------------------------------


@pytest.mark.parametrize(("action", "field", "value", "audit"), [
    ("pin", "pinned", True, "forum.thread_pinned"),
    ("lock", "locked", True, "forum.thread_locked"),
])
def test_moderators_pin_and_lock_with_an_audit_entry(web, forum, action, field, value, audit):
    older = forum.start(title="The older thread")
    forum.start(forum.other, title="The newer thread")
    url = forum.url("moderate_thread", thread_id=older.pk, action=action)
    web.force_login(forum.member)
    assert web.post(url, {"reason": "Because"}).status_code == 404
    assert getattr(Thread.objects.get(pk=older.pk), field) is False
    assert not AuditEntry.objects.filter(action=audit).exists()

    web.force_login(forum.moderator)
    assert web.get(url).status_code == 405
    response = web.post(url, {"reason": "  Useful for newcomers "})
    assert response.status_code == 302
    assert response["Location"] == forum.thread_url(older)
    assert getattr(Thread.objects.get(pk=older.pk), field) is value
    entry = AuditEntry.objects.get(action=audit)
    assert (entry.actor, entry.group, entry.reason) == (forum.moderator, forum.group,
                                                       "Useful for newcomers")
    assert entry.detail == {"thread_id": older.pk, "value": True}
    web.post(url, {"reason": "again"})  # no change, no second entry
    assert AuditEntry.objects.filter(action=audit).count() == 1

    index = html(web.get(forum.url("index")))
    tag = "Pinned" if action == "pin" else "Locked"
    assert f'<span class="tag">{tag}</span>' in index
    if action == "pin":
        assert index.index("The older thread") < index.index("The newer thread")
    undo = forum.url("moderate_thread", thread_id=older.pk, action="un" + action)
    assert f'action="{undo}"' in html(web.get(forum.thread_url(older)))
    web.post(undo)
    assert getattr(Thread.objects.get(pk=older.pk), field) is False
    assert AuditEntry.objects.filter(action=audit).count() == 2


def test_unknown_moderation_action_is_404(web, forum):
    thread = forum.start()
    web.force_login(forum.moderator)
    url = forum.url("moderate_thread", thread_id=thread.pk, action="delete")
    assert web.post(url).status_code == 404
    assert Thread.objects.filter(pk=thread.pk).exists()


def test_moderators_add_and_rename_categories(web, forum):
    url = forum.url("categories")
    web.force_login(forum.moderator)
    page = html(web.get(url))
    for category in forum.categories:
        assert category.name in page
    response = web.post(url, {"name": "  Carers'   corner ", "description": "For carers."})
    assert response.status_code == 302 and response["Location"] == url
    added = Category.objects.get(group=forum.group, name="Carers' corner")
    assert added.description == "For carers." and added.position == 4
    response = web.post(url, {"category": added.pk, "name": "Carers and family",
                              "description": "Also family."})
    assert response.status_code == 302
    added.refresh_from_db()
    assert (added.name, added.description) == ("Carers and family", "Also family.")
    assert AuditEntry.objects.filter(action="forum.category_saved",
                                     actor=forum.moderator).count() == 2
    assert "Carers and family" in html(web.get(forum.url("index")))


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "off TOPIC"}, "There is already a category with that name."),
    ({"name": ""}, "This field is required."),
    ({"name": "n" * 61}, "at most 60 characters"),
])
def test_bad_category_is_400_and_changes_nothing(web, forum, data, message):
    before = list(Category.objects.filter(group=forum.group).values_list("pk", "name"))
    web.force_login(forum.owner)
    response = web.post(forum.url("categories"), data)
    assert response.status_code == 400
    assert message in html(response)
    assert field_error(html(response), "name")
    assert list(Category.objects.filter(group=forum.group).values_list("pk", "name")) == before
    assert not AuditEntry.objects.filter(action="forum.category_saved").exists()


def test_renaming_a_category_of_another_group_is_404_and_changes_nothing(
    web, forum, make_group
):
    elsewhere = make_group(Group.Privacy.APPROVAL)
    services.create_default_categories(elsewhere)
    foreign = Category.objects.filter(group=elsewhere).first()
    before = sorted(Category.objects.values_list("pk", "group_id", "name"))
    web.force_login(forum.moderator)
    for target in (foreign.pk, 999_999):
        response = web.post(forum.url("categories"), {"category": target, "name": "Renamed"})
        assert response.status_code == 404
    assert sorted(Category.objects.values_list("pk", "group_id", "name")) == before


@pytest.mark.parametrize("who", ["member", "other", "outsider"])
def test_categories_page_is_404_for_non_moderators(web, forum, who):
    web.force_login(getattr(forum, who))
    before = Category.objects.count()
    assert web.get(forum.url("categories")).status_code == 404
    assert web.post(forum.url("categories"), {"name": "Sneaky"}).status_code == 404
    assert Category.objects.count() == before


# --- reading a thread ----------------------------------------------------------------------


def test_content_warning_collapses_the_post_in_details(web, forum):
    thread = forum.start(body="The hard part of my week.", content_warning="mentions self-harm")
    web.force_login(forum.other)
    shown = article(html(web.get(forum.thread_url(thread))), opening(thread))
    assert re.search(
        r'<details class="content-warning">\s*<summary>Content warning: mentions self-harm\. '
        r'Open to read\.</summary>\s*<div class="post-body"><p>The hard part of my week\.</p>'
        r"</div>\s*</details>", shown)


def test_tree_order_and_time_order(web, forum):
    thread = forum.start()
    top = opening(thread)
    a = forum.reply(forum.other, thread, "A answers the opening")
    b = forum.reply(forum.owner, thread, "B answers the opening")
    a1 = forum.reply(forum.member, thread, "A1 answers A", parent=a)
    web.force_login(forum.other)
    tree = html(web.get(forum.thread_url(thread)))
    assert post_ids(tree) == [top.pk, a.pk, a1.pk, b.pk]
    assert f'class="post card depth-2" id="post-{a1.pk}"' in tree
    assert "in reply to" not in tree  # the nesting says it
    by_time = html(web.get(forum.thread_url(thread), {"order": "time"}))
    assert post_ids(by_time) == [top.pk, a.pk, b.pk, a1.pk]
    assert f'class="post card depth-0" id="post-{a1.pk}"' in by_time
    assert (f'in reply to <a href="?post={a.pk}&amp;order=time#post-{a.pk}">Sam Other</a>'
            in article(by_time, a1))
    assert "<strong>oldest first</strong>" in by_time


def test_replies_deeper_than_four_levels_are_drawn_flat_saying_whom_they_answer(web, forum):
    thread = forum.start()
    chain = [opening(thread)]
    for depth in range(1, 7):
        author = forum.other if depth % 2 else forum.member
        chain.append(forum.reply(author, thread, f"Level {depth}", parent=chain[-1]))
    web.force_login(forum.owner)
    page = html(web.get(forum.thread_url(thread)))
    assert post_ids(page) == [p.pk for p in chain]
    for post in chain:
        shown = article(page, post)
        assert f'depth-{min(post.depth, 4)}"' in shown
        says = "in reply to" in shown
        assert says == (post.depth > 4), post.depth
    parent = chain[4]
    assert (f'in reply to <a href="?post={parent.pk}#post-{parent.pk}">'
            f"{parent.author.display_name}</a>") in article(page, chain[5])


def test_very_deep_chains_keep_every_reply_after_the_post_it_answers(web, forum):
    """Past MAX_TREE_DEPTH replies hang from an ancestor: the tree order must still put
    each reply after its parent, and the keys must fit their column (255 characters)."""
    thread = forum.start()
    chain = [opening(thread)]
    for depth in range(1, services.MAX_TREE_DEPTH + 8):
        chain.append(forum.reply(forum.other if depth % 2 else forum.member, thread,
                                 f"Level {depth}", parent=chain[-1]))
    keys = dict(Post.objects.filter(thread=thread).values_list("pk", "tree_key"))
    assert max(len(key) for key in keys.values()) <= 255
    order = sorted(keys, key=keys.get)
    assert order == [p.pk for p in chain]
    web.force_login(forum.owner)
    drawn = []
    for number in (1, 2):
        drawn += post_ids(html(web.get(forum.thread_url(thread), {"page": number})))
    assert drawn == [p.pk for p in chain]


def test_link_to_a_post_opens_the_page_it_is_on(web, forum, settings):
    # One person writes 25 replies here, more than the rate limit allows in ten minutes.
    settings.KINDRED_RATE_LIMITS = {**settings.KINDRED_RATE_LIMITS, "post": ""}
    thread = forum.start()
    replies = [forum.reply(forum.other, thread, f"Reply {i}")
               for i in range(selectors.POSTS_PER_PAGE + 5)]
    late = forum.reply(forum.member, thread, "A late answer to the first reply",
                       parent=replies[0])
    web.force_login(forum.owner)
    # by time: 1 opening + 25 replies + the late one = 27 posts, the late one on page 2
    page = html(web.get(forum.thread_url(thread), {"post": late.pk, "order": "time"}))
    assert f'id="post-{late.pk}"' in page and "Page 2 of 2" in page
    # as a tree it sits right under the first reply, on page 1
    page = html(web.get(forum.thread_url(thread), {"post": late.pk}))
    assert post_ids(page)[:3] == [opening(thread).pk, replies[0].pk, late.pk]
    assert "Page 1 of 2" in page
    last = replies[-1]
    page = html(web.get(forum.thread_url(thread), {"post": last.pk}))
    assert f'id="post-{last.pk}"' in page and "Page 2 of 2" in page
    # a post of another thread, or garbage, opens the first page
    page = html(web.get(forum.thread_url(thread), {"post": "nonsense"}))
    assert "Page 1 of 2" in page


def test_new_tag_goes_once_the_thread_is_read_and_comes_back_with_a_reply(web, forum):
    thread = forum.start()
    new_tag = '<span class="tag">New</span>'
    web.force_login(forum.member)  # the author has read their own thread
    assert new_tag not in html(web.get(forum.url("index")))
    web.force_login(forum.other)
    assert new_tag in html(web.get(forum.url("index")))
    web.get(forum.thread_url(thread))
    assert new_tag not in html(web.get(forum.url("index")))
    forum.reply(forum.owner, thread, "Something new")
    assert new_tag in html(web.get(forum.url("index")))
    web.get(forum.thread_url(thread))
    assert new_tag not in html(web.get(forum.url("index")))
    # reading does not make anyone follow the thread
    assert not ThreadFollow.objects.get(thread=thread, user=forum.other).following


# --- hidden posts and search ------------------------------------------------------------


def test_hidden_post_is_seen_only_by_its_author_and_moderators(web, forum):
    thread = forum.start(title="Weekly check-in", body="How is everyone doing?")
    hidden = forum.reply(forum.other, thread, "Quarantined zebra words")
    Post.objects.filter(pk=hidden.pk).update(status="hidden")
    for person, sees in ((forum.member, False), (forum.other, True), (forum.moderator, True),
                         (forum.owner, True)):
        web.force_login(person)
        page = html(web.get(forum.thread_url(thread)))
        assert ("Quarantined zebra words" in page) == sees, person
        if sees:
            assert "Hidden while moderators take a look." in article(page, hidden)
        reactions = web.get(forum.url("reactions", post_id=hidden.pk))
        assert reactions.status_code == (200 if sees else 404)
        # search never finds it, for anyone
        for url in (forum.url("search"), "/search/"):
            found = html(web.get(url, {"q": "zebra"}))
            assert "Quarantined" not in found and "Nothing found" in found, url
    web.force_login(forum.member)
    assert web.post(forum.url("react", post_id=hidden.pk),
                    {"kind": "thanks"}).status_code == 404
    assert web.get(forum.url("reply", thread_id=thread.pk),
                   {"to": hidden.pk}).status_code == 404
    assert not Reaction.objects.exists()


def test_search_within_a_group_and_across_the_readers_groups(web, forum, make_group,
                                                           make_user):
    second = make_forum(make_group, make_user, Group.Privacy.OPEN, tag=" Two")
    foreign = make_forum(make_group, make_user, Group.Privacy.INVITE, tag=" Three")
    add_membership(forum.member, second.group, "approved")
    forum.start(title="Porridge tips", body="A marmalade breakfast helps me.")
    second.start(second.member, title="Toast talk", body="Marmalade on toast, always.")
    foreign.start(foreign.member, title="Secret spread", body="Invite-only marmalade.")
    gone = forum.start(forum.other, title="Gone thread", body="Deleted marmalade thoughts.")
    services.delete_post(actor=forum.other, post=opening(gone))
    removed = forum.start(forum.other, title="Removed thread", body="Removed marmalade.")
    Thread.objects.filter(pk=removed.pk).update(status="removed")
    web.force_login(forum.member)

    in_group = html(web.get(forum.url("search"), {"q": "marmalade"}))
    assert "Porridge tips" in in_group
    assert "<mark>marmalade</mark>" in in_group.lower()
    for absent in ("Toast talk", "Secret spread", "Gone thread", "Removed thread"):
        assert absent not in in_group, absent
    site = html(web.get("/search/", {"q": "marmalade"}))
    assert "Porridge tips" in site and "Toast talk" in site
    assert second.group.name in site  # site-wide results say which group
    for absent in ("Secret spread", "Gone thread", "Removed thread"):
        assert absent not in site, absent
    assert foreign.group.name not in site


def test_search_says_when_more_posts_match_than_it_shows(web, forum, make_group, make_user,
                                                        monkeypatch):
    monkeypatch.setattr(selectors.SearchPaginator, "cap", 2)
    foreign = make_forum(make_group, make_user, Group.Privacy.INVITE, tag=" Three")
    for n in range(3):
        foreign.start(foreign.member, title=f"Secret {n}", body="Invite-only marmalade.")
    forum.start(title="Porridge tips", body="A marmalade breakfast helps me.")
    web.force_login(forum.member)
    for url in (forum.url("search"), "/search/"):
        page = html(web.get(url, {"q": "marmalade"}))
        # three posts elsewhere match, but none may be read here: they are not counted
        assert "Porridge tips" in page and "Secret" not in page and "More than" not in page
    forum.start(title="Marmalade again", body="Still marmalade.")
    forum.start(title="Marmalade forever", body="Always marmalade.")
    page = html(web.get("/search/", {"q": "marmalade"}))
    assert "More than 2 posts match, so only the first 2 are shown." in page
    assert "Page 1 of 1" not in page and "Secret" not in page
    assert len(re.findall(r'<li class="card">', page)) == 2
    web.force_login(foreign.member)
    page = html(web.get("/search/", {"q": "marmalade"}))
    assert "More than 2 posts match" in page and "Porridge" not in page


def test_search_escapes_what_people_wrote(web, forum):
    forum.start(title="Tags", body='I typed <b onclick="x()">marmalade</b> here')
    web.force_login(forum.other)
    page = html(web.get(forum.url("search"), {"q": "marmalade"}))
    snippet = re.search(r"<p>I typed.*?</p>", page, re.S).group(0)
    assert "<mark>marmalade</mark>" in snippet
    # shown as text (SQLite's plain snippet) or left out (PostgreSQL's headline): never live
    assert "<b" not in snippet and 'onclick="' not in snippet


def test_search_without_words_shows_the_form_only(web, forum):
    web.force_login(forum.member)
    page = html(web.get(forum.url("search")))
    assert 'name="q"' in page and "Results" not in page
    page = html(web.get("/search/", {"q": ""}))
    assert 'name="q"' in page and "Results" not in page


def test_search_shows_the_content_warning_instead_of_the_words(web, forum):
    forum.start(title="Hard week", body="Marmalade and tears.",
                content_warning="mentions crying")
    web.force_login(forum.other)
    page = html(web.get(forum.url("search"), {"q": "marmalade"}))
    assert "Hard week" in page and "Content warning: mentions crying" in page
    assert "tears" not in page
