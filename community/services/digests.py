"""The daily summary email: one per person who chose it, grouped by group.

Run by `python manage.py send_digests` (cron, once a day) and by the scheduler. Safe to
run as often as you like: each person gets at most one summary a day (at least 23 hours
apart and never twice on the same date), and a person is claimed with a conditional
update before their email goes, so two runs at once cannot both send it.

What may go in is checked at send time: nothing from a group the person can no longer
read (they left, were removed or banned, or the group was closed or deleted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from community import emails, policy
from community.models import Membership, Notification, User

DailyChoice = User.EmailChoice.DAILY

# Notifications that follow the person's email choice (notify(..., activity=True)): the
# only kinds a summary gathers. Other notices about the person are emailed at once.
DIGEST_KINDS = frozenset({
    Notification.Kind.FORUM_REPLY,
    Notification.Kind.FORUM_MENTION,
    Notification.Kind.MENTION,
})
MIN_GAP = timedelta(hours=23)
FIRST_LOOKBACK = timedelta(days=1)
MAX_ITEMS = 100
ACCOUNT_SECTION = "About your account"


@dataclass
class Section:
    title: str
    items: list[Notification] = field(default_factory=list)


def _is_due(person: User, now: datetime) -> bool:
    last = person.digest_sent_at
    if last is None:
        return True
    return now - last >= MIN_GAP and timezone.localdate(last) != timezone.localdate(now)


def _candidates(now: datetime):
    """Active people with unread summary-kind notifications and a daily choice somewhere."""
    daily_group = Membership.objects.filter(
        user=OuterRef("pk"), email_notifications=Membership.EmailChoice.DAILY,
        status=Membership.Status.APPROVED,
    )
    unread = Notification.objects.filter(
        user=OuterRef("pk"), read_at__isnull=True, kind__in=DIGEST_KINDS, created_at__lte=now
    )
    return (
        User.objects.filter(is_active=True)
        .exclude(email="")
        .filter(Q(email_notifications=DailyChoice) | Exists(daily_group))
        .filter(Exists(unread))
        .filter(Q(digest_sent_at__isnull=True) | Q(digest_sent_at__lte=now - MIN_GAP))
        .order_by("pk")
    )


def summary_sections(person: User, now: datetime) -> tuple[list[Section], int]:
    """What goes in this person's summary, grouped by group, checked against what they may
    read right now. Returns the sections and how many more items were left out."""
    since = person.digest_sent_at or (now - FIRST_LOOKBACK)
    choices = dict(
        Membership.objects.filter(user=person).values_list("group_id", "email_notifications")
    )
    readable = set(policy.member_groups(person).values_list("pk", flat=True))
    items = (
        Notification.objects.filter(user=person, read_at__isnull=True, kind__in=DIGEST_KINDS,
                                    created_at__gt=since, created_at__lte=now)
        .select_related("group")
        .order_by("created_at", "pk")
    )
    sections: dict[int | None, Section] = {}
    kept = 0
    for item in items:
        if item.group_id is not None:
            if item.group_id not in readable:
                continue  # they can no longer read that group: nothing of it goes out
            choice = choices.get(item.group_id) or person.email_notifications
        else:
            choice = person.email_notifications
        if choice != DailyChoice:
            continue
        kept += 1
        if kept > MAX_ITEMS:
            continue
        title = item.group.name if item.group is not None else ACCOUNT_SECTION
        sections.setdefault(item.group_id, Section(title)).items.append(item)
    ordered = sorted(sections.values(), key=lambda s: (s.title == ACCOUNT_SECTION, s.title))
    return ordered, max(0, kept - MAX_ITEMS)


def _claim(person: User, now: datetime) -> bool:
    """Mark the person's summary as sent now, if no other run got there first."""
    same = (Q(digest_sent_at__isnull=True) if person.digest_sent_at is None
            else Q(digest_sent_at=person.digest_sent_at))
    return bool(User.objects.filter(same, pk=person.pk).update(digest_sent_at=now))


def send_digests(now: datetime) -> int:
    """Email each daily-summary member their unread activity since their last summary.

    Takes the current time so tests (and the scheduler) drive it with a fixed clock.
    Returns how many summaries were sent.
    """
    sent = 0
    for person in _candidates(now).iterator():
        if not _is_due(person, now):
            continue
        sections, more = summary_sections(person, now)
        if not _claim(person, now):
            continue
        if not sections:
            continue
        message = emails.build_email(
            user=person,
            subject="Your daily summary",
            template="digest",
            context={"sections": sections, "more": more,
                     "link": emails.absolute(reverse("notifications"))},
        )
        if emails.send(message):
            sent += 1
    return sent
