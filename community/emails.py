"""Building and sending Kindred's notification and summary emails.

Every email is plain text first (with a simple HTML twin), greets the person by name,
says what happened with one link, and ends with why they got it and how to change that,
including a one-click unsubscribe link (RFC 8058 `List-Unsubscribe` headers too).

The unsubscribe link carries a signed token naming the person and, for a group's emails,
the group: no login is needed to use it, and it stops working after about 90 days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from community.models import Group, Membership, User

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "kindred.email.unsubscribe"
UNSUBSCRIBE_MAX_AGE = 90 * 24 * 60 * 60  # seconds: links in old emails stop working
SUBJECT_PREFIX = "[Kindred] "
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def site_url() -> str:
    """The address people use to reach the site, for links in emails (no request here)."""
    configured = settings.KINDRED_SITE_URL
    if configured:
        return configured.rstrip("/")
    hosts = [h for h in settings.ALLOWED_HOSTS if h and h != "*" and not h.startswith(".")]
    host = hosts[0] if hosts else "127.0.0.1"
    if host in LOOPBACK:
        return f"http://{host}:{settings.KINDRED_LOCAL_PORT}"
    return f"https://{host}"


def absolute(path: str) -> str:
    if path.startswith(("https://", "http://")):
        return path
    return site_url() + (path if path.startswith("/") else "/" + path)


# --- unsubscribe tokens --------------------------------------------------------------------


@dataclass(frozen=True)
class Unsubscribe:
    """What an unsubscribe link is about: one person, and one group or their account."""

    user: User
    group: Group | None


def unsubscribe_token(user: User, group: Group | None = None) -> str:
    return signing.dumps({"u": user.pk, "g": group.pk if group else None}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(user: User, group: Group | None = None) -> str:
    return absolute(reverse("email_unsubscribe", kwargs={"token": unsubscribe_token(user, group)}))


def read_unsubscribe_token(token: str) -> Unsubscribe | None:
    """The person (and group) a token names, or None if it is bad, too old or out of date."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=UNSUBSCRIBE_MAX_AGE)
        user_id, group_id = int(data["u"]), data.get("g")
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    if group_id is None:
        return Unsubscribe(user=user, group=None)
    group = Group.objects.filter(pk=group_id).first()
    if group is None or not Membership.objects.filter(user=user, group=group).exists():
        return None
    return Unsubscribe(user=user, group=group)


# --- building and sending ---------------------------------------------------------------------


def settings_url(group: Group | None) -> str:
    if group is not None:
        return absolute(reverse("groups:email", kwargs={"slug": group.slug}))
    return absolute(reverse("profile"))


def build_email(*, user: User, subject: str, template: str, context: dict,
                group: Group | None = None) -> EmailMultiAlternatives:
    """One email to one person: plain text, an HTML twin and the unsubscribe headers."""
    stop = unsubscribe_url(user, group)
    context = {
        "name": user.display_name or "there",
        "group": group,
        "settings_url": settings_url(group),
        "unsubscribe_url": stop,
        "site_url": site_url(),
        **context,
    }
    text = render_to_string(f"email/{template}.txt", context)
    html = render_to_string(f"email/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=SUBJECT_PREFIX + " ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{stop}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def send(message: EmailMultiAlternatives) -> bool:
    """Send one email; a mail outage is logged, never raised (the in-app notice stays)."""
    try:
        message.send()
    except Exception:
        log.exception("emails: could not send %r", message.subject)
        return False
    return True


def why_text(*, user: User, group: Group | None, activity: bool, group_choice: str) -> str:
    """One plain sentence: why this person got this email."""
    if not activity:
        if group is not None:
            return f"It is about you and the group {group.name} on Kindred."
        return "It is about your Kindred account."
    if group is not None and group_choice:
        return f"You asked for an email about each new notification from {group.name}."
    return "Your Kindred account is set to send an email about each reply or mention."


def notification_email(*, user: User, subject: str, body: str, url: str,
                       group: Group | None, activity: bool,
                       group_choice: str = "") -> EmailMultiAlternatives:
    return build_email(
        user=user,
        subject=subject,
        template="notification",
        group=group,
        context={
            "body": body,
            "link": absolute(url or reverse("notifications")),
            "why": why_text(user=user, group=group, activity=activity,
                            group_choice=group_choice),
        },
    )


def deliver_notification_email(*, notification_id: int, subject: str, body: str,
                               activity: bool) -> bool:
    """Send a notification's email after commit, checking again at send time.

    Activity from a group (a reply, a mention) is never emailed to someone who can no
    longer read that group: they may have left, been removed or banned since.
    """
    from community import policy
    from community.models import Notification
    from community.services.email_prefs import group_email_choice, wants_email_now

    notification = (
        Notification.objects.select_related("user", "group").filter(pk=notification_id).first()
    )
    if notification is None:  # gone with its group
        return False
    user, group = notification.user, notification.group
    if not user.is_active or not user.email:
        return False
    if activity and group is not None and not policy.can_read_content(user, group):
        return False
    group_choice = group_email_choice(user, group)
    if not wants_email_now(user, group_choice, activity=activity):
        return False
    return send(notification_email(user=user, subject=subject, body=body,
                                   url=notification.url, group=group, activity=activity,
                                   group_choice=group_choice))
