"""Forms for greeting newcomers, the monthly check-in and its setting."""

from __future__ import annotations

from django import forms

from community.services.welcome import CHAT, INTRO

CHECKIN_WORDS = (
    (1, "1 – Not at all"),
    (2, "2 – A little"),
    (3, "3 – Somewhat"),
    (4, "4 – A lot"),
    (5, "5 – A great deal"),
)


class GreetForm(forms.Form):
    choice = forms.ChoiceField(
        label="Where would you like to say hello?",
        choices=((CHAT, "In the group chat"),
                 (INTRO, "In the Introductions thread of the forum")),
        widget=forms.RadioSelect,
        initial=CHAT,
        error_messages={"required": "Please choose where to say hello."},
    )
    message = forms.CharField(
        label="Your message",
        help_text="You can change these words before you send them.",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": "Please write a few words of welcome."},
    )


class CheckInForm(forms.Form):
    score = forms.TypedChoiceField(
        label="How much has this group helped you this month?",
        help_text="Your answer is anonymous: it is never linked to your name.",
        choices=CHECKIN_WORDS,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Please choose a number from 1 to 5.",
                        "invalid_choice": "Please choose a number from 1 to 5."},
    )


class CheckInSettingForm(forms.Form):
    checkins_enabled = forms.BooleanField(
        label="Ask members once a month, anonymously, how much the group has helped them",
        required=False,
    )
