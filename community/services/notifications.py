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
    # The group's own email choice wins when set, else the account's (email_prefs); the
    # email is built and sent after commit, when whether they may still read is checked.
    if email_subject and user.email:
        from community.emails import deliver_notification_email
        from community.services.email_prefs import group_email_choice, wants_email_now

        if wants_email_now(user, group_email_choice(user, group), activity=activity):
            notification_id, body = notification.pk, email_body or text
            transaction.on_commit(lambda: deliver_notification_email(
                notification_id=notification_id, subject=email_subject, body=body,
                activity=activity))
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
    Returns how many summaries were sent. The work lives in `digests.send_digests`
    (also run by `manage.py send_digests`).
    """
    from community.services.digests import send_digests

    return send_digests(now)
