"""Welcomers: who is told about a newcomer, greeting them in one click, and the newcomer's
first-visit welcome panel."""

from __future__ import annotations

import pytest
from django.urls import reverse

from community import services
from community.models import ChatMessage, Group, Membership, Notification
from community.services.invites import create_invite, join_with_invite
from community.services.welcome import greet_url
from forums.models import Category, Post, Thread
from forums.services import create_default_categories
from tests.conftest import add_membership

N = Notification.Kind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def group(make_group):
    g = make_group(Group.Privacy.APPROVAL, rules="Be kind. We share experience, not advice.",
                   welcome_message="Lovely to have you with us.")
    create_default_categories(g)
    return g


@pytest.fixture
def cast(group, make_user):
    """The owner, a moderator, a welcomer, a plain member and a newcomer who just joined."""
    people = {"owner": group.memberships.get(role="owner").user}
    for role in ("moderator", "welcomer", "member"):
        people[role] = make_user(f"{role.title()} Person")
        add_membership(people[role], group, "approved", role)
    people["newcomer"] = make_user("Nadia Newcomer")
    add_membership(people["newcomer"], group, "approved")
    return people


def greet(client, group, newcomer, **data):
    return client.post(greet_url(group, newcomer), {"choice": "chat",
                                                     "message": "Welcome, Nadia!"} | data)


# --- who is told ---------------------------------------------------------------------------


def test_approval_tells_the_welcomers_with_a_link_to_greet(group, cast, make_user):
    asker = make_user("Asha Asker")
    request = add_membership(asker, group, "pending")
    services.approve_membership(actor=cast["owner"], membership=request)
    told = Notification.objects.filter(kind=N.NEW_MEMBER, group=group)
    assert [n.user for n in told] == [cast["welcomer"]]
    assert told.get().url == greet_url(group, asker) == (
        f"/groups/{group.slug}/members/{asker.pk}/greet/")
    assert "Asha Asker" in told.get().text


def test_without_welcomers_the_moderators_and_owners_are_told(make_group, make_user):
    group = make_group(Group.Privacy.OPEN)
    owner = group.memberships.get().user
    moderator, member, joiner = make_user(), make_user(), make_user("Jo Joiner")
    add_membership(moderator, group, "approved", "moderator")
    add_membership(member, group, "approved")
    services.join_open_group(actor=joiner, group=group)
    told = {n.user for n in Notification.objects.filter(kind=N.NEW_MEMBER, group=group)}
    assert told == {owner, moderator}
    assert all(n.url == greet_url(group, joiner)
               for n in Notification.objects.filter(kind=N.NEW_MEMBER))


def test_joining_with_an_invite_tells_the_welcomers(group, cast, make_user):
    invite = create_invite(actor=cast["owner"], group=group)
    joiner = make_user("Ivo Invited")
    join_with_invite(actor=joiner, token=invite.token)
    told = Notification.objects.filter(kind=N.NEW_MEMBER, group=group)
    assert [(n.user, n.url) for n in told] == [(cast["welcomer"], greet_url(group, joiner))]


def test_a_welcomer_in_another_group_is_not_told(group, cast, make_group, make_user):
    other = make_group(Group.Privacy.OPEN)
    outsider_welcomer = make_user()
    add_membership(outsider_welcomer, other, "approved", "welcomer")
    add_membership(outsider_welcomer, group, "approved")  # only a member here
    request = add_membership(make_user(), group, "pending")
    services.approve_membership(actor=cast["owner"], membership=request)
    told = [n.user for n in Notification.objects.filter(kind=N.NEW_MEMBER, group=group)]
    assert told == [cast["welcomer"]]


# --- the greet page -------------------------------------------------------------------------


