"""Face-to-face (and online call) meetings, who is going, and the monthly check-in.

A meeting is stored once with a recurrence rule; its dates are worked out when needed
(`community/recurrence.py`), so a weekly group never needs hundreds of rows. Replies and
reminders are per date.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Meeting(models.Model):
    class Recurrence(models.TextChoices):
        NONE = "none", "Just once"
        WEEKLY = "weekly", "Every week"
        FORTNIGHTLY = "fortnightly", "Every two weeks"
        MONTHLY = "monthly", "Every month, on the same weekday (for example the first Tuesday)"

    group = models.ForeignKey("community.Group", on_delete=models.CASCADE,
                              related_name="meetings")
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=2000, blank=True)
    starts_at = models.DateTimeField(help_text="The first (or only) date and time.")
    duration_minutes = models.PositiveSmallIntegerField(default=90)
    time_zone = models.CharField(max_length=40, default="Europe/London")
    recurrence = models.CharField(max_length=12, choices=Recurrence.choices,
                                  default=Recurrence.NONE)
    repeat_until = models.DateField(null=True, blank=True)
    venue_name = models.CharField(max_length=120, blank=True)
    venue_address = models.CharField(max_length=300, blank=True)
    step_free = models.BooleanField("step-free access", default=False)
    hearing_loop = models.BooleanField("hearing loop", default=False)
    parking = models.CharField(max_length=200, blank=True)
    accessibility_notes = models.TextField(max_length=1000, blank=True)
    online_url = models.URLField("online call link", blank=True)
    capacity = models.PositiveSmallIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["group", "cancelled_at", "starts_at"],
                                name="meeting_group_upcoming")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None


class MeetingReply(models.Model):
    """A member's RSVP for one date of a meeting."""

    class Answer(models.TextChoices):
        GOING = "going", "Going"
        MAYBE = "maybe", "Maybe"
        NOT_GOING = "not_going", "Can't make it"

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="replies")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="meeting_replies")
    occurrence = models.DateTimeField(help_text="The start of the date this reply is for.")
    answer = models.CharField(max_length=10, choices=Answer.choices)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "user", "occurrence"],
                                               name="meeting_reply_once")]
        indexes = [models.Index(fields=["meeting", "occurrence", "answer"],
                                name="meeting_reply_lookup")]

    def __str__(self) -> str:
        return f"{self.get_answer_display()} ({self.occurrence:%d %b %Y})"


class MeetingReminder(models.Model):
    """One reminder run per meeting date, so the job never reminds twice."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="+")
    occurrence = models.DateTimeField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["meeting", "occurrence"],
                                               name="meeting_reminder_once")]

    def __str__(self) -> str:
        return f"Reminder for {self.meeting_id} on {self.occurrence:%d %b %Y}"


class CheckIn(models.Model):
    """An anonymous monthly answer: deliberately not linked to who gave it."""

    group = models.ForeignKey("community.Group", on_delete=models.CASCADE,
                              related_name="checkins")
    month = models.DateField(help_text="First day of the month answered for.")
    score = models.PositiveSmallIntegerField()

    class Meta:
        indexes = [models.Index(fields=["group", "month"], name="checkin_group_month")]

    def __str__(self) -> str:
        return f"{self.score}/5 for {self.month:%B %Y}"


class CheckInReceipt(models.Model):
    """That someone answered this month (so they answer once), kept apart from the answer."""

    group = models.ForeignKey("community.Group", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    month = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user", "month"],
                                               name="checkin_once_a_month")]

    def __str__(self) -> str:
        return f"Answered for {self.month:%B %Y}"
