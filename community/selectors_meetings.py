"""Reads for the meetings pages, shaped so a page costs the same few queries however many
meetings and replies there are (STYLE rule 7)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet

from community import meeting_text, recurrence
from community.models import Group, Meeting, MeetingReply, Membership

LIST_WEEKS = 8
HELD = (MeetingReply.Answer.GOING, MeetingReply.Answer.MAYBE)


@dataclass
class Entry:
    """One date of one meeting, with what the page shows beside it."""

    meeting: Meeting
    occurrence: datetime
    going: int = 0
    maybe: int = 0
    mine: str = ""
    names: dict[str, list[str]] = field(default_factory=dict)

    @property
    def places_left(self) -> int | None:
        if self.meeting.capacity is None:
            return None
        return max(0, self.meeting.capacity - self.going)

    @property
    def is_full(self) -> bool:
        return self.places_left == 0

    @property
    def day(self) -> str:
        return meeting_text.day(meeting_text.local(self.meeting, self.occurrence))

    @property
    def times(self) -> str:
        return meeting_text.times(self.meeting, self.occurrence)

    @property
    def zone(self) -> str:
        return meeting_text.zone_words(self.meeting, self.occurrence)

    @property
    def date_key(self) -> str:
        return self.occurrence.astimezone(recurrence.zone_of(self.meeting)).date().isoformat()


def current_replies(meeting_ids: Any) -> QuerySet[MeetingReply]:
    """Replies of people who are still approved members of the meeting's group: someone
    who has left neither holds a place nor appears in "who's going"."""
    return MeetingReply.objects.filter(
        meeting_id__in=meeting_ids,
        user__is_active=True,
        user__memberships__group_id=F("meeting__group_id"),
        user__memberships__status=Membership.Status.APPROVED,
    )


def live_meetings(group: Group, start: datetime, end: datetime) -> QuerySet[Meeting]:
    """Meetings of the group that may have a date in [start, end): not cancelled, begun
    before the end, and (if they repeat) not finished before the start."""
    running = Q(repeat_until__isnull=True) | Q(repeat_until__gte=(start - timedelta(days=1))
                                                 .date())
    return Meeting.objects.filter(group=group, cancelled_at__isnull=True,
                                  starts_at__lt=end).filter(
        Q(starts_at__gte=start) | (~Q(recurrence=Meeting.Recurrence.NONE) & running)
    ).order_by("starts_at", "pk")


def upcoming_entries(group: Group, now: datetime, weeks: int = LIST_WEEKS) -> list[Entry]:
    """Every date of the group's meetings in the next `weeks` weeks, soonest first."""
    end = now + timedelta(weeks=weeks)
    entries = [
        Entry(meeting, when)
        for meeting in live_meetings(group, now, end)
        for when in recurrence.occurrences(meeting, now, end)
    ]
    entries.sort(key=lambda e: (e.occurrence, e.meeting.pk))
    return entries


def annotate(entries: list[Entry], user: Any) -> list[Entry]:
    """Fill in the counts and the viewer's own answers for these entries: two queries."""
    if not entries:
        return entries
    ids = {e.meeting.pk for e in entries}
    times = {e.occurrence for e in entries}
    counts: dict[tuple, dict[str, int]] = defaultdict(dict)
    rows = (current_replies(ids).filter(occurrence__in=times, answer__in=HELD)
            .values("meeting_id", "occurrence", "answer").annotate(n=Count("pk")))
    for row in rows:
        counts[(row["meeting_id"], row["occurrence"])][row["answer"]] = row["n"]
    mine: dict[tuple, str] = {}
    if getattr(user, "is_authenticated", False):
        for meeting_id, when, answer in MeetingReply.objects.filter(
            meeting_id__in=ids, occurrence__in=times, user=user
        ).values_list("meeting_id", "occurrence", "answer"):
            mine[(meeting_id, when)] = answer
    for entry in entries:
        key = (entry.meeting.pk, entry.occurrence)
        entry.going = counts[key].get(MeetingReply.Answer.GOING, 0)
        entry.maybe = counts[key].get(MeetingReply.Answer.MAYBE, 0)
        entry.mine = mine.get(key, "")
    return entries


def names_for(entry: Entry) -> Entry:
    """Who said going and maybe for this one date: display names only."""
    names: dict[str, list[str]] = {MeetingReply.Answer.GOING: [], MeetingReply.Answer.MAYBE: []}
    for answer, name in (current_replies([entry.meeting.pk])
                         .filter(occurrence=entry.occurrence, answer__in=HELD)
                         .order_by("updated_at", "pk")
                         .values_list("answer", "user__display_name")):
        names[answer].append(name)
    entry.names = names
    return entry


def next_entry(group: Group, now: datetime) -> Entry | None:
    """The group's next meeting date (for the group home), or None."""
    soonest: Entry | None = None
    for meeting in live_meetings(group, now, now + timedelta(days=400))[:50]:
        when = recurrence.next_occurrence(meeting, now)
        if when is not None and (soonest is None or when < soonest.occurrence):
            soonest = Entry(meeting, when)
    return soonest


def meeting_dates(meeting: Meeting, now: datetime, count: int = 6) -> list[Entry]:
    """The meeting's next few dates (for its page)."""
    start = now - timedelta(minutes=meeting.duration_minutes)  # one on now still counts
    return [Entry(meeting, when)
            for when in recurrence.occurrences(meeting, start, now + timedelta(days=800),
                                               limit=count)]
