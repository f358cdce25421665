"""Meetings: scheduling and its checks, answers per date, places, cancelling, and pages."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from community import recurrence
from community.models import Group, Meeting, MeetingReply, Membership, Notification
from community.services import meetings as service
from tests.conftest import add_membership

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def group(make_group):
    return make_group(Group.Privacy.APPROVAL)


@pytest.fixture
def people(group, people_in):
    return people_in(group)


def soon(days: int = 10) -> date:
    return (timezone.now() + timedelta(days=days)).astimezone(LONDON).date()


def typed(**changes) -> dict:
    """What a founder types on the form, as the service takes it."""
    fields = {
        "title": "Coffee and a chat", "date": soon(), "start_time": time(14, 0),
        "end_time": time(15, 30), "time_zone": "Europe/London", "recurrence": "none",
        "venue_name": "St Mary's Church Hall", "venue_address": "1 Byres Road\nGlasgow",
        "step_free": True, "hearing_loop": True, "parking": "Two blue badge spaces",
        "accessibility_notes": "Accessible toilet by the entrance.",
    }
    fields.update(changes)
    return fields


def schedule(actor, group, **changes) -> Meeting:
    return service.schedule_meeting(actor=actor, group=group, **typed(**changes))


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


# --- scheduling ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "moderator"])
def test_owners_and_moderators_schedule_and_members_are_told_in_app_only(
    group, people, role, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        meeting = schedule(people[role], group)
    assert meeting.starts_at == datetime.combine(soon(), time(14), tzinfo=LONDON)
    assert meeting.duration_minutes == 90
    assert (meeting.step_free, meeting.hearing_loop, meeting.created_by) == (
        True, True, people[role])
    told = set(Notification.objects.filter(kind=Notification.Kind.MEETING_NEW)
               .values_list("user_id", flat=True))
    members = {people[r].pk for r in ("member", "muted", "welcomer", "moderator", "owner")}
    assert told == members - {people[role].pk}
    assert mail.outbox == []  # new meetings are in-app only


@pytest.mark.parametrize("role", ["welcomer", "member", "muted", "outsider", "pending",
                                  "banned", "ex_member", "staff", "anonymous"])
def test_others_may_not_schedule_and_nothing_is_made(group, people, role):
    with pytest.raises(Http404):
        schedule(people[role], group)
    assert not Meeting.objects.exists()
    assert not Notification.objects.filter(kind=Notification.Kind.MEETING_NEW).exists()


def test_duration_instead_of_end_time(group, people):
    meeting = schedule(people["owner"], group, end_time=None, duration_minutes=120)
    assert meeting.duration_minutes == 120


BAD_INPUT = [
    pytest.param({"date": date(2020, 1, 7)}, "date", "already passed", id="past"),
    pytest.param({"end_time": time(13, 0)}, "end_time", "before the start time",
                 id="end-before-start"),
    pytest.param({"end_time": time(14, 0)}, "end_time", "before the start time",
                 id="end-equals-start"),
    pytest.param({"end_time": None}, "end_time", "how long it lasts", id="no-end"),
    pytest.param({"duration_minutes": 60}, "duration_minutes", "not both", id="both"),
    pytest.param({"end_time": None, "duration_minutes": 2}, "duration_minutes",
                 "5 minutes to 12 hours", id="too-short"),
    pytest.param({"end_time": None, "duration_minutes": 1000}, "duration_minutes",
                 "5 minutes to 12 hours", id="too-long"),
    pytest.param({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "don't know the time zone",
                 id="unknown-zone"),
    pytest.param({"online_url": "javascript:alert(1)"}, "online_url", "starting with https",
                 id="script-url"),
    pytest.param({"online_url": "zoom.us/j/123"}, "online_url", "starting with https",
                 id="no-scheme"),
    pytest.param({"online_url": "https://exa mple.org/x"}, "online_url",
                 "doesn't look right", id="broken-url"),
    pytest.param({"venue_name": "", "venue_address": "", "online_url": ""}, "venue_name",
                 "where the meeting is", id="nowhere"),
    pytest.param({"title": "   "}, "title", "name", id="no-title"),
    pytest.param({"capacity": 0}, "capacity", "from 1", id="no-places"),
    pytest.param({"recurrence": "daily"}, "recurrence", "how often", id="unknown-repeat"),
    pytest.param({"recurrence": "weekly", "repeat_until": soon(3)}, "repeat_until",
                 "before the first meeting", id="until-before-first"),
    pytest.param({"recurrence": "weekly", "repeat_until": soon(12)}, "repeat_until",
                 "only happens once", id="until-leaves-one-date"),
]


@pytest.mark.parametrize(("changes", "field", "words"), BAD_INPUT)
def test_bad_input_is_refused_by_field_with_a_plain_message(group, people, changes, field,
                                                            words):
    with pytest.raises(ValidationError) as excinfo:
        schedule(people["owner"], group, **changes)
    errors = errors_of(excinfo)
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert not Meeting.objects.exists()


def _fifth_tuesday_after(today: date) -> date:
    day = today + timedelta(days=1)
    while not (day.weekday() == 1 and day.day > 28):
        day += timedelta(days=1)
    return day


def test_monthly_on_a_fifth_weekday_is_explained(group, people):
    fifth = _fifth_tuesday_after(timezone.now().date() + timedelta(days=1))
    with pytest.raises(ValidationError) as excinfo:
        schedule(people["owner"], group, date=fifth, recurrence="monthly")
    message = " ".join(errors_of(excinfo)["recurrence"])
    assert "fifth Tuesday" in message and "first four weeks" in message
    # the same date, once, is fine
    assert schedule(people["owner"], group, date=fifth).recurrence == "none"


def test_a_time_the_clocks_skip_is_explained(group, people):
    # 01:30 does not exist in the UK on the day the clocks go forward.
    year = timezone.now().year + 1
    march_31 = date(year, 3, 31)
    gap_day = march_31 - timedelta(days=(march_31.weekday() - 6) % 7)  # last Sunday
    with pytest.raises(ValidationError) as excinfo:
        schedule(people["owner"], group, date=gap_day, start_time=time(1, 30),
                 end_time=time(3, 30))
    assert "clocks go forward" in " ".join(errors_of(excinfo)["start_time"])


def test_monthly_meeting_is_stored_with_its_rule_and_zone(group, people):
    meeting = schedule(people["owner"], group, recurrence="monthly",
                       time_zone="America/New_York", repeat_until=soon(200))
    assert meeting.starts_at.astimezone(ZoneInfo("America/New_York")).hour == 14
    assert meeting.recurrence == "monthly" and meeting.repeat_until == soon(200)


def test_edit_keeps_a_running_series_first_date_and_changes_the_rest(group, people):
    started = timezone.now() - timedelta(days=15)
    meeting = Meeting.objects.create(group=group, title="Weekly walk", starts_at=started,
                                     recurrence="weekly", venue_name="The park gates")
    local = started.astimezone(LONDON)
    changed = service.edit_meeting(
        actor=people["moderator"], meeting=meeting,
        **typed(title="Weekly walk (new meeting point)", date=local.date(),
                start_time=local.time(), end_time=None, duration_minutes=60,
                recurrence="weekly", venue_name="The café"))
    assert changed.starts_at == started and changed.venue_name == "The café"
    # moving a series to a new date in the past is refused
    with pytest.raises(ValidationError) as excinfo:
        service.edit_meeting(actor=people["owner"], meeting=changed,
                             **typed(date=local.date() - timedelta(days=1),
                                     recurrence="weekly"))
    assert "date" in errors_of(excinfo)
    with pytest.raises(Http404):
        service.edit_meeting(actor=people["welcomer"], meeting=changed, **typed())


# --- answers per date ---------------------------------------------------------------------


@pytest.fixture
def weekly(group, people):
    return schedule(people["owner"], group, recurrence="weekly", capacity=2)


def dates_of(meeting: Meeting, count: int = 3) -> list[datetime]:
    return recurrence.occurrences(meeting, timezone.now(),
                                  timezone.now() + timedelta(days=60), limit=count)


def test_replies_are_per_date_and_can_be_changed(weekly, people):
    first, second, _third = dates_of(weekly)
    member = people["member"]
    service.reply(actor=member, meeting=weekly, occurrence=first, answer="going")
    service.reply(actor=member, meeting=weekly, occurrence=second, answer="not_going")
    service.reply(actor=member, meeting=weekly, occurrence=first, answer="maybe")
    rows = dict(MeetingReply.objects.filter(user=member).values_list("occurrence", "answer"))
    assert rows == {first: "maybe", second: "not_going"}


def test_muted_members_may_still_say_if_they_are_coming(weekly, people):
    first = dates_of(weekly)[0]
    service.reply(actor=people["muted"], meeting=weekly, occurrence=first, answer="going")
    assert MeetingReply.objects.filter(user=people["muted"]).count() == 1


@pytest.mark.parametrize("role", ["outsider", "pending", "declined", "banned", "ex_member",
                                  "staff", "anonymous"])
def test_only_members_reply(weekly, people, role):
    with pytest.raises(Http404):
        service.reply(actor=people[role], meeting=weekly, occurrence=dates_of(weekly)[0],
                      answer="going")
    assert not MeetingReply.objects.exists()


def test_reply_to_a_date_the_meeting_does_not_have_or_that_passed(weekly, people):
    first = dates_of(weekly)[0]
    with pytest.raises(ValidationError, match="doesn't happen on that date"):
        service.reply(actor=people["member"], meeting=weekly,
                      occurrence=first + timedelta(days=1), answer="going")
    with pytest.raises(ValidationError, match="already passed"):
        service.reply(actor=people["member"], meeting=weekly, occurrence=first,
                      answer="going", now=first + timedelta(hours=3))
    with pytest.raises(ValidationError):
        service.reply(actor=people["member"], meeting=weekly, occurrence=first, answer="yes")
    assert not MeetingReply.objects.exists()


def test_when_a_date_is_full_going_is_refused_and_maybe_still_works(weekly, people):
    first, second = dates_of(weekly, 2)
    for role in ("member", "welcomer"):
        service.reply(actor=people[role], meeting=weekly, occurrence=first, answer="going")
    with pytest.raises(ValidationError) as excinfo:
        service.reply(actor=people["muted"], meeting=weekly, occurrence=first, answer="going")
    assert "all 2 places for this date are taken" in " ".join(excinfo.value.messages)
    assert "Maybe" in " ".join(excinfo.value.messages)
    service.reply(actor=people["muted"], meeting=weekly, occurrence=first, answer="maybe")
    # someone already going can answer going again; another date has its own places
    service.reply(actor=people["member"], meeting=weekly, occurrence=first, answer="going")
    service.reply(actor=people["muted"], meeting=weekly, occurrence=second, answer="going")
    # a place comes free when someone changes their mind
    service.reply(actor=people["welcomer"], meeting=weekly, occurrence=first,
                  answer="not_going")
    service.reply(actor=people["muted"], meeting=weekly, occurrence=first, answer="going")
    assert service.going_count(weekly, first) == 2


def test_people_who_left_hold_no_place(weekly, people):
    first = dates_of(weekly)[0]
    for role in ("member", "welcomer"):
        service.reply(actor=people[role], meeting=weekly, occurrence=first, answer="going")
    Membership.objects.filter(user=people["welcomer"], group=weekly.group).update(
        status="left")
    assert service.going_count(weekly, first) == 1
    service.reply(actor=people["moderator"], meeting=weekly, occurrence=first, answer="going")


# --- cancelling ---------------------------------------------------------------------------


def test_cancelling_tells_everyone_going_or_maybe_to_a_date_to_come(
    weekly, people, make_user, django_capture_on_commit_callbacks
):
    first, second = dates_of(weekly, 2)
    answers = {"member": ("going", first), "muted": ("maybe", second),
               "welcomer": ("not_going", first), "ex_member": None}
    for role, answer in answers.items():
        if answer:
            service.reply(actor=people[role], meeting=weekly, occurrence=answer[1],
                          answer=answer[0])
    # a reply to a date already gone, and one by someone who has since left
    MeetingReply.objects.create(meeting=weekly, user=people["moderator"], answer="going",
                                occurrence=timezone.now() - timedelta(days=7))
    MeetingReply.objects.create(meeting=weekly, user=people["ex_member"], answer="going",
                                occurrence=first)
    with django_capture_on_commit_callbacks(execute=True):
        service.cancel_meeting(actor=people["owner"], meeting=weekly,
                               reason="The hall is closed for repairs")
    weekly.refresh_from_db()
    assert weekly.is_cancelled and weekly.cancel_reason == "The hall is closed for repairs"
    told = Notification.objects.filter(kind=Notification.Kind.MEETING_CANCELLED)
    assert set(told.values_list("user_id", flat=True)) == {people["member"].pk,
                                                           people["muted"].pk}
    assert all("closed for repairs" in n.text for n in told)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [people["member"].email, people["muted"].email])
    assert "The hall is closed for repairs" in mail.outbox[0].body
    # cancelling again changes nothing and tells nobody twice
    service.cancel_meeting(actor=people["owner"], meeting=weekly, reason="Again")
    assert told.count() == 2
    with pytest.raises(ValidationError, match="cancelled"):
        service.reply(actor=people["member"], meeting=weekly, occurrence=first,
                      answer="going")


def test_cancel_needs_a_reason_and_an_organiser(weekly, people):
    with pytest.raises(ValidationError) as excinfo:
        service.cancel_meeting(actor=people["owner"], meeting=weekly, reason="  ")
    assert "reason" in excinfo.value.message_dict
    for role in ("member", "welcomer", "staff"):
        with pytest.raises(Http404):
            service.cancel_meeting(actor=people[role], meeting=weekly, reason="No")
    weekly.refresh_from_db()
    assert not weekly.is_cancelled


def test_members_who_turned_off_the_groups_emails_are_told_in_app_only(
    weekly, people, django_capture_on_commit_callbacks
):
    first = dates_of(weekly)[0]
    service.reply(actor=people["member"], meeting=weekly, occurrence=first, answer="going")
    Membership.objects.filter(user=people["member"], group=weekly.group).update(
        email_notifications="off")
    with django_capture_on_commit_callbacks(execute=True):
        service.cancel_meeting(actor=people["owner"], meeting=weekly, reason="Snow")
    assert Notification.objects.filter(user=people["member"],
                                       kind=Notification.Kind.MEETING_CANCELLED).exists()
    assert mail.outbox == []


# --- pages ----------------------------------------------------------------------------------


def form_data(**changes) -> dict:
    data = {
        "title": "Coffee and a chat", "date": soon().isoformat(), "start_time": "14:00",
        "end_time": "15:30", "duration_minutes": "", "time_zone": "Europe/London",
        "recurrence": "fortnightly", "repeat_until": "", "venue_name": "St Mary's Hall",
        "venue_address": "1 Byres Road", "step_free": "on", "parking": "On the street",
        "accessibility_notes": "", "online_url": "", "capacity": "",
    }
    data.update(changes)
    return data


def test_schedule_form_page_is_labelled(client, group, people):
    client.force_login(people["owner"])
    body = client.get(reverse("groups:meeting_new", kwargs={"slug": group.slug})
                      ).content.decode()
    for label in ("Name of the meeting", "Date", "Start time", "End time", "Time zone",
                  "Does it repeat?", "Repeat until", "Venue name", "Venue address",
                  "Step-free access", "hearing loop", "Parking", "Online call link",
                  "Number of places"):
        assert label in body
    assert '<option value="Europe/London" selected>' in body
    assert 'type="radio" name="recurrence" value="none"' in body


def test_schedule_through_the_form(client, group, people):
    client.force_login(people["owner"])
    response = client.post(reverse("groups:meeting_new", kwargs={"slug": group.slug}),
                           form_data())
    meeting = Meeting.objects.get()
    assert response.status_code == 302
    assert response["Location"].startswith(
        reverse("groups:meeting", kwargs={"slug": group.slug, "meeting_id": meeting.pk}))
    assert meeting.recurrence == "fortnightly" and meeting.step_free and not meeting.hearing_loop


@pytest.mark.parametrize(("changes", "words"), [
    ({"date": "2020-01-07"}, "already passed"),
    ({"end_time": "13:00"}, "before the start time"),
    ({"date": "31/02/2027"}, "day/month/year"),
    ({"recurrence": "weekly", "repeat_until": "2020-01-01"}, "before the first meeting"),
    ({"online_url": "not a link"}, "starting with https://"),
    ({"time_zone": "Mars/Olympus_Mons"}, "choose a time zone from the list"),
])
def test_form_errors_keep_what_was_typed(client, group, people, changes, words):
    client.force_login(people["owner"])
    response = client.post(reverse("groups:meeting_new", kwargs={"slug": group.slug}),
                           form_data(title="Our careful title", parking="Behind the library",
                                     **changes))
    body = response.content.decode()
    assert response.status_code == 400
    assert words in body
    assert "Our careful title" in body and "Behind the library" in body
    assert "Nothing you typed has been lost" in body or "Something needs your attention" in body
    assert not Meeting.objects.exists()


def test_meeting_page_shows_time_zone_access_places_and_who_is_going(client, weekly, people):
    first = dates_of(weekly)[0]
    service.reply(actor=people["member"], meeting=weekly, occurrence=first, answer="going")
    service.reply(actor=people["welcomer"], meeting=weekly, occurrence=first, answer="maybe")
    client.force_login(people["muted"])
    url = reverse("groups:meeting", kwargs={"slug": weekly.group.slug, "meeting_id": weekly.pk})
    body = client.get(url).content.decode()
    assert "UK time" in body and "Europe/London" in body
    assert "Step-free access: yes" in body and "Hearing loop: yes" in body
    assert "Parking: Two blue badge spaces" in body
    assert "1 of 2 places left" in body
    assert people["member"].display_name in body and people["welcomer"].display_name in body
    assert people["member"].email not in body
    for value in ("going", "maybe", "not_going"):
        assert f'name="answer" value="{value}"' in body
    assert reverse("groups:meeting_ics", kwargs={"slug": weekly.group.slug,
                                                 "meeting_id": weekly.pk}) in body
    assert "Next dates" in body


def test_reply_through_the_page_and_a_full_date_says_so(client, weekly, people):
    first = dates_of(weekly)[0]
    for role in ("member", "welcomer"):
        service.reply(actor=people[role], meeting=weekly, occurrence=first, answer="going")
    client.force_login(people["muted"])
    url = reverse("groups:meeting_reply", kwargs={"slug": weekly.group.slug,
                                                  "meeting_id": weekly.pk})
    day = first.astimezone(LONDON).date().isoformat()
    response = client.post(url, {"date": day, "answer": "going"}, follow=True)
    assert "all 2 places for this date are taken" in response.content.decode()
    assert not MeetingReply.objects.filter(user=people["muted"]).exists()
    client.post(url, {"date": day, "answer": "maybe"})
    assert MeetingReply.objects.get(user=people["muted"]).answer == "maybe"


def test_cancel_page_confirms_then_cancels(client, weekly, people):
    client.force_login(people["owner"])
    url = reverse("groups:meeting_cancel", kwargs={"slug": weekly.group.slug,
                                                   "meeting_id": weekly.pk})
    page = client.get(url).content.decode()
    assert "every date still to come" in page and "Why is it cancelled?" in page
    assert client.post(url, {"reason": ""}).status_code == 400
    weekly.refresh_from_db()
    assert not weekly.is_cancelled
    response = client.post(url, {"reason": "The hall flooded"})
    assert response.status_code == 302
    weekly.refresh_from_db()
    assert weekly.cancel_reason == "The hall flooded"


def test_group_home_shows_the_next_meeting_and_the_header_links_meetings(client, weekly,
                                                                         people):
    client.force_login(people["member"])
    body = client.get(reverse("groups:home", kwargs={"slug": weekly.group.slug})
                      ).content.decode()
    assert "Next meeting" in body and weekly.title in body
    assert reverse("groups:meetings", kwargs={"slug": weekly.group.slug}) in body
    # outsiders see only the public description: no meeting
    client.force_login(people["outsider"])
    body = client.get(reverse("groups:home", kwargs={"slug": weekly.group.slug})
                      ).content.decode()
    assert weekly.title not in body


def test_meetings_of_another_group_are_404(client, weekly, make_group, people):
    other = make_group(Group.Privacy.APPROVAL)
    owner = other.memberships.get(role="owner").user
    client.force_login(owner)
    for name in ("groups:meeting", "groups:meeting_ics", "groups:meeting_edit",
                 "groups:meeting_cancel"):
        url = reverse(name, kwargs={"slug": other.slug, "meeting_id": weekly.pk})
        assert client.get(url).status_code == 404, name
    url = reverse("groups:meeting_reply", kwargs={"slug": other.slug, "meeting_id": weekly.pk})
    assert client.post(url, {"answer": "going"}).status_code == 404
    assert not MeetingReply.objects.exists()


def _diary(make_group, make_user, count: int):
    group = make_group(Group.Privacy.APPROVAL)
    owner = group.memberships.get(role="owner").user
    start = timezone.now() + timedelta(days=1)
    people = [make_user() for _ in range(3)]
    for person in people:
        add_membership(person, group, "approved")
    for n in range(count):
        meeting = Meeting.objects.create(
            group=group, title=f"Meeting {n}", starts_at=start + timedelta(hours=n),
            recurrence=("none", "weekly", "monthly")[n % 3], venue_name="Hall", capacity=10)
        when = recurrence.next_occurrence(meeting, timezone.now())
        for person in people:
            MeetingReply.objects.create(meeting=meeting, user=person, occurrence=when,
                                        answer="going")
    return owner, reverse("groups:meetings", kwargs={"slug": group.slug})


@pytest.mark.parametrize("count", [3, 30])
def test_meetings_list_costs_the_same_queries_however_many_meetings(
    client, make_group, make_user, django_assert_max_num_queries, count
):
    owner, url = _diary(make_group, make_user, count)
    client.force_login(owner)
    # Measured with 3 meetings (session, user, header and menu counts included): 30
    # meetings, each with replies, must cost no more.
    with django_assert_max_num_queries(16):
        response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "3 going" in body and "7 places left" in body
    assert "Meeting 0" in body


def test_seed_demo_gives_the_demo_groups_their_meetings_once():
    from io import StringIO

    from django.core.management import call_command

    for _ in range(2):
        call_command("seed_demo", stdout=StringIO())
    copd = Meeting.objects.get(group__slug="copd-breathe-easy-glasgow")
    start = copd.starts_at.astimezone(LONDON)
    assert (copd.recurrence, start.weekday(), start.day <= 7, start.hour) == (
        "monthly", 1, True, 14)
    assert copd.step_free and copd.hearing_loop and copd.venue_name
    type_1 = Meeting.objects.get(group__slug="type-1-diabetes")
    assert type_1.recurrence == "fortnightly" and type_1.online_url.startswith("https://")
    assert recurrence.describe(copd) == "Every month on the first Tuesday"
