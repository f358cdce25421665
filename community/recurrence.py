"""When a meeting happens: pure functions, no database.

A meeting is stored once (first date, rule, optional end date); its dates are worked out
here. Dates are computed on the meeting's own wall clock, in its own time zone, so
"7pm every week" stays 7pm when the clocks change between GMT and BST.

Monthly meetings repeat on the same weekday of the same week of the month as the first
date: a first date on Tuesday 3 March (the first Tuesday) repeats on every first Tuesday.
A first date on the fifth weekday of its month (day 29 to 31) is refused by the services
with an explanation, because most months have no fifth Tuesday; see `monthly_week`.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dateutil import rrule

DEFAULT_ZONE = "Europe/London"
MAX_OCCURRENCES = 200  # no page, feed or job ever asks for more dates than this
WEEKDAYS = (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU)
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}

NONE, WEEKLY, FORTNIGHTLY, MONTHLY = "none", "weekly", "fortnightly", "monthly"


def is_known_zone(name: str) -> bool:
    return bool(name) and name in _zone_names()


def _zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


_ZONES: frozenset[str] | None = None


def zone_of(meeting: Any) -> ZoneInfo:
    """The meeting's time zone (UK time if the stored name is somehow unknown)."""
    try:
        return ZoneInfo(meeting.time_zone or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def local_start(meeting: Any) -> datetime:
    """The first date, on the meeting's own clock."""
    return meeting.starts_at.astimezone(zone_of(meeting))


def monthly_week(day: date | datetime) -> int:
    """Which week of its month a date falls in: 1 for days 1-7, ... 5 for days 29-31."""
    return (day.day - 1) // 7 + 1


def nth_weekday_exists(year: int, month: int, weekday: int, week: int) -> bool:
    """Does this month have a `week`-th `weekday` (0 = Monday)?"""
    days = calendar.monthrange(year, month)[1]
    first = date(year, month, 1).weekday()
    day = 1 + (weekday - first) % 7 + 7 * (week - 1)
    return day <= days


def _rule(meeting: Any, wall_start: datetime) -> rrule.rrule | None:
    """The dateutil rule on naive wall-clock times, or None for a one-off meeting."""
    until = None
    if meeting.repeat_until:
        until = datetime.combine(meeting.repeat_until, time.max)
    kind = meeting.recurrence
    if kind in (WEEKLY, FORTNIGHTLY):
        return rrule.rrule(rrule.WEEKLY, interval=2 if kind == FORTNIGHTLY else 1,
                           dtstart=wall_start, until=until)
    if kind == MONTHLY:
        weekday = WEEKDAYS[wall_start.weekday()](monthly_week(wall_start))
        return rrule.rrule(rrule.MONTHLY, byweekday=weekday, dtstart=wall_start, until=until)
    return None


def _wall_times(meeting: Any) -> Iterator[datetime]:
    """Every date's start as a naive wall-clock time, in order (endless for open series)."""
    wall_start = local_start(meeting).replace(tzinfo=None)
    rule = _rule(meeting, wall_start)
    if rule is None:
        yield wall_start
        return
    yield from rule


def occurrences(meeting: Any, start: datetime, end: datetime,
                limit: int = MAX_OCCURRENCES) -> list[datetime]:
    """The starts of the meeting's dates with start <= date < end, in order.

    Returned as aware datetimes in the meeting's zone. Never more than `limit` (itself
    capped at MAX_OCCURRENCES), so no caller can ask for an endless list.
    """
    limit = max(0, min(limit, MAX_OCCURRENCES))
    if limit == 0 or end <= start:
        return []
    zone = zone_of(meeting)
    # Skip whole periods before the window cheaply: the rule starts from the first date.
    found: list[datetime] = []
    for wall in _wall_times(meeting):
        when = wall.replace(tzinfo=zone)
        if when >= end:
            break
        if when >= start:
            found.append(when)
            if len(found) >= limit:
                break
    return found


def next_occurrence(meeting: Any, now: datetime) -> datetime | None:
    """The first date starting at or after `now` (None when the series is over)."""
    if meeting.recurrence == NONE:
        first = local_start(meeting)
        return first if first >= now else None
    upcoming = occurrences(meeting, now, now + timedelta(days=400), limit=1)
    return upcoming[0] if upcoming else None


def occurrence_on(meeting: Any, day: date) -> datetime | None:
    """The date's start if the meeting happens on this local calendar day, else None.

    A meeting happens at most once a day (it repeats weekly at most often), so the local
    date names one occurrence; pages and forms use it instead of a timestamp.
    """
    zone = zone_of(meeting)
    day_start = datetime.combine(day, time.min, tzinfo=zone)
    found = occurrences(meeting, day_start, day_start + timedelta(days=1, hours=1), limit=2)
    for when in found:
        if when.date() == day:
            return when
    return None


def is_occurrence(meeting: Any, when: datetime) -> bool:
    local = when.astimezone(zone_of(meeting))
    found = occurrence_on(meeting, local.date())
    return found is not None and found == when


def last_date(meeting: Any) -> date | None:
    """The local day of the final date, or None for a series with no end."""
    if meeting.recurrence == NONE:
        return local_start(meeting).date()
    return meeting.repeat_until


def describe(meeting: Any) -> str:
    """How often, in words: "Every first Tuesday of the month, until 1 December 2026"."""
    first = local_start(meeting)
    day_name = f"{first:%A}"
    kind = meeting.recurrence
    if kind == WEEKLY:
        text = f"Every week on {day_name}"
    elif kind == FORTNIGHTLY:
        text = f"Every two weeks on {day_name}"
    elif kind == MONTHLY:
        text = f"Every month on the {ORDINALS[monthly_week(first)]} {day_name}"
    else:
        return "Just once"
    if meeting.repeat_until:
        until = meeting.repeat_until
        text += f", until {until.day} {until:%B %Y}"
    return text
