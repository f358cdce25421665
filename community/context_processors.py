"""Values every page header needs, fetched with at most two small queries."""

from __future__ import annotations

from community import policy
from community.models import Notification
from moderation.signposting import SESSION_KEY


def kindred(request) -> dict:
    user = getattr(request, "user", None)
    if not policy.is_authenticated(user):
        return {"unread_notifications": 0, "moderates_any": False}
    session = getattr(request, "session", None)
    panel = session.pop(SESSION_KEY, None) if session is not None and SESSION_KEY in session \
        else None
    return {
        "signpost_panel": panel,
        "unread_notifications": lambda: Notification.objects.filter(
            user=user, read_at__isnull=True
        ).count(),
        "moderates_any": lambda: policy.moderated_groups(user).exists(),
    }
