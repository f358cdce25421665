"""Signposts: a group's own (kept by its moderators), the site's (kept by staff in the
admin, with a reminder to re-check them), and "Get help now" listing them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from community.models import Group, Notification, Signpost
from community.scheduler import JOBS
from community.services import signposts as library
from moderation import rulebook
from moderation.models import AuditEntry
from tests.conftest import add_membership

A = AuditEntry.Action
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

NURSES = {"topic": "health", "name": "Leeds COPD nurses", "phone": "0113 000 0000",
          "who_for": "Anyone with COPD under Leeds hospitals", "hours": "Weekdays 9 to 5",
          "url": "https://example.org/copd", "description": "Ask about your inhalers."}


@pytest.fixture(autouse=True)
def fresh_rules():
    """Signposts are cached per process by group id, and ids come back after a rollback."""
    rulebook.forget()
    yield
    rulebook.forget()


@pytest.fixture
def group(make_group):
    return make_group(Group.Privacy.APPROVAL, name="Breathe Easy Leeds")


@pytest.fixture
def people(group, people_in):
    return people_in(group)


def _save(actor, group, **fields):
    return library.save_group_signpost(actor=actor, group=group, **(NURSES | fields))


def _audits(group, action):
    return list(AuditEntry.objects.filter(group=group, action=action))


# --- services ---------------------------------------------------------------------------


def test_moderator_adds_a_signpost_and_screening_shows_it_at_once(
    group, people, django_capture_on_commit_callbacks
):
    before = [s["name"] for s in rulebook.signposts_for_topic("health", group)]
    assert "Leeds COPD nurses" not in before  # and now it is cached
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        signpost = _save(people["moderator"], group)
    assert rulebook.changed in callbacks
    names = [s["name"] for s in rulebook.signposts_for_topic("health", group)]
    assert "Leeds COPD nurses" in names
    assert (signpost.group, signpost.region, signpost.updated_by) == (
        group, "", people["moderator"])
    assert signpost.last_checked == timezone.localdate()
    [entry] = _audits(group, A.SIGNPOST_SAVED)
    assert entry.actor == people["moderator"] and entry.detail["signpost_id"] == signpost.pk


@pytest.mark.parametrize(("role", "allowed"), [
    ("owner", True), ("moderator", True), ("staff", True),
    ("welcomer", False), ("member", False), ("outsider", False), ("banned", False),
])
def test_only_moderators_owners_and_staff_keep_signposts(group, people, role, allowed):
    if allowed:
        _save(people[role], group)
    else:
        with pytest.raises(Http404):
            _save(people[role], group)
    assert Signpost.objects.filter(group=group).count() == (1 if allowed else 0)
    assert len(_audits(group, A.SIGNPOST_SAVED)) == (1 if allowed else 0)


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"name": "  "}, "name", "name of the service"),
    ({"phone": "", "url": "", "text_number": "", "email": ""}, "phone", "at least one way"),
    ({"url": "javascript:alert(1)"}, "url", "starting with https://"),
    ({"phone": "call me maybe"}, "phone", "only numbers"),
    ({"topic": "gossip"}, "topic", "from the list"),
    ({"email": "not-an-address"}, "email", "valid email"),
])
def test_bad_signpost_says_what_to_fix_and_saves_nothing(group, people, fields, field, words):
    with pytest.raises(ValidationError) as caught:
        _save(people["moderator"], group, **fields)
    assert words in " ".join(caught.value.message_dict[field])
    assert not Signpost.objects.filter(group=group).exists()
    assert not _audits(group, A.SIGNPOST_SAVED)


def test_changing_a_signpost_counts_as_checking_it(group, people):
    signpost = _save(people["moderator"], group)
    Signpost.objects.filter(pk=signpost.pk).update(last_checked=date(2020, 1, 1))
    signpost.refresh_from_db()
    changed = library.save_group_signpost(actor=people["owner"], group=group,
                                          signpost=signpost, phone="0113 999 9999")
    assert changed.pk == signpost.pk
    assert (changed.phone, changed.name) == ("0113 999 9999", "Leeds COPD nurses")
    assert changed.last_checked == timezone.localdate() and changed.updated_by == people["owner"]


def test_another_groups_or_the_sites_signpost_is_404(group, people, make_group):
    other = make_group(Group.Privacy.OPEN)
    theirs = _save(other.memberships.get(role="owner").user, other)
    site = Signpost.objects.filter(group__isnull=True).first()
    for signpost in (theirs, site):
        with pytest.raises(Http404):
            library.save_group_signpost(actor=people["owner"], group=group,
                                        signpost=signpost, name="Mine now")
        with pytest.raises(Http404):
            library.delete_group_signpost(actor=people["owner"], signpost=signpost)
        assert Signpost.objects.get(pk=signpost.pk).name != "Mine now"


def test_deleting_a_signpost_is_audited(group, people, django_capture_on_commit_callbacks):
    signpost = _save(people["moderator"], group)
    with pytest.raises(Http404):
        library.delete_group_signpost(actor=people["member"], signpost=signpost)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        library.delete_group_signpost(actor=people["moderator"], signpost=signpost)
    assert rulebook.changed in callbacks
    assert not Signpost.objects.filter(pk=signpost.pk).exists()
    [entry] = _audits(group, A.SIGNPOST_DELETED)
    assert entry.detail["name"] == "Leeds COPD nurses"


def test_a_group_has_at_most_50_signposts(group, people):
    Signpost.objects.bulk_create([Signpost(group=group, name=f"Line {i}", phone="0800 1")
                                  for i in range(library.MAX_GROUP_SIGNPOSTS)])
    with pytest.raises(ValidationError) as caught:
        _save(people["moderator"], group)
    assert "50" in caught.value.messages[0]


# --- pages for moderators -----------------------------------------------------------------


def _url(name, group, **kwargs):
    return reverse(name, kwargs={"slug": group.slug, **kwargs})


def test_signposts_page_lists_the_groups_and_the_sites(client, group, people):
    _save(people["moderator"], group)
    client.force_login(people["owner"])
    response = client.get(_url("groups:signposts", group))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Leeds COPD nurses" in body and "0113 000 0000" in body
    assert "Samaritans" in body and "116 123" in body  # the site's, read only
    own = Signpost.objects.get(group=group)
    assert _url("groups:signpost_edit", group, signpost_id=own.pk) in body
    assert _url("groups:signpost_delete", group, signpost_id=own.pk) in body
    site = Signpost.objects.filter(group__isnull=True).first()
    assert _url("groups:signpost_edit", group, signpost_id=site.pk) not in body
    assert '<label for="id_name">' in body


@pytest.mark.parametrize(("role", "status"), [("moderator", 200), ("staff", 200),
                                              ("member", 404), ("outsider", 404)])
def test_signposts_page_is_for_moderators(client, group, people, role, status):
    client.force_login(people[role])
    assert client.get(_url("groups:signposts", group)).status_code == status


def test_adding_from_the_page(client, group, people):
    client.force_login(people["moderator"])
    response = client.post(_url("groups:signposts", group), NURSES | {"position": "2"})
    assert response.status_code == 302
    signpost = Signpost.objects.get(group=group)
    assert (signpost.name, signpost.topic, signpost.position) == ("Leeds COPD nurses",
                                                                  "health", 2)


def test_a_bad_signpost_is_400_and_keeps_what_was_typed(client, group, people):
    client.force_login(people["moderator"])
    typed = NURSES | {"url": "www.example.org/copd", "hours": "Mondays only please"}
    response = client.post(_url("groups:signposts", group), typed)
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_url-error"' in body and "starting with https://" in body
    for value in ("Leeds COPD nurses", "www.example.org/copd", "Mondays only please"):
        assert f'value="{value}"' in body
    assert not Signpost.objects.filter(group=group).exists()


@pytest.mark.parametrize("role", ["member", "outsider"])
def test_adding_from_the_page_is_404_for_others(client, group, people, role):
    client.force_login(people[role])
    assert client.post(_url("groups:signposts", group), NURSES).status_code == 404
    assert not Signpost.objects.filter(group=group).exists()


def test_editing_from_the_page(client, group, people):
    signpost = _save(people["moderator"], group)
    client.force_login(people["owner"])
    url = _url("groups:signpost_edit", group, signpost_id=signpost.pk)
    body = client.get(url).content.decode()
    assert 'value="Leeds COPD nurses"' in body
    response = client.post(url, NURSES | {"name": "Leeds respiratory nurses"})
    assert response.status_code == 302
    assert Signpost.objects.get(pk=signpost.pk).name == "Leeds respiratory nurses"
    response = client.post(url, NURSES | {"name": ""})
    assert response.status_code == 400
    assert 'value="0113 000 0000"' in response.content.decode()


def test_deleting_from_the_page_needs_post(client, group, people):
    signpost = _save(people["moderator"], group)
    client.force_login(people["owner"])
    url = _url("groups:signpost_delete", group, signpost_id=signpost.pk)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    assert not Signpost.objects.filter(pk=signpost.pk).exists()


def test_another_groups_signpost_under_my_slug_is_404(client, group, people, make_group):
    other = make_group(Group.Privacy.OPEN)
    theirs = _save(other.memberships.get(role="owner").user, other)
    client.force_login(people["owner"])
    assert client.get(_url("groups:signpost_edit", group, signpost_id=theirs.pk)
                      ).status_code == 404
    assert client.post(_url("groups:signpost_edit", group, signpost_id=theirs.pk),
                       NURSES).status_code == 404
    assert client.post(_url("groups:signpost_delete", group, signpost_id=theirs.pk)
                       ).status_code == 404
    assert Signpost.objects.filter(pk=theirs.pk).exists()


# --- Get help now -------------------------------------------------------------------------


def test_help_lists_the_site_signposts_from_the_database(client):
    samaritans = Signpost.objects.get(group__isnull=True, region="GB", key="samaritans")
    Signpost.objects.filter(pk=samaritans.pk).update(hours="Day and night",
                                                     last_checked=date(2026, 3, 4))
    Signpost.objects.create(region="GB", topic="support", name="Kindred test carers line",
                            phone="0800 123 4567", who_for="Unpaid carers",
                            text_number="60777", email="help@example.org")
    response = client.get("/help/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Day and night" in body and "4 March 2026" in body
    assert "Kindred test carers line" in body and "Unpaid carers" in body
    assert 'href="tel:08001234567"' in body and 'href="sms:60777"' in body
    assert 'href="mailto:help@example.org"' in body
    assert 'href="https://www.samaritans.org/" rel="noopener nofollow"' in body
    assert "You don't have to go through this alone" in body
    # Crisis first, then health, then support.
    crisis, health, support = (body.index(f'id="topic-{t}"')
                               for t in ("crisis", "health", "support"))
    assert crisis < health < support
    assert body.index("Samaritans") < health < body.index("Kindred test carers line")


def test_help_still_lists_the_shipped_signposts_when_the_database_has_none(client):
    Signpost.objects.filter(group__isnull=True).delete()
    body = client.get("/help/").content.decode()
    assert "Samaritans" in body and "116 123" in body


@pytest.fixture
def groups_with_signposts(make_group):
    made = {}
    for privacy in (Group.Privacy.OPEN, Group.Privacy.APPROVAL, Group.Privacy.INVITE):
        group = make_group(privacy, name=f"Secret-ish {privacy}")
        Signpost.objects.create(group=group, topic="support", phone="0800 000 111",
                                name=f"Canary line of the {privacy} group")
        made[privacy] = group
    return made


@pytest.mark.parametrize("privacy", ["open", "approval", "invite"])
@pytest.mark.parametrize(("role", "shown"), [
    ("member", True), ("moderator", True), ("anonymous", False), ("outsider", False),
    ("pending", False), ("banned", False), ("ex_member", False), ("staff", False),
])
def test_help_shows_a_groups_signposts_only_to_its_readers(
    client, groups_with_signposts, people_in, privacy, role, shown
):
    group = groups_with_signposts[privacy]
    person = people_in(group)[role]
    if person is not None:
        client.force_login(person)
    response = client.get("/help/", {"group": group.slug})
    body = response.content.decode()
    assert response.status_code == 200
    assert (f"Canary line of the {privacy} group" in body) is shown
    assert (group.name in body) is shown  # silence: not even the name of a private group
    assert "Samaritans" in body
    if shown:
        assert "noindex" in response["X-Robots-Tag"]


def test_help_ignores_an_unknown_or_silly_group(client, make_user):
    client.force_login(make_user())
    for value in ("no-such-group", "x" * 500, "../../admin"):
        response = client.get("/help/", {"group": value})
        assert response.status_code == 200
        assert "Suggested by" not in response.content.decode()


def test_help_shows_nothing_of_another_groups_signposts(client, groups_with_signposts,
                                                        people_in):
    """A member of the open group asks for the invite-only group's help: nothing."""
    member = people_in(groups_with_signposts["open"])["member"]
    client.force_login(member)
    body = client.get("/help/", {"group": groups_with_signposts["invite"].slug}
                      ).content.decode()
    assert "Canary line of the invite group" not in body
    body = client.get("/help/", {"group": groups_with_signposts["open"].slug}).content.decode()
    assert "Canary line of the open group" in body


