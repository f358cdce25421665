"""Ending sessions, and closing the sockets that were opened with them.

A person's sessions are allauth's `UserSession` rows (one per browser they are logged in
on: `allauth.usersessions`). Ending one deletes it from the session store, so the cookie
stops working at once, and tells the person's sockets (`user.sessions_ended`, after
commit) so the chat and notification sockets opened with that session close with 4401
within a second. Sockets know their own session, so a logout in one browser leaves the
person's other browsers connected.

allauth calls in here through its adapters and signals (community.adapters,
community.signals); the sessions page and account deletion call in directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.db import transaction

from community import realtime
from community.security_log import security_event


def _store_delete(session_keys: Iterable[str]) -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    for key in session_keys:
        store.delete(key)


def end_sessions(*, user_id: int, sessions: Iterable[UserSession], reason: str) -> int:
    """End these sessions of one person; their sockets close after commit."""
    keys = [session.session_key for session in sessions if session.user_id == user_id]
    if not keys:
        return 0
    with transaction.atomic():
        _store_delete(keys)
        UserSession.objects.filter(user_id=user_id, session_key__in=keys).delete()
        realtime.publish_sessions_ended(user_id, ended=keys)
    security_event("sessions_ended", user=user_id, reason=reason, count=len(keys))
    return len(keys)


def end_other_sessions(*, user_id: int, keep: Iterable[str | None], reason: str) -> int:
    """End every session of the person except `keep` (the one they are using), and close
    every socket not opened with a kept session, including sockets of sessions allauth
    never recorded (those stopped working anyway when the password changed)."""
    kept = [key for key in keep if key]
    with transaction.atomic():
        others = list(UserSession.objects.filter(user_id=user_id)
                      .exclude(session_key__in=kept).values_list("session_key", flat=True))
        _store_delete(others)
        UserSession.objects.filter(user_id=user_id, session_key__in=others).delete()
        realtime.publish_sessions_ended(user_id, kept=kept)
    security_event("sessions_ended", user=user_id, reason=reason, count=len(others))
    return len(others)


def end_all_sessions(*, user_id: int, reason: str) -> int:
    """End every session of the person and close every socket of theirs."""
    with transaction.atomic():
        keys = list(UserSession.objects.filter(user_id=user_id)
                    .values_list("session_key", flat=True))
        _store_delete(keys)
        UserSession.objects.filter(user_id=user_id).delete()
        realtime.publish_sessions_ended(user_id)
    security_event("sessions_ended", user=user_id, reason=reason, count=len(keys))
    return len(keys)


def session_logged_out(*, user_id: int, session_key: str | None) -> None:
    """A logout: Django flushes the session itself; forget allauth's row for it and close
    the sockets opened with it (only those: the person's other browsers stay)."""
    if not session_key:
        return
    with transaction.atomic():
        UserSession.objects.filter(user_id=user_id, session_key=session_key).delete()
        realtime.publish_sessions_ended(user_id, ended=[session_key])
    security_event("sessions_ended", user=user_id, reason="logout", count=1)
