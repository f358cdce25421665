"""How allauth fits Kindred: members sign up with a display name, not a username."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        # The display name must be set before the first save: it is unique.
        user = super().save_user(request, user, form, commit=False)
        name = form.cleaned_data.get("display_name")
        if name:
            user.display_name = name
        if commit:
            user.save()
        return user