def test_greet_page_offers_two_choices_and_words_to_edit(client, group, cast):
    client.force_login(cast["welcomer"])
    response = client.get(greet_url(group, cast["newcomer"]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'value="chat"' in body and 'value="intro"' in body
    assert "Welcome, Nadia Newcomer!" in body
    assert '<label for="id_message">' in body and "<legend>" in body


@pytest.mark.parametrize("role", ["welcomer", "moderator", "owner"])
def test_greeting_in_the_chat_posts_once_even_on_a_double_click(client, group, cast, role):
    client.force_login(cast[role])
    first = greet(client, group, cast["newcomer"])
    second = greet(client, group, cast["newcomer"])
    messages = ChatMessage.objects.filter(group=group, author=cast[role])
    assert [m.body for m in messages] == ["Welcome, Nadia!"]
    chat = reverse("groups:chat", kwargs={"slug": group.slug})
    assert first["Location"] == second["Location"] == f"{chat}#message-{messages.get().pk}"
    row = Membership.objects.get(user=cast["newcomer"], group=group)
    assert row.greeted_at is not None
    greetings = Notification.objects.filter(user=cast["newcomer"], kind=N.GREETING)
    assert greetings.count() == 1
    assert greetings.get().url == first["Location"]


def test_greeting_in_introductions_starts_the_thread_then_replies_in_it(
    client, group, cast, make_user
):
    first_category = Category.objects.filter(group=group).order_by("position", "id").first()
    client.force_login(cast["welcomer"])
    greet(client, group, cast["newcomer"], choice="intro")
    greet(client, group, cast["newcomer"], choice="intro")  # a double click
    thread = Thread.objects.get(group=group)
    assert (thread.title, thread.category) == ("Introductions", first_category)
    assert list(Post.objects.filter(thread=thread).values_list("body", flat=True)) == [
        "Welcome, Nadia!"]
    later = make_user("Lee Later")
    add_membership(later, group, "approved")
    response = greet(client, group, later, choice="intro", message="Welcome, Lee!")
    assert Thread.objects.filter(group=group).count() == 1
    reply = Post.objects.get(thread=thread, body="Welcome, Lee!")
    assert reply.parent is not None and reply.author == cast["welcomer"]
    assert response["Location"].startswith(
        reverse("forums:thread", kwargs={"slug": group.slug, "thread_id": thread.pk}))
    assert Notification.objects.filter(user=later, kind=N.GREETING).count() == 1


def test_greeting_keeps_the_edited_words_when_the_message_is_empty(client, group, cast):
    client.force_login(cast["welcomer"])
    response = greet(client, group, cast["newcomer"], message="   ")
    assert response.status_code == 400
    assert "Please write a few words of welcome." in response.content.decode()
    assert not ChatMessage.objects.filter(group=group).exists()
    assert Membership.objects.get(user=cast["newcomer"], group=group).greeted_at is None


@pytest.mark.parametrize("role", ["member", "outsider", "anonymous", "staff", "pending"])
def test_only_welcomers_moderators_and_owners_may_greet(client, group, cast, make_user, role):
    person = None
    if role in cast:
        person = cast[role]
    elif role in ("outsider", "staff"):
        person = make_user(staff=role == "staff")
    elif role == "pending":
        person = make_user()
        add_membership(person, group, "pending")
    if person is not None:
        client.force_login(person)
    assert client.get(greet_url(group, cast["newcomer"])).status_code == 404
    assert greet(client, group, cast["newcomer"]).status_code == 404
    assert not ChatMessage.objects.filter(group=group).exists()
    assert not Notification.objects.filter(kind=N.GREETING).exists()
    assert Membership.objects.get(user=cast["newcomer"], group=group).greeted_at is None


@pytest.mark.parametrize("status", ["pending", "left", "banned", "declined", None])
def test_greeting_someone_who_is_not_an_approved_member_is_404(
    client, group, cast, make_user, status
):
    person = make_user()
    if status:
        add_membership(person, group, status)
    client.force_login(cast["welcomer"])
    assert client.get(greet_url(group, person)).status_code == 404
    assert greet(client, group, person).status_code == 404
    assert not ChatMessage.objects.filter(group=group).exists()


def test_greeting_in_a_group_you_do_not_welcome_for_is_404(client, group, cast, make_group):
    other = make_group(Group.Privacy.OPEN)
    add_membership(cast["newcomer"], other, "approved")
    client.force_login(cast["welcomer"])  # a welcomer here, not there
    assert client.get(greet_url(other, cast["newcomer"])).status_code == 404
    assert client.get(f"/groups/no-such-group/members/{cast['newcomer'].pk}/greet/"
                      ).status_code == 404


# --- the welcome panel ------------------------------------------------------------------------


def home(client, group):
    return client.get(reverse("groups:home", kwargs={"slug": group.slug})).content.decode()


def test_new_member_sees_the_welcome_panel_until_they_press_got_it(client, group, cast):
    client.force_login(cast["newcomer"])
    body = home(client, group)
    assert 'id="welcome-panel-heading" tabindex="-1"' in body
    assert "Lovely to have you with us." in body
    assert "Be kind. We share experience, not advice." in body
    assert 'href="/help/"' in body and "get help now" in body
    assert "<strong>Flag</strong> link" in body
    seen = reverse("groups:welcome_seen", kwargs={"slug": group.slug})
    assert f'action="{seen}"' in body and "Got it" in body
    assert "welcome-panel-heading" in home(client, group)  # still there on the next visit
    response = client.post(seen)
    assert response.status_code == 302 and response["Location"] == group.get_absolute_url()
    assert Membership.objects.get(user=cast["newcomer"], group=group).welcome_seen_at
    assert "welcome-panel-heading" not in home(client, group)


def test_welcome_panel_is_not_shown_to_the_founder_or_outsiders(client, group, cast, make_user):
    client.force_login(cast["owner"])
    assert "welcome-panel-heading" not in home(client, group)
    client.force_login(make_user())
    assert "welcome-panel-heading" not in home(client, group)


def test_got_it_from_a_non_member_changes_nothing(client, group, make_user):
    client.force_login(make_user())
    seen = reverse("groups:welcome_seen", kwargs={"slug": group.slug})
    assert client.post(seen).status_code == 404  # an approval group's content is 404
    assert client.get(seen).status_code == 405
