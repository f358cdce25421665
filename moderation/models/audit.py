"""The audit log: an append-only record of every moderation act."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete an audit entry."""


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit entries cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit entries cannot be deleted.")


class AuditEntry(models.Model):
    """Who did what to whom, in which group, why and when.

    Names are copied at write time so the record still reads sensibly if an account is
    later deleted (the foreign keys then become empty, the words stay).
    """

    class Action(models.TextChoices):
        GROUP_CREATED = "group.created", "Group created"
        GROUP_APPROVED = "group.approved", "Group approved"
        GROUP_DECLINED = "group.declined", "Group not approved"
        MEMBER_JOINED = "member.joined", "Joined"
        MEMBER_APPROVED = "member.approved", "Request approved"
        MEMBER_DECLINED = "member.declined", "Request declined"
        MEMBER_LEFT = "member.left", "Left"
        MEMBER_REMOVED = "member.removed", "Removed"
        MEMBER_BANNED = "member.banned", "Banned"
        MEMBER_UNBANNED = "member.unbanned", "Ban lifted"
        ROLE_CHANGED = "role.changed", "Role changed"
        INVITE_CREATED = "invite.created", "Invite link created"
        INVITE_REVOKED = "invite.revoked", "Invite link revoked"
        INVITE_USED = "invite.used", "Joined with an invite link"
        MESSAGE_REMOVED = "chat.message_removed", "Chat message removed"
        THREAD_PINNED = "forum.thread_pinned", "Thread pinned or unpinned"
        THREAD_LOCKED = "forum.thread_locked", "Thread locked or unlocked"
        CATEGORY_SAVED = "forum.category_saved", "Forum category added or changed"
        CASE_FLAGGED = "case.flagged", "Flagged"
        CASE_AUTO_HIDDEN = "case.auto_hidden", "Hidden until reviewed"
        CASE_CLAIMED = "case.claimed", "Case claimed"
        CASE_DECIDED = "case.decided", "Case decided"
        CASE_ESCALATED = "case.escalated", "Escalated to site staff"
        APPEAL_MADE = "appeal.made", "Decision appealed"
        APPEAL_DECIDED = "appeal.decided", "Appeal decided"
        MEMBER_WARNED = "member.warned", "Warned"
        DUTY_CHANGED = "moderator.duty", "On or off duty"
        GUIDELINES_SAVED = "moderator.guidelines", "Moderator guidelines changed"
        MEMBER_MUTED = "member.muted", "Muted"
        MEMBER_UNMUTED = "member.unmuted", "Mute lifted"
        CASE_SCREENED = "case.screened", "Caught by screening"
        SCREENING_RULE_SAVED = "screening.rule_saved", "Watched word added or changed"
        SCREENING_RULE_DELETED = "screening.rule_deleted", "Watched word removed"
        SCREENING_SETTINGS = "screening.settings", "Screening settings changed"
        SIGNPOST_SAVED = "signpost.saved", "Signpost added or changed"
        SIGNPOST_DELETED = "signpost.deleted", "Signpost removed"
        RESOURCE_SAVED = "resource.saved", "Resource added or changed"
        RESOURCE_DELETED = "resource.deleted", "Resource removed"
        ACCOUNT_DELETED = "account.deleted", "Account deleted by its owner"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(max_length=40, blank=True)
    group = models.ForeignKey(
        "community.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    group_name = models.CharField(max_length=80, blank=True)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    target_name = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["group", "-created_at"], name="audit_group_created"),
            models.Index(fields=["target_user", "-created_at"], name="audit_target_created"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit entries cannot be changed.")
        # Always an INSERT: a new object carrying an old entry's id must not overwrite it.
        kwargs["force_insert"] = True
        kwargs.pop("force_update", None)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit entries cannot be deleted.")
