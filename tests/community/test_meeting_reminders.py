"""The day-before reminder: a scheduler job driven here with a fixed clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from community.models import Group, Meeting, MeetingReminder, MeetingReply, Membership, Notification
from community.scheduler import JOBS
from community.services.meetings import remind_meetings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LONDON = ZoneInfo("Europe/London")
STARTS = datetime(2030, 3, 5, 14, 0, tzinfo=LONDON)  # a Tuesday, 2pm


@pytest.fixture
def group(make_group):
    return make_group(Group.Privacy.APPROVAL)


@pytest.fixture
def people(group, people_in):
    return people_in(group)


@pytest.fixture
def meeting(group, people):
    return Meeting.objects.create(
        group=group, title="Breathe Easy", starts_at=STARTS, duration_minutes=90,
        recurrence="monthly", venue_name="Hillhead Library",
        venue_address="348 Byres Road\nGlasgow", step_free=True, hearing_loop=True,
        parking="Pay and display on Byres Road", accessibility_notes="Lift to floor 1.",
        created_by=people["owner"])


def answer(meeting, person, reply: str, when: datetime = STARTS) -> None:
    MeetingReply.objects.create(meeting=meeting, user=person, occurrence=when, answer=reply)


def run(now, capture) -> int:
    with capture(execute=True):
        return remind_meetings(now)


def reminded(kind=Notification.Kind.MEETING_REMINDER) -> set[int]:
    return set(Notification.objects.filter(kind=kind).values_list("user_id", flat=True))


def test_the_job_is_in_the_scheduler():
    assert remind_meetings in [job.run for job in JOBS]


def test_47_hours_before_going_and_maybe_are_reminded_once_with_an_email(
    meeting, people, django_capture_on_commit_callbacks
):
    answer(meeting, people["member"], "going")
    answer(meeting, people["muted"], "maybe")
    answer(meeting, people["welcomer"], "not_going")
    now = STARTS - timedelta(hours=47)
    assert run(now, django_capture_on_commit_callbacks) == 2
    assert reminded() == {people["member"].pk, people["muted"].pk}
    assert MeetingReminder.objects.filter(meeting=meeting, occurrence=STARTS).count() == 1
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [people["member"].email, people["muted"].email])
    body = mail.outbox[0].body
    for words in ("Breathe Easy", "Tuesday 5 March 2030", "2pm to 3:30pm", "UK time",
                  "Europe/London", "Hillhead Library", "348 Byres Road",
                  "Step-free access: yes", "Hearing loop: yes", "Pay and display",
                  "Lift to floor 1.", f"/groups/{meeting.group.slug}/meetings/{meeting.pk}/"):
        assert words in body, words
    # run again (and a little later): nobody is reminded twice
    assert run(now, django_capture_on_commit_callbacks) == 0
    assert run(now + timedelta(minutes=15), django_capture_on_commit_callbacks) == 0
    assert Notification.objects.filter(kind=Notification.Kind.MEETING_REMINDER).count() == 2
    assert len(mail.outbox) == 2


def test_50_hours_before_is_too_early(meeting, people, django_capture_on_commit_callbacks):
    answer(meeting, people["member"], "going")
    assert run(STARTS - timedelta(hours=50), django_capture_on_commit_callbacks) == 0
    assert not MeetingReminder.objects.exists()
    assert mail.outbox == []


def test_less_than_a_day_before_is_too_late(meeting, people,
                                            django_capture_on_commit_callbacks):
    answer(meeting, people["member"], "going")
    assert run(STARTS - timedelta(hours=20), django_capture_on_commit_callbacks) == 0


def test_cancelled_meetings_never_remind(meeting, people, django_capture_on_commit_callbacks):
    answer(meeting, people["member"], "going")
    Meeting.objects.filter(pk=meeting.pk).update(cancelled_at=STARTS - timedelta(days=5),
                                                 cancel_reason="Closed")
    assert run(STARTS - timedelta(hours=47), django_capture_on_commit_callbacks) == 0
    assert reminded() == set() and mail.outbox == []


@pytest.mark.parametrize("status", ["left", "removed", "banned"])
def test_people_no_longer_in_the_group_are_not_reminded(
    meeting, people, status, django_capture_on_commit_callbacks
):
    answer(meeting, people["member"], "going")
    answer(meeting, people["welcomer"], "going")
    Membership.objects.filter(user=people["welcomer"], group=meeting.group).update(
        status=status)
    assert run(STARTS - timedelta(hours=47), django_capture_on_commit_callbacks) == 1
    assert reminded() == {people["member"].pk}
    assert [m.to[0] for m in mail.outbox] == [people["member"].email]


def test_a_later_date_of_a_series_is_reminded_for_its_own_replies(
    meeting, people, django_capture_on_commit_callbacks
):
    april = datetime(2030, 4, 2, 14, 0, tzinfo=LONDON)  # the first Tuesday of April
    answer(meeting, people["member"], "going")  # March only
    answer(meeting, people["muted"], "going", april)
    assert run(april - timedelta(hours=30), django_capture_on_commit_callbacks) == 1
    assert reminded() == {people["muted"].pk}
    assert "Tuesday 2 April 2030" in mail.outbox[0].body
    assert "(BST" in mail.outbox[0].body  # the clocks have gone forward by April


def test_group_emails_turned_off_means_in_app_only(meeting, people,
                                                   django_capture_on_commit_callbacks):
    answer(meeting, people["member"], "going")
    Membership.objects.filter(user=people["member"], group=meeting.group).update(
        email_notifications="off")
    assert run(STARTS - timedelta(hours=47), django_capture_on_commit_callbacks) == 1
    assert reminded() == {people["member"].pk}
    assert mail.outbox == []
