"""A group's resources library: members read it, its moderators keep it; bodies are
rendered once by the one Markdown function; links open normally with rel=noopener
nofollow."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse

from community.models import Group, Resource, Signpost
from community.services import signposts as library
from moderation.models import AuditEntry

A = AuditEntry.Action
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

LEAFLET = {"title": "Pacing leaflet", "url": "https://example.org/pacing",
           "body": "**Pace** yourself.\n\n- rest\n- plan"}


@pytest.fixture
def group(make_group):
    return make_group(Group.Privacy.APPROVAL, name="Long Covid Leeds")


@pytest.fixture
def people(group, people_in):
    return people_in(group)


def _save(actor, group, **fields):
    return library.save_resource(actor=actor, group=group, **(LEAFLET | fields))


def _url(name, group, **kwargs):
    return reverse(name, kwargs={"slug": group.slug, **kwargs})


def _audits(group, action):
    return list(AuditEntry.objects.filter(group=group, action=action))


# --- services ---------------------------------------------------------------------------


def test_moderator_adds_a_resource_with_its_body_rendered_safely(group, people):
    resource = _save(people["moderator"], group,
                     body="**Pace** yourself <script>alert(1)</script> [site](javascript:x)")
    assert "<strong>Pace</strong>" in resource.body_html
    assert "<script" not in resource.body_html and 'href="javascript' not in resource.body_html
    assert (resource.group, resource.added_by, resource.url) == (
        group, people["moderator"], "https://example.org/pacing")
    [entry] = _audits(group, A.RESOURCE_SAVED)
    assert entry.actor == people["moderator"] and entry.detail["resource_id"] == resource.pk


@pytest.mark.parametrize(("role", "allowed"), [
    ("owner", True), ("moderator", True), ("staff", True),
    ("welcomer", False), ("member", False), ("outsider", False), ("anonymous", False),
])
def test_only_moderators_owners_and_staff_add_resources(group, people, role, allowed):
    if allowed:
        _save(people[role], group)
    else:
        with pytest.raises(Http404):
            _save(people[role], group)
    assert Resource.objects.filter(group=group).count() == (1 if allowed else 0)
    assert len(_audits(group, A.RESOURCE_SAVED)) == (1 if allowed else 0)


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"title": "  "}, "title", "give it a title"),
    ({"url": "", "body": "   "}, "url", "web address, or write something"),
    ({"url": "javascript:alert(1)"}, "url", "starting with https://"),
    ({"url": "example.org"}, "url", "starting with https://"),
])
def test_bad_resource_says_what_to_fix_and_saves_nothing(group, people, fields, field, words):
    with pytest.raises(ValidationError) as caught:
        _save(people["moderator"], group, **fields)
    assert words in " ".join(caught.value.message_dict[field])
    assert not Resource.objects.filter(group=group).exists()
    assert not _audits(group, A.RESOURCE_SAVED)


def test_a_link_alone_or_a_body_alone_is_enough(group, people):
    assert _save(people["moderator"], group, body="").body_html == ""
    assert _save(people["moderator"], group, url="", title="Notes").url == ""


def test_changing_a_resource_renders_it_again(group, people):
    resource = _save(people["moderator"], group)
    changed = library.save_resource(actor=people["owner"], group=group, resource=resource,
                                    title="Pacing, updated", url="", body="*New* notes")
    assert changed.pk == resource.pk and changed.added_by == people["moderator"]
    assert changed.body_html == "<p><em>New</em> notes</p>"
    assert [e.detail["added"] for e in _audits(group, A.RESOURCE_SAVED)] == [False, True]


def test_another_groups_resource_is_404(group, people, make_group):
    other = make_group(Group.Privacy.OPEN)
    theirs = _save(other.memberships.get(role="owner").user, other)
    with pytest.raises(Http404):
        library.save_resource(actor=people["owner"], group=group, resource=theirs,
                              title="Mine now", url="https://example.org/")
    with pytest.raises(Http404):
        library.delete_resource(actor=people["owner"], resource=theirs)
    assert Resource.objects.get(pk=theirs.pk).title == "Pacing leaflet"


def test_deleting_a_resource_is_audited(group, people):
    resource = _save(people["moderator"], group)
    with pytest.raises(Http404):
        library.delete_resource(actor=people["member"], resource=resource)
    library.delete_resource(actor=people["owner"], resource=resource)
    assert not Resource.objects.filter(pk=resource.pk).exists()
    [entry] = _audits(group, A.RESOURCE_DELETED)
    assert entry.actor == people["owner"] and entry.detail["title"] == "Pacing leaflet"


# --- the library page ---------------------------------------------------------------------


def test_members_read_the_library_and_the_groups_signposts(client, group, people):
    resource = _save(people["moderator"], group)
    Signpost.objects.create(group=group, topic="support", name="Long Covid helpline",
                            phone="0800 555 111", who_for="Anyone with long Covid")
    client.force_login(people["member"])
    response = client.get(_url("groups:resources", group))
    body = response.content.decode()
    assert response.status_code == 200
    assert '<a href="https://example.org/pacing" rel="noopener nofollow">Pacing leaflet</a>' in (
        body)
    assert "<strong>Pace</strong>" in body
    assert "Long Covid helpline" in body and 'href="tel:0800555111"' in body
    assert "Anyone with long Covid" in body
    assert f'href="/help/?group={group.slug}"' in body
    # A member sees no controls.
    assert _url("groups:resource_new", group) not in body
    assert _url("groups:resource_edit", group, resource_id=resource.pk) not in body
    assert _url("groups:resource_delete", group, resource_id=resource.pk) not in body


def test_moderators_see_the_controls(client, group, people):
    resource = _save(people["moderator"], group)
    client.force_login(people["moderator"])
    body = client.get(_url("groups:resources", group)).content.decode()
    assert _url("groups:resource_new", group) in body
    assert _url("groups:resource_edit", group, resource_id=resource.pk) in body
    assert _url("groups:resource_delete", group, resource_id=resource.pk) in body


@pytest.mark.parametrize(("privacy", "role", "outcome"), [
    (Group.Privacy.APPROVAL, "outsider", 404),
    (Group.Privacy.APPROVAL, "pending", 404),
    (Group.Privacy.APPROVAL, "banned", 404),
    (Group.Privacy.INVITE, "anonymous", 404),
    (Group.Privacy.APPROVAL, "anonymous", "login"),
    (Group.Privacy.OPEN, "outsider", "home"),
    (Group.Privacy.OPEN, "member", 200),
])
def test_the_library_is_content_and_never_public(client, make_group, people_in, privacy,
                                                 role, outcome):
    group = make_group(privacy)
    owner = group.memberships.get(role="owner").user
    _save(owner, group, title="Canary leaflet")
    person = people_in(group)[role]
    if person is not None:
        client.force_login(person)
    response = client.get(_url("groups:resources", group))
    if outcome == "login":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    elif outcome == "home":
        assert response.status_code == 302 and response["Location"] == group.get_absolute_url()
    else:
        assert response.status_code == outcome
    if response.status_code != 200:
        assert "Canary leaflet" not in response.content.decode()


def test_group_home_links_members_to_the_library(client, group, people):
    client.force_login(people["member"])
    body = client.get(_url("groups:home", group)).content.decode()
    assert _url("groups:resources", group) in body
    client.force_login(people["outsider"])
    body = client.get(_url("groups:home", group)).content.decode()
    assert _url("groups:resources", group) not in body


def test_adding_from_the_page(client, group, people):
    client.force_login(people["moderator"])
    assert client.get(_url("groups:resource_new", group)).status_code == 200
    response = client.post(_url("groups:resource_new", group), LEAFLET)
    resource = Resource.objects.get(group=group)
    assert response.status_code == 302
    assert response["Location"] == f"{_url('groups:resources', group)}#resource-{resource.pk}"
    assert "<strong>Pace</strong>" in resource.body_html


def test_a_bad_resource_is_400_and_keeps_what_was_typed(client, group, people):
    client.force_login(people["moderator"])
    typed = {"title": "My careful title", "url": "ftp://example.org/file",
             "body": "Some careful notes"}
    response = client.post(_url("groups:resource_new", group), typed)
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_url-error"' in body
    assert 'value="My careful title"' in body and 'value="ftp://example.org/file"' in body
    assert "Some careful notes" in body
    assert not Resource.objects.filter(group=group).exists()


@pytest.mark.parametrize("role", ["member", "welcomer", "outsider"])
def test_adding_from_the_page_is_404_for_others(client, group, people, role):
    client.force_login(people[role])
    assert client.get(_url("groups:resource_new", group)).status_code == 404
    assert client.post(_url("groups:resource_new", group), LEAFLET).status_code == 404
    assert not Resource.objects.filter(group=group).exists()


def test_editing_and_deleting_from_the_page(client, group, people):
    resource = _save(people["moderator"], group)
    client.force_login(people["owner"])
    edit = _url("groups:resource_edit", group, resource_id=resource.pk)
    assert 'value="Pacing leaflet"' in client.get(edit).content.decode()
    assert client.post(edit, LEAFLET | {"title": "Pacing guide"}).status_code == 302
    assert Resource.objects.get(pk=resource.pk).title == "Pacing guide"
    response = client.post(edit, {"title": "Kept", "url": "", "body": ""})
    assert response.status_code == 400 and 'value="Kept"' in response.content.decode()
    delete = _url("groups:resource_delete", group, resource_id=resource.pk)
    assert client.get(delete).status_code == 405
    assert client.post(delete).status_code == 302
    assert not Resource.objects.filter(pk=resource.pk).exists()


def test_another_groups_resource_under_my_slug_is_404(client, group, people, make_group):
    other = make_group(Group.Privacy.OPEN)
    theirs = _save(other.memberships.get(role="owner").user, other)
    client.force_login(people["owner"])
    edit = _url("groups:resource_edit", group, resource_id=theirs.pk)
    assert client.get(edit).status_code == 404
    assert client.post(edit, LEAFLET).status_code == 404
    delete = _url("groups:resource_delete", group, resource_id=theirs.pk)
    assert client.post(delete).status_code == 404
    assert Resource.objects.get(pk=theirs.pk).title == "Pacing leaflet"


@pytest.mark.parametrize("rows", [3, 30])
def test_library_page_query_count_stays_flat(client, group, people, make_user,
                                             django_assert_max_num_queries, rows):
    for i in range(rows):
        Resource.objects.create(group=group, title=f"Leaflet {i}", url="https://example.org/",
                                body_html=f"<p>Notes {i}</p>", added_by=make_user(f"Adder {i}"))
        Signpost.objects.create(group=group, name=f"Line {i}", phone="0800 000 444")
    client.force_login(people["moderator"])
    client.get("/help/")  # settle the session first
    with django_assert_max_num_queries(14):
        body = client.get(_url("groups:resources", group)).content.decode()
    assert body.count('<article class="card" id="resource-') == rows
    assert body.count("Adder ") == rows


# --- the admin -------------------------------------------------------------------------------


def test_staff_add_a_resource_in_the_admin_through_the_service(client, group, make_user):
    staff = make_user("Lead", staff=True)
    client.force_login(staff)
    url = reverse("admin:community_resource_add")
    response = client.post(url, {"group": group.pk, "title": "From staff", "url": "",
                                 "body": "**Hi**", "position": 0})
    assert response.status_code == 302, response.content.decode()[:3000]
    resource = Resource.objects.get(group=group)
    assert resource.body_html == "<p><strong>Hi</strong></p>" and resource.added_by == staff
    assert AuditEntry.objects.filter(action=A.RESOURCE_SAVED, actor=staff).exists()
    response = client.post(url, {"group": group.pk, "title": "Empty", "url": "", "body": "",
                                 "position": 0})
    assert response.status_code == 200
    assert "Please give a web address" in response.content.decode()
