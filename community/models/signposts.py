"""Where to get help: site-wide signposts per region, each group's own, and the group's
library of useful links and documents."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

RECHECK_AFTER = timedelta(days=182)  # site staff re-check each signpost twice a year


class Signpost(models.Model):
    class Topic(models.TextChoices):
        CRISIS = "crisis", "Crisis: someone may be at risk"
        HEALTH = "health", "Health advice and medicines"
        SUPPORT = "support", "Support and information"

    region = models.CharField(max_length=8, blank=True, db_index=True,
                              help_text="Site signposts: the region (GB). Empty for a group's.")
    group = models.ForeignKey("community.Group", null=True, blank=True,
                              on_delete=models.CASCADE, related_name="signposts")
    key = models.SlugField(max_length=60, blank=True)
    topic = models.CharField(max_length=8, choices=Topic.choices, default=Topic.SUPPORT)
    name = models.CharField(max_length=100)
    phone = models.CharField(max_length=40, blank=True)
    text_number = models.CharField("text message number", max_length=40, blank=True)
    email = models.EmailField(blank=True)
    url = models.URLField(blank=True)
    hours = models.CharField(max_length=100, blank=True)
    who_for = models.CharField("who it is for", max_length=200, blank=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    last_checked = models.DateField(default=timezone.localdate)
    check_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["region", "key"],
                                    condition=models.Q(group__isnull=True) & ~models.Q(key=""),
                                    name="signpost_site_key"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def needs_check(self) -> bool:
        return self.last_checked < timezone.localdate() - RECHECK_AFTER

    def as_resource(self) -> dict:
        """The shape of a `resources` entry in `signpost` and `message.prompt` frames."""
        return {"name": self.name, "phone": self.phone, "text": self.description,
                "url": self.url, "hours": self.hours, "email": self.email,
                "text_number": self.text_number, "who_for": self.who_for}


class Resource(models.Model):
    """A useful link or a short document in a group's resources library."""

    group = models.ForeignKey("community.Group", on_delete=models.CASCADE,
                              related_name="resources")
    title = models.CharField(max_length=150)
    url = models.URLField(blank=True)
    body = models.TextField(max_length=10000, blank=True)
    body_html = models.TextField(blank=True, editable=False)
    position = models.PositiveSmallIntegerField(default=0)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "title", "id"]

    def __str__(self) -> str:
        return self.title
