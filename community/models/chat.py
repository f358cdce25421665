"""Group chat messages.

The database is the record: a message is stored before anyone hears of it, and clients
that missed something catch up from here, never from the channel layer.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from community.models.groups import Group


class ChatMessage(models.Model):
    """One chat message.

    `id` is what clients use for `after` and `before`. It is assigned while the group's
    row is locked, so within a group ids rise in the order messages become visible, and
    `seq` (1, 2, 3, ... per group) lets a reader notice a gap and fill it from here.
    """

    class Status(models.TextChoices):
        PUBLISHED = "published", "Published"
        HELD = "held", "Held for a moderator"
        HIDDEN = "hidden", "Hidden while moderators take a look"
        REMOVED = "removed", "Removed by a moderator"

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="chat_messages")
    seq = models.PositiveBigIntegerField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="chat_messages",
    )
    client_id = models.CharField(max_length=64)
    body = models.TextField(max_length=4000)
    body_html = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PUBLISHED)
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    removal_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["author", "client_id"], name="chat_author_client_id"),
            models.UniqueConstraint(fields=["group", "seq"], name="chat_group_seq"),
        ]
        indexes = [models.Index(fields=["group", "id"], name="chat_group_id")]

    def __str__(self) -> str:
        return f"#{self.pk} in {self.group_id}: {self.body[:40]}"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED
