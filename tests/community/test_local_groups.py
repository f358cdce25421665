"""From online to local: opting in, the k-anonymous nearby count, starting a local group."""

from __future__ import annotations

import pytest
from django.urls import reverse

from community import gazetteer, selectors_near
from community.models import Group, Membership, Notification, Signpost, User
from community.services import approve_group, update_profile
from community.services.local_groups import announce_local_group, set_share_nearby
from tests.conftest import add_membership

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_hashing")]


@pytest.fixture
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def home(user: User, town: str) -> User:
    return update_profile(actor=user, display_name=user.display_name, home_town=town)


@pytest.fixture
def online(make_group):
    group = make_group(Group.Privacy.APPROVAL, name="COPD online", condition="COPD",
                       kind="condition", rules="Share experience, not medical advice.")
    Signpost.objects.create(group=group, topic="support", name="Breathe helpline",
                            phone="0300 222 5800")
    return group


def member(make_user, group, town=None, *, share=True, name=None) -> User:
    person = make_user(name)
    add_membership(person, group, "approved", share_nearby=share)
    return home(person, town) if town else person


def home_url(group):
    return reverse("groups:home", kwargs={"slug": group.slug})


# --- opting in ---------------------------------------------------------------------------


def test_member_opts_in_and_out_with_a_post(client, make_user, online):
    person = member(make_user, online, share=False)
    client.force_login(person)
    body = client.get(home_url(online)).content.decode()
    assert "Let people near me know I" in body
    url = reverse("groups:share_nearby", kwargs={"slug": online.slug})
    assert client.post(url, {"share_nearby": "1"})["Location"] == home_url(online)
    assert Membership.objects.get(user=person, group=online).share_nearby is True
    client.post(url, {"share_nearby": "0"})
    assert Membership.objects.get(user=person, group=online).share_nearby is False


def test_opting_in_needs_csrf(make_user, online):
    from django.test import Client

    person = member(make_user, online, share=False)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(person)
    url = reverse("groups:share_nearby", kwargs={"slug": online.slug})
    assert strict.post(url, {"share_nearby": "1"}).status_code == 403
    assert Membership.objects.get(user=person, group=online).share_nearby is False


@pytest.mark.parametrize("status", ["pending", "declined", "banned", "left"])
def test_only_approved_members_can_opt_in(client, make_user, online, status):
    person = make_user()
    add_membership(person, online, status)
    client.force_login(person)
    url = reverse("groups:share_nearby", kwargs={"slug": online.slug})
    assert client.post(url, {"share_nearby": "1"}).status_code == 404
    assert Membership.objects.get(user=person, group=online).share_nearby is False
    with pytest.raises(Exception):  # noqa: B017 - the service refuses too (Http404)
        set_share_nearby(actor=person, group=online, share=True)


# --- the nearby count: never fewer than three, never who ---------------------------------------


def test_count_shows_at_three_others_and_not_at_two(client, make_user, online):
    viewer = member(make_user, online, "Fort William", share=False)
    member(make_user, online, "Fort William", name="Near One")
    member(make_user, online, "Fort William", name="Near Two")
    member(make_user, online, "London")  # far away
    member(make_user, online, "Fort William", share=False)  # did not opt in
    client.force_login(viewer)
    body = client.get(home_url(online)).content.decode()
    assert "members who opted in live within about 25 miles of you" not in body
    assert selectors_near.nearby_count(online, viewer, miles=25) is None
    member(make_user, online, "Fort William", name="Near Three")
    body = client.get(home_url(online)).content.decode()
    assert "3 members who opted in live within about 25 miles of you" in body
    assert "Near One" not in body and "Near Three" not in body


def test_count_leaves_out_the_viewer_themself(make_user, online):
    viewer = member(make_user, online, "Fort William", share=True)
    member(make_user, online, "Fort William")
    member(make_user, online, "Fort William")
    assert selectors_near.nearby_count(online, viewer, miles=25) is None  # 2 others
    member(make_user, online, "Fort William")
    assert selectors_near.nearby_count(online, viewer, miles=25) == 3


def test_count_needs_the_viewers_home_town_and_membership(client, make_user, online):
    for _ in range(3):
        member(make_user, online, "Fort William")
    homeless = member(make_user, online, None)
    assert selectors_near.nearby_count(online, homeless, miles=25) is None
    client.force_login(homeless)
    assert "Add your home town" in client.get(home_url(online)).content.decode()
    outsider = home(make_user(), "Fort William")
    assert selectors_near.nearby_count(online, outsider, miles=25) is None
    client.force_login(outsider)
    body = client.get(home_url(online)).content.decode()
    assert "opted in" not in body and "Members near you" not in body


# --- starting a local group ---------------------------------------------------------------------


def start_url(group):
    return reverse("groups:start_local", kwargs={"slug": group.slug})


def test_start_page_is_prefilled_from_the_online_group(client, make_user, online):
    client.force_login(member(make_user, online))
    response = client.get(start_url(online))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["rules"].value() == "Share experience, not medical advice."
    assert form["privacy"].value() == online.privacy
    body = response.content.decode()
    assert "data-place-autocomplete" in body and "js/places.js" in body


