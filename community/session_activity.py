"""allauth's "where I'm logged in" tracking, written at most every few minutes.

Kept apart from community.middleware (which only shapes responses) because this writes:
it is allauth's session bookkeeping, made cheap enough to run under every page.
"""

from __future__ import annotations

import hashlib

from allauth.account.adapter import get_adapter
from allauth.usersessions import app_settings as usersessions_settings
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.core.cache import cache


def seen_key(session_key: str) -> str:
    """The cache key that says a session's activity was recorded lately, and from where.
    Named by a keyed hash of the session key: Redis must not hold keys that log people in."""
    from community.realtime import session_ref

    return f"usersession-seen:{session_ref(session_key)}"


class UserSessionActivityMiddleware:
    """allauth's session tracking (USERSESSIONS_TRACK_ACTIVITY) without a database write
    on every page view.

    allauth's own middleware saves the session's row on every signed-in request (five
    queries, one an UPDATE, under every page). People only need "last seen" to within a
    few minutes, so this records at most once every KINDRED_SESSION_TRACK_SECONDS per
    session, and at once when the address or browser changes (allauth then tells its
    `session_client_changed` listeners, as before). What was last recorded is remembered
    in the cache (Redis in production, shared by every process), not in the session, so a
    page view in between costs no query and recording never makes the session save."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (usersessions_settings.TRACK_ACTIVITY and hasattr(request, "session")
                and request.session.session_key
                and getattr(request, "user", None) is not None
                and request.user.is_authenticated):
            self._track(request)
        return self.get_response(request)

    def _track(self, request) -> None:
        client = hashlib.blake2b(
            f"{get_adapter().get_client_ip(request)}\n"
            f"{request.META.get('HTTP_USER_AGENT', '')}".encode(),
            digest_size=8,
        ).hexdigest()
        key = seen_key(request.session.session_key)
        if cache.get(key) == client:
            return
        UserSession.objects.create_from_request(request)
        cache.set(key, client, timeout=settings.KINDRED_SESSION_TRACK_SECONDS)
