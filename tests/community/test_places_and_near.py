"""Picking places (/places/), a member's private home town, and finding groups near a town."""

from __future__ import annotations

import pytest
from django.urls import reverse

from community import gazetteer
from community.forms import GroupForm
from community.models import Group, User
from community.services import create_group, update_profile
from community.views import places as places_view
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db


def place(name: str) -> gazetteer.Place:
    found = gazetteer.resolve(name)
    assert found is not None, name
    return found


def located(town: str) -> dict:
    p = place(town)
    return {"town": p.name, "place_id": p.id, "latitude": p.latitude, "longitude": p.longitude}


def set_home(user: User, town: str) -> User:
    return update_profile(actor=user, display_name=user.display_name, home_town=town)


# --- /places/ ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["format", "accept"])
def test_places_gives_json_when_asked(client, how):
    if how == "format":
        response = client.get("/places/", {"q": "fort will", "format": "json"})
    else:
        response = client.get("/places/", {"q": "fort will"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    first = response.json()["places"][0]
    fort = place("Fort William")
    assert first == {"id": fort.id, "label": "Fort William, Scotland", "name": "Fort William",
                     "region": "Scotland"}
    assert "Accept" in response["Vary"]


def test_places_json_for_a_short_query_is_empty(client):
    assert client.get("/places/", {"q": "f", "format": "json"}).json() == {"places": []}


def test_places_html_lists_matches_as_links_to_groups_near_them(client):
    response = client.get("/places/", {"q": "fort will"})
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert '<label for="place-q">Town or village</label>' in body
    assert "Fort William, Scotland" in body
    link = f"/groups/?near=Fort+William%2C+Scotland&amp;near_place={place('Fort William').id}"
    assert link in body


def test_places_html_goes_back_to_a_local_page_only(client):
    body = client.get("/places/", {"q": "fort will", "next": "/accounts/profile/?a=1",
                                   "field": "home_town"}).content.decode()
    assert "/accounts/profile/?a=1&amp;home_town=Fort+William" in body
    body = client.get("/places/", {"q": "fort will", "next": "https://evil.example/"}
                      ).content.decode()
    assert "evil.example/?" not in body and "/groups/?near=Fort" in body


def test_places_html_suggests_spellings_for_a_town_not_found(client):
    body = client.get("/places/", {"q": "Fort Wiliam"}).content.decode()
    assert "We couldn't find a town called" in body
    assert "Fort William, Scotland" in body


def test_places_is_rate_limited(client, monkeypatch, make_user):
    monkeypatch.setattr(places_view, "RATE_LIMIT", 2)
    address = {"REMOTE_ADDR": "192.0.2.77"}
    for _ in range(2):
        assert client.get("/places/", {"q": "york", "format": "json"}, **address
                          ).status_code == 200
    refused = client.get("/places/", {"q": "york", "format": "json"}, **address)
    assert refused.status_code == 429
    assert refused.json()["places"] == []
    assert client.get("/places/", {"q": "york"}, **address).status_code == 429
    # someone else (another address, or a signed-in person) is not held back
    assert client.get("/places/", {"q": "york", "format": "json"},
                      REMOTE_ADDR="192.0.2.78").status_code == 200
    client.force_login(make_user())
    assert client.get("/places/", {"q": "york", "format": "json"}, **address
                      ).status_code == 200


def test_places_js_is_served_and_is_a_combobox(client):
    from django.contrib.staticfiles import finders

    with open(finders.find("js/places.js"), encoding="utf-8") as fh:
        source = fh.read()
    for needle in ('"combobox"', '"listbox"', '"option"', "aria-activedescendant",
                   "aria-expanded", "ArrowDown", "Escape", '"polite"'):
        assert needle in source


# --- home town: picked from the gazetteer, private -----------------------------------------


def _profile(client, user, **fields):
    data = {"display_name": user.display_name, "about": "", "email_notifications": "daily"}
    data.update(fields)
    return client.post(reverse("profile"), data)


def test_home_town_is_resolved_and_stored_with_place_and_coordinates(client, make_user):
    user = make_user("Sky")
    client.force_login(user)
    response = _profile(client, user, home_town="fort william")
    assert response.status_code == 302
    user.refresh_from_db()
    fort = place("Fort William")
    assert (user.home_town, user.home_place_id) == ("Fort William", fort.id)
    assert (user.home_latitude, user.home_longitude) == (fort.latitude, fort.longitude)
    # shown back to its owner as the label they picked
    assert 'value="Fort William, Scotland"' in client.get(reverse("profile")).content.decode()


def test_home_town_picked_from_the_list_keeps_the_place_chosen(client, make_user):
    user = make_user()
    client.force_login(user)
    english = place("Newport, England")
    assert place("Newport") != english
    _profile(client, user, home_town="Newport, England", home_town_place=english.id)
    user.refresh_from_db()
    assert user.home_place_id == english.id


def test_unknown_home_town_is_a_clear_error_with_suggestions_keeping_what_was_typed(
    client, make_user
):
    user = make_user()
    client.force_login(user)
    response = _profile(client, user, home_town="Fort Wiliam", about="I like long walks.")
    body = response.content.decode()
    assert "We couldn&#x27;t find that town" in body
    assert 'id="id_home_town-error"' in body
    assert "I like long walks." in body and 'value="Fort Wiliam"' in body
    fort = place("Fort William")
    assert f'name="home_town_pick" value="{fort.id}"' in body
    user.refresh_from_db()
    assert user.home_town == "" and user.home_place_id is None
    # pressing the suggestion saves it, with everything else
    response = _profile(client, user, home_town="Fort Wiliam", about="I like long walks.",
                        home_town_pick=fort.id)
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.home_place_id, user.about) == (fort.id, "I like long walks.")


def test_clearing_the_home_town_forgets_the_place(client, make_user):
    user = set_home(make_user(), "York")
    client.force_login(user)
    _profile(client, user, home_town="")
    user.refresh_from_db()
    assert (user.home_town, user.home_place_id, user.home_latitude) == ("", None, None)


def test_another_member_never_sees_a_members_home_town(client, make_user, make_group):
    group = make_group(Group.Privacy.OPEN)
    person = set_home(make_user("Quiet Person"), "Fort William")
    other = make_user("Curious Person")
    add_membership(person, group, "approved")
    add_membership(other, group, "approved")
    client.force_login(other)
    pages = [
        reverse("person", kwargs={"user_id": person.pk}),
        reverse("groups:members", kwargs={"slug": group.slug}),
        reverse("groups:home", kwargs={"slug": group.slug}),
        reverse("groups:list"),
        "/search/?q=Quiet",
        "/places/?q=fort+william&format=json",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        if url.startswith("/places"):
            continue  # the gazetteer lists towns, never people
        assert "Fort William" not in body, url
        assert str(person.home_place_id) not in body, url
    # and the person themself does see it, on their own profile form
    client.force_login(person)
    assert "Fort William" in client.get(reverse("profile")).content.decode()


# --- groups near a town ----------------------------------------------------------------------


@pytest.fixture
def near_world(make_group, make_user):
    """Local groups around Fort William, one far away, and online groups."""
    owner = make_user("Founder")
    g = {}
    g["fort"] = make_group(Group.Privacy.OPEN, owner=owner, name="Fort William COPD",
                           format="local", condition="COPD", kind="condition",
                           **located("Fort William"))
    g["inverness"] = make_group(Group.Privacy.APPROVAL, owner=owner, name="Inverness COPD",
                                format="local", condition="copd", kind="condition",
                                **located("Inverness"))  # about 55 miles
    g["oban"] = make_group(Group.Privacy.OPEN, owner=owner, name="Oban carers",
                           format="local", kind="carers", **located("Oban"))  # about 35
    g["london"] = make_group(Group.Privacy.OPEN, owner=owner, name="London COPD",
                             format="local", condition="COPD", **located("London"))
    g["secret"] = make_group(Group.Privacy.INVITE, owner=owner, name="Secret Fort group",
                             format="local", condition="COPD", **located("Fort William"))
    g["online_copd"] = make_group(Group.Privacy.OPEN, owner=owner, name="COPD online",
                                  condition="Copd", kind="condition")
    g["online_other"] = make_group(Group.Privacy.OPEN, owner=owner, name="Diabetes online",
                                   condition="Type 1 diabetes", kind="condition")
    g["online_secret"] = make_group(Group.Privacy.INVITE, owner=owner, name="Hidden COPD",
                                    condition="COPD")
    return g


def _near(client, town="Fort William", radius="25", **extra):
    response = client.get(reverse("groups:list"), {"near": town, "radius": radius, **extra})
    assert response.status_code == 200
    return response


def _names(response) -> list[str]:
    return [item.group.name for item in response.context["near"]["local"]]


def test_local_groups_are_sorted_by_distance_within_the_radius(client, near_world):
    response = _near(client, radius="100")
    assert _names(response) == ["Fort William COPD", "Oban carers", "Inverness COPD"]
    body = response.content.decode()
    assert "Less than a mile away" in body
    assert "About 35 miles away" in body or "About 30 miles away" in body
    assert _names(_near(client, radius="50")) == ["Fort William COPD", "Oban carers"]
    assert _names(_near(client, radius="10")) == ["Fort William COPD"]


def test_online_groups_for_the_same_condition_are_listed_below(client, near_world):
    response = _near(client, radius="10")
    online = [g.name for g in response.context["near"]["online"]]
    assert online == ["COPD online"]  # case-insensitive match; never the invite-only one
    body = response.content.decode()
    assert body.index("Fort William COPD") < body.index("COPD online")


def test_a_search_word_works_as_a_condition_filter_near_a_town(client, near_world):
    response = _near(client, radius="100", q="diabetes")
    assert _names(response) == []
    assert [g.name for g in response.context["near"]["online"]] == ["Diabetes online"]


def test_invite_only_groups_appear_only_to_their_members(client, near_world, make_user):
    assert "Secret Fort group" not in _names(_near(client))  # anonymous
    outsider = make_user()
    client.force_login(outsider)
    assert "Secret Fort group" not in _names(_near(client))
    member = make_user()
    add_membership(member, near_world["secret"], "approved")
    client.force_login(member)
    assert "Secret Fort group" in _names(_near(client))


def test_near_defaults_to_the_viewers_home_town(client, near_world, make_user):
    person = set_home(make_user(), "Fort William")
    client.force_login(person)
    response = client.get(reverse("groups:list"))
    near = response.context["near"]
    assert near["is_home"] and near["place"].name == "Fort William"
    assert _names(response) == ["Fort William COPD"]
    assert 'value="Fort William, Scotland"' in response.content.decode()
    # an empty box means "no town": the plain list only
    assert "near" not in client.get(reverse("groups:list"), {"near": ""}).context


def test_unknown_near_town_is_an_error_with_suggestions(client, near_world):
    response = client.get(reverse("groups:list"), {"near": "Fort Wiliam", "q": "copd"})
    body = response.content.decode()
    assert "We couldn&#x27;t find that town" in body
    fort = place("Fort William")
    assert f'name="near_pick" value="{fort.id}"' in body
    picked = client.get(reverse("groups:list"), {"near_pick": fort.id, "q": "copd"})
    assert _names(picked) == ["Fort William COPD"]


def test_groups_near_query_count_stays_flat(client, make_group, make_user,
                                            django_assert_max_num_queries):
    viewer = set_home(make_user(), "Fort William")
    client.force_login(viewer)

    def add_groups(n):
        for i in range(n):
            group = make_group(Group.Privacy.OPEN, format="local", condition=f"C{i}",
                               **located("Fort William"))
            make_group(Group.Privacy.OPEN, condition=f"c{i}")
            add_membership(viewer, group, "approved")

    add_groups(2)
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("groups:list"), {"radius": "25"})
    add_groups(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("groups:list"), {"radius": "25"})
    assert len(response.context["near"]["local"]) == 10
    assert len(response.context["near"]["online"]) == 10


# --- a group's town is resolved once, when saved ---------------------------------------------


def test_creating_a_local_group_stores_its_place(make_user, settings):
    settings.KINDRED_GROUPS_NEED_APPROVAL = False
    group = create_group(actor=make_user(), name="Fort friends", description="Meet up.",
                         format="local", town="fort william", privacy="open")
    fort = place("Fort William")
    assert (group.town, group.place_id, group.latitude, group.longitude) == (
        "Fort William", fort.id, fort.latitude, fort.longitude)


def test_group_form_refuses_a_town_not_in_the_gazetteer_with_suggestions():
    data = {"name": "Fort friends", "description": "Meet up.", "kind": "generic",
            "format": "local", "town": "Fort Wiliam", "privacy": "open"}
    form = GroupForm(data)
    assert not form.is_valid()
    assert "We couldn't find that town" in form.errors["town"][0]
    assert "Fort William, Scotland" in form.errors["town"][0]
    assert form.town_suggestions["town"][0].name == "Fort William"
    form = GroupForm(data | {"town": "Fort William"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["town"] == "Fort William, Scotland"
