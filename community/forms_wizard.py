"""The steps of "Start a group": one small form per step, each labelled and plain.

Forms parse and check what was typed; `community.services.group_start.start_group`
decides and writes. Each form takes its step's saved draft as `initial`, so going Back
and Next never loses anything.
"""

from __future__ import annotations

import re

from django import forms
from django.conf import settings

from community import gazetteer
from community.models import Group

PEER_SUPPORT_RULES = (
    "We share experience, not medical advice. For medical questions, please talk to your "
    "GP, nurse or pharmacist.\n"
    "Shared experience: we are all living with this, and we learn from each other.\n"
    "Respect: be kind and polite, even when we see things differently.\n"
    "No judgement: everyone's experience and choices are valid here.\n"
    "Confidentiality: what is said in the group stays in the group.\n"
    "Choice and control: you choose what you share, and when. You never have to answer.\n"
    "Safety: if you are worried about someone, tell a moderator or use \"Get help now\"."
)
WELCOME_MESSAGE = (
    "Welcome! We're glad you found us. Take your time: read the rules, and say hello in "
    "the chat or the forum when you feel ready."
)
FIRST_QUESTION = "What would you like to get from this group?"

KIND_CHOICES = [
    (Group.Kind.CONDITION, "People living with a particular condition"),
    (Group.Kind.GENERIC, "General peer support, for any long-term condition"),
    (Group.Kind.CARERS, "Carers: people who look after someone"),
]
FORMAT_CHOICES = [
    (Group.Format.ONLINE, "Online: members talk on Kindred, wherever they live"),
    (Group.Format.LOCAL, "Local: members live near each other and can meet in person"),
]
PRIVACY_CHOICES = [
    (Group.Privacy.OPEN, "Open: anyone with a Kindred account can join straight away and "
                         "read everything in the group."),
    (Group.Privacy.APPROVAL, "Ask to join: anyone can find the group and read its "
                             "description, but people answer your questions and a "
                             "moderator says yes before they can read anything."),
    (Group.Privacy.INVITE, "Invite only: the group is hidden. People can only join with an "
                           "invite link from you or a moderator."),
]
_NUMBER = re.compile(r"^\+?[0-9][0-9 ()\-]{1,38}$")


def _text(label: str, max_length: int, *, required: bool = True, help_text: str = "",
          rows: int = 0, required_message: str = "", **attrs) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows, **attrs}) if rows else forms.TextInput(attrs)
    messages = {"max_length": f"Please keep this to {max_length} characters or fewer."}
    if required_message:
        messages["required"] = required_message
    return forms.CharField(label=label, max_length=max_length, required=required,
                           help_text=help_text, widget=widget, error_messages=messages)