@pytest.mark.parametrize("rows", [3, 30])
def test_help_page_query_count_stays_flat(client, make_group, people_in,
                                          django_assert_max_num_queries, rows):
    group = make_group(Group.Privacy.APPROVAL)
    for i in range(rows):
        Signpost.objects.create(group=group, topic=("crisis", "health", "support")[i % 3],
                                name=f"Group line {i}", phone="0800 000 222")
        Signpost.objects.create(region="GB", topic="support", name=f"Site line {i}",
                                phone="0800 000 333")
    client.force_login(people_in(group)["member"])
    client.get("/help/")  # settle the session first
    with django_assert_max_num_queries(13):
        body = client.get("/help/", {"group": group.slug}).content.decode()
    assert body.count("Group line ") == rows and body.count("Site line ") == rows


@pytest.mark.parametrize("rows", [3, 30])
def test_signposts_page_query_count_stays_flat(client, group, people,
                                               django_assert_max_num_queries, rows):
    for i in range(rows):
        Signpost.objects.create(group=group, name=f"Group line {i}", phone="0800 000 222",
                                updated_by=people["moderator"])
    client.force_login(people["owner"])
    client.get("/help/")
    with django_assert_max_num_queries(14):
        body = client.get(_url("groups:signposts", group)).content.decode()
    assert body.count("Group line ") >= rows


