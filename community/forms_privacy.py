"""The account deletion form: labelled, plain, and asking for the password again."""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from django import forms

KEEP = "keep"
REMOVE = "remove"


class DeleteAccountForm(forms.Form):
    posts = forms.ChoiceField(
        label="What should happen to what you wrote?",
        widget=forms.RadioSelect,
        choices=[
            (REMOVE, "Remove my chat messages and forum posts"),
            (KEEP, "Keep them, shown as written by “Former member”"),
        ],
        help_text="Either way, other people's replies stay, and your name is taken off.",
        error_messages={"required": "Please choose what should happen to what you wrote."},
    )
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="So we know it is really you.",
        error_messages={"required": "Please type your password."},
    )
    understood = forms.BooleanField(
        label="I understand that my account is gone for good and can't be brought back.",
        error_messages={"required": "Please tick the box to say you understand."},
    )

    def __init__(self, *args, user, **kwargs) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        # allauth's re-authentication: counted by its login_failed rate limit, and a
        # wrong password is logged as a failed login (community.signals).
        if not get_adapter().reauthenticate(self.user, password):
            raise forms.ValidationError(
                "That password isn't right. Please try again, or reset your password first."
            )
        return password

    @property
    def remove_posts(self) -> bool:
        return self.cleaned_data["posts"] == REMOVE
