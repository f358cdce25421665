"""Forms for meetings: they parse and label what was typed; the meetings service decides
whether it makes sense (dates in the past, end before start, impossible repeats) and its
messages are put back on these forms, so nothing typed is lost."""

from __future__ import annotations

from datetime import timedelta

from django import forms

from community import meeting_text
from community.models import Meeting

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d %B %Y", "%d %b %Y"]
TIME_FORMATS = ["%H:%M", "%H.%M", "%H:%M:%S", "%I:%M%p", "%I:%M %p", "%I%p", "%I %p",
                "%I.%M%p"]

REPEAT_CHOICES = (
    (Meeting.Recurrence.NONE, "Just once"),
    (Meeting.Recurrence.WEEKLY, "Every week, on the same day and at the same time"),
    (Meeting.Recurrence.FORTNIGHTLY, "Every two weeks, on the same day and at the same time"),
    (Meeting.Recurrence.MONTHLY, "Every month, on the same weekday of the month (for "
                                 "example, the first Tuesday of every month)"),
)

DATE_ERRORS = {"invalid": "Please give the date as day/month/year, for example 03/03/2026."}
TIME_ERRORS = {"invalid": "Please give the time like 14:00 or 2pm."}


class MeetingForm(forms.Form):
    title = forms.CharField(
        label="Name of the meeting", max_length=120,
        help_text="For example “Monthly coffee morning” or “Tuesday evening chat”.",
        error_messages={"required": "Please give the meeting a name."},
    )
    description = forms.CharField(
        label="What happens at the meeting", max_length=2000, required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="A few words so people know what to expect.",
    )
    date = forms.DateField(
        label="Date", input_formats=DATE_FORMATS, error_messages={
            **DATE_ERRORS, "required": "Please give the date of the (first) meeting."},
        help_text="For a meeting that repeats, the date of the first one. For example "
        "03/03/2026.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    start_time = forms.TimeField(
        label="Start time", input_formats=TIME_FORMATS, error_messages={
            **TIME_ERRORS, "required": "Please give the time the meeting starts."},
        help_text="For example 14:00 or 2pm.",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    end_time = forms.TimeField(
        label="End time", input_formats=TIME_FORMATS, required=False,
        error_messages=TIME_ERRORS,
        help_text="Give the end time, or how long it lasts below.",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    duration_minutes = forms.IntegerField(
        label="Or: how long it lasts, in minutes", required=False, min_value=1,
        max_value=24 * 60,
        error_messages={"invalid": "Please give a number of minutes, for example 90.",
                        "min_value": "Please give a number of minutes, for example 90.",
                        "max_value": "A meeting can last up to 12 hours."},
        help_text="Only if you didn't give an end time. For example 90 for an hour and a "
        "half.",
    )
    time_zone = forms.ChoiceField(
        label="Time zone", choices=meeting_text.ZONE_CHOICES, initial="Europe/London",
        error_messages={"invalid_choice": "Please choose a time zone from the list."},
        help_text="Times are shown to members in this zone. The clocks going forward or "
        "back are taken care of.",
    )
    recurrence = forms.ChoiceField(
        label="Does it repeat?", choices=REPEAT_CHOICES, initial=Meeting.Recurrence.NONE,
        widget=forms.RadioSelect,
        error_messages={"required": "Please choose how often the meeting happens.",
                        "invalid_choice": "Please choose how often the meeting happens."},
    )
    repeat_until = forms.DateField(
        label="Repeat until", input_formats=DATE_FORMATS, required=False,
        error_messages=DATE_ERRORS,
        help_text="The last date it could happen. Leave it empty to keep repeating until you "
        "cancel it.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    venue_name = forms.CharField(
        label="Venue name", max_length=120, required=False,
        help_text="For example “St Mary's Church Hall”. Leave empty for an online-only "
        "meeting.",
    )
    venue_address = forms.CharField(
        label="Venue address", max_length=300, required=False,
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text="Members of the group will see this.",
    )
    step_free = forms.BooleanField(
        label="Step-free access (no steps, or a ramp or lift)", required=False,
    )
    hearing_loop = forms.BooleanField(label="There is a hearing loop", required=False)
    parking = forms.CharField(
        label="Parking", max_length=200, required=False,
        help_text="For example “Free car park with 2 blue badge spaces”.",
    )
    accessibility_notes = forms.CharField(
        label="Other things people should know to get in and feel comfortable",
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example accessible toilets, seating, lighting, the nearest bus stop.",
    )
    online_url = forms.CharField(
        label="Online call link", max_length=200, required=False,
        help_text="If people can join by video or phone call. The full link, starting with "
        "https://",
        widget=forms.TextInput(attrs={"inputmode": "url", "autocomplete": "off"}),
    )
    capacity = forms.IntegerField(
        label="Number of places", required=False, min_value=1, max_value=10_000,
        error_messages={"invalid": "Please give a number, or leave it empty.",
                        "min_value": "Please give at least 1 place, or leave it empty.",
                        "max_value": "Please give a number up to 10,000."},
        help_text="Leave empty if there is no limit. When it is full, people can still say "
        "“maybe”.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zone = self.initial.get("time_zone")
        known = {value for value, _label in meeting_text.ZONE_CHOICES}
        if zone and zone not in known:  # a meeting saved with another zone keeps it
            self.fields["time_zone"].choices = [(zone, zone), *meeting_text.ZONE_CHOICES]

    def for_service(self) -> dict:
        return dict(self.cleaned_data)


def initial_for(meeting: Meeting) -> dict:
    """The form's starting values for changing a meeting, on its own clock."""
    start = meeting_text.local(meeting, meeting.starts_at)
    end = start.replace(tzinfo=None) + timedelta(minutes=meeting.duration_minutes)
    same_day = end.date() == start.date()
    return {
        "title": meeting.title, "description": meeting.description,
        "date": start.date(), "start_time": start.time(),
        "end_time": end.time() if same_day else None,
        "duration_minutes": None if same_day else meeting.duration_minutes,
        "time_zone": meeting.time_zone,
        "recurrence": meeting.recurrence, "repeat_until": meeting.repeat_until,
        "venue_name": meeting.venue_name, "venue_address": meeting.venue_address,
        "step_free": meeting.step_free, "hearing_loop": meeting.hearing_loop,
        "parking": meeting.parking, "accessibility_notes": meeting.accessibility_notes,
        "online_url": meeting.online_url, "capacity": meeting.capacity,
    }


class CancelMeetingForm(forms.Form):
    reason = forms.CharField(
        label="Why is it cancelled?", max_length=300,
        help_text="Members who said they would go will see this, for example “The hall is "
        "closed for repairs”.",
        error_messages={"required": "Please say why, in a few words."},
    )


class ReplyForm(forms.Form):
    date = forms.DateField(input_formats=["%Y-%m-%d"], required=False)
    answer = forms.ChoiceField(choices=[
        ("going", "Going"), ("maybe", "Maybe"), ("not_going", "Can't make it"),
    ])
