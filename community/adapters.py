"""How allauth fits Kindred: members sign up with a display name, not a username; ending
sessions closes the sockets opened with them (community.services.sessions)."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.usersessions.adapter import DefaultUserSessionsAdapter


class AccountAdapter(DefaultAccountAdapter):
    def pre_authenticate(self, request, **credentials):
        # allauth refuses a login once too many have failed (ACCOUNT_RATE_LIMITS
        # "login_failed", counted in the shared cache): write that to the security log,
        # with a keyed hash of the address and never the email that was tried.
        from django.core.exceptions import ValidationError

        from community.security_log import security_event

        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            security_event("rate_limited", scope="login_failed", ip=self.get_client_ip(request))
            raise

    def save_user(self, request, user, form, commit=True):
        # The display name must be set before the first save: it is unique.
        user = super().save_user(request, user, form, commit=False)
        name = form.cleaned_data.get("display_name")
        if name:
            user.display_name = name
        if commit:
            user.save()
        return user

    def set_password(self, user, password: str) -> None:
        # Django gives the session a new key when the password changes; remember the old
        # one, so the sockets this browser already has open are not closed with the rest
        # (community.signals.on_password_changed).
        from community.signals import KEY_BEFORE_PASSWORD_CHANGE

        request = context.request
        session = getattr(request, "session", None)
        if request is not None and session is not None and session.session_key:
            setattr(request, KEY_BEFORE_PASSWORD_CHANGE, session.session_key)
        super().set_password(user, password)


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    """"Log out other sessions" on the sessions page: end them and close their sockets."""

    def end_sessions(self, sessions) -> None:
        from community.services.sessions import end_sessions

        by_person: dict[int, list] = {}
        for session in sessions:
            by_person.setdefault(session.user_id, []).append(session)
        for user_id, theirs in by_person.items():
            end_sessions(user_id=user_id, sessions=theirs, reason="sessions_page")
