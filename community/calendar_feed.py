"""Calendar files (iCalendar, RFC 5545) for meetings: one meeting, or a group's feed.

One VEVENT per meeting, with an RRULE for a series, so a calendar app shows every date
and follows the clock changes itself (DTSTART carries the meeting's TZID, and the file
holds the matching VTIMEZONE). Only what members see on the meeting page goes in: never
who is going.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from icalendar import Calendar, Event, vRecur

from community import meeting_text, recurrence
from community.models import Group, Meeting

PRODID = "-//Kindred//Meetings//EN"
FEED_KEEPS_PAST = timedelta(days=90)  # finished series stay in feeds a while, then drop


def uid(meeting: Meeting) -> str:
    """Stable for the life of the meeting, so a changed meeting updates in place."""
    return f"meeting-{meeting.pk}@kindred"


def _rrule(meeting: Meeting) -> vRecur | None:
    kind = meeting.recurrence
    if kind == recurrence.NONE:
        return None
    first = recurrence.local_start(meeting)
    day = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[first.weekday()]
    rule: dict[str, Any] = {"FREQ": "WEEKLY", "INTERVAL": 1, "BYDAY": day}
    if kind == recurrence.FORTNIGHTLY:
        rule["INTERVAL"] = 2
    elif kind == recurrence.MONTHLY:
        rule = {"FREQ": "MONTHLY", "INTERVAL": 1,
                "BYDAY": f"{recurrence.monthly_week(first)}{day}"}
    if meeting.repeat_until:
        # RFC 5545: with a zoned DTSTART, UNTIL is given in UTC.
        zone = recurrence.zone_of(meeting)
        last = datetime.combine(meeting.repeat_until, time(23, 59, 59), tzinfo=zone)
        rule["UNTIL"] = last.astimezone(UTC)
    return vRecur(rule)


def _description(meeting: Meeting, link: str) -> str:
    parts = []
    if meeting.description:
        parts.append(meeting.description)
    parts.append(f"How often: {recurrence.describe(meeting)}")
    if meeting.venue_address:
        parts.append(f"Address: {meeting.venue_address}")
    if meeting.online_url:
        parts.append(f"Online call: {meeting.online_url}")
    access = meeting_text.access_lines(meeting)
    if access:
        parts.append("Getting in:\n" + "\n".join(f"- {line}" for line in access))
    if meeting.is_cancelled:
        parts.insert(0, f"CANCELLED: {meeting.cancel_reason}")
    if link:
        parts.append(f"Meeting page: {link}")
    return "\n\n".join(parts)


def event(meeting: Meeting, *, link: str = "") -> Event:
    start = recurrence.local_start(meeting)
    item = Event()
    item.add("uid", uid(meeting))
    item.add("dtstamp", meeting.cancelled_at or meeting.created_at)
    item.add("created", meeting.created_at)
    item.add("summary", meeting.title)
    item.add("dtstart", start)
    item.add("dtend", start + timedelta(minutes=meeting.duration_minutes))
    rule = _rrule(meeting)
    if rule is not None:
        item.add("rrule", rule)
    place = ", ".join(part for part in (meeting.venue_name,
                                        meeting.venue_address.replace("\n", ", ")) if part)
    if place or meeting.online_url:
        item.add("location", place or meeting.online_url)
    item.add("description", _description(meeting, link))
    if link:
        item.add("url", link)
    item.add("status", "CANCELLED" if meeting.is_cancelled else "CONFIRMED")
    # Each change of state bumps the sequence so calendar apps take the newer copy.
    item.add("sequence", 1 if meeting.is_cancelled else 0)
    return item


def calendar(meetings: Iterable[tuple[Meeting, str]], *, name: str = "") -> bytes:
    """A calendar file of these (meeting, page link) pairs, with their time zones."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if name:
        cal.add("x-wr-calname", name)
    first = None
    for meeting, link in meetings:
        cal.add_component(event(meeting, link=link))
        start = recurrence.local_start(meeting).date()
        first = start if first is None or start < first else first
    if first is not None:
        # The zone's rules from a year before the first date: short, and enough.
        cal.add_missing_timezones(first_date=first - timedelta(days=366),
                                  last_date=max(date(2038, 1, 1), first + timedelta(days=3660)))
    return cal.to_ical()


def feed_meetings(group: Group, now: datetime) -> list[Meeting]:
    """The group's meetings for a feed: those still to come, and recent ones, so a
    cancellation reaches calendars that already have the meeting."""
    since = now - FEED_KEEPS_PAST
    keep = []
    for meeting in group.meetings.order_by("starts_at", "pk"):
        last = recurrence.last_date(meeting)
        if last is None or last >= since.date():
            keep.append(meeting)
    return keep[:200]