@pytest.mark.parametrize("who", ["outsider", "pending", "banned", "staff", "left"])
def test_non_members_of_the_parent_get_404(client, make_user, online, who):
    person = make_user(staff=(who == "staff"))
    if who in ("pending", "banned", "left"):
        add_membership(person, online, who)
    client.force_login(person)
    before = Group.objects.count()
    assert client.get(start_url(online)).status_code == 404
    response = client.post(start_url(online), {"name": "Mine", "town": "Oban",
                                                "description": "x", "privacy": "open"})
    assert response.status_code == 404
    assert Group.objects.count() == before


def test_local_group_cannot_start_another_local_group(client, make_user, make_group):
    local = make_group(Group.Privacy.OPEN, format="local", town="Oban")
    client.force_login(member(make_user, local))
    assert client.get(start_url(local)).status_code == 404


def _start(client, group, **extra):
    data = {"name": "Fort William COPD friends", "town": "Fort William",
            "description": "We meet for tea.", "privacy": "approval",
            "rules": "Share experience, not medical advice.", "welcome_message": "Hello!"}
    data.update(extra)
    return client.post(start_url(group), data)


def test_starting_a_local_group_links_it_and_copies_condition_and_signposts(
    client, make_user, online, settings
):
    settings.KINDRED_GROUPS_NEED_APPROVAL = False
    founder = member(make_user, online)
    client.force_login(founder)
    response = _start(client, online)
    local = Group.objects.get(name="Fort William COPD friends")
    assert response["Location"] == local.get_absolute_url()
    fort = gazetteer.resolve("Fort William")
    assert (local.parent, local.format, local.condition, local.kind) == (
        online, "local", "COPD", "condition")
    assert (local.town, local.place_id, local.latitude) == ("Fort William", fort.id,
                                                            fort.latitude)
    assert local.status == Group.Status.ACTIVE
    assert Membership.objects.get(group=local, user=founder).role == "owner"
    assert list(Signpost.objects.filter(group=local).values_list("name", "phone")) == [
        ("Breathe helpline", "0300 222 5800")]
    # the online group's members see it listed
    assert "Fort William COPD friends" in client.get(home_url(online)).content.decode()


def test_unknown_town_is_a_form_error_with_suggestions_keeping_the_rest(
    client, make_user, online
):
    client.force_login(member(make_user, online))
    response = _start(client, online, town="Fort Wiliam", description="Tea and cake.")
    body = response.content.decode()
    assert response.status_code == 400
    assert "We couldn&#x27;t find that town" in body
    fort = gazetteer.resolve("Fort William")
    assert f'name="town_pick" value="{fort.id}"' in body
    assert "Tea and cake." in body
    assert not Group.objects.filter(parent=online).exists()
    response = _start(client, online, town="Fort Wiliam", town_pick=fort.id)
    assert response.status_code == 302
    assert Group.objects.get(parent=online).place_id == fort.id


def test_nearby_opted_in_members_are_told_once_never_the_founder(
    client, make_user, online, settings
):
    settings.KINDRED_GROUPS_NEED_APPROVAL = False
    founder = member(make_user, online, "Fort William", share=True)
    near = [member(make_user, online, "Fort William"), member(make_user, online, "Spean Bridge")]
    not_opted = member(make_user, online, "Fort William", share=False)
    far = member(make_user, online, "London")
    outsider = home(make_user(), "Fort William")
    client.force_login(founder)
    _start(client, online)
    local = Group.objects.get(parent=online)
    told = Notification.objects.filter(kind=Notification.Kind.LOCAL_GROUP, group=local)
    assert sorted(told.values_list("user_id", flat=True)) == sorted(p.pk for p in near)
    assert all(n.url == local.get_absolute_url() for n in told)
    assert not told.filter(user__in=[founder, not_opted, far, outsider]).exists()
    # announcing again (or approving again) tells nobody twice
    assert announce_local_group(group=local) == 0
    assert told.count() == 2


def test_with_approval_on_members_are_told_when_staff_approve(
    client, make_user, online, settings
):
    settings.KINDRED_GROUPS_NEED_APPROVAL = True
    founder = member(make_user, online)
    nearby = member(make_user, online, "Fort William")
    client.force_login(founder)
    _start(client, online)
    local = Group.objects.get(parent=online)
    assert local.status == Group.Status.PENDING
    told = Notification.objects.filter(kind=Notification.Kind.LOCAL_GROUP)
    assert told.count() == 0
    staff = make_user(staff=True)
    approve_group(actor=staff, group=local)
    approve_group(actor=staff, group=local)
    assert list(told.values_list("user_id", flat=True)) == [nearby.pk]


def test_invite_only_local_group_sends_an_invite_link(client, make_user, online, settings):
    settings.KINDRED_GROUPS_NEED_APPROVAL = False
    founder = member(make_user, online)
    nearby = member(make_user, online, "Fort William")
    client.force_login(founder)
    _start(client, online, privacy="invite")
    note = Notification.objects.get(kind=Notification.Kind.LOCAL_GROUP, user=nearby)
    assert note.url.startswith("/groups/invite/")
    client.force_login(nearby)
    assert client.post(note.url).status_code == 302
    assert Membership.objects.get(user=nearby, group__parent=online).status == "approved"