# --- re-check reminders for site staff ------------------------------------------------------

NOW = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)


def _age_site_signposts(count: int, *, days: int = 200) -> list[Signpost]:
    rows = list(Signpost.objects.filter(group__isnull=True).order_by("pk")[:count])
    Signpost.objects.filter(pk__in=[r.pk for r in rows]).update(
        last_checked=NOW.date() - timedelta(days=days))
    return rows


def _fresh_everything_else():
    Signpost.objects.update(last_checked=NOW.date() - timedelta(days=10))


def _reminders():
    return list(Notification.objects.filter(kind=Notification.Kind.SIGNPOST_CHECK))


def test_staff_are_reminded_once_about_signposts_to_recheck(make_user, make_group,
                                                            people_in):
    _fresh_everything_else()
    old = _age_site_signposts(3)
    lead, deputy = make_user("Lead", staff=True), make_user("Deputy", staff=True)
    make_user("Not staff")
    group = make_group(Group.Privacy.OPEN)
    Signpost.objects.create(group=group, name="Group line", phone="0800 1",
                            last_checked=date(2020, 1, 1))  # a group's: not staff's job
    assert library.remind_signpost_checks(NOW) == 3
    notices = _reminders()
    assert sorted(n.user_id for n in notices) == sorted([lead.pk, deputy.pk])
    for notice in notices:
        assert notice.text.startswith("3 site signposts need re-checking")
        assert notice.url == "/admin/community/signpost/?needs_check=yes"
    assert all(s.check_reminded_at == NOW for s in Signpost.objects.filter(
        pk__in=[r.pk for r in old]))
    # Not again the next day, nor within the month...
    assert library.remind_signpost_checks(NOW + timedelta(days=1)) == 0
    assert library.remind_signpost_checks(NOW + timedelta(days=29)) == 0
    assert len(_reminders()) == 2
    # ...but again after a month if they are still not checked.
    assert library.remind_signpost_checks(NOW + timedelta(days=31)) == 3
    assert len(_reminders()) == 4


