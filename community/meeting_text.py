"""Meetings in words: dates, times and time zones as people say them ("Tuesday 3 March
2026, 2pm to 3:30pm, UK time"). Shared by pages, emails and calendar files, so a date
reads the same everywhere."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from community import recurrence

# The time zones offered on the form, with plain names. Any other IANA zone still works
# (a meeting keeps the zone it was saved with); it is shown by its own name.
ZONE_CHOICES: tuple[tuple[str, str], ...] = (
    ("Europe/London", "UK time (London)"),
    ("Europe/Dublin", "Ireland (Dublin)"),
    ("Europe/Paris", "Central Europe (Paris, Berlin, Madrid)"),
    ("Europe/Athens", "Eastern Europe (Athens, Helsinki)"),
    ("America/New_York", "US Eastern (New York)"),
    ("America/Chicago", "US Central (Chicago)"),
    ("America/Denver", "US Mountain (Denver)"),
    ("America/Los_Angeles", "US Pacific (Los Angeles)"),
    ("Asia/Kolkata", "India (Kolkata)"),
    ("Australia/Sydney", "Australia Eastern (Sydney)"),
    ("Pacific/Auckland", "New Zealand (Auckland)"),
    ("UTC", "UTC (world time)"),
)
_ZONE_LABELS = {
    "Europe/London": "UK time",
    "Europe/Dublin": "Irish time",
    "UTC": "UTC",
}


def zone_label(name: str) -> str:
    return _ZONE_LABELS.get(name, name)


def clock(when: datetime) -> str:
    """2pm, 2:30pm, 12 noon, 12 midnight."""
    if when.hour == 12 and when.minute == 0:
        return "12 noon"
    if when.hour == 0 and when.minute == 0:
        return "12 midnight"
    hour = when.hour % 12 or 12
    suffix = "am" if when.hour < 12 else "pm"
    return f"{hour}{suffix}" if when.minute == 0 else f"{hour}:{when.minute:02d}{suffix}"


def day(when: datetime) -> str:
    """Tuesday 3 March 2026."""
    return f"{when:%A} {when.day} {when:%B %Y}"


def local(meeting: Any, when: datetime) -> datetime:
    return when.astimezone(recurrence.zone_of(meeting))


def zone_words(meeting: Any, when: datetime) -> str:
    """UK time (GMT, Europe/London): the plain name, the abbreviation on that day, and the
    zone's proper name, so nobody has to guess whether the clocks have changed."""
    start = local(meeting, when)
    name = recurrence.zone_of(meeting).key
    label = zone_label(name)
    extras = [start.tzname() or ""]
    if label != name:
        extras.append(name)
    extras = [part for part in extras if part and part != label]
    return f"{label} ({', '.join(extras)})" if extras else label


def times(meeting: Any, when: datetime) -> str:
    """2pm to 3:30pm."""
    start = local(meeting, when)
    end = start + timedelta(minutes=meeting.duration_minutes)
    end = local(meeting, end)
    text = f"{clock(start)} to {clock(end)}"
    if end.date() != start.date():
        text += " the next day"
    return text


def when_text(meeting: Any, when: datetime) -> str:
    """Tuesday 3 March 2026, 2pm to 3:30pm, UK time (GMT, Europe/London)."""
    start = local(meeting, when)
    return f"{day(start)}, {times(meeting, when)}, {zone_words(meeting, when)}"


def access_lines(meeting: Any) -> list[str]:
    """The venue's accessibility, in words (never only icons), for pages and emails."""
    lines = []
    if meeting.venue_name or meeting.venue_address:
        lines.append("Step-free access: " + ("yes" if meeting.step_free else
                                              "not known or no: ask the organisers"))
        lines.append("Hearing loop: " + ("yes" if meeting.hearing_loop else
                                          "not known or no: ask the organisers"))
        if meeting.parking:
            lines.append(f"Parking: {meeting.parking}")
    if meeting.accessibility_notes:
        lines.append(f"Other notes: {meeting.accessibility_notes}")
    return lines


def duration_words(minutes: int) -> str:
    hours, mins = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if mins:
        parts.append(f"{mins} minute{'s' if mins != 1 else ''}")
    return " and ".join(parts) or "0 minutes"