class PurposeForm(forms.Form):
    """Step 1: who the group is for."""

    kind = forms.ChoiceField(
        label="Who is the group for?", choices=KIND_CHOICES, widget=forms.RadioSelect,
        error_messages={"required": "Please choose who the group is for."},
    )
    condition = _text(
        "Which condition?", 80, required=False,
        help_text="Only if the group is about one condition. For example: COPD, or Crohn's "
                  "disease.",
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == Group.Kind.CONDITION and not data.get("condition", "").strip():
            self.add_error("condition", "Please name the condition the group is about.")
        return data


class PlaceForm(forms.Form):
    """Step 2: online or local, and for a local group the town, found in the gazetteer."""

    format = forms.ChoiceField(
        label="Online or local?", choices=FORMAT_CHOICES, widget=forms.RadioSelect,
        error_messages={"required": "Please choose online or local."},
    )
    town = _text(
        "Town or village", 100, required=False, autocomplete="address-level2",
        help_text="For a local group: the town or village where members meet. For example: "
                  "Fort William.",
    )
    # A plain field with radio buttons: a stale choice (the town was retyped) is ignored
    # rather than refused, and the newly typed town is looked up instead.
    place = forms.CharField(
        label="Did you mean one of these places?", required=False,
        widget=forms.RadioSelect(choices=[]),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.place_found: gazetteer.Place | None = None
        self.suggestions: list[gazetteer.Place] = []
        if self.is_bound and self.data.get(self.add_prefix("format")) == Group.Format.LOCAL:
            typed = " ".join(str(self.data.get(self.add_prefix("town")) or "").split())
            picked = self.data.get(self.add_prefix("place"))
            if typed and (picked or gazetteer.resolve(typed) is None):
                self.suggestions = gazetteer.suggest(typed)
        self.fields["place"].widget.choices = [(str(p.id), p.label) for p in self.suggestions]

    @property
    def show_suggestions(self) -> bool:
        return bool(self.suggestions) and "town" in self.errors

    def clean(self):
        data = super().clean()
        if data.get("format") != Group.Format.LOCAL:
            data["town"], data["place"] = "", ""
            return data
        town = " ".join((data.get("town") or "").split())
        if not town:
            self.add_error("town", "Please say which town or village the group meets in.")
            return data
        offered = {str(p.id): p for p in self.suggestions}
        chosen = offered.get(data.get("place") or "")
        place = chosen or gazetteer.resolve(town)
        if place is None:
            hint = (" Please choose one of the places below, or check the spelling."
                    if self.suggestions else
                    " Please check the spelling, or try the nearest bigger town.")
            self.add_error("town", "We couldn't find that town." + hint)
            return data
        self.place_found = place
        data["town"], data["place"] = place.name, str(place.id)
        return data

    def draft(self) -> dict:
        """What to keep for this step: the typed words and, when found, the place."""
        data = dict(self.cleaned_data)
        place = self.place_found
        if place is not None:
            data.update(place_id=place.id, place_label=place.label,
                        latitude=place.latitude, longitude=place.longitude)
        return data


class PrivacyForm(forms.Form):
    """Step 3: who can join, explained plainly."""

    privacy = forms.ChoiceField(
        label="Who can join?", choices=PRIVACY_CHOICES, widget=forms.RadioSelect,
        help_text="You can change this later.",
        error_messages={"required": "Please choose who can join."},
    )


class AboutForm(forms.Form):
    """Step 4: name, description and rules (pre-filled with peer-support values)."""

    name = _text("Group name", 80, required_message="Please give the group a name.",
                 help_text="Short and clear. For example: Highland COPD friends.")
    description = _text(
        "What is the group for?", 2000, rows=4,
        required_message="Please say in a sentence or two what the group is for.",
        help_text="People who are thinking of joining read this first.",
    )
    rules = _text(
        "Group rules", 4000, required=False, rows=9,
        help_text="We have started you off with the values of peer support. Change them "
                  "as you like: one rule on each line.",
    )


class JoiningForm(forms.Form):
    """Step 5: up to 5 join questions and a welcome message."""

    welcome_message = _text(
        "Welcome message", 2000, required=False, rows=3,
        help_text="New members see this when they join.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        count = settings.KINDRED_MAX_JOIN_QUESTIONS
        for i in range(count):
            self.fields[f"question_{i}"] = _text(
                f"Join question {i + 1}", 300, required=False,
                help_text=(f"Optional. You can ask up to {count} questions. People who ask "
                           "to join answer them, and only moderators see the answers."
                           if i == 0 else ""),
            )
        # The welcome message comes after the questions on the page.
        self.order_fields([f"question_{i}" for i in range(count)] + ["welcome_message"])

    def questions(self) -> list[str]:
        return [q for q in (self.cleaned_data.get(f"question_{i}", "").strip()
                            for i in range(settings.KINDRED_MAX_JOIN_QUESTIONS)) if q]


class SupportForm(forms.Form):
    """Step 6 (optional): the group's own helpline and a useful link."""

    helpline_name = _text("Helpline name", 100, required=False,
                          help_text="For example: a charity for your condition.")
    helpline_phone = _text("Helpline phone number", 40, required=False, autocomplete="off",
                           inputmode="tel")
    helpline_hours = _text("When it is open", 100, required=False,
                           help_text="For example: Monday to Friday, 9am to 5pm.")
    link_title = _text("Useful link: its name", 150, required=False,
                       help_text="For example: NHS page about COPD.")
    link_url = _text("Useful link: web address", 200, required=False, inputmode="url",
                     help_text="Starting with https://")

    def clean(self):
        data = super().clean()
        for key in self.fields:
            data[key] = " ".join((data.get(key) or "").split())
        if data["helpline_name"] or data["helpline_phone"] or data["helpline_hours"]:
            if not data["helpline_name"]:
                self.add_error("helpline_name", "Please give the name of the helpline.")
            if not data["helpline_phone"]:
                self.add_error("helpline_phone", "Please give the helpline's phone number.")
            elif not _NUMBER.match(data["helpline_phone"]):
                self.add_error("helpline_phone", "Please use only numbers and spaces (a + or "
                                                 "brackets are fine).")
        if data["link_title"] or data["link_url"]:
            if not data["link_url"]:
                self.add_error("link_url", "Please give the web address of the link.")
            elif not data["link_url"].lower().startswith(("https://", "http://")):
                self.add_error("link_url", "Please give the full web address, starting with "
                                           "https://")
            if not data["link_title"]:
                self.add_error("link_title", "Please give the link a short name.")
        return data
