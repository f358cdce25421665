"""Forum index and thread pages cost a fixed number of SQL queries, whatever the size.

The same pages are asked of a forum with about 10 posts and one with over 1,000 (one
thread of 1,000 posts, 40 threads in all), in tree and time order, on the first page, a
later page and by a `?post=` link, by a member who wrote some of the posts and by a
moderator. Each pair must cost the same, and no more than the bound.

The posts are written with bulk_create, each with its place in the reply tree as
`forums.services.reply` gives it: a reply's tree_key is its parent's followed by its own
id, zero-padded to TREE_KEY_WIDTH.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from allauth.account.models import EmailAddress
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from community.models import Group, User
from forums import selectors, services
from forums.models import TREE_KEY_WIDTH, Category, Post, Reaction, Thread, ThreadFollow
from forums.search import refresh_documents
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db

SMALL, BIG = 10, 1000
CHAIN = 6  # replies come in chains six deep, so pages show nesting past SHOWN_DEPTH (4)
BIG_GROUP_THREADS = 40  # more than one index page (THREADS_PER_PAGE is 25)

# Most queries one view of a page may make, whatever the forum's size: the largest count
# over the shapes below when nothing is fetched per post (a moderator following a
# `?post=` link costs the most: their header counts join requests, and the link costs two
# queries to find the post's page). Of these, 2 are the session and the user (allauth's
# user-session row is written at most every few minutes, not on every page:
# community.session_activity); a thread page is its count, its ids and their rows, and
# it also marks the thread read (with its savepoints) when something in it is new to the
# viewer.
THREAD_PAGE_BOUND = 22
INDEX_PAGE_BOUND = 11


@dataclass
class Shelf:
    """One group's forum: its threads, largest first."""

    group: Group
    threads: list[Thread] = field(default_factory=list)
    posts: dict[int, list[Post]] = field(default_factory=dict)  # thread pk -> in time order


@dataclass
class Library:
    reader: User  # a plain member who wrote a third of the posts
    moderator: User
    small: Shelf
    big: Shelf


def _person(name: str) -> User:
    email = f"{name.lower().replace(' ', '.')}@queries.example.org"
    user = User.objects.create_user(email=email, password="pw-Kindred-123!",
                                    display_name=name)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _key(pk: int) -> str:
    return str(pk).zfill(TREE_KEY_WIDTH)


def bulk_thread(group: Group, category: Category, title: str, authors: list[User],
                size: int, *, start) -> tuple[Thread, list[Post]]:
    """A thread of `size` posts: the opening post, then replies in chains CHAIN deep.

    Every seventh post has a content warning, every eleventh is hidden while moderators
    look (by its author, who still sees it), and every thirteenth was deleted by its author.
    """
    thread = Thread.objects.create(group=group, category=category, title=title,
                                   author=authors[0], created_at=start,
                                   last_post_at=start + timezone.timedelta(seconds=size),
                                   reply_count=size - 1)
    posts = Post.objects.bulk_create(
        Post(thread=thread, group=group, author=authors[i % len(authors)],
             body=f"{title}, post {i}", body_html=f"<p>{title}, post {i}</p>",
             content_warning="mentions a hard day" if i % 7 == 3 else "",
             status=Post.Status.HIDDEN if i % 11 == 5 else Post.Status.PUBLISHED,
             deleted_at=start if i % 13 == 6 else None,
             created_at=start + timezone.timedelta(seconds=i), tree_key="")
        for i in range(size)
    )
    assert all(post.pk for post in posts)
    for i, post in enumerate(posts):
        if i == 0:
            post.parent, post.depth, post.tree_key = None, 0, _key(post.pk)
            continue
        parent = posts[0] if i % CHAIN == 1 else posts[i - 1]
        post.parent, post.depth = parent, parent.depth + 1
        post.tree_key = parent.tree_key + _key(post.pk)
    Post.objects.bulk_update(posts, ["parent", "depth", "tree_key"], batch_size=500)
    refresh_documents(Post.objects.filter(thread=thread))  # as the services would
    return thread, posts


def _react(posts: list[Post], people: list[User]) -> None:
    """About one reaction per post, of every kind, the reader's among them."""
    kinds = Reaction.Kind.values
    Reaction.objects.bulk_create(
        Reaction(post=post, user=person, kind=kinds[(i + j) % len(kinds)])
        for i, post in enumerate(posts) if post.status == "published" and not post.deleted_at
        for j, person in enumerate(people) if (i + j) % 3 == 0
    )


