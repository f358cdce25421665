"""Reads shaped for forum pages; each page costs a fixed number of queries."""

from __future__ import annotations

import re
from collections import defaultdict

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.utils.functional import cached_property
from django.utils.html import escape

from community import policy
from community.text import strip_controls
from forums.models import Category, Post, Reaction, Thread, ThreadFollow
from forums.search import SEARCH_CONFIG, uses_documents

THREADS_PER_PAGE = 25
POSTS_PER_PAGE = 20
SEARCH_PER_PAGE = 20
SEARCH_CAP = 1000  # results counted and offered; past this people narrow their words
SHOWN_DEPTH = 4  # deeper replies are drawn flat, with "in reply to"
MARK_START, MARK_STOP = "\x02", "\x03"  # never typed by people; swapped for <mark> after escaping


def highlight(snippet: str) -> str:
    """Escape a search snippet, then turn the match markers into <mark> tags."""
    return (
        escape(snippet).replace(MARK_START, "<mark>").replace(MARK_STOP, "</mark>")
    )


def plain_snippet(body: str, terms: list[str], width: int = 90) -> str:
    """A snippet around the first matching term, for databases without full-text search."""
    body = strip_controls(body)
    lowered = body.lower()
    hits = [lowered.find(t.lower()) for t in terms if lowered.find(t.lower()) >= 0]
    start = max(0, min(hits) - width // 2) if hits else 0
    text = body[start:start + width * 2]
    for term in terms:
        text = re.sub(f"({re.escape(term)})", MARK_START + r"\1" + MARK_STOP, text,
                      flags=re.IGNORECASE)
    return ("…" if start else "") + text + ("…" if start + width * 2 < len(body) else "")


def categories(group) -> QuerySet[Category]:
    return Category.objects.filter(group=group).annotate(
        thread_count=Count("threads", filter=Q(threads__status=Thread.Status.VISIBLE))
    )


def thread_listing(user, group, *, category: Category | None = None) -> QuerySet[Thread]:
    threads = Thread.objects.filter(group=group)
    if not policy.can_moderate(user, group):
        threads = threads.filter(status=Thread.Status.VISIBLE)
    if category is not None:
        threads = threads.filter(category=category)
    last_read = ThreadFollow.objects.filter(thread=OuterRef("pk"), user=user).values(
        "last_read_at"
    )[:1]
    return (
        threads.select_related("category", "author")
        .annotate(last_read_at=Subquery(last_read))
        .order_by("-pinned", "-last_post_at", "-pk")
    )


def visible_posts(user, thread: Thread) -> QuerySet[Post]:
    """Posts in a reader's thread page: moderators see all; others see published posts
    and, in their place, hidden ones (the page shows only "hidden while moderators take a
    look" unless the reader wrote it). Removed posts are gone for everyone else."""
    posts = Post.objects.filter(thread=thread)
    if policy.can_moderate(user, thread.group):
        return posts
    return posts.exclude(status=Post.Status.REMOVED)


def thread_posts(user, thread: Thread, *, order: str) -> QuerySet[Post]:
    """Every post of the thread this reader sees, in tree (depth-first) or time order."""
    ordering = ("id",) if order == "time" else ("tree_key",)
    return (
        visible_posts(user, thread)
        .select_related("author", "parent__author", "group")
        .order_by(*ordering)
    )


def thread_page(user, thread: Thread, *, order: str, number) -> Page:
    """One page of a thread's posts, in tree or time order, in three queries (the count,
    the page's ids, their rows) however long the thread is.

    The ids come first, from an index that holds the thread, the order, the status and
    the id (`post_thread_tree_page`, `post_thread_time_page`), so skipping to the last page
    of a 10,000-post thread reads index entries only; then just the page's rows are read
    and joined to their authors. Slicing the joined rows directly made the database fetch
    and join every earlier post first. Every post shares the thread and group objects
    given here, and text the page never shows (the Markdown source, the search document)
    stays in the database."""
    ids = thread_posts(user, thread, order=order).values_list("id", flat=True)
    page = Paginator(ids, POSTS_PER_PAGE).get_page(number)
    wanted = list(page.object_list)
    rows = (
        Post.objects.filter(pk__in=wanted)
        .select_related("author", "parent__author")
        .defer("body", "search_document", "parent__body", "parent__body_html",
               "parent__search_document")
        .in_bulk()
    )
    posts = [rows[pk] for pk in wanted if pk in rows]  # one may have gone in between
    for post in posts:
        post.thread = thread
        post.group = thread.group
    page.object_list = posts
    return page


def page_of_post(user, thread: Thread, post_id: int, *, order: str) -> int:
    """Which page a post is on, so links to it land in the right place."""
    posts = visible_posts(user, thread)
    target = posts.filter(pk=post_id).values("tree_key", "id").first()
    if target is None:
        return 1
    if order == "time":
        before = posts.filter(id__lt=target["id"]).count()
    else:
        before = posts.filter(tree_key__lt=target["tree_key"]).count()
    return before // POSTS_PER_PAGE + 1


def reactions_for(user, posts: list[Post]) -> tuple[dict, dict]:
    """Counts per post and kind, and which the viewer gave: two queries for the page."""
    ids = [p.pk for p in posts]
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (
        Reaction.objects.filter(post_id__in=ids).values("post_id", "kind")
        .annotate(n=Count("id")).order_by()
    ):
        counts[row["post_id"]][row["kind"]] = row["n"]
    mine: dict[int, set[str]] = defaultdict(set)
    for post_id, kind in Reaction.objects.filter(post_id__in=ids, user=user).values_list(
        "post_id", "kind"
    ):
        mine[post_id].add(kind)
    return counts, mine


def follow_state(user, thread: Thread) -> tuple[bool, object]:
    """(following, last_read_at) for this reader and thread, in one query."""
    row = ThreadFollow.objects.filter(thread=thread, user=user).values_list(
        "following", "last_read_at"
    ).first()
    return (row[0], row[1]) if row else (False, None)


def reactors(post: Post) -> QuerySet:
    return Reaction.objects.filter(post=post).select_related("user").order_by("kind", "id")


def search_posts(user, query: str, *, group=None, full_text: bool | None = None
                 ) -> QuerySet[Post]:
    """Posts matching `query` in groups the person may read; never hidden, removed or
    deleted ones. Ranked full-text search with snippets on PostgreSQL, over each post's
    stored, indexed document (`forums.search`); a plain contains-match elsewhere."""
    groups = policy.readable_group_ids(user)
    posts = Post.objects.filter(
        group_id__in=groups,
        status=Post.Status.PUBLISHED,
        deleted_at__isnull=True,
        thread__status=Thread.Status.VISIBLE,
    )
    if group is not None:
        posts = posts.filter(group=group)
    posts = posts.select_related("thread", "group", "author").defer("search_document")
    if full_text is None:
        full_text = uses_documents(posts.db)
    if full_text:
        from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank

        search = SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG)
        return (
            posts.filter(search_document=search)
            .annotate(rank=SearchRank(F("search_document"), search),
                      snippet=SearchHeadline("body", search, config=SEARCH_CONFIG,
                                             start_sel=MARK_START, stop_sel=MARK_STOP,
                                             max_words=30, min_words=10))
            .order_by("-rank", "-pk")
        )
    terms = [t for t in query.split() if t][:8]
    for term in terms:
        posts = posts.filter(
            Q(body__icontains=term) | Q(parent__isnull=True, thread__title__icontains=term)
        )
    return posts.order_by("-pk")


class SearchPaginator(Paginator):
    """Pages of search results that count no further than `cap`: "more than 1,000" is all
    a reader needs, and counting every post that holds a common word costs about as much
    as the search itself. Results past the cap are not offered; `more` says there were.

    A page is read in two steps, like a thread page: the page's ids in ranked order (one
    narrow row per match to rank), then only those posts with their thread, group, author
    and snippet, instead of carrying every match's full row through the joins and sort."""

    cap = SEARCH_CAP

    @cached_property
    def found(self) -> int:
        """How many results, counting no further than one past the cap."""
        return self.object_list.order_by().values("pk")[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self.found, self.cap)

    @property
    def more(self) -> bool:
        return self.found > self.cap

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        ids = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        # The same query (so the same order, rank and snippet) for just these ids.
        return self._get_page(list(self.object_list.filter(pk__in=ids)), number, self)
