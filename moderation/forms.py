"""Moderation forms."""

from __future__ import annotations

from django import forms

from moderation.models import Case, Flag

REASON_TEMPLATES = (
    "This gives medical advice that could hurt someone. Please share your own experience "
    "and suggest talking to a GP or pharmacist instead.",
    "This is unkind to another member. Please be respectful: everyone here is going through "
    "something hard.",
    "This shares someone's personal details. Please keep contact details private.",
    "This is advertising, which isn't allowed in the group.",
)


class FlagForm(forms.Form):
    reason = forms.ChoiceField(label="What worries you about it?", choices=Flag.Reason.choices,
                               widget=forms.RadioSelect)
    note = forms.CharField(
        label="Anything the moderators should know?", max_length=1000, required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Only moderators see this, and who flagged. The author is never told "
        "it was you. Needed if you chose \u201cSomething else\u201d.",
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label="Decision", choices=Case.Decision.choices,
                                 widget=forms.RadioSelect, required=False)
    outcome = forms.ChoiceField(label="Appeal outcome", required=False, widget=forms.RadioSelect,
                                choices=[("uphold", "The decision stands"),
                                         ("overturn", "Change the decision back")])
    mute_hours = forms.TypedChoiceField(
        label="If muting, for how long?", coerce=int, required=False, empty_value=24,
        choices=[(1, "1 hour"), (24, "1 day"), (168, "1 week")], initial=24,
    )
    reason_template = forms.ChoiceField(
        label="Start from a common reason (optional)", required=False,
        choices=[("", "None: I'll write my own"), *[(str(i), text) for i, text in
                                                   enumerate(REASON_TEMPLATES)]],
    )
    reason = forms.CharField(
        label="Reason (the author will see this)", max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Write your own, or leave this empty to use the common reason chosen above.",
        error_messages={"required": "Please give a reason. The author will see it."},
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, appeal: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.appeal = appeal
        choice = self.data.get("reason_template", "") if self.is_bound else ""
        if choice.isdigit() and int(choice) < len(REASON_TEMPLATES) and not (
            self.data.get("reason") or ""
        ).strip():
            self.data = self.data.copy()  # an empty reason box takes the chosen common one
            self.data["reason"] = REASON_TEMPLATES[int(choice)]
        if appeal:
            for name in ("decision", "mute_hours", "version", "reason_template"):
                del self.fields[name]
            self.fields["outcome"].required = True
            self.fields["reason"].help_text = ""
        else:
            del self.fields["outcome"]
            self.fields["decision"].required = True


class AppealForm(forms.Form):
    note = forms.CharField(
        label="Why do you think the decision was wrong?", max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="A different moderator will read this. You can appeal once.",
    )


class GuidelinesForm(forms.Form):
    text = forms.CharField(
        label="Your group's own guidelines for moderators", max_length=8000, required=False,
        widget=forms.Textarea(attrs={"rows": 10}),
    )



class WatchwordForm(forms.Form):
    """A watched word or pattern for one group, and a phrase to try it on.

    The rule's fields are needed to save; "Test" works with or without them (an empty
    pattern tries the rules already there), so they are optional when testing.
    """

    use_required_attribute = False  # the browser must never stop "Test" on an empty box

    REQUIRED_TO_SAVE = {
        "kind": "Please choose a word or phrase, or a pattern.",
        "pattern": "Please type the word, phrase or pattern to watch for.",
        "category": "Please choose what it is about.",
        "action": "Please choose what should happen.",
    }

    def __init__(self, *args, saving: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        for name, message in self.REQUIRED_TO_SAVE.items():
            self.fields[name].required = saving
            self.fields[name].error_messages["required"] = message
            self.fields[name].error_messages["invalid_choice"] = message

    kind = forms.ChoiceField(
        label="What kind?", widget=forms.RadioSelect, initial="phrase", required=False,
        choices=[("phrase", "A word or phrase (capital letters and punctuation don't matter)"),
                 ("pattern", "A pattern (a regular expression, for people who know them)")],
    )
    pattern = forms.CharField(label="The word, phrase or pattern", max_length=300,
                              required=False)
    category = forms.ChoiceField(
        label="What is it about?", widget=forms.RadioSelect, required=False,
        choices=[
            ("crisis", "Someone may be in crisis (the writer is shown where to get help, "
                       "and moderators get an urgent case)"),
            ("unsafe_advice", "Unsafe health advice (the writer is shown health signposts)"),
            ("privacy", "Personal details, such as a phone number or address"),
            ("abuse", "Abuse or harassment"),
            ("spam", "Spam or advertising"),
        ],
    )
    action = forms.ChoiceField(
        label="What should happen?", widget=forms.RadioSelect, initial="flag",
        required=False,
        choices=[
            ("prompt", "Ask the writer to think again: they can change it or send it anyway"),
            ("flag", "Publish it, and open a case for moderators to look at"),
            ("hold", "Hold it until a moderator has looked: only the writer and moderators "
                     "see it"),
            ("block", "Don't send it, and tell the writer why"),
        ],
    )
    description = forms.CharField(
        label="Note for moderators", max_length=200, required=False,
        help_text="Why it matters. Moderators see this when it matches.",
    )
    test_phrase = forms.CharField(
        label="A phrase it must catch", max_length=300, required=False,
        help_text="We check that it does before saving.",
    )
    phrase = forms.CharField(
        label="Phrase to try", max_length=2000, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Type something a member might write, then choose Test. Nothing is saved "
        "or sent.",
    )

    def draft_fields(self) -> dict:
        data = self.cleaned_data
        return {name: data.get(name, "") for name in ("kind", "pattern", "category", "action",
                                                       "description")}


class HoldSettingForm(forms.Form):
    hold_unsafe_advice = forms.BooleanField(
        label="Hold messages with unsafe health advice for a moderator instead of "
        "publishing them",
        required=False,
        help_text="When someone is asked to think again about unsafe health advice and "
        "sends it anyway, it waits for a moderator instead of appearing with a case.",
    )
