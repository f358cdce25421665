"""Forms parse and label input; services decide and write."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings

from community.forms_places import RADIUS_CHOICES, autocomplete_attrs, clean_town
from community.models import Group, Membership, User
from community.services.profiles import display_name_taken

NAME_PATTERN = re.compile(r"^[\w][\w .'\-]*$", re.UNICODE)


def clean_display_name_value(value: str, *, exclude_pk: int | None = None) -> str:
    name = " ".join((value or "").split())
    if len(name) < 2:
        raise forms.ValidationError("Please use at least 2 characters.")
    if not NAME_PATTERN.match(name):
        raise forms.ValidationError(
            "Please use letters, numbers, spaces, full stops, dashes or apostrophes."
        )
    if "@" in name:
        raise forms.ValidationError("Please don't use an email address as your name.")
    if display_name_taken(name, exclude_pk=exclude_pk):
        raise forms.ValidationError("Someone already uses that name. Please try another.")
    return name


class SignupForm(forms.Form):
    """Extra signup field for allauth: the name other members will see."""

    display_name = forms.CharField(
        label="Display name",
        max_length=40,
        help_text="This is what other members see. It does not need to be your real name.",
        widget=forms.TextInput(attrs={"autocomplete": "nickname"}),
    )

    def clean_display_name(self) -> str:
        return clean_display_name_value(self.cleaned_data["display_name"])

    def signup(self, request, user) -> None:
        """allauth calls this after the adapter saved the user (with the name already set)."""


class ProfileForm(forms.Form):
    display_name = forms.CharField(label="Display name", max_length=40)
    about = forms.CharField(
        label="About me", max_length=500, required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional. A few words other members of your groups can read.",
    )
    home_town = forms.CharField(
        label="Home town", max_length=100, required=False,
        help_text="Optional and private: nobody else sees it.",
        widget=forms.TextInput(attrs=autocomplete_attrs("home_town")),
    )
    appear_offline = forms.BooleanField(
        label="Appear offline in chat", required=False,
        help_text="Others won't see that you are online.",
    )
    email_notifications = forms.ChoiceField(
        label="Emails about replies and mentions", choices=User.EmailChoice.choices,
        widget=forms.RadioSelect, required=False,
        help_text="You can always see everything on your notifications page.",
    )

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_display_name(self) -> str:
        return clean_display_name_value(
            self.cleaned_data["display_name"], exclude_pk=getattr(self.user, "pk", None)
        )

    def clean_home_town(self) -> str:
        """A town from the gazetteer (see forms_places), or a clear error with suggestions."""
        return clean_town(self, "home_town")


class GroupForm(forms.Form):
    name = forms.CharField(label="Group name", max_length=80)
    description = forms.CharField(
        label="What is the group for?", max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    kind = forms.ChoiceField(label="Who is it for?", choices=Group.Kind.choices)
    condition = forms.CharField(
        label="Condition", max_length=80, required=False,
        help_text="If the group is about one condition, name it. For example: COPD.",
    )
    format = forms.ChoiceField(label="Online or local?", choices=Group.Format.choices)
    town = forms.CharField(label="Town or area", max_length=100, required=False,
                           widget=forms.TextInput(attrs=autocomplete_attrs("town")))
    privacy = forms.ChoiceField(
        label="Who can join?", choices=Group.Privacy.choices, initial=Group.Privacy.APPROVAL,
        widget=forms.RadioSelect,
    )
    rules = forms.CharField(
        label="Group rules", max_length=4000, required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        initial=(
            "We share experience, not medical advice.\n"
            "Be kind and respectful. Nobody is judged here.\n"
            "What is said in the group stays in the group.\n"
            "Everyone chooses what they share.\n"
            "If you are worried about someone's safety, tell a moderator."
        ),
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

    def questions(self) -> list[str]:
        return [
            self.cleaned_data.get(f"question_{i}", "")
            for i in range(settings.KINDRED_MAX_JOIN_QUESTIONS)
        ]

    def clean_town(self) -> str:
        """A town from the gazetteer, so the group can be found by distance."""
        return clean_town(self, "town")


class JoinRequestForm(forms.Form):
    """One labelled answer box per join question; what was typed is kept on errors."""

    def __init__(self, *args, questions=(), **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.KINDRED_JOIN_ANSWER_MAX_LENGTH
        for i, question in enumerate(questions):
            self.fields[f"answer_{i}"] = forms.CharField(
                label=question.text,
                max_length=limit,
                required=True,
                widget=forms.Textarea(attrs={"rows": 3}),
                error_messages={
                    "required": "Please answer this question.",
                    "max_length": f"Please keep this answer to {limit} characters or fewer.",
                },
            )

    def answers(self) -> list[str]:
        return [self.cleaned_data.get(name, "") for name in self.fields]


class DecisionForm(forms.Form):
    message = forms.CharField(
        label="Message to the person (optional)", max_length=1000, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason (kept in the moderation log)", max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Please say why, for the record."},
    )


class MuteForm(ReasonForm):
    hours = forms.TypedChoiceField(
        label="For how long?", coerce=int,
        choices=[(1, "1 hour"), (24, "1 day"), (168, "1 week")],
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Membership.Role.choices)


class InviteForm(forms.Form):
    note = forms.CharField(
        label="Who is it for? (only moderators see this)", max_length=100, required=False
    )
    expires_in_days = forms.IntegerField(
        label="Works for how many days?", min_value=1, max_value=365, initial=14
    )
    max_uses = forms.IntegerField(
        label="How many people can use it? (leave empty for no limit)",
        min_value=1, max_value=1000, required=False,
    )


class GroupSearchForm(forms.Form):
    q = forms.CharField(label="Search by name or condition", max_length=100, required=False)
    kind = forms.ChoiceField(
        label="Kind of group", required=False, choices=[("", "Any kind"), *Group.Kind.choices]
    )
    near = forms.CharField(
        label="Near (town or village)", max_length=100, required=False,
        help_text="Local groups nearest this town come first.",
        widget=forms.TextInput(attrs=autocomplete_attrs("near")),
    )
    radius = forms.ChoiceField(label="Within", choices=RADIUS_CHOICES, initial="25",
                               required=False)

    def clean_near(self) -> str:
        return clean_town(self, "near")


class SignpostForm(forms.Form):
    """One of a group's own signposts: where to turn, and when the help panel shows it."""

    topic = forms.ChoiceField(
        label="When should it be shown?", widget=forms.RadioSelect,
        initial="support",
        choices=[
            ("crisis", "Crisis: when someone may be at risk"),
            ("health", "Health: when someone writes about medicines or treatment"),
            ("support", "Support: on the group's resources page and the help page"),
        ],
        error_messages={"required": "Please choose when it should be shown.",
                        "invalid_choice": "Please choose when it should be shown."},
    )
    name = forms.CharField(label="Name of the service", max_length=100,
                           error_messages={"required": "Please give the name of the service."})
    who_for = forms.CharField(label="Who is it for?", max_length=200, required=False,
                              help_text="For example: anyone with COPD, and their carers.")
    phone = forms.CharField(label="Phone number", max_length=40, required=False)
    text_number = forms.CharField(label="Text message number", max_length=40, required=False)
    email = forms.EmailField(
        label="Email address", max_length=254, required=False,
        error_messages={"invalid": "Please give an email address like name@example.org."},
    )
    url = forms.CharField(label="Website", max_length=200, required=False,
                          help_text="The full address, starting with https://")
    hours = forms.CharField(label="Opening hours", max_length=100, required=False,
                            help_text="For example: weekdays 9am to 5pm.")
    description = forms.CharField(
        label="What can they help with?", max_length=300, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    position = forms.IntegerField(
        label="Order on the page", min_value=0, max_value=999, required=False, initial=0,
        help_text="Lower numbers come first.",
    )

    def fields_for_service(self) -> dict:
        data = dict(self.cleaned_data)
        data["position"] = data.get("position") or 0
        return data


class ResourceForm(forms.Form):
    title = forms.CharField(label="Title", max_length=150,
                            error_messages={"required": "Please give it a title."})
    url = forms.CharField(label="Web address", max_length=200, required=False,
                          help_text="The full address, starting with https://")
    body = forms.CharField(
        label="Notes or a short guide", max_length=10000, required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="You can use simple formatting: **bold**, lists and links. Give a web "
        "address, or write something here (or both).",
    )
