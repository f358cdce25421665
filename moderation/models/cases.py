"""Flags gather into one review case per item; moderators claim and decide cases;
authors may appeal a decision once, to someone else."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Case(models.Model):
    class Kind(models.TextChoices):
        CHAT_MESSAGE = "chat_message", "Chat message"
        POST = "post", "Forum post"
        THREAD = "thread", "Forum thread"
        PROFILE = "profile", "Member profile"

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a moderator"
        RESOLVED = "resolved", "Dealt with"
        ESCALATED = "escalated", "Passed to site staff"

    class Decision(models.TextChoices):
        KEEP = "keep", "Keep it (no action)"
        HIDE = "hide", "Hide it"
        REMOVE = "remove", "Remove it"
        REMOVE_AND_WARN = "remove_warn", "Remove it and warn the author"
        MUTE = "mute", "Mute the author in this group for a while"
        REMOVE_MEMBER = "remove_member", "Remove the author from the group"
        BAN = "ban", "Ban the author from the group"
        ESCALATE = "escalate", "Pass to site staff"

    group = models.ForeignKey("community.Group", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    chat_message = models.ForeignKey("community.ChatMessage", null=True, blank=True,
                                     on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey("forums.Post", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    thread = models.ForeignKey("forums.Thread", null=True, blank=True,
                               on_delete=models.CASCADE, related_name="+")
    profile = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    urgent = models.BooleanField(default=False)
    score = models.PositiveIntegerField(default=0)
    flag_count = models.PositiveIntegerField(default=0)
    auto_hidden = models.BooleanField(default=False)
    hidden_text = models.TextField(blank=True, help_text="A hidden profile's words, kept "
                                   "so an undone decision can give them back.")
    screening = models.JSONField(default=list, blank=True, help_text="The screening rules "
                                 "that matched, when screening opened or joined the case.")
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    claimed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(default=timezone.now)
    first_action_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    decision = models.CharField(max_length=16, choices=Decision.choices, blank=True)
    decision_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chat_message"],
                                    condition=Q(chat_message__isnull=False),
                                    name="case_one_per_chat_message"),
            models.UniqueConstraint(fields=["post"], condition=Q(post__isnull=False),
                                    name="case_one_per_post"),
            models.UniqueConstraint(fields=["thread"], condition=Q(thread__isnull=False),
                                    name="case_one_per_thread"),
            models.UniqueConstraint(fields=["group", "profile"],
                                    condition=Q(profile__isnull=False),
                                    name="case_one_per_profile_in_group"),
        ]
        indexes = [
            models.Index(fields=["group", "status", "-urgent", "-score"], name="case_queue"),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk} ({self.get_kind_display()}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Flag(models.Model):
    class Reason(models.TextChoices):
        UNSAFE_ADVICE = "unsafe_advice", "Unsafe health advice"
        RISK_TO_SELF = "risk_self", "Risk to themselves"
        RISK_TO_OTHERS = "risk_others", "Risk to someone else"
        BULLYING = "bullying", "Bullying or harassment"
        SPAM = "spam", "Spam or advertising"
        PERSONAL_DETAILS = "personal_details", "Sharing personal details"
        OTHER = "other", "Something else"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="flags")
    flagger = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="+")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    note = models.TextField(max_length=1000, blank=True)
    by_moderator = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["case", "flagger"], name="flag_once_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} on case {self.case_id}"


class Appeal(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Waiting"
        UPHELD = "upheld", "Decision stands"
        OVERTURNED = "overturned", "Decision changed"

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="appeal")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="+")
    note = models.TextField(max_length=2000)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    outcome_reason = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Appeal on case {self.case_id} ({self.status})"
