"""Forum services: the rows each one writes, the policy it asks, the audit it leaves.

Refusals follow the house rule: people who may not see a group's forum get "not found"
(Http404) for anything in it; people who may see it but may not do this thing now (muted,
locked thread, edit window over, bad input) get a ValidationError that says why.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from community import realtime
from community.models import Group, Membership
from community.services import create_group
from forums import selectors, services
from forums.models import (
    TREE_KEY_WIDTH,
    Category,
    Post,
    PostRevision,
    Reaction,
    Thread,
    ThreadFollow,
)
from moderation.models import AuditEntry
from tests.conftest import add_membership

A = AuditEntry.Action
NOT_IN_FORUM = ("outsider", "pending", "declined", "banned", "ex_member")
IN_FORUM = ("member", "welcomer", "moderator", "owner")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def published(monkeypatch):
    """Socket pushes recorded instead of sent (nothing here needs a channel layer)."""
    events: list[tuple[str, dict]] = []
    monkeypatch.setattr(realtime, "publish", lambda group, event: events.append((group, event)))
    return events


class Forum:
    """One approval group with a person in every standing, its categories and helpers."""

    def __init__(self, group: Group, people: dict):
        self.group = group
        self.people = people
        services.create_default_categories(group)
        self.category = Category.objects.filter(group=group).first()

    def __getitem__(self, role: str):
        return self.people[role]

    def thread(self, role: str = "member", *, title: str = "Good days and hard ones",
               body: str = "How is everyone doing this week?", **extra) -> Thread:
        return services.start_thread(actor=self.people[role], group=self.group,
                                     category=self.category, title=title, body=body, **extra)


@pytest.fixture
def forum(make_group, people_in) -> Forum:
    group = make_group(Group.Privacy.APPROVAL)
    return Forum(group, people_in(group))


@pytest.fixture
def other_forum(make_group, people_in) -> Forum:
    group = make_group(Group.Privacy.APPROVAL)
    return Forum(group, {"owner": group.memberships.get(role="owner").user})


def opening(thread: Thread) -> Post:
    return Post.objects.get(thread=thread, parent__isnull=True)


def key(post_id: int) -> str:
    return str(post_id).zfill(TREE_KEY_WIDTH)


def stored(post: Post) -> Post:
    """A new copy from the database, as views load a parent."""
    return Post.objects.get(pk=post.pk)


def fresh(obj):
    obj.refresh_from_db()
    return obj


# --- start_thread ----------------------------------------------------------------------------


def test_start_thread_writes_the_thread_its_opening_post_and_a_follow(forum):
    author = forum["member"]
    thread = forum.thread(title="  Good   days\tand hard ones ",
                          body="  **Hello** everyone  \n", content_warning="  low   mood ")

    thread = fresh(thread)
    assert (thread.group, thread.category, thread.author) == (forum.group, forum.category, author)
    assert thread.title == "Good days and hard ones"
    assert (thread.reply_count, thread.pinned, thread.locked, thread.status) == (
        0, False, False, Thread.Status.VISIBLE)
    [post] = Post.objects.filter(thread=thread)
    assert post.parent is None and post.is_opening and post.depth == 0
    assert post.group == forum.group and post.author == author
    assert post.body == "**Hello** everyone"
    assert post.body_html == "<p><strong>Hello</strong> everyone</p>"
    assert post.content_warning == "low mood"
    assert post.tree_key == key(post.pk)
    assert post.status == Post.Status.PUBLISHED and post.edited_at is None
    follow = ThreadFollow.objects.get(thread=thread, user=author)
    assert follow.following and follow.last_read_at is not None


def test_start_thread_stores_sanitised_html_only(forum):
    thread = forum.thread(body='<script>alert(1)</script> [x](javascript:alert(1)) '
                               '[ok](https://example.org)')
    html = opening(thread).body_html
    assert "<script" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html  # shown as text
    assert '<a href="https://example.org" rel="nofollow ugc noopener">ok</a>' in html


@pytest.mark.parametrize("role", IN_FORUM)
def test_members_of_every_role_may_start_threads(forum, role):
    thread = forum.thread(role)
    assert fresh(thread).author == forum[role]


@pytest.mark.parametrize("role", (*NOT_IN_FORUM, "anonymous"))
def test_people_outside_the_forum_get_not_found_when_starting_a_thread(forum, role):
    actor = forum[role] or AnonymousUser()
    with pytest.raises(Http404):
        services.start_thread(actor=actor, group=forum.group, category=forum.category,
                              title="Hello", body="Hello")
    assert not Thread.objects.exists() and not Post.objects.exists()


def test_a_category_from_another_group_is_not_found(forum, other_forum):
    with pytest.raises(Http404):
        services.start_thread(actor=forum["owner"], group=forum.group,
                              category=other_forum.category, title="Hello", body="Hello")
    assert not Thread.objects.exists()


def test_muted_members_may_not_start_threads(forum):
    with pytest.raises(ValidationError):
        forum.thread("muted")
    assert not Thread.objects.exists()


@pytest.mark.parametrize(
    ("fields", "error_key"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 151}, "title"),
        ({"body": " \n\t "}, "body"),
        ({"body": "x" * 20001}, "body"),
        ({"content_warning": "x" * 101}, "content_warning"),
    ],
    ids=["empty-title", "long-title", "empty-body", "long-body", "long-warning"],
)
def test_start_thread_refuses_bad_text(forum, fields, error_key):
    with pytest.raises(ValidationError) as caught:
        forum.thread(**fields)
    assert error_key in caught.value.message_dict
    assert not Thread.objects.exists() and not Post.objects.exists()


def test_start_thread_accepts_text_at_the_limits(forum):
    thread = forum.thread(title="t" * 150, body="b" * 20000, content_warning="w" * 100)
    post = opening(thread)
    assert len(fresh(thread).title) == 150
    assert len(post.body) == 20000 and len(post.content_warning) == 100


# --- reply and the tree ---------------------------------------------------------------------


def test_reply_to_the_thread_answers_the_opening_post_and_updates_the_thread(forum):
    thread = forum.thread()
    first = opening(thread)
    long_ago = timezone.now() - timezone.timedelta(days=3)
    Thread.objects.filter(pk=thread.pk).update(last_post_at=long_ago)

    post = services.reply(actor=forum["welcomer"], thread=thread, body="Doing *okay*.",
                          content_warning=" grief ")

    post = fresh(post)
    assert post.parent == first and post.depth == 1
    assert post.tree_key == first.tree_key + key(post.pk)
    assert (post.thread, post.group, post.author) == (thread, forum.group, forum["welcomer"])
    assert post.body_html == "<p>Doing <em>okay</em>.</p>" and post.content_warning == "grief"
    thread = fresh(thread)
    assert thread.reply_count == 1 and thread.last_post_at > long_ago
    follow = ThreadFollow.objects.get(thread=thread, user=forum["welcomer"])
    assert follow.following and follow.last_read_at >= thread.last_post_at


def test_reply_count_and_last_post_at_follow_every_reply(forum):
    thread = forum.thread()
    times = []
    for n in range(3):
        services.reply(actor=forum["member"], thread=thread, body=f"Reply {n}")
        times.append(fresh(thread).last_post_at)
    assert fresh(thread).reply_count == 3
    assert times == sorted(times)


def test_replies_sort_depth_first_by_tree_key(forum):
    thread = forum.thread()
    root = opening(thread)
    member = forum["member"]

    def answer(parent, body):  # as the view does: the parent comes from the database
        return services.reply(actor=member, thread=thread, parent=stored(parent), body=body)

    a = answer(root, "a")
    b = answer(root, "b")
    a1 = answer(a, "a1")
    b1 = answer(b, "b1")
    a2 = answer(a, "a2")
    assert fresh(a2).parent_id == a.pk
    a1x = answer(a1, "a1x")

    tree = [p.body for p in selectors.thread_posts(member, thread, order="tree")]
    assert tree[0] == root.body
    assert tree[1:] == ["a", "a1", "a1x", "a2", "b", "b1"]
    by_time = [p.body for p in selectors.thread_posts(member, thread, order="time")]
    assert by_time[1:] == ["a", "b", "a1", "b1", "a2", "a1x"]
    assert [fresh(p).depth for p in (a, a1, a1x, b1)] == [1, 2, 3, 2]
    assert fresh(a1x).tree_key == root.tree_key + key(a.pk) + key(a1.pk) + key(a1x.pk)


def test_the_post_reply_returns_carries_its_stored_place_in_the_tree(forum):
    """Callers may answer the post they were just handed back (a service chaining replies,
    a test, a script): its tree_key must be the stored one, not a placeholder."""
    thread = forum.thread()
    first = services.reply(actor=forum["member"], thread=thread, body="first")
    assert first.tree_key == stored(first).tree_key
    second = services.reply(actor=forum["welcomer"], thread=thread, parent=first, body="second")
    assert stored(second).tree_key == stored(first).tree_key + key(second.pk)


def _chain(forum, thread, length):
    """Each reply answers the one before it; alternate two people like a real exchange."""
    posts = [opening(thread)]
    people = (forum["member"], forum["welcomer"])
    for n in range(length):
        posts.append(services.reply(actor=people[n % 2], thread=thread,
                                    parent=stored(posts[-1]), body=f"level {n + 1}"))
    return [fresh(p) for p in posts]


def _assert_tree_order_holds(forum, thread, posts):
    ordered = [p.pk for p in selectors.thread_posts(forum["member"], thread, order="tree")]
    place = {pk: i for i, pk in enumerate(ordered)}
    by_pk = {p.pk: p for p in posts}
    for post in posts[1:]:
        ancestor = by_pk[post.parent_id]
        while ancestor is not None:
            assert place[post.pk] > place[ancestor.pk], (
                f"{post.body} (depth {post.depth}) sorts before its ancestor {ancestor.body}")
            ancestor = by_pk.get(ancestor.parent_id)


def test_a_25_deep_chain_stays_bounded_and_sorts_after_its_ancestors(forum):
    thread = forum.thread()
    posts = _chain(forum, thread, 25)

    assert [p.depth for p in posts] == [min(n, services.MAX_TREE_DEPTH) for n in range(26)]
    assert max(len(p.tree_key) for p in posts) <= 255
    assert all(p.parent_id == posts[n].pk for n, p in enumerate(posts[1:]))  # tree kept
    _assert_tree_order_holds(forum, thread, posts)
    assert fresh(thread).reply_count == 25


def test_a_long_exchange_keeps_tree_keys_within_the_column(forum):
    """Two people answering each other thirty times: keys must stay short however deep
    (tree_key is varchar(255); PostgreSQL refuses anything longer)."""
    thread = forum.thread()
    posts = _chain(forum, thread, 30)
    assert max(len(p.tree_key) for p in posts) <= 255
    assert max(p.depth for p in posts) == services.MAX_TREE_DEPTH
    _assert_tree_order_holds(forum, thread, posts)


@pytest.mark.parametrize("role", (*NOT_IN_FORUM, "anonymous"))
def test_people_outside_the_forum_get_not_found_when_replying(forum, role):
    thread = forum.thread()
    with pytest.raises(Http404):
        services.reply(actor=forum[role] or AnonymousUser(), thread=thread, body="Hi")
    assert Post.objects.filter(thread=thread).count() == 1


def test_a_parent_from_another_thread_or_group_is_not_found(forum, other_forum):
    thread = forum.thread()
    elsewhere = forum.thread(title="Another thread")
    other_group_thread = other_forum.thread("owner")
    for parent in (opening(elsewhere), opening(other_group_thread)):
        with pytest.raises(Http404):
            services.reply(actor=forum["owner"], thread=thread, parent=parent, body="Hi")
    assert Post.objects.filter(thread=thread).count() == 1


def test_a_thread_of_another_group_is_not_found_for_its_non_members(forum, other_forum):
    theirs = other_forum.thread("owner")
    with pytest.raises(Http404):
        services.reply(actor=forum["owner"], thread=theirs, body="Hi")


def test_locked_threads_take_replies_only_from_moderators(forum):
    thread = forum.thread()
    services.set_locked(actor=forum["moderator"], thread=thread, locked=True)
    thread = fresh(thread)
    for role in ("member", "welcomer"):
        with pytest.raises(ValidationError):
            services.reply(actor=forum[role], thread=thread, body="Hi")
    services.reply(actor=forum["moderator"], thread=thread, body="Closing note.")
    services.reply(actor=forum["owner"], thread=thread, body="Thanks all.")
    assert fresh(thread).reply_count == 2


def test_muted_members_may_not_reply(forum):
    thread = forum.thread()
    with pytest.raises(ValidationError):
        services.reply(actor=forum["muted"], thread=thread, body="Hi")
    assert fresh(thread).reply_count == 0


def test_hidden_threads_are_not_found_for_members(forum):
    thread = forum.thread("welcomer")
    Thread.objects.filter(pk=thread.pk).update(status=Thread.Status.HIDDEN)
    with pytest.raises(Http404):
        services.reply(actor=forum["member"], thread=fresh(thread), body="Hi")


@pytest.mark.parametrize(
    ("fields", "error_key"),
    [({"body": ""}, "body"), ({"body": "x" * 20001}, "body"),
     ({"body": "ok", "content_warning": "w" * 101}, "content_warning")],
    ids=["empty", "long", "long-warning"],
)
def test_reply_refuses_bad_text(forum, fields, error_key):
    thread = forum.thread()
    with pytest.raises(ValidationError) as caught:
        services.reply(actor=forum["member"], thread=thread, **fields)
    assert error_key in caught.value.message_dict
    assert fresh(thread).reply_count == 0 and Post.objects.count() == 1


# --- editing -----------------------------------------------------------------------------------


def test_editing_keeps_each_earlier_version_as_a_revision(forum):
    thread = forum.thread(body="First words", content_warning="cw one")
    post = opening(thread)

    services.edit_post(actor=forum["member"], post=post, body="Second **words**",
                       content_warning="cw two")
    edited = services.edit_post(actor=forum["member"], post=post, body="Third words")

    edited = fresh(edited)
    assert edited.body == "Third words" and edited.body_html == "<p>Third words</p>"
    assert edited.content_warning == "" and edited.edited_at is not None
    revisions = list(PostRevision.objects.filter(post=post))  # newest first
    assert [(r.body, r.content_warning) for r in revisions] == [
        ("Second **words**", "cw two"), ("First words", "cw one"),
    ]


def test_edits_are_allowed_only_within_the_window(forum, settings):
    settings.KINDRED_EDIT_WINDOW_MINUTES = 60
    thread = forum.thread()
    post = opening(thread)
    Post.objects.filter(pk=post.pk).update(
        created_at=timezone.now() - timezone.timedelta(minutes=59))
    services.edit_post(actor=forum["member"], post=fresh(post), body="Fixed a typo")

    Post.objects.filter(pk=post.pk).update(
        created_at=timezone.now() - timezone.timedelta(minutes=61))
    with pytest.raises(ValidationError):
        services.edit_post(actor=forum["member"], post=fresh(post), body="Too late")
    assert fresh(post).body == "Fixed a typo"
    assert PostRevision.objects.filter(post=post).count() == 1


def test_the_window_comes_from_settings(forum, settings):
    settings.KINDRED_EDIT_WINDOW_MINUTES = 5
    post = opening(forum.thread())
    Post.objects.filter(pk=post.pk).update(
        created_at=timezone.now() - timezone.timedelta(minutes=6))
    with pytest.raises(ValidationError):
        services.edit_post(actor=forum["member"], post=fresh(post), body="Too late")


@pytest.mark.parametrize("role", ("welcomer", "moderator", "owner", "outsider"))
def test_only_the_author_may_edit(forum, role):
    post = opening(forum.thread())
    with pytest.raises((ValidationError, Http404)):
        services.edit_post(actor=forum[role], post=post, body="Not mine")
    assert not PostRevision.objects.exists()


def test_muted_or_departed_authors_may_not_edit(forum):
    post = opening(forum.thread())
    Membership.objects.filter(user=forum["member"], group=forum.group).update(
        muted_until=timezone.now() + timezone.timedelta(hours=1))
    author = type(forum["member"]).objects.get(pk=forum["member"].pk)
    with pytest.raises(ValidationError):
        services.edit_post(actor=author, post=post, body="Muted now")
    Membership.objects.filter(user=author, group=forum.group).update(
        muted_until=None, status=Membership.Status.LEFT)
    author = type(author).objects.get(pk=author.pk)
    with pytest.raises(ValidationError):
        services.edit_post(actor=author, post=post, body="Gone now")
    assert not PostRevision.objects.exists()


def test_edit_refuses_bad_text_without_writing_a_revision(forum):
    post = opening(forum.thread())
    for fields in ({"body": "  "}, {"body": "x" * 20001},
                   {"body": "ok", "content_warning": "w" * 101}):
        with pytest.raises(ValidationError):
            services.edit_post(actor=forum["member"], post=post, **fields)
    assert not PostRevision.objects.exists()
    assert fresh(post).edited_at is None


def test_thread_titles_are_edited_by_their_author_in_the_window_or_by_moderators(forum):
    thread = forum.thread(title="Frist title")
    services.edit_thread_title(actor=forum["member"], thread=thread, title="  First   title ")
    assert fresh(thread).title == "First title"

    with pytest.raises(ValidationError):
        services.edit_thread_title(actor=forum["welcomer"], thread=thread, title="Mine now")
    with pytest.raises(ValidationError):
        services.edit_thread_title(actor=forum["member"], thread=thread, title="x" * 151)
    with pytest.raises(ValidationError):
        services.edit_thread_title(actor=forum["member"], thread=thread, title="   ")

    Post.objects.filter(thread=thread).update(
        created_at=timezone.now() - timezone.timedelta(days=1))
    with pytest.raises(ValidationError):
        services.edit_thread_title(actor=forum["member"], thread=fresh(thread), title="Later")
    services.edit_thread_title(actor=forum["moderator"], thread=fresh(thread),
                               title="A clearer title")
    assert fresh(thread).title == "A clearer title"


# --- deleting --------------------------------------------------------------------------------


def test_authors_delete_their_posts_keeping_replies_and_dropping_reactions(forum):
    thread = forum.thread()
    post = services.reply(actor=forum["member"], thread=thread, body="Something I regret",
                          content_warning="anger")
    answer = services.reply(actor=forum["welcomer"], thread=thread, parent=post,
                            body="It is okay.")
    services.toggle_reaction(actor=forum["welcomer"], post=post, kind=Reaction.Kind.SUPPORT)
    services.toggle_reaction(actor=forum["owner"], post=answer, kind=Reaction.Kind.THANKS)

    deleted = services.delete_post(actor=forum["member"], post=post)

    deleted = fresh(deleted)
    assert deleted.is_deleted and deleted.deleted_at is not None
    assert (deleted.body, deleted.body_html, deleted.content_warning) == ("", "", "")
    assert not Reaction.objects.filter(post=deleted).exists()
    assert Reaction.objects.filter(post=answer).count() == 1  # only that post's reactions
    answer = fresh(answer)
    assert answer.parent == deleted and answer.body == "It is okay."
    tree = [p.pk for p in selectors.thread_posts(forum["member"], thread, order="tree")]
    assert tree == [opening(thread).pk, deleted.pk, answer.pk]
    assert fresh(thread).status == Thread.Status.VISIBLE


def test_deleting_the_opening_post_keeps_the_thread_and_its_replies(forum):
    thread = forum.thread()
    reply = services.reply(actor=forum["welcomer"], thread=thread, body="Hello")
    services.delete_post(actor=forum["member"], post=opening(thread))
    assert Thread.objects.filter(pk=thread.pk).exists()
    assert fresh(reply).body == "Hello"
    assert opening(thread).is_deleted


@pytest.mark.parametrize("role", ("welcomer", "moderator", "owner", "outsider"))
def test_only_the_author_may_delete(forum, role):
    post = opening(forum.thread())
    with pytest.raises(Http404):
        services.delete_post(actor=forum[role], post=post)
    assert not fresh(post).is_deleted


def test_a_deleted_post_cannot_be_deleted_edited_or_reacted_to_again(forum):
    post = opening(forum.thread())
    services.delete_post(actor=forum["member"], post=post)
    post = fresh(post)
    with pytest.raises(Http404):
        services.delete_post(actor=forum["member"], post=post)
    with pytest.raises(ValidationError):
        services.edit_post(actor=forum["member"], post=post, body="Back again")
    with pytest.raises(Http404):
        services.toggle_reaction(actor=forum["welcomer"], post=post, kind="thanks")
    assert fresh(post).body == ""


# --- reactions ---------------------------------------------------------------------------------


def test_reactions_toggle_and_each_kind_counts_once_per_person(forum):
    post = opening(forum.thread())
    welcomer, owner = forum["welcomer"], forum["owner"]

    assert services.toggle_reaction(actor=welcomer, post=post, kind="thanks") is True
    assert services.toggle_reaction(actor=welcomer, post=post, kind="me_too") is True
    assert services.toggle_reaction(actor=welcomer, post=post, kind="support") is True
    assert services.toggle_reaction(actor=owner, post=post, kind="thanks") is True
    assert Reaction.objects.filter(post=post).count() == 4

    counts, mine = selectors.reactions_for(welcomer, [post])
    assert counts[post.pk] == {"thanks": 2, "me_too": 1, "support": 1}
    assert mine[post.pk] == {"thanks", "me_too", "support"}

    assert services.toggle_reaction(actor=welcomer, post=post, kind="thanks") is False
    assert set(Reaction.objects.filter(post=post, user=welcomer).values_list(
        "kind", flat=True)) == {"me_too", "support"}
    assert services.toggle_reaction(actor=welcomer, post=post, kind="thanks") is True
    assert Reaction.objects.filter(post=post, user=welcomer, kind="thanks").count() == 1


def test_the_database_holds_one_reaction_of_a_kind_per_person(forum):
    post = opening(forum.thread())
    Reaction.objects.create(post=post, user=forum["owner"], kind="thanks")
    with pytest.raises(IntegrityError), transaction.atomic():
        Reaction.objects.create(post=post, user=forum["owner"], kind="thanks")


def test_reactions_refuse_unknown_kinds_muted_members_and_outsiders(forum):
    post = opening(forum.thread())
    with pytest.raises(ValidationError):
        services.toggle_reaction(actor=forum["welcomer"], post=post, kind="angry")
    with pytest.raises(ValidationError):
        services.toggle_reaction(actor=forum["muted"], post=post, kind="thanks")
    for role in NOT_IN_FORUM:
        with pytest.raises(Http404):
            services.toggle_reaction(actor=forum[role], post=post, kind="thanks")
    assert not Reaction.objects.exists()


def test_hidden_posts_take_no_reactions(forum):
    post = opening(forum.thread())
    Post.objects.filter(pk=post.pk).update(status=Post.Status.HIDDEN)
    with pytest.raises(Http404):
        services.toggle_reaction(actor=forum["welcomer"], post=fresh(post), kind="thanks")


# --- following and reading ------------------------------------------------------------------


def test_following_can_be_turned_off_and_on(forum):
    thread = forum.thread()
    services.set_following(actor=forum["member"], thread=thread, following=False)
    assert not ThreadFollow.objects.get(thread=thread, user=forum["member"]).following
    services.set_following(actor=forum["welcomer"], thread=thread, following=True)
    assert ThreadFollow.objects.get(thread=thread, user=forum["welcomer"]).following
    services.set_following(actor=forum["welcomer"], thread=thread, following=False)
    assert not ThreadFollow.objects.get(thread=thread, user=forum["welcomer"]).following
    assert ThreadFollow.objects.filter(thread=thread).count() == 2


@pytest.mark.parametrize("role", NOT_IN_FORUM)
def test_people_outside_the_forum_cannot_follow(forum, role):
    thread = forum.thread()
    with pytest.raises(Http404):
        services.set_following(actor=forum[role], thread=thread, following=True)
    assert not ThreadFollow.objects.filter(user=forum[role]).exists()


def test_posting_again_follows_again(forum):
    thread = forum.thread()
    services.set_following(actor=forum["member"], thread=thread, following=False)
    services.reply(actor=forum["member"], thread=thread, body="Back again")
    assert ThreadFollow.objects.get(thread=thread, user=forum["member"]).following


def test_people_outside_the_forum_cannot_mark_its_threads_read(forum):
    """"Each [service] checks the policy": reading state is kept only for readers."""
    thread = forum.thread()
    for role in NOT_IN_FORUM:
        with pytest.raises(Http404):
            services.mark_read(actor=forum[role], thread=thread)
    assert set(ThreadFollow.objects.filter(thread=thread).values_list("user", flat=True)) == {
        forum["member"].pk}


def test_unread_markers_follow_mark_read_and_new_replies(forum):
    thread = forum.thread("member")
    welcomer = forum["welcomer"]

    def listed(user):
        return {t.pk: t for t in selectors.thread_listing(user, forum.group)}[thread.pk]

    assert listed(welcomer).last_read_at is None  # never opened: unread
    services.mark_read(actor=welcomer, thread=thread)
    row = ThreadFollow.objects.get(thread=thread, user=welcomer)
    assert row.following is False  # reading is not following
    seen = listed(welcomer)
    assert seen.last_read_at >= seen.last_post_at

    services.reply(actor=forum["owner"], thread=thread, body="News")
    seen = listed(welcomer)
    assert seen.last_post_at > seen.last_read_at  # unread again
    mine = listed(forum["owner"])
    assert mine.last_read_at >= mine.last_post_at  # your own reply is read

    services.set_following(actor=welcomer, thread=thread, following=True)
    services.mark_read(actor=welcomer, thread=thread)
    row = ThreadFollow.objects.get(thread=thread, user=welcomer)
    assert row.following is True  # marking read keeps a follow
    seen = listed(welcomer)
    assert seen.last_read_at >= seen.last_post_at


# --- pins and locks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "field", "action"),
    [(services.set_pinned, "pinned", A.THREAD_PINNED),
     (services.set_locked, "locked", A.THREAD_LOCKED)],
    ids=["pin", "lock"],
)
def test_moderators_pin_and_lock_with_an_audit_entry(forum, service, field, action):
    thread = forum.thread("member")
    moderator = forum["moderator"]

    service(actor=moderator, thread=thread, reason="  Useful for newcomers ", **{field: True})

    assert getattr(fresh(thread), field) is True
    [entry] = AuditEntry.objects.filter(action=action)
    assert (entry.actor, entry.group, entry.target_user) == (moderator, forum.group,
                                                             forum["member"])
    assert entry.reason == "Useful for newcomers"
    assert entry.detail == {"thread_id": thread.pk, "value": True}

    service(actor=moderator, thread=fresh(thread), **{field: True})  # no change, no entry
    assert AuditEntry.objects.filter(action=action).count() == 1

    service(actor=forum["owner"], thread=fresh(thread), **{field: False})
    assert getattr(fresh(thread), field) is False
    latest = AuditEntry.objects.filter(action=action).first()
    assert latest.actor == forum["owner"] and latest.detail["value"] is False
    assert AuditEntry.objects.filter(action=action).count() == 2


@pytest.mark.parametrize("role", ("member", "welcomer", "muted", *NOT_IN_FORUM))
@pytest.mark.parametrize("service", [services.set_pinned, services.set_locked],
                         ids=["pin", "lock"])
def test_only_moderators_pin_and_lock(forum, role, service):
    thread = forum.thread("owner")
    field = "pinned" if service is services.set_pinned else "locked"
    with pytest.raises(Http404):
        service(actor=forum[role], thread=thread, **{field: True})
    assert getattr(fresh(thread), field) is False
    assert not AuditEntry.objects.filter(
        action__in=[A.THREAD_PINNED, A.THREAD_LOCKED]).exists()


def test_pinned_threads_come_first_in_the_listing(forum):
    old = forum.thread(title="Old but important")
    new = forum.thread(title="Newer")
    assert [t.pk for t in selectors.thread_listing(forum["member"], forum.group)] == [
        new.pk, old.pk]
    services.set_pinned(actor=forum["moderator"], thread=old, pinned=True)
    assert [t.pk for t in selectors.thread_listing(forum["member"], forum.group)] == [
        old.pk, new.pk]


# --- categories ---------------------------------------------------------------------------------


def test_new_groups_get_the_default_categories(make_user, settings):
    settings.KINDRED_GROUPS_NEED_APPROVAL = False
    group = create_group(actor=make_user("Founder"), name="Kidney Friends",
                         description="People on dialysis.")
    rows = list(Category.objects.filter(group=group).values_list("name", "position"))
    assert rows == [(name, i) for i, (name, _) in enumerate(services.DEFAULT_CATEGORIES)]
    assert [name for name, _ in rows] == [
        "Introductions", "Living with it", "Treatments and appointments", "Off topic"]
    assert all(Category.objects.get(group=group, name=name).description
               for name, _ in rows)


def test_moderators_add_categories_at_the_end_with_an_audit_entry(forum):
    before = Category.objects.filter(group=forum.group).count()
    category = services.save_category(actor=forum["moderator"], group=forum.group,
                                      name="  Carers   corner ", description=" For carers. ")
    category = fresh(category)
    assert (category.group, category.name, category.description, category.position) == (
        forum.group, "Carers corner", "For carers.", before)
    [entry] = AuditEntry.objects.filter(action=A.CATEGORY_SAVED)
    assert (entry.actor, entry.group) == (forum["moderator"], forum.group)
    assert entry.detail == {"category_id": category.pk, "name": "Carers corner"}


def test_category_names_are_unique_in_a_group_ignoring_case(forum, other_forum):
    with pytest.raises(ValidationError) as caught:
        services.save_category(actor=forum["owner"], group=forum.group, name="introductions")
    assert "name" in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.save_category(actor=forum["owner"], group=forum.group,
                               name="  OFF   TOPIC ")
    # the same name in another group is fine
    services.save_category(actor=other_forum["owner"], group=other_forum.group,
                           name="Carers")
    services.save_category(actor=forum["owner"], group=forum.group, name="carers")
    assert not AuditEntry.objects.filter(action=A.CATEGORY_SAVED,
                                         detail__name="introductions").exists()


def test_renaming_a_category(forum):
    intro = Category.objects.get(group=forum.group, name="Introductions")
    services.save_category(actor=forum["owner"], group=forum.group, name="INTRODUCTIONS",
                           description="Say hi.", category=intro)
    intro = fresh(intro)
    assert (intro.name, intro.description) == ("INTRODUCTIONS", "Say hi.")
    with pytest.raises(ValidationError):
        services.save_category(actor=forum["owner"], group=forum.group, name="off topic",
                               category=intro)
    assert fresh(intro).name == "INTRODUCTIONS"
    assert AuditEntry.objects.filter(action=A.CATEGORY_SAVED).count() == 1


def test_category_names_must_be_given_and_short(forum):
    for name in ("", "   ", "x" * 61):
        with pytest.raises(ValidationError):
            services.save_category(actor=forum["owner"], group=forum.group, name=name)
    services.save_category(actor=forum["owner"], group=forum.group, name="x" * 60)


@pytest.mark.parametrize("role", ("member", "welcomer", "muted", *NOT_IN_FORUM))
def test_only_moderators_save_categories(forum, role):
    with pytest.raises(Http404):
        services.save_category(actor=forum[role], group=forum.group, name="Mine")
    assert not Category.objects.filter(name="Mine").exists()
    assert not AuditEntry.objects.filter(action=A.CATEGORY_SAVED).exists()


def test_a_category_of_another_group_cannot_be_renamed_through_this_one(forum, other_forum):
    theirs = other_forum.category
    old_name = theirs.name
    with pytest.raises(Http404):
        services.save_category(actor=forum["owner"], group=forum.group, name="Hijacked",
                               category=theirs)
    assert fresh(theirs).name == old_name
    assert not AuditEntry.objects.filter(action=A.CATEGORY_SAVED).exists()


def test_a_moderator_of_one_group_is_nobody_in_another(forum, other_forum):
    thread = other_forum.thread("owner")
    moderator = forum["moderator"]
    add_membership(moderator, other_forum.group, "approved")  # a plain member there
    with pytest.raises(Http404):
        services.set_pinned(actor=moderator, thread=thread, pinned=True)
    with pytest.raises(Http404):
        services.save_category(actor=moderator, group=other_forum.group, name="Mine")