def test_no_reminder_when_everything_was_checked_recently(make_user):
    _fresh_everything_else()
    make_user("Lead", staff=True)
    assert library.remind_signpost_checks(NOW) == 0
    assert _reminders() == []


def test_a_newly_stale_signpost_is_reminded_about_with_the_whole_count(make_user):
    _fresh_everything_else()
    make_user("Lead", staff=True)
    first, second = _age_site_signposts(2)
    Signpost.objects.filter(pk=second.pk).update(
        last_checked=NOW.date() - timedelta(days=100))
    assert library.remind_signpost_checks(NOW) == 1
    Signpost.objects.filter(pk=second.pk).update(
        last_checked=NOW.date() - timedelta(days=190))
    assert library.remind_signpost_checks(NOW + timedelta(days=2)) == 1
    assert _reminders()[0].text.startswith("2 site signposts need")


def test_the_reminder_is_a_daily_scheduler_job():
    [job] = [job for job in JOBS if job.run is library.remind_signpost_checks]
    assert job.every_seconds == 24 * 60 * 60


# --- the admin -------------------------------------------------------------------------------


def test_admin_filters_signposts_that_need_rechecking_and_marks_them_checked(
    client, make_user, django_capture_on_commit_callbacks
):
    staff = make_user("Lead", staff=True)
    Signpost.objects.update(last_checked=timezone.localdate())
    stale = Signpost.objects.get(group__isnull=True, key="samaritans")
    Signpost.objects.filter(pk=stale.pk).update(
        last_checked=timezone.localdate() - timedelta(days=200),
        check_reminded_at=timezone.now())
    client.force_login(staff)
    url = reverse("admin:community_signpost_changelist")
    body = client.get(url, {"needs_check": "yes"}).content.decode()
    assert "Samaritans" in body and "Shout" not in body
    assert "needs re-checking" in client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, {"action": "mark_checked", "_selected_action": [stale.pk]})
    assert response.status_code == 302
    assert rulebook.changed in callbacks
    stale.refresh_from_db()
    assert stale.last_checked == timezone.localdate() and stale.check_reminded_at is None
    assert stale.needs_check is False
    assert AuditEntry.objects.filter(action=A.SIGNPOST_SAVED, actor=staff).exists()


