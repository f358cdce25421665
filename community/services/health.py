"""The anonymous monthly check-in: its setting, answers and the monthly invitation.

An answer (`CheckIn`) is never linked to who gave it. A separate receipt
(`CheckInReceipt`) records only that someone answered (or said "not now") this month, so
each person answers once. Answers get random ids, so the order of rows cannot be matched
with the order of receipts to work out who said what.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from community import policy
from community.models import CheckIn, CheckInReceipt, Group, Membership, Notification, User
from community.services.notifications import notify

MAX_RANDOM_ID = 2**31 - 1  # ids stay within a 32-bit integer column


class AlreadyAnswered(ValidationError):
    """This person has already answered (or dismissed) this month's check-in."""


def month_of(moment: datetime | None = None) -> date:
    """The first day of the month, in the site's time zone."""
    local = timezone.localtime(moment or timezone.now())
    return local.date().replace(day=1)


def set_checkins(*, actor: User, group: Group, enabled: bool) -> Group:
    policy.require(policy.can_change_checkins(actor, group))
    with transaction.atomic():
        Group.objects.filter(pk=group.pk).update(checkins_enabled=enabled)
    group.checkins_enabled = enabled
    return group


def has_answered(*, user: User, group: Group, now: datetime | None = None) -> bool:
    return CheckInReceipt.objects.filter(group=group, user=user, month=month_of(now)).exists()


def _store_receipt(user: User, group: Group, month: date) -> None:
    try:
        with transaction.atomic():
            CheckInReceipt.objects.create(group=group, user=user, month=month)
    except IntegrityError:
        raise AlreadyAnswered(
            "You have already answered this month. Thank you! You can answer again next "
            "month."
        ) from None


def _store_answer(group: Group, month: date, score: int) -> CheckIn:
    for _ in range(5):  # a clash of random ids is very unlikely; try again if it happens
        try:
            with transaction.atomic():
                return CheckIn.objects.create(
                    pk=secrets.randbelow(MAX_RANDOM_ID) + 1, group=group, month=month,
                    score=score,
                )
        except IntegrityError:
            continue
    raise RuntimeError("Could not store the check-in answer.")


def record_checkin(*, actor: User, group: Group, score: int | None,
                   now: datetime | None = None) -> CheckIn | None:
    """Store an anonymous answer (1-5), or None for "not this month", with the receipt.

    Both rows are written in one transaction; a second answer in the same month is
    refused (`AlreadyAnswered`) and writes nothing.
    """
    policy.require(policy.can_check_in(actor, group))
    if score is not None and score not in range(1, 6):
        raise ValidationError({"score": "Please choose a number from 1 to 5."})
    month = month_of(now)
    with transaction.atomic():
        _store_receipt(actor, group, month)
        if score is None:
            return None
        return _store_answer(group, month, score)


def invite_checkins(now: datetime) -> int:
    """Once a month, tell each member of a group with the check-in on that it is open.

    A scheduler job (run hourly; a fixed clock in tests). Idempotent: nobody is told twice
    in a month, and nobody who has already answered is told at all. Returns how many were
    told.
    """
    month = month_of(now)
    start = datetime(month.year, month.month, 1, tzinfo=timezone.get_current_timezone())
    answered = CheckInReceipt.objects.filter(group_id=OuterRef("group_id"),
                                             user_id=OuterRef("user_id"), month=month)
    told = Notification.objects.filter(user_id=OuterRef("user_id"),
                                       group_id=OuterRef("group_id"),
                                       kind=Notification.Kind.CHECKIN, created_at__gte=start)
    rows = (
        Membership.objects.filter(status=Membership.Status.APPROVED,
                                  group__checkins_enabled=True,
                                  group__status=Group.Status.ACTIVE, user__is_active=True)
        .filter(~Exists(answered), ~Exists(told))
        .select_related("user", "group")
        .order_by("group_id", "user_id")
    )
    sent = 0
    for row in rows:
        with transaction.atomic():
            notify(user=row.user, kind=Notification.Kind.CHECKIN, group=row.group,
                   text=f"How much has {row.group.name} helped you this month? "
                   "You can answer anonymously on the group's page.",
                   url=reverse("groups:home", kwargs={"slug": row.group.slug}) + "#checkin")
        sent += 1
    return sent
