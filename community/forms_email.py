"""Forms for how a person hears from Kindred by email."""

from __future__ import annotations

from django import forms

from community.models import Membership


class GroupEmailForm(forms.Form):
    """One member's email choice for one group."""

    email_notifications = forms.ChoiceField(
        label="Emails from this group", choices=Membership.EmailChoice.choices,
        widget=forms.RadioSelect, required=False,
        error_messages={"invalid_choice": "Please choose one of the options."},
    )

    def __init__(self, *args, account_choice_label: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if account_choice_label:
            choices = list(Membership.EmailChoice.choices)
            choices[0] = (choices[0][0], f"{choices[0][1]} (now: {account_choice_label.lower()})")
            self.fields["email_notifications"].choices = choices
