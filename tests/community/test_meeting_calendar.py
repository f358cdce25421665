"""Calendar files: one meeting (members only) and a member's private feed (by token)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from community.models import Group, Meeting, Membership
from community.services import meetings as service

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def group(make_group):
    return make_group(Group.Privacy.APPROVAL)


@pytest.fixture
def people(group, people_in):
    return people_in(group)


def first_tuesday_after(day: date) -> date:
    """The first Tuesday of the month after `day`'s month."""
    next_month = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return next_month + timedelta(days=(1 - next_month.weekday()) % 7)


@pytest.fixture
def monthly(group, people):
    return service.schedule_meeting(
        actor=people["owner"], group=group, title="Breathe Easy monthly meeting",
        date=first_tuesday_after(timezone.now().date()), start_time=time(14, 0),
        duration_minutes=120, recurrence="monthly", venue_name="Hillhead Library",
        venue_address="348 Byres Road, Glasgow", step_free=True, hearing_loop=True,
        accessibility_notes="Lift to the first floor.")


def ics_url(meeting: Meeting) -> str:
    return reverse("groups:meeting_ics", kwargs={"slug": meeting.group.slug,
                                                 "meeting_id": meeting.pk})


def only_event(body: bytes):
    cal = Calendar.from_ical(body)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


def test_meeting_file_parses_back_with_summary_zone_and_monthly_rule(client, monthly, people):
    client.force_login(people["member"])
    response = client.get(ics_url(monthly))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert "no-store" in response["Cache-Control"]
    cal, event = only_event(response.content)
    assert str(event["SUMMARY"]) == "Breathe Easy monthly meeting"
    start = event.decoded("DTSTART")
    assert start == monthly.starts_at
    assert (start.hour, getattr(start.tzinfo, "key", None)) == (14, "Europe/London")
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.decoded("DTEND") - start == timedelta(hours=2)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/London"]
    rule = event["RRULE"]
    assert rule["FREQ"] == ["MONTHLY"] and rule["INTERVAL"] == [1]
    assert [str(day) for day in rule["BYDAY"]] == ["1TU"]
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["UID"]) == f"meeting-{monthly.pk}@kindred"
    assert "Hillhead Library" in str(event["LOCATION"])
    description = str(event["DESCRIPTION"])
    assert "Step-free access: yes" in description and "Lift to the first floor" in description
    # nobody's name or answer is in it
    assert people["member"].display_name not in response.content.decode()


def test_fortnightly_and_weekly_rules_with_an_end(group, people):
    day = timezone.now().date() + timedelta(days=5)
    fortnightly = service.schedule_meeting(
        actor=people["owner"], group=group, title="Online call", date=day,
        start_time=time(19, 0), end_time=time(20, 0), recurrence="fortnightly",
        repeat_until=day + timedelta(days=70), online_url="https://meet.example.org/abc")
    event = only_event(_file(fortnightly, people))[1]
    rule = event["RRULE"]
    weekday = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[day.weekday()]
    assert (rule["FREQ"], rule["INTERVAL"], [str(d) for d in rule["BYDAY"]]) == (
        ["WEEKLY"], [2], [weekday])
    until = rule["UNTIL"][0]
    assert until.tzinfo is not None and until.utcoffset() == timedelta(0)
    assert until.astimezone(LONDON).date() == day + timedelta(days=70)
    assert "meet.example.org" in str(event["LOCATION"])


def _file(meeting, people) -> bytes:
    from django.test import Client

    client = Client()
    client.force_login(people["member"])
    return client.get(ics_url(meeting)).content


def test_one_off_meeting_has_no_rule(group, people):
    meeting = service.schedule_meeting(
        actor=people["owner"], group=group, title="Christmas lunch",
        date=timezone.now().date() + timedelta(days=20), start_time=time(12, 30),
        end_time=time(15, 0), venue_name="The Ubiquitous Chip")
    event = only_event(_file(meeting, people))[1]
    assert "RRULE" not in event
    assert event.decoded("DTSTART").astimezone(LONDON).time() == time(12, 30)


def test_cancelled_meeting_file_says_cancelled(client, monthly, people):
    service.cancel_meeting(actor=people["owner"], meeting=monthly, reason="Venue closed")
    client.force_login(people["member"])
    event = only_event(client.get(ics_url(monthly)).content)[1]
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == f"meeting-{monthly.pk}@kindred"  # the same event, updated
    assert "Venue closed" in str(event["DESCRIPTION"])


@pytest.mark.parametrize(("role", "status"), [
    ("member", 200), ("muted", 200), ("owner", 200), ("anonymous", 404), ("outsider", 404),
    ("pending", 404), ("banned", 404), ("ex_member", 404), ("staff", 404),
])
def test_meeting_file_is_for_members_only(client, monthly, people, role, status):
    if people[role] is not None:
        client.force_login(people[role])
    assert client.get(ics_url(monthly)).status_code == status