def build_library() -> Library:
    owner = _person("Query Owner")
    reader = _person("Quinn Reader")
    other = _person("Ollie Other")
    moderator = _person("Mo Query")
    start = timezone.now() - timezone.timedelta(days=3)
    shelves = []
    for name, sizes in (("small", [SMALL]),
                        ("big", [BIG] + [1 + i % 4 for i in range(BIG_GROUP_THREADS - 1)])):
        group = Group.objects.create(name=f"Queries {name}", slug=f"queries-{name}",
                                     description="Counting.", created_by=owner,
                                     privacy=Group.Privacy.APPROVAL)
        add_membership(owner, group, "approved", "owner")
        add_membership(reader, group, "approved")
        add_membership(other, group, "approved")
        add_membership(moderator, group, "approved", "moderator")
        services.create_default_categories(group)
        categories = list(Category.objects.filter(group=group))
        shelf = Shelf(group)
        for n, size in enumerate(sizes):
            thread, posts = bulk_thread(
                group, categories[n % len(categories)], f"{name.title()} thread {n}",
                [reader, other, moderator], size,
                start=start + timezone.timedelta(minutes=n),
            )
            _react(posts, [reader, other, moderator])
            shelf.threads.append(thread)
            shelf.posts[thread.pk] = posts
            if n % 2:  # the reader follows some threads and has read some of them
                ThreadFollow.objects.create(thread=thread, user=reader, following=True,
                                            last_read_at=start if n % 4 == 1 else None)
        Thread.objects.filter(pk=shelf.threads[1 if len(sizes) > 1 else 0].pk).update(
            pinned=True)
        shelves.append(shelf)
    return Library(reader=reader, moderator=moderator, small=shelves[0], big=shelves[1])


@pytest.fixture(scope="module")
def library(django_db_setup, django_db_blocker):
    """Built once per module inside a transaction that is rolled back at the end."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(PASSWORD_HASHERS=[
                "django.contrib.auth.hashers.MD5PasswordHasher"
            ]):
                built = build_library()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield built
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def test_the_library_is_built_as_described(library):
    big_thread = library.big.threads[0]
    assert Post.objects.filter(thread=big_thread).count() == BIG
    assert Post.objects.filter(group=library.big.group).count() > BIG
    assert Thread.objects.filter(group=library.big.group).count() == BIG_GROUP_THREADS
    assert Post.objects.filter(group=library.small.group).count() == SMALL
    # the stored tree order is depth-first, as services.reply makes it
    posts = list(Post.objects.filter(thread=big_thread).order_by("tree_key")[:8])
    assert [p.depth for p in posts] == [0, 1, 2, 3, 4, 5, 6, 1]
    for post in posts[1:]:
        assert post.tree_key == post.parent.tree_key + _key(post.pk)


def _sign_in(web, person: User) -> None:
    """Log in and make one request, so the session's first-request writes (allauth's user
    session row) are not counted against the page."""
    web.force_login(person)
    assert web.get("/help/").status_code == 200


def _count(web, django_assert_max_num_queries, bound: int, url: str, params: dict,
           expect: str, failures: list) -> int:
    """One view of the page under `django_assert_max_num_queries(bound)`; how many queries
    it made. An exceeded bound is kept in `failures`, so the test can report both sizes."""
    try:
        with django_assert_max_num_queries(bound) as captured:
            response = web.get(url, params)
    except pytest.fail.Exception as exceeded:
        failures.append(str(exceeded).splitlines()[0])
    assert response.status_code == 200
    assert expect in response.content.decode()
    return len(captured)


def _report(page: str, counts: dict, bound: int, failures: list) -> None:
    summary = (f"{page}: {counts[SMALL]} queries at {SMALL} posts, {counts[BIG]} at {BIG} "
               f"(bound {bound})")
    print(summary)
    assert not failures, f"{summary}; {failures}"
    assert counts[SMALL] == counts[BIG], f"{summary}: something is fetched once per row"


def _thread_url(shelf: Shelf) -> str:
    return f"/groups/{shelf.group.slug}/forum/t/{shelf.threads[0].pk}/"


def _later_page_post(shelf: Shelf, order: str) -> Post:
    """A reply well into the thread (page 30 of 50 for the big one), as the order sorts."""
    posts = [p for p in shelf.posts[shelf.threads[0].pk] if p.status == "published"]
    if order == "tree":
        posts.sort(key=lambda p: p.tree_key)
    return posts[len(posts) * 3 // 5]


THREAD_SHAPES = [
    pytest.param(order, where, viewer, id=f"{order}-{where}-{viewer}")
    for order in ("tree", "time")
    for where in ("first", "later", "jump")
    for viewer in ("reader", "moderator")
]


@pytest.mark.parametrize(("order", "where", "viewer"), THREAD_SHAPES)
def test_thread_page_costs_the_same_at_10_and_1000_posts(
    web, library, django_assert_max_num_queries, order, where, viewer
):
    _sign_in(web, getattr(library, viewer))
    counts, failures = {}, []
    for size, shelf in ((SMALL, library.small), (BIG, library.big)):
        params = {"order": order} if order == "time" else {}
        expect = f"{shelf.threads[0].title}, post 0"
        if where == "later":
            params["page"] = 30  # beyond the end of the small thread: its last page
            expect = "Page 30 of" if shelf is library.big else expect
        elif where == "jump":
            target = _later_page_post(shelf, order)
            params["post"] = target.pk
            expect = f'id="post-{target.pk}"'
        counts[size] = _count(web, django_assert_max_num_queries, THREAD_PAGE_BOUND,
                              _thread_url(shelf), params, expect, failures)
    _report(f"thread page {order}/{where}/{viewer}", counts, THREAD_PAGE_BOUND, failures)


INDEX_SHAPES = [
    pytest.param(where, viewer, id=f"{where}-{viewer}")
    for where in ("first", "later", "category")
    for viewer in ("reader", "moderator")
]


@pytest.mark.parametrize(("where", "viewer"), INDEX_SHAPES)
def test_forum_index_costs_the_same_at_10_and_1000_posts(
    web, library, django_assert_max_num_queries, where, viewer
):
    _sign_in(web, getattr(library, viewer))
    counts, failures = {}, []
    for size, shelf in ((SMALL, library.small), (BIG, library.big)):
        params, expect = {}, shelf.threads[0].title
        if where == "later":
            params["page"] = 2
            expect = "Page 2 of 2" if shelf is library.big else expect
        elif where == "category":
            params["category"] = shelf.threads[0].category_id
        counts[size] = _count(web, django_assert_max_num_queries, INDEX_PAGE_BOUND,
                              f"/groups/{shelf.group.slug}/forum/", params, expect, failures)
    _report(f"forum index {where}/{viewer}", counts, INDEX_PAGE_BOUND, failures)


def test_a_page_shows_posts_per_page_and_nests_no_deeper_than_shown(web, library):
    """The big thread's pages are full pages, deep chains drawn flat with "in reply to"."""
    _sign_in(web, library.reader)
    page = web.get(_thread_url(library.big), {"page": 2}).content.decode()
    assert page.count('<article class="post card') == selectors.POSTS_PER_PAGE
    assert "depth-5" not in page and "depth-4" in page and "in reply to" in page


