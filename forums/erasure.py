"""Forum writes for account deletion (community.services.erasure calls these).

When a member deletes their account and asks for their posts to go, each post keeps its
place in the thread with its words removed (like a post its author deleted), so replies
from other people stay where they were and still make sense. A thread they started goes
only if nobody else ever wrote in it; otherwise it stays, with its title, and its opening
post shows as deleted.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import DateTimeField, Exists, OuterRef, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from forums.models import Post, PostRevision, Reaction, Thread


def _refresh_search(posts) -> None:
    """Take the removed words out of search too (PostgreSQL keeps a search document per
    post; forums.search owns it)."""
    try:
        from forums.search import refresh_documents
    except ImportError:  # pragma: no cover - search documents not in this checkout
        return
    refresh_documents(posts)


def remove_posts_by(*, user_id: int) -> dict[str, int]:
    """Remove every forum post's words written by this person; returns counts."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("remove_posts_by must run inside the account deletion.")
    now = timezone.now()
    posts = Post.objects.filter(author_id=user_id)
    PostRevision.objects.filter(post__author_id=user_id).delete()
    Reaction.objects.filter(post__author_id=user_id).delete()
    removed = posts.update(
        body="", body_html="", content_warning="",
        deleted_at=Coalesce("deleted_at", Value(now, output_field=DateTimeField())),
    )
    _refresh_search(Post.objects.filter(author_id=user_id))
    others_wrote = Post.objects.filter(thread=OuterRef("pk")).exclude(author_id=user_id)
    threads_removed = (Thread.objects.filter(author_id=user_id)
                       .exclude(status=Thread.Status.REMOVED)
                       .filter(~Exists(others_wrote))
                       .update(status=Thread.Status.REMOVED))
    return {"posts": removed, "threads": threads_removed}


def delete_forum_of(*, group_id: int) -> None:
    """A group closing with its only member's account: its threads go first, because a
    thread protects its category from being deleted under it."""
    Thread.objects.filter(group_id=group_id).delete()
