"""Meetings: scheduling, changing and cancelling them, replies per date, calendar feed
addresses, and the day-before reminders.

Who may do what comes from `community.policy`: members read meetings and reply; the
group's own moderators and owners schedule, change and cancel them. Welcomers do not
(they greet people; arranging rooms is a moderator's job). Site staff schedule only in
groups they moderate as members, since meetings are group content and staff do not read a
group's content from outside.

Cancelling a meeting is not a moderation act, so it writes no audit entry: the meeting
row keeps when and why, and everyone who said they would go is told.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from community import meeting_text, policy, recurrence
from community.models import (
    Group,
    Meeting,
    MeetingReminder,
    MeetingReply,
    Membership,
    Notification,
    User,
)
from community.services.notifications import notify
from community.text import strip_controls

MIN_MINUTES = 5
MAX_MINUTES = 12 * 60
MAX_CAPACITY = 10_000
NOTICE_AHEAD = (timedelta(hours=24), timedelta(hours=48))  # "the day before"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
ANSWERS = {MeetingReply.Answer.GOING, MeetingReply.Answer.MAYBE, MeetingReply.Answer.NOT_GOING}
TEXT_LIMITS = {"title": 120, "description": 2000, "venue_name": 120, "venue_address": 300,
               "parking": 200, "accessibility_notes": 1000, "online_url": 200}


# --- who may ------------------------------------------------------------------------------


def may_manage_meetings(user: Any, group: Group) -> bool:
    """Schedule, change and cancel: the group's moderators and owners (as members)."""
    return policy.can_moderate(user, group) and policy.is_member(user, group)


def may_reply(user: Any, group: Group) -> bool:
    """Approved members answer; a muted member may still say whether they're coming."""
    return policy.is_member(user, group)


# --- helpers ------------------------------------------------------------------------------


def site_url(path: str) -> str:
    """An absolute address for emails (which have no request to build one from)."""
    try:
        from community.emails import absolute
    except ImportError:  # pragma: no cover - the email module is always there in practice
        base = getattr(settings, "KINDRED_SITE_URL", "") or "http://127.0.0.1:8000"
        return base.rstrip("/") + path
    return absolute(path)


def meeting_url(meeting: Meeting, on: datetime | None = None) -> str:
    url = reverse("groups:meeting", kwargs={"slug": meeting.group.slug,
                                            "meeting_id": meeting.pk})
    if on is not None:
        url += f"?date={meeting_text.local(meeting, on).date().isoformat()}"
    return url


def _meetings_path(group: Group) -> str:
    return reverse("groups:meetings", kwargs={"slug": group.slug})


def _tidy(value: Any, *, multiline: bool = False) -> str:
    text = strip_controls(str(value or ""))
    if multiline:
        return "\n".join(line.rstrip() for line in text.strip().splitlines())
    return " ".join(text.split())