@pytest.mark.parametrize("order", ["tree", "time"])
@pytest.mark.parametrize("viewer", ["reader", "moderator"])
def test_thread_pages_read_by_id_hold_the_same_posts_in_the_same_order(library, order,
                                                                       viewer):
    """Page by page, the two-step read (ids, then rows) gives exactly the thread's posts
    in order, each once: what one ordered slice of the full rows gave."""
    person = getattr(library, viewer)
    thread = library.big.threads[0]
    expected = list(selectors.thread_posts(person, thread, order=order)
                    .values_list("id", flat=True))
    first = selectors.thread_page(person, thread, order=order, number=1)
    pages = first.paginator.num_pages
    assert pages == -(-len(expected) // selectors.POSTS_PER_PAGE)
    shown = [post.pk for n in range(1, pages + 1)
             for post in selectors.thread_page(person, thread, order=order, number=n)]
    assert shown == expected
    assert all(post.thread is thread and post.group is thread.group for post in first)


SEARCH_BOUND = 9  # the group search; the site search has no group header to draw


@pytest.mark.parametrize("where", ["group", "site"])
def test_search_page_costs_the_same_for_few_and_many_results(
    web, library, django_assert_max_num_queries, where, monkeypatch
):
    """Searching for words in every post of the big forum (past the count cap) costs what
    a search with a handful of results does: the count stops at the cap, and a page is
    its ids and then its rows."""
    monkeypatch.setattr(selectors.SearchPaginator, "cap", 100)  # the big forum has ~900
    _sign_in(web, library.reader)
    counts, failures = {}, []
    for size, shelf in ((SMALL, library.small), (BIG, library.big)):
        url = (f"/groups/{shelf.group.slug}/forum/search/" if where == "group"
               else "/search/")
        word = shelf.threads[0].title.split()[0]  # "Small" or "Big": in every title
        expect = ("More than 100 posts match" if shelf is library.big
                  else f"{shelf.threads[0].title}</a>")
        counts[size] = _count(web, django_assert_max_num_queries, SEARCH_BOUND, url,
                              {"q": f"{word} post"}, expect, failures)
    _report(f"search {where}", counts, SEARCH_BOUND, failures)

