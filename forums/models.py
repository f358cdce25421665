"""Group forums: categories, threads, posts in a reply tree, reactions, follows.

Posts carry their place in the tree (`tree_key`, depth-first order) so a thread page,
tree or chronological, is one ordered slice of one index however long the thread is.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from community.models import Group
from forums.fields import SearchDocumentField

TREE_KEY_WIDTH = 10  # zero-padded post id per level: sorts as text, depth-first


class Category(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="forum_categories")
    name = models.CharField(max_length=60)
    description = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="category_group_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Thread(models.Model):
    class Status(models.TextChoices):
        VISIBLE = "visible", "Visible"
        HIDDEN = "hidden", "Hidden while moderators take a look"
        REMOVED = "removed", "Removed by a moderator"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="forum_threads")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="threads")
    title = models.CharField(max_length=150)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_post_at = models.DateTimeField(default=timezone.now)
    reply_count = models.PositiveIntegerField(default=0)
    pinned = models.BooleanField(default=False)
    locked = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VISIBLE)

    class Meta:
        indexes = [
            models.Index(fields=["group", "status", "-pinned", "-last_post_at"],
                         name="thread_group_listing"),
            models.Index(fields=["category", "status", "-pinned", "-last_post_at"],
                         name="thread_category_listing"),
        ]

    def __str__(self) -> str:
        return self.title


class Post(models.Model):
    class Status(models.TextChoices):
        PUBLISHED = "published", "Published"
        HIDDEN = "hidden", "Hidden while moderators take a look"
        REMOVED = "removed", "Removed by a moderator"

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="posts")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    depth = models.PositiveSmallIntegerField(default=0)
    tree_key = models.CharField(max_length=255, db_index=False)
    body = models.TextField(max_length=20000)
    body_html = models.TextField()
    content_warning = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PUBLISHED)
    # Body and, on an opening post, the thread's title, for search on PostgreSQL (see
    # SearchDocumentField); written only by forums.search.refresh_documents.
    search_document = SearchDocumentField(null=True, editable=False)

    class Meta:
        # A thread page first reads its page's ids in order: each index holds everything
        # that query filters, sorts and returns, so PostgreSQL answers it from the index
        # alone however far into the thread the page is, never reading earlier rows.
        indexes = [
            models.Index(fields=["thread", "tree_key", "status", "id"],
                         name="post_thread_tree_page"),
            models.Index(fields=["thread", "id", "status"], name="post_thread_time_page"),
            models.Index(fields=["group", "status"], name="post_group_status"),
        ]

    def __str__(self) -> str:
        return f"Post {self.pk} in {self.thread_id}"

    @property
    def is_opening(self) -> bool:
        return self.parent_id is None

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class PostRevision(models.Model):
    """What a post said before each edit: moderators can read the history."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    content_warning = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Revision of post {self.post_id} from {self.created_at:%Y-%m-%d %H:%M}"


class Reaction(models.Model):
    class Kind(models.TextChoices):
        THANKS = "thanks", "Thank you"
        ME_TOO = "me_too", "Me too"
        SUPPORT = "support", "Sending support"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "user", "kind"], name="reaction_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on post {self.post_id}"


class ThreadFollow(models.Model):
    """A person's relation to a thread: following it, and how far they have read."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="follows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    following = models.BooleanField(default=True)
    last_read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["thread", "user"], name="follow_once"),
        ]
        indexes = [models.Index(fields=["user", "thread"], name="follow_user_thread")]

    def __str__(self) -> str:
        return f"User {self.user_id} and thread {self.thread_id}"