def _wall_clock(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """The instant of this wall-clock time, or None when the clocks skip it that day."""
    naive = datetime.combine(day, at)
    when = naive.replace(tzinfo=zone)
    back = when.astimezone(ZoneInfo("UTC")).astimezone(zone)
    return when if back.replace(tzinfo=None) == naive else None


def _check_url(url: str, errors: dict) -> None:
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors["online_url"] = ("Please give the full link to the call, starting with "
                                "https:// (copy it from your invitation).")
        return
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        errors["online_url"] = ("That link doesn't look right. Please copy the whole link "
                                "to the call, starting with https://")


def _plan(*, date_: Any, start_time: Any, end_time: Any, duration_minutes: Any,
          time_zone: str, recurrence_kind: str, repeat_until: Any, now: datetime,
          keep_first: datetime | None, fields: dict) -> tuple[dict, dict]:
    """Turn what was typed into stored values, or say what is wrong with it (by field)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if not fields["title"]:
        errors["title"] = "Please give the meeting a name, for example “Monthly coffee morning”."
    for name, limit in TEXT_LIMITS.items():
        if len(fields.get(name, "")) > limit and name not in errors:
            errors[name] = f"Please keep this to {limit} characters or fewer."
    _check_url(fields["online_url"], errors)
    if not fields["venue_name"] and not fields["venue_address"] and not fields["online_url"]:
        errors["venue_name"] = ("Please say where the meeting is: a venue, a link to an "
                                "online call, or both.")
    capacity = fields.get("capacity")
    if capacity is not None and not (1 <= capacity <= MAX_CAPACITY):
        errors["capacity"] = (f"Please give a number of places from 1 to {MAX_CAPACITY}, or "
                              "leave it empty if there is no limit.")
    if recurrence_kind not in Meeting.Recurrence.values:
        errors["recurrence"] = "Please choose how often the meeting happens."
    if not recurrence.is_known_zone(time_zone):
        errors["time_zone"] = (f"We don't know the time zone “{time_zone[:40]}”. "
                               "Please choose one from the list.")
    if not isinstance(date_, date):
        errors["date"] = "Please give the date of the (first) meeting."
    if not isinstance(start_time, time):
        errors["start_time"] = "Please give the time the meeting starts, for example 14:00."
    if errors.get("time_zone") or errors.get("date") or errors.get("start_time"):
        return values, errors

    zone = ZoneInfo(time_zone)
    starts_at = _wall_clock(date_, start_time, zone)
    if starts_at is None:
        errors["start_time"] = ("The clocks go forward at that time on that day, so it "
                                "doesn't exist. Please choose a time an hour later or earlier.")
        return values, errors
    if starts_at <= now and starts_at != keep_first:
        errors["date"] = ("That date and time has already passed. Please choose a time in "
                          "the future.")

    if end_time is not None and duration_minutes is not None:
        errors["duration_minutes"] = ("Please give the end time or how long it lasts, not "
                                      "both.")
    elif end_time is not None:
        if end_time <= start_time:
            errors["end_time"] = ("The end time is before the start time. If the meeting "
                                  "goes on past midnight, give how long it lasts instead.")
        else:
            ends = datetime.combine(date_, end_time) - datetime.combine(date_, start_time)
            duration_minutes = int(ends.total_seconds() // 60)
    elif duration_minutes is None:
        errors["end_time"] = "Please give the time the meeting ends, or how long it lasts."
    if duration_minutes is not None and "end_time" not in errors and (
        not MIN_MINUTES <= duration_minutes <= MAX_MINUTES
    ):
        field = "end_time" if end_time is not None else "duration_minutes"
        errors[field] = (f"A meeting can last from {MIN_MINUTES} minutes to "
                         f"{MAX_MINUTES // 60} hours. Please check the times.")

    if recurrence_kind == Meeting.Recurrence.NONE:
        repeat_until = None
    elif recurrence_kind in Meeting.Recurrence.values:
        local_first = starts_at.astimezone(zone)
        if recurrence_kind == Meeting.Recurrence.MONTHLY and (
            recurrence.monthly_week(local_first) == 5
        ):
            errors["recurrence"] = (
                f"{meeting_text.day(local_first)} is the fifth {local_first:%A} of the month, "
                f"and most months don't have a fifth {local_first:%A}. Please choose a first "
                f"date in the first four weeks of a month (for example the first "
                f"{local_first:%A}), or choose “Just once”."
            )
        if repeat_until is not None and repeat_until < local_first.date():
            errors["repeat_until"] = ("The “repeat until” date is before the first meeting. "
                                      "Please choose a later date, or leave it empty to keep "
                                      "repeating.")
        elif repeat_until is not None and "recurrence" not in errors:
            probe = Meeting(starts_at=starts_at, time_zone=time_zone,
                            recurrence=recurrence_kind, repeat_until=repeat_until)
            second = recurrence.occurrences(probe, starts_at + timedelta(minutes=1),
                                            starts_at + timedelta(days=400), limit=1)
            if not second:
                errors["repeat_until"] = (
                    "With this “repeat until” date the meeting only happens once. Choose a "
                    "later date, or choose “Just once”."
                )
    if not errors:
        values = {"starts_at": starts_at, "duration_minutes": duration_minutes,
                  "time_zone": time_zone, "recurrence": recurrence_kind,
                  "repeat_until": repeat_until}
    return values, errors


def _fields(**typed: Any) -> dict:
    return {
        "title": _tidy(typed.get("title")),
        "description": _tidy(typed.get("description"), multiline=True),
        "venue_name": _tidy(typed.get("venue_name")),
        "venue_address": _tidy(typed.get("venue_address"), multiline=True),
        "step_free": bool(typed.get("step_free")),
        "hearing_loop": bool(typed.get("hearing_loop")),
        "parking": _tidy(typed.get("parking")),
        "accessibility_notes": _tidy(typed.get("accessibility_notes"), multiline=True),
        "online_url": _tidy(typed.get("online_url")),
        "capacity": typed.get("capacity"),
    }


# --- scheduling -----------------------------------------------------------------------------


def schedule_meeting(
    *,
    actor: User,
    group: Group,
    title: str,
    date: date | None,
    start_time: time | None,
    end_time: time | None = None,
    duration_minutes: int | None = None,
    time_zone: str = recurrence.DEFAULT_ZONE,
    recurrence: str = Meeting.Recurrence.NONE,
    repeat_until: date | None = None,
    description: str = "",
    venue_name: str = "",
    venue_address: str = "",
    step_free: bool = False,
    hearing_loop: bool = False,
    parking: str = "",
    accessibility_notes: str = "",
    online_url: str = "",
    capacity: int | None = None,
    now: datetime | None = None,
) -> Meeting:
    """Put a meeting (or a series) in the group's diary and tell the members, in-app."""
    policy.require(may_manage_meetings(actor, group))
    now = now or timezone.now()
    fields = _fields(title=title, description=description, venue_name=venue_name,
                     venue_address=venue_address, step_free=step_free,
                     hearing_loop=hearing_loop, parking=parking,
                     accessibility_notes=accessibility_notes, online_url=online_url,
                     capacity=capacity)
    plan, errors = _plan(date_=date, start_time=start_time, end_time=end_time,
                         duration_minutes=duration_minutes, time_zone=time_zone,
                         recurrence_kind=recurrence, repeat_until=repeat_until, now=now,
                         keep_first=None, fields=fields)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        meeting = Meeting.objects.create(group=group, created_by=actor, created_at=now,
                                         **fields, **plan)
        _announce(meeting, actor)
    return meeting


def _announce(meeting: Meeting, actor: User) -> None:
    """An in-app note (no email) to every other member: a new date is in the diary."""
    first = meeting.starts_at
    text = (f"New meeting in {meeting.group.name}: “{meeting.title}”, "
            f"{meeting_text.day(meeting_text.local(meeting, first))}.")
    members = User.objects.filter(
        memberships__group=meeting.group, memberships__status=Membership.Status.APPROVED,
        is_active=True,
    ).exclude(pk=actor.pk)
    url = meeting_url(meeting)
    for member in members:
        notify(user=member, kind=Notification.Kind.MEETING_NEW, text=text, url=url,
               group=meeting.group)


def edit_meeting(
    *,
    actor: User,
    meeting: Meeting,
    title: str,
    date: date | None,
    start_time: time | None,
    end_time: time | None = None,
    duration_minutes: int | None = None,
    time_zone: str = recurrence.DEFAULT_ZONE,
    recurrence: str = Meeting.Recurrence.NONE,
    repeat_until: date | None = None,
    description: str = "",
    venue_name: str = "",
    venue_address: str = "",
    step_free: bool = False,
    hearing_loop: bool = False,
    parking: str = "",
    accessibility_notes: str = "",
    online_url: str = "",
    capacity: int | None = None,
    now: datetime | None = None,
) -> Meeting:
    """Change a meeting. A series that has already begun keeps its first date (which is in
    the past) without complaint; a new first date must be in the future.

    Replies belong to a date: if the day or time changes, answers for the old times no
    longer match a date and are no longer shown.
    """
    policy.require(may_manage_meetings(actor, meeting.group))
    now = now or timezone.now()
    if meeting.is_cancelled:
        raise ValidationError("This meeting has been cancelled, so it can't be changed. "
                              "Schedule a new one instead.")
    fields = _fields(title=title, description=description, venue_name=venue_name,
                     venue_address=venue_address, step_free=step_free,
                     hearing_loop=hearing_loop, parking=parking,
                     accessibility_notes=accessibility_notes, online_url=online_url,
                     capacity=capacity)
    plan, errors = _plan(date_=date, start_time=start_time, end_time=end_time,
                         duration_minutes=duration_minutes, time_zone=time_zone,
                         recurrence_kind=recurrence, repeat_until=repeat_until, now=now,
                         keep_first=meeting.starts_at, fields=fields)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = Meeting.objects.select_for_update().get(pk=meeting.pk)
        for name, value in {**fields, **plan}.items():
            setattr(locked, name, value)
        locked.save()
    return locked


def cancel_meeting(*, actor: User, meeting: Meeting, reason: str,
                   now: datetime | None = None) -> Meeting:
    """Cancel the whole series, and tell everyone who said they'd go (or might) to a date
    still to come: in-app, and by email as each person chose."""
    policy.require(may_manage_meetings(actor, meeting.group))
    now = now or timezone.now()
    reason = _tidy(reason)
    if not reason:
        raise ValidationError({"reason": "Please say why, in a few words. Members who were "
                                         "coming will see it."})
    if len(reason) > 300:
        raise ValidationError({"reason": "Please keep the reason to 300 characters or fewer."})
    with transaction.atomic():
        locked = Meeting.objects.select_for_update().select_related("group").get(
            pk=meeting.pk)
        if locked.is_cancelled:
            return locked
        locked.cancelled_at = now
        locked.cancel_reason = reason
        locked.save(update_fields=["cancelled_at", "cancel_reason"])
        group = locked.group
        people = User.objects.filter(
            pk__in=MeetingReply.objects.filter(
                meeting=locked, occurrence__gte=now,
                answer__in=[MeetingReply.Answer.GOING, MeetingReply.Answer.MAYBE],
            ).values("user_id"),
            memberships__group=group, memberships__status=Membership.Status.APPROVED,
            is_active=True,
        ).exclude(pk=actor.pk).distinct()
        how_often = recurrence.describe(locked)
        text = f"“{locked.title}” in {group.name} is cancelled: {reason}"
        body = (
            f"Sorry: the meeting “{locked.title}” in {group.name} has been cancelled.\n\n"
            f"It was: {how_often}, starting "
            f"{meeting_text.when_text(locked, locked.starts_at)}.\n"
            + ("This means every date still to come is off.\n" if how_often != "Just once"
               else "")
            + f"\nThe reason the organisers gave: {reason}\n\n"
            "You're getting this because you said you would (or might) go. "
            f"See the group's other meetings: {site_url(_meetings_path(group))}\n"
        )
        for person in people:
            notify(user=person, kind=Notification.Kind.MEETING_CANCELLED, text=text,
                   url=meeting_url(locked), group=group,
                   email_subject=f"Cancelled: {locked.title}", email_body=body)
    return locked


# --- replies ------------------------------------------------------------------------------


def going_count(meeting: Meeting, occurrence: datetime) -> int:
    """Places taken on a date: people who have since left the group don't hold one."""
    from community.selectors_meetings import current_replies

    return current_replies([meeting.pk]).filter(occurrence=occurrence,
                                                answer=MeetingReply.Answer.GOING).count()


def reply(*, actor: User, meeting: Meeting, occurrence: datetime, answer: str,
          now: datetime | None = None) -> MeetingReply:
    """Going, maybe or can't, for one date. When a date is full, "going" is refused and
    "maybe" still works."""
    group = meeting.group
    policy.require(may_reply(actor, group))
    now = now or timezone.now()
    if answer not in ANSWERS:
        raise ValidationError({"answer": "Please choose going, maybe or can't make it."})
    if meeting.is_cancelled:
        raise ValidationError("This meeting has been cancelled, so there is nothing to "
                              "answer.")
    if not recurrence.is_occurrence(meeting, occurrence):
        raise ValidationError("The meeting doesn't happen on that date. Please choose one of "
                              "the dates listed.")
    if occurrence + timedelta(minutes=meeting.duration_minutes) <= now:
        raise ValidationError("That date has already passed.")
    with transaction.atomic():
        # One reply at a time per meeting, so two people can't both take the last place.
        locked = Meeting.objects.select_for_update().get(pk=meeting.pk)
        mine = MeetingReply.objects.filter(meeting=locked, user=actor,
                                           occurrence=occurrence).first()
        if answer == MeetingReply.Answer.GOING and locked.capacity is not None and (
            mine is None or mine.answer != MeetingReply.Answer.GOING
        ) and going_count(locked, occurrence) >= locked.capacity:
            raise ValidationError({"answer": (
                f"Sorry, all {locked.capacity} places for this date are taken. You can "
                "answer “Maybe” instead, and look again nearer the time in case a place "
                "comes free."
            )})
        if mine is None:
            mine = MeetingReply.objects.create(meeting=locked, user=actor,
                                               occurrence=occurrence, answer=answer,
                                               updated_at=now)
        else:
            mine.answer = answer
            mine.updated_at = now
            mine.save(update_fields=["answer", "updated_at"])
    return mine


# --- calendar feed addresses ----------------------------------------------------------------


def issue_calendar_token(*, actor: User, group: Group) -> str:
    """Give the member a private calendar feed address for the group, replacing any old
    one (so "make a new address" also switches the old one off)."""
    policy.require(policy.is_member(actor, group))
    token = secrets.token_urlsafe(32)
    Membership.objects.filter(user=actor, group=group,
                              status=Membership.Status.APPROVED).update(calendar_token=token)
    policy.forget_memberships(actor)
    return token


def stop_calendar_token(*, actor: User, group: Group) -> None:
    policy.require(policy.is_member(actor, group))
    Membership.objects.filter(user=actor, group=group).update(calendar_token=None)
    policy.forget_memberships(actor)


def membership_for_token(token: str) -> Membership | None:
    """The approved membership this feed address belongs to, or None for a wrong,
    replaced or switched-off address, or a person who is no longer in the group."""
    if not token or not TOKEN_PATTERN.match(token):
        return None
    row = (Membership.objects.select_related("user", "group")
           .filter(calendar_token=token).first())
    if row is None or not row.calendar_token:
        return None
    if not hmac.compare_digest(row.calendar_token.encode(), token.encode()):
        return None
    if not policy.can_read_content(row.user, row.group):
        return None
    return row


# --- reminders ------------------------------------------------------------------------------


def _reminder_candidates(window_start: datetime, window_end: datetime) -> QuerySet[Meeting]:
    from django.db.models import Q

    still_running = Q(repeat_until__isnull=True) | Q(
        repeat_until__gte=(window_start - timedelta(days=1)).date())
    return (
        Meeting.objects.select_related("group")
        .filter(cancelled_at__isnull=True, group__status=Group.Status.ACTIVE,
                starts_at__lt=window_end)
        .filter(Q(starts_at__gte=window_start) |
                (~Q(recurrence=Meeting.Recurrence.NONE) & still_running))
    )


def reminder_text(meeting: Meeting, occurrence: datetime) -> tuple[str, str]:
    """The notification line and the plain-text email for one date."""
    group = meeting.group
    when = meeting_text.when_text(meeting, occurrence)
    text = (f"Tomorrow: “{meeting.title}” ({group.name}), "
            f"{meeting_text.times(meeting, occurrence)}.")
    lines = [f"A reminder: “{meeting.title}” ({group.name}) is coming up.", "",
             f"When: {when}"]
    if meeting.venue_name or meeting.venue_address:
        place = ", ".join(part for part in (meeting.venue_name,
                                            meeting.venue_address.replace("\n", ", ")) if part)
        lines.append(f"Where: {place}")
    if meeting.online_url:
        lines.append(f"Online call: {meeting.online_url}")
    access = meeting_text.access_lines(meeting)
    if access:
        lines += ["", "Getting in:"] + [f"- {line}" for line in access]
    link = site_url(meeting_url(meeting, occurrence))
    lines += ["", f"See the meeting, or change your answer: {link}",
              "", "You're getting this because you said you would (or might) go."]
    return text, "\n".join(lines)


def remind_meetings(now: datetime) -> int:
    """Scheduler job: the day before each date, remind everyone who said going or maybe.

    Each date is reminded once (a MeetingReminder row). Membership is checked now, at
    sending time, so nobody who has left hears about the group again. Returns how many
    people were reminded.
    """
    window_start, window_end = now + NOTICE_AHEAD[0], now + NOTICE_AHEAD[1]
    sent = 0
    for meeting in _reminder_candidates(window_start, window_end):
        for occurrence in recurrence.occurrences(meeting, window_start, window_end, limit=3):
            try:
                with transaction.atomic():
                    _, created = MeetingReminder.objects.get_or_create(
                        meeting=meeting, occurrence=occurrence, defaults={"sent_at": now})
                    if created:
                        sent += _send_reminders(meeting, occurrence)
            except IntegrityError:  # another worker got there first
                continue
    return sent


def _send_reminders(meeting: Meeting, occurrence: datetime) -> int:
    people = User.objects.filter(
        is_active=True,
        meeting_replies__meeting=meeting, meeting_replies__occurrence=occurrence,
        meeting_replies__answer__in=[MeetingReply.Answer.GOING, MeetingReply.Answer.MAYBE],
        memberships__group=meeting.group, memberships__status=Membership.Status.APPROVED,
    ).distinct()
    text, body = reminder_text(meeting, occurrence)
    count = 0
    for person in people:
        if not policy.can_read_content(person, meeting.group):
            continue
        notify(user=person, kind=Notification.Kind.MEETING_REMINDER, text=text,
               url=meeting_url(meeting, occurrence), group=meeting.group,
               email_subject=f"Tomorrow: {meeting.title}", email_body=body)
        count += 1
    return count
