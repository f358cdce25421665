"""Accounts: members are known by a display name they choose."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        email = self.normalize_email(email)
        extra.setdefault("display_name", email.split("@", 1)[0][:40])
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A member, known to others only by a display name they choose (a pseudonym is fine)."""

    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(
        max_length=40,
        help_text="The name other members see. It does not need to be your real name.",
    )
    about = models.TextField("about me", max_length=500, blank=True)
    home_town = models.CharField(
        max_length=100,
        blank=True,
        help_text="Optional and private: only used to suggest groups near you.",
    )
    home_place_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="GeoNames id of the home town (see gazetteer.py)."
    )
    home_latitude = models.FloatField(null=True, blank=True)
    home_longitude = models.FloatField(null=True, blank=True)
    appear_offline = models.BooleanField(
        default=False, help_text="Hide you from the 'who's here now' list in chat."
    )
    class EmailChoice(models.TextChoices):
        OFF = "off", "No emails about activity"
        IMMEDIATE = "immediate", "An email for each reply or mention"
        DAILY = "daily", "One daily summary"

    email_notifications = models.CharField(
        "emails about replies and mentions",
        max_length=10,
        choices=EmailChoice.choices,
        default=EmailChoice.DAILY,
    )
    digest_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("display_name"), name="user_display_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name
