"""allauth's and Django's account signals, wired to the session services and the
security log. Each receiver is a few lines: the work is in community.services.sessions.

Connected in `CommunityConfig.ready`.
"""

from __future__ import annotations

from allauth.account import signals as account_signals
from django.contrib.auth import signals as auth_signals

from community.security_log import security_event
from community.services import sessions

# Set on the request by AccountAdapter.set_password: the session key before Django cycles
# it, so the sockets of the browser that changed the password stay open.
KEY_BEFORE_PASSWORD_CHANGE = "_kindred_session_key_before_password_change"  # noqa: S105


def _session_key(request) -> str | None:
    session = getattr(request, "session", None)
    return getattr(session, "session_key", None)


def on_logged_out(sender, request=None, user=None, **kwargs) -> None:
    if user is not None and user.pk is not None:
        sessions.session_logged_out(user_id=user.pk, session_key=_session_key(request))


def on_password_changed(sender, request=None, user=None, **kwargs) -> None:
    """Changed or set while logged in: other sessions end, this one stays (allauth keeps
    it valid: ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE is off)."""
    keep = [_session_key(request), getattr(request, KEY_BEFORE_PASSWORD_CHANGE, None)]
    ended = sessions.end_other_sessions(user_id=user.pk, keep=keep, reason="password_changed")
    security_event("password_changed", user=user, other_sessions_ended=ended)


def on_password_reset(sender, request=None, user=None, **kwargs) -> None:
    """Reset from an email link: whoever knew the old password is logged out everywhere."""
    ended = sessions.end_all_sessions(user_id=user.pk, reason="password_reset")
    security_event("password_reset", user=user, sessions_ended=ended)


def on_login_failed(sender, credentials=None, request=None, **kwargs) -> None:
    """Every failed password check (the login form, re-authentication, the admin)."""
    from community.models import User

    email = (credentials or {}).get("email") or (credentials or {}).get("username") or ""
    user_id = (User.objects.filter(email__iexact=email).values_list("pk", flat=True).first()
               if email else None)
    meta = getattr(request, "META", {}) or {}
    security_event("login_failed", user=user_id, known_account=user_id is not None,
                   ip=meta.get("REMOTE_ADDR", ""), path=getattr(request, "path", ""))


def connect() -> None:
    auth_signals.user_logged_out.connect(on_logged_out, dispatch_uid="kindred_logged_out")
    auth_signals.user_login_failed.connect(on_login_failed, dispatch_uid="kindred_login_failed")
    account_signals.password_changed.connect(on_password_changed,
                                             dispatch_uid="kindred_password_changed")
    account_signals.password_set.connect(on_password_changed,
                                         dispatch_uid="kindred_password_set")
    account_signals.password_reset.connect(on_password_reset,
                                           dispatch_uid="kindred_password_reset")
