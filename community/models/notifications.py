"""In-app notifications."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from community.models.groups import Group


class Notification(models.Model):
    """Something a person should know about: shown in-app and pushed over their socket."""

    class Kind(models.TextChoices):
        REQUEST_APPROVED = "request_approved", "Request approved"
        REQUEST_DECLINED = "request_declined", "Request declined"
        NEW_REQUEST = "new_request", "New join request"
        NEW_MEMBER = "new_member", "New member to welcome"
        REMOVED = "removed", "Removed from a group"
        BANNED = "banned", "Banned from a group"
        ROLE_CHANGED = "role_changed", "Role changed"
        GROUP_DECISION = "group_decision", "Group decision"
        MENTION = "mention", "Mentioned in chat"
        MUTED = "muted", "Muted in a group"
        FORUM_REPLY = "forum_reply", "Reply in the forum"
        FORUM_MENTION = "forum_mention", "Mentioned in the forum"
        NEW_CASE = "new_case", "Case for moderators"
        CASE_DECISION = "case_decision", "A moderator's decision"
        FLAG_REVIEWED = "flag_reviewed", "Your flag was looked at"
        APPEAL = "appeal", "Appeal"
        SIGNPOST_CHECK = "signpost_check", "Signposts to re-check"
        MEETING_REMINDER = "meeting_reminder", "Meeting tomorrow"
        MEETING_CANCELLED = "meeting_cancelled", "Meeting cancelled"
        MEETING_NEW = "meeting_new", "New meeting"
        LOCAL_GROUP = "local_group", "A local group near you"
        GREETING = "greeting", "Welcome to the group"
        CHECKIN = "checkin", "Monthly check-in"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self) -> str:
        return self.text
