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
) -> Notification:
    """Store a notification, push it to the person's sockets and, if given, email them.

    The push and the email happen after commit: nobody hears of a rolled-back change.
    """
    notification = Notification.objects.create(
        user=user, kind=kind, text=text[:300], url=url, group=group
    )
    realtime.publish_on_commit(
        realtime.user_group(user.pk),
        {"type": realtime.NOTIFICATION, "notification": notification_payload(notification)},
    )
    if email_subject and user.email:
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