# --- the private feed -----------------------------------------------------------------------


def subscribe(client, person, group, action: str = "subscribe") -> str | None:
    client.force_login(person)
    response = client.post(reverse("groups:meeting_calendar", kwargs={"slug": group.slug}),
                           {"action": action})
    assert response.status_code == 302
    return Membership.objects.get(user=person, group=group).calendar_token


def feed_url(token: str) -> str:
    return reverse("calendar_feed", kwargs={"token": token})


def test_subscribing_makes_a_long_private_address_shown_on_the_meetings_page(
    client, monthly, people
):
    group = monthly.group
    page = client.get(reverse("groups:meetings", kwargs={"slug": group.slug}))
    assert page.status_code == 302  # anonymous: log in first
    client.force_login(people["member"])
    body = client.get(reverse("groups:meetings", kwargs={"slug": group.slug})).content.decode()
    assert "Subscribe to this group's meetings" in body
    token = subscribe(client, people["member"], group)
    assert token is not None and len(token) >= 40
    body = client.get(reverse("groups:meetings", kwargs={"slug": group.slug})).content.decode()
    assert feed_url(token) in body and "Make a new address" in body


def test_feed_needs_no_login_and_lists_the_groups_meetings(client, monthly, people, group):
    other = service.schedule_meeting(
        actor=people["owner"], group=group, title="Summer picnic",
        date=timezone.now().date() + timedelta(days=40), start_time=time(12, 0),
        end_time=time(14, 0), venue_name="Kelvingrove Park")
    token = subscribe(client, people["member"], group)
    client.logout()
    response = client.get(feed_url(token))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Cache-Control"] == "private, no-store"
    assert "noindex" in response["X-Robots-Tag"]
    cal = Calendar.from_ical(response.content)
    assert sorted(str(e["SUMMARY"]) for e in cal.walk("VEVENT")) == sorted(
        [monthly.title, other.title])
    assert str(cal["X-WR-CALNAME"]) == f"{group.name} meetings"


def test_cancelled_meetings_stay_in_the_feed_marked_cancelled(client, monthly, people, group):
    token = subscribe(client, people["member"], group)
    service.cancel_meeting(actor=people["owner"], meeting=monthly, reason="Venue closed")
    cal = Calendar.from_ical(client.get(feed_url(token)).content)
    assert [str(e["STATUS"]) for e in cal.walk("VEVENT")] == ["CANCELLED"]


def test_wrong_token_is_404(client, monthly, people, group):
    subscribe(client, people["member"], group)
    for token in ("not-a-real-token-at-all-0000", "x" * 43, "short", "a" * 200):
        assert client.get(feed_url(token)).status_code == 404


def test_a_new_address_switches_the_old_one_off(client, monthly, people, group):
    old = subscribe(client, people["member"], group)
    new = subscribe(client, people["member"], group, "renew")
    assert new != old
    assert client.get(feed_url(old)).status_code == 404
    assert client.get(feed_url(new)).status_code == 200
    assert subscribe(client, people["member"], group, "stop") is None
    assert client.get(feed_url(new)).status_code == 404


@pytest.mark.parametrize("status", ["left", "removed", "banned"])
def test_feed_of_someone_no_longer_in_the_group_is_404(client, monthly, people, group,
                                                       status):
    token = subscribe(client, people["member"], group)
    Membership.objects.filter(user=people["member"], group=group).update(status=status)
    assert client.get(feed_url(token)).status_code == 404


def test_feed_of_a_deactivated_account_is_404(client, monthly, people, group):
    token = subscribe(client, people["member"], group)
    people["member"].is_active = False
    people["member"].save()
    assert client.get(feed_url(token)).status_code == 404


def test_non_members_cannot_get_an_address(client, monthly, people, group):
    for role in ("outsider", "pending", "banned"):
        client.force_login(people[role])
        response = client.post(reverse("groups:meeting_calendar", kwargs={"slug": group.slug}),
                               {"action": "subscribe"})
        assert response.status_code == 404
    assert not Membership.objects.filter(group=group, calendar_token__isnull=False).exists()


def test_dst_meeting_in_the_feed_keeps_its_wall_clock(group, people):
    meeting = Meeting.objects.create(
        group=group, title="Autumn evenings", recurrence="weekly", venue_name="Hall",
        starts_at=datetime(2026, 10, 13, 19, tzinfo=LONDON), duration_minutes=60,
        created_at=timezone.now())
    event = only_event(_file(meeting, people))[1]
    assert event["DTSTART"].to_ical() == b"20261013T190000"
    assert event["DTSTART"].params["TZID"] == "Europe/London"
