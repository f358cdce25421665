"""The anonymous monthly check-in: no link to who answered, once a month, results only
from 5 answers, the owners' switch and the monthly invitation job."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from community.models import CheckIn, CheckInReceipt, Group, Notification, User
from community.scheduler import JOBS
from community.selectors_health import NOT_ENOUGH
from community.services.health import (
    AlreadyAnswered,
    invite_checkins,
    month_of,
    record_checkin,
)
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def group(make_group):
    return make_group(Group.Privacy.APPROVAL, checkins_enabled=True)


@pytest.fixture
def member(group, make_user):
    person = make_user("Cara Member")
    add_membership(person, group, "approved", welcome_seen_at=timezone.now())
    return person


def checkin_url(group):
    return reverse("groups:checkin", kwargs={"slug": group.slug})


def home(client, group) -> str:
    return client.get(group.get_absolute_url()).content.decode()


def test_an_answer_is_not_linked_to_anyone():
    links = [f.name for f in CheckIn._meta.get_fields()
             if f.is_relation and f.related_model is User]
    assert links == []
    assert {f.name for f in CheckIn._meta.concrete_fields} == {"id", "group", "month", "score"}


def test_member_answers_once_and_the_answer_is_anonymous(client, group, member):
    client.force_login(member)
    body = home(client, group)
    assert "How much has this group helped you this month?" in body
    assert "1 – Not at all" in body and "5 – A great deal" in body
    assert 'type="radio"' in body and "<legend>" in body
    response = client.post(checkin_url(group), {"score": "4"})
    assert response.status_code == 302 and response["Location"] == group.get_absolute_url()
    answer = CheckIn.objects.get(group=group)
    assert (answer.score, answer.month) == (4, month_of())
    receipt = CheckInReceipt.objects.get(group=group)
    assert (receipt.user, receipt.month) == (member, month_of())
    assert "How much has this group helped you this month?" not in home(client, group)


def test_answering_twice_in_a_month_is_refused_kindly_and_writes_nothing(
    client, group, member
):
    client.force_login(member)
    client.post(checkin_url(group), {"score": "2"})
    response = client.post(checkin_url(group), {"score": "5"}, follow=True)
    assert "You have already answered this month" in response.content.decode()
    assert list(CheckIn.objects.values_list("score", flat=True)) == [2]
    assert CheckInReceipt.objects.count() == 1


def test_a_new_month_can_be_answered_again(group, member):
    record_checkin(actor=member, group=group, score=3,
                   now=datetime(2025, 5, 31, 23, 30, tzinfo=LONDON))
    with pytest.raises(AlreadyAnswered):
        record_checkin(actor=member, group=group, score=3,
                       now=datetime(2025, 5, 1, 0, 5, tzinfo=LONDON))
    record_checkin(actor=member, group=group, score=5,
                   now=datetime(2025, 6, 1, 0, 5, tzinfo=LONDON))
    assert sorted(CheckIn.objects.values_list("month", "score")) == [
        (date(2025, 5, 1), 3), (date(2025, 6, 1), 5)]


def test_not_this_month_hides_the_question_without_an_answer(client, group, member):
    client.force_login(member)
    client.post(checkin_url(group), {"dismiss": "1"})
    assert not CheckIn.objects.exists()
    assert CheckInReceipt.objects.filter(user=member).count() == 1
    assert "How much has this group helped you this month?" not in home(client, group)


def test_a_bad_score_stores_nothing(client, group, member):
    client.force_login(member)
    response = client.post(checkin_url(group), {"score": "9"}, follow=True)
    assert "Please choose a number from 1 to 5" in response.content.decode()
    assert not CheckIn.objects.exists() and not CheckInReceipt.objects.exists()
    with pytest.raises(ValidationError):
        record_checkin(actor=member, group=group, score=0)
    assert not CheckIn.objects.exists() and not CheckInReceipt.objects.exists()


def test_no_question_and_no_answers_when_the_check_in_is_off(client, make_group, make_user):
    group = make_group(Group.Privacy.OPEN)
    person = make_user()
    add_membership(person, group, "approved")
    client.force_login(person)
    assert "How much has this group helped you" not in home(client, group)
    client.post(checkin_url(group), {"score": "4"})
    assert not CheckIn.objects.exists() and not CheckInReceipt.objects.exists()
    with pytest.raises(Http404):
        record_checkin(actor=person, group=group, score=4)


def test_non_members_cannot_answer(client, group, make_user):
    outsider = make_user()
    with pytest.raises(Http404):
        record_checkin(actor=outsider, group=group, score=4)
    client.force_login(outsider)
    assert client.post(checkin_url(group), {"score": "4"}).status_code == 404
    assert not CheckIn.objects.exists()


# --- results on the health page ---------------------------------------------------------------


def answers(group, make_user, n):
    for i in range(n):
        person = make_user()
        add_membership(person, group, "approved")
        record_checkin(actor=person, group=group, score=1 + i % 5)


def health(client, group) -> str:
    client.force_login(group.created_by)
    return client.get(reverse("groups:health", kwargs={"slug": group.slug})).content.decode()


def test_results_are_hidden_at_four_answers(client, group, make_user):
    answers(group, make_user, 4)
    body = health(client, group)
    assert NOT_ENOUGH in body
    assert "Average" in body and "<td>2.5</td>" not in body


def test_results_are_shown_at_five_answers(client, group, make_user):
    answers(group, make_user, 5)  # scores 1, 2, 3, 4, 5
    body = health(client, group)
    assert NOT_ENOUGH not in body
    assert "<td>5</td><td>3.0</td><td>1, 1, 1, 1, 1</td>" in body


# --- the owners' switch ----------------------------------------------------------------------


def switch_url(group):
    return reverse("groups:health_checkins", kwargs={"slug": group.slug})


def test_owner_switches_the_check_in_on_and_off(client, make_group):
    group = make_group(Group.Privacy.APPROVAL)
    client.force_login(group.created_by)
    assert 'name="checkins_enabled"' in health(client, group)
    response = client.post(switch_url(group), {"checkins_enabled": "on"})
    assert response["Location"] == reverse("groups:health", kwargs={"slug": group.slug})
    assert Group.objects.get(pk=group.pk).checkins_enabled is True
    client.post(switch_url(group), {})
    assert Group.objects.get(pk=group.pk).checkins_enabled is False


@pytest.mark.parametrize("role", ["moderator", "member", "outsider", "anonymous"])
def test_only_owners_switch_the_check_in(client, make_group, make_user, role):
    group = make_group(Group.Privacy.APPROVAL)
    if role != "anonymous":
        person = make_user()
        if role in ("moderator", "member"):
            add_membership(person, group, "approved", role)
        client.force_login(person)
    assert client.post(switch_url(group), {"checkins_enabled": "on"}).status_code == 404
    assert Group.objects.get(pk=group.pk).checkins_enabled is False


# --- the monthly invitation -----------------------------------------------------------------


def test_invitation_job_tells_each_member_once_a_month(group, member, make_user, make_group):
    answered = make_user()
    add_membership(answered, group, "approved")
    now = datetime(2025, 6, 1, 9, 0, tzinfo=LONDON)  # a fixed clock
    record_checkin(actor=answered, group=group, score=4, now=now)
    add_membership(make_user(), group, "left")
    off = make_group(Group.Privacy.OPEN)  # check-in off
    add_membership(make_user(), off, "approved")
    first = invite_checkins(now)
    told = Notification.objects.filter(kind=Notification.Kind.CHECKIN)
    assert first == told.count() == 2  # the owner and the member, not who answered
    assert {n.user for n in told} == {group.created_by, member}
    assert all(n.url == f"{group.get_absolute_url()}#checkin" for n in told)
    assert invite_checkins(now) == 0  # idempotent
    assert told.count() == 2


def test_invitation_job_is_in_the_scheduler():
    assert invite_checkins in [job.run for job in JOBS]


def test_answers_get_unordered_ids(group, make_user):
    """Random ids: the order of answers can't be matched with the order of receipts."""
    answers(group, make_user, 5)
    ids = list(CheckIn.objects.order_by("pk").values_list("pk", flat=True))
    assert len(set(ids)) == 5
    assert ids != list(range(ids[0], ids[0] + 5))
