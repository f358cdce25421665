"""Groups, their join questions, who belongs (and how), and invite links."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone


class Group(models.Model):
    class Kind(models.TextChoices):
        CONDITION = "condition", "Living with a condition"
        GENERIC = "generic", "General peer support"
        CARERS = "carers", "Carers"

    class Format(models.TextChoices):
        ONLINE = "online", "Online"
        LOCAL = "local", "Local (meets in person)"

    class Privacy(models.TextChoices):
        OPEN = "open", "Open: anyone signed in can join at once"
        APPROVAL = "approval", "Approval: people ask to join and a moderator says yes"
        INVITE = "invite", "Invite only: hidden, and people join with an invite link"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        ACTIVE = "active", "Active"
        DECLINED = "declined", "Not approved"

    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(max_length=2000)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.GENERIC)
    condition = models.CharField(
        max_length=80, blank=True, help_text="For example: type 1 diabetes, COPD, long Covid."
    )
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.ONLINE)
    town = models.CharField(max_length=100, blank=True, help_text="Town or area it meets in.")
    place_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="GeoNames id of the town (see gazetteer.py)."
    )
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="local_groups",
        help_text="The online group this local group started from.",
    )
    checkins_enabled = models.BooleanField(
        default=False, help_text="Ask members once a month, anonymously, how much the group "
        "has helped (results shown when at least 5 answer).",
    )
    privacy = models.CharField(max_length=10, choices=Privacy.choices, default=Privacy.APPROVAL)
    rules = models.TextField(max_length=4000, blank=True)
    welcome_message = models.TextField(max_length=2000, blank=True)
    moderator_guidelines = models.TextField(
        max_length=8000, blank=True,
        help_text="Only moderators see these. The site's guidance is shown with them.",
    )
    hold_unsafe_advice = models.BooleanField(
        default=False, help_text="Hold messages with unsafe health advice for a moderator, "
        "instead of publishing them with a case, when the writer sends them anyway.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    chat_seq = models.PositiveBigIntegerField(
        default=0, editable=False, help_text="Sequence number of the group's latest message."
    )

    class Meta:
        indexes = [
            models.Index(fields=["status", "privacy"], name="group_status_privacy"),
            models.Index(Lower("name"), name="group_name_lower"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("groups:home", kwargs={"slug": self.slug})

    @property
    def is_open(self) -> bool:
        return self.privacy == self.Privacy.OPEN

    @property
    def is_invite_only(self) -> bool:
        return self.privacy == self.Privacy.INVITE


class JoinQuestion(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(max_length=300)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class Membership(models.Model):
    """One row per person per group: their request, their standing and their role.

    Keeping the request and the membership in one row makes "requesting twice gives one
    request" a database fact (the unique constraint), and keeps a ban in force for ever.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a decision"
        APPROVED = "approved", "Member"
        DECLINED = "declined", "Not accepted"
        LEFT = "left", "Left"
        REMOVED = "removed", "Removed"
        BANNED = "banned", "Banned"

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        WELCOMER = "welcomer", "Welcomer"
        MODERATOR = "moderator", "Moderator"
        OWNER = "owner", "Owner"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    status = models.CharField(max_length=10, choices=Status.choices)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    answers = models.JSONField(
        default=list, blank=True, help_text="[{'question': ..., 'answer': ...}] at request time"
    )
    requested_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decision_message = models.TextField(max_length=1000, blank=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    on_duty = models.BooleanField(
        default=True, help_text="Moderators off duty get no pushes about new cases."
    )
    share_nearby = models.BooleanField(
        default=False, help_text="Let people near me know I'm here (only a count is ever "
        "shown, never who).",
    )
    class EmailChoice(models.TextChoices):
        ACCOUNT = "", "As in my account settings"
        OFF = "off", "No emails from this group"
        IMMEDIATE = "immediate", "An email for each notification"
        DAILY = "daily", "One daily summary"

    email_notifications = models.CharField(
        "emails from this group", max_length=10, choices=EmailChoice.choices, blank=True,
        default=EmailChoice.ACCOUNT,
    )
    calendar_token = models.CharField(
        max_length=48, null=True, blank=True, unique=True,
        help_text="Private address of this member's calendar feed for the group.",
    )
    welcome_seen_at = models.DateTimeField(null=True, blank=True)
    greeted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "group"], name="membership_user_group_unique"),
        ]
        indexes = [
            models.Index(fields=["group", "status", "role"], name="membership_group_status"),
            models.Index(fields=["user", "status"], name="membership_user_status"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group} ({self.status}, {self.role})"

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED

    @property
    def is_muted(self) -> bool:
        return self.muted_until is not None and self.muted_until > timezone.now()


def new_invite_token() -> str:
    return secrets.token_urlsafe(24)


class Invite(models.Model):
    """A link that lets whoever holds it join a group (the only way into invite-only ones)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="invites")
    token = models.CharField(max_length=64, unique=True, default=new_invite_token)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=100, blank=True, help_text="Who or what it is for.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invite to {self.group} ({self.note or self.token[:6]})"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        if self.expires_at is not None and self.expires_at <= now:
            return False
        return not (self.max_uses is not None and self.uses >= self.max_uses)
