"""Telling people things: in-app notifications, their personal socket, and email."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from community import realtime
from community.models import Group, Notification, User

log = logging.getLogger(__name__)


def notification_payload(notification: Notification) -> dict:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "text": notification.text,
        "url": notification.url,
        "group": notification.group.slug if notification.group else None,
        "created": notification.created_at.isoformat(),
    }


def notify(
    *,
    user: User,
    kind: str,
    text: str,
    url: str = "",
    group: Group | None = None,
    email_subject: str = "",
    email_body: str = "",
    activity: bool = False,
) -> Notification:
    """Store a notification, push it to the person's sockets and, if given, email them.

    The push and the email happen after commit: nobody hears of a rolled-back change.
    `activity` notices (replies, mentions) follow the person's email choice: an email
    now, none, or a place in the daily summary (`send_daily_digests`).
    """
    notification = Notification.objects.create(
        user=user, kind=kind, text=text[:300], url=url, group=group
    )
    realtime.publish_on_commit(
        realtime.user_group(user.pk),
        {"type": realtime.NOTIFICATION, "notification": notification_payload(notification)},
    )
    wants_email = user.email_notifications == User.EmailChoice.IMMEDIATE if activity else True
    if email_subject and user.email and wants_email:
        transaction.on_commit(lambda: _send_email(user.email, email_subject, email_body or text))
    return notification


def _send_email(address: str, subject: str, body: str) -> None:
    try:
        send_mail(
            f"[Kindred] {subject}", body, settings.DEFAULT_FROM_EMAIL, [address]
        )
    except Exception:  # a mail outage must not undo or hide the in-app notice
        log.exception("notifications: email could not be sent")


def mark_notifications_read(*, actor: User, ids: list[int] | None = None) -> int:
    """Mark some (or all) of the actor's own notifications read; returns how many changed."""
    unread = Notification.objects.filter(user=actor, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())


def send_daily_digests(now) -> int:
    """Email each daily-summary member their unread activity since their last summary.

    A scheduler job: it takes the current time so tests drive it with a fixed clock.
    Returns how many summaries were sent.
    """
    activity = [Notification.Kind.FORUM_REPLY, Notification.Kind.FORUM_MENTION,
                Notification.Kind.MENTION]
    sent = 0
    people = User.objects.filter(
        email_notifications=User.EmailChoice.DAILY, is_active=True,
        notifications__read_at__isnull=True, notifications__kind__in=activity,
    ).distinct()
    for person in people:
        since = person.digest_sent_at or (now - timezone.timedelta(days=1))
        if now - since < timezone.timedelta(hours=23):
            continue
        items = list(
            Notification.objects.filter(user=person, read_at__isnull=True, kind__in=activity,
                                        created_at__gt=since, created_at__lte=now)[:50]
        )
        if items:
            lines = "\n".join(f"- {n.text}" for n in items)
            _send_email(person.email, "Your daily summary",
                        f"Here is what happened in your groups:\n\n{lines}")
            sent += 1
        User.objects.filter(pk=person.pk).update(digest_sent_at=now)
    return sent
