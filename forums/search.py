"""The stored search document of each post: what it holds and keeping it up to date.

A post's document is its body (weight B) and, on a thread's opening post only, the
thread's title (weight A), so a thread is found once for its title and title matches rank
first. PostgreSQL keeps it in `Post.search_document` under a GIN index; elsewhere there is
no document and search falls back to a contains-match (`forums.selectors.search_posts`).

Services call `refresh_documents` after every write that changes a post's body or a
thread's title, in the same transaction. Moderation only changes a post's or thread's
status, which search filters on directly, so it never needs a refresh.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchVector
from django.db import connections
from django.db.models import Case, OuterRef, QuerySet, Subquery, TextField, Value, When

from forums.models import Post, Thread

SEARCH_CONFIG = "english"

# The same document as raw SQL, for the backfill migration and bulk loads: it must build
# exactly what `document()` builds (tests compare the two).
DOCUMENT_SQL = """
    setweight(to_tsvector('english'::regconfig,
              CASE WHEN p.parent_id IS NULL THEN t.title ELSE '' END), 'A')
    || setweight(to_tsvector('english'::regconfig, COALESCE(p.body, '')), 'B')
"""


def uses_documents(using: str = "default") -> bool:
    """Whether this database stores search documents (PostgreSQL does; SQLite does not)."""
    return connections[using].vendor == "postgresql"


def document() -> SearchVector:
    """The document of each post in an UPDATE: the title comes by subquery, because an
    UPDATE cannot join."""
    title = Subquery(Thread.objects.filter(pk=OuterRef("thread_id")).values("title")[:1])
    opening_title = Case(When(parent__isnull=True, then=title), default=Value(""),
                         output_field=TextField())
    return (SearchVector(opening_title, weight="A", config=SEARCH_CONFIG)
            + SearchVector("body", weight="B", config=SEARCH_CONFIG))


def refresh_documents(posts: QuerySet[Post]) -> int:
    """Rebuild the documents of these posts from their current body and thread title;
    returns how many rows were written (none where documents are not stored)."""
    if not uses_documents(posts.db):
        return 0
    return posts.update(search_document=document())


def refresh_id_range(first: int, last: int, *, using: str = "default") -> int:
    """Rebuild documents for posts with ids in [first, last] in one joined UPDATE: the
    fast way for bulk loads (the benchmark, the backfill)."""
    if not uses_documents(using):
        return 0
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"UPDATE forums_post AS p SET search_document = {DOCUMENT_SQL} "  # noqa: S608
            "FROM forums_thread AS t WHERE t.id = p.thread_id AND p.id BETWEEN %s AND %s",
            [first, last],
        )
        return cursor.rowcount
