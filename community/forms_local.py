"""Forms for local groups: starting one from an online group, and "let people near me
know I'm here"."""

from __future__ import annotations

from django import forms
from django.conf import settings

from community.forms_places import clean_town, town_field
from community.models import Group


class StartLocalGroupForm(forms.Form):
    name = forms.CharField(
        label="Group name", max_length=80,
        help_text="For example: Fort William COPD friends.",
        error_messages={"required": "Please give the group a name."},
    )
    town = town_field(
        "Town or village it meets in", required=True, field="town",
        help_text="Start typing and choose from the list. Everyone can see the group's town.",
    )
    description = forms.CharField(
        label="What is the group for?", max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Please say what the group is for."},
    )
    privacy = forms.ChoiceField(
        label="Who can join?", choices=Group.Privacy.choices, initial=Group.Privacy.APPROVAL,
        widget=forms.RadioSelect,
        error_messages={"required": "Please choose who can join."},
    )
    rules = forms.CharField(
        label="Group rules", max_length=4000, required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Copied from the online group. Change them if you like.",
    )
    welcome_message = forms.CharField(
        label="Welcome message", max_length=2000, required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="New members see this when they join.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(settings.KINDRED_MAX_JOIN_QUESTIONS):
            self.fields[f"question_{i}"] = forms.CharField(
                label=f"Join question {i + 1}", max_length=300, required=False,
                help_text="Optional. People asking to join will answer it." if i == 0 else "",
            )

    def clean_town(self) -> str:
        return clean_town(self, "town")

    def questions(self) -> list[str]:
        return [self.cleaned_data.get(f"question_{i}", "")
                for i in range(settings.KINDRED_MAX_JOIN_QUESTIONS)]

    @classmethod
    def initial_from(cls, parent: Group) -> dict:
        return {
            "description": (f"A local group for members of {parent.name} who want to meet "
                            "face to face."),
            "rules": parent.rules,
            "welcome_message": parent.welcome_message,
            "privacy": parent.privacy,
        }