def test_staff_edit_a_site_signpost_in_the_admin(client, make_user):
    staff = make_user("Lead", staff=True)
    signpost = Signpost.objects.get(group__isnull=True, key="shout")
    client.force_login(staff)
    url = reverse("admin:community_signpost_change", args=[signpost.pk])
    assert client.get(url).status_code == 200
    data = {name: getattr(signpost, name) or "" for name in (
        "region", "key", "topic", "name", "phone", "text_number", "email", "url", "hours",
        "who_for", "description", "position")}
    data |= {"group": "", "last_checked": "2027-01-02", "hours": "Always open"}
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    signpost.refresh_from_db()
    assert (signpost.hours, signpost.updated_by) == ("Always open", staff)
    assert AuditEntry.objects.get(action=A.SIGNPOST_SAVED, actor=staff).detail["name"] == "Shout"


def test_members_cannot_reach_the_signposts_admin(client, group, people):
    client.force_login(people["owner"])
    response = client.get(reverse("admin:community_signpost_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_moderators_elsewhere_cannot_edit_this_groups_signposts(client, group, make_user,
                                                                make_group):
    signpost = Signpost.objects.create(group=group, name="Ours", phone="0800 2")
    other = make_group(Group.Privacy.OPEN)
    outsider_mod = make_user("Other Mod")
    add_membership(outsider_mod, other, "approved", "moderator")
    client.force_login(outsider_mod)
    url = _url("groups:signpost_edit", group, signpost_id=signpost.pk)
    assert client.post(url, NURSES).status_code == 404
    assert Signpost.objects.get(pk=signpost.pk).name == "Ours"
