"""Email per member and per group: the group's own choice beats the account's.

A member chooses, for each group: as in my account settings, off, an email for each
notification, or a daily summary. Emails are plain and accessible: a short subject,
plain text first (and a simple HTML twin), a greeting by name, what happened, one link,
and at the bottom why they got it, how to change it and a one-click unsubscribe link.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from community import policy
from community.models import Group, Membership, Notification, User
from community.services.notifications import notify
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db

REPLY = Notification.Kind.FORUM_REPLY


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def group(make_group):
    return make_group(Group.Privacy.APPROVAL, name="Kidney Friends", slug="kidney-friends")


@pytest.fixture
def member(group, make_user):
    person = make_user("Maya Member")
    add_membership(person, group, "approved")
    return person


def choose(person: User, group: Group, *, account: str, group_choice: str) -> User:
    User.objects.filter(pk=person.pk).update(email_notifications=account)
    Membership.objects.filter(user=person, group=group).update(
        email_notifications=group_choice)
    return User.objects.get(pk=person.pk)


def reply_notice(person: User, group: Group, capture, *, activity: bool = True):
    with capture(execute=True):
        return notify(user=person, kind=REPLY, group=group,
                      text="Bob replied to your post in “Good days”.",
                      url=f"/groups/{group.slug}/forum/t/1/",
                      email_subject=f"New reply in {group.name}", activity=activity)


@pytest.mark.parametrize(("account", "group_choice", "emailed"), [
    ("immediate", "", True),  # follows the account
    ("off", "", False),
    ("daily", "", False),  # waits for the summary
    ("off", "immediate", True),  # the group's choice wins
    ("daily", "immediate", True),
    ("immediate", "off", False),
    ("immediate", "daily", False),
])
def test_the_group_choice_beats_the_account_choice(group, member, mailoutbox,
                                                   django_capture_on_commit_callbacks,
                                                   account, group_choice, emailed):
    person = choose(member, group, account=account, group_choice=group_choice)
    notice = reply_notice(person, group, django_capture_on_commit_callbacks)
    assert len(mailoutbox) == (1 if emailed else 0)
    assert Notification.objects.filter(pk=notice.pk).exists()  # always told in-app


def test_off_means_no_email_even_for_notices_about_the_person(
    group, member, mailoutbox, django_capture_on_commit_callbacks,
):
    person = choose(member, group, account="immediate", group_choice="off")
    reply_notice(person, group, django_capture_on_commit_callbacks, activity=False)
    assert mailoutbox == []
    # with the group's emails on, notices about them are emailed whatever the account says
    person = choose(member, group, account="off", group_choice="")
    reply_notice(person, group, django_capture_on_commit_callbacks, activity=False)
    assert len(mailoutbox) == 1


def test_immediate_sends_one_plain_accessible_email(group, member, mailoutbox,
                                                    django_capture_on_commit_callbacks):
    person = choose(member, group, account="off", group_choice="immediate")
    reply_notice(person, group, django_capture_on_commit_callbacks)
    [email] = mailoutbox
    assert email.to == [person.email]
    assert email.subject == "[Kindred] New reply in Kidney Friends"
    text = email.body
    assert text.startswith("Hello Maya Member,")
    assert "Bob replied to your post in “Good days”." in text
    assert "http://127.0.0.1:8000/groups/kidney-friends/forum/t/1/" in text
    assert "Why you got this email: You asked for an email about each new notification " \
           "from Kidney Friends." in text
    assert "http://127.0.0.1:8000/groups/kidney-friends/email/" in text
    assert "/email/unsubscribe/" in text
    # plain text first, then a simple HTML twin with the same single link
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    assert 'lang="en-GB"' in html and "Hello Maya Member," in html
    assert html.count('href="http://127.0.0.1:8000/groups/kidney-friends/forum/t/1/"') == 1
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.extra_headers["List-Unsubscribe"].startswith(
        "<http://127.0.0.1:8000/email/unsubscribe/")


def test_the_site_address_in_emails_can_be_configured(group, member, mailoutbox, settings,
                                                     django_capture_on_commit_callbacks):
    settings.KINDRED_SITE_URL = "https://kindred.example.org/"
    person = choose(member, group, account="immediate", group_choice="")
    reply_notice(person, group, django_capture_on_commit_callbacks)
    assert "https://kindred.example.org/groups/kidney-friends/forum/t/1/" in mailoutbox[0].body
    assert "Your Kindred account is set to send an email" in mailoutbox[0].body


@pytest.mark.parametrize("status", ["left", "removed", "banned"])
def test_no_activity_email_to_someone_who_left_before_it_was_sent(
    group, member, mailoutbox, django_capture_on_commit_callbacks, status,
):
    person = choose(member, group, account="immediate", group_choice="immediate")
    with django_capture_on_commit_callbacks(execute=False) as pending:
        notify(user=person, kind=REPLY, group=group, text="A reply", url="/",
               email_subject="New reply", activity=True)
    Membership.objects.filter(user=person, group=group).update(status=status)
    for callback in pending:
        callback()
    assert mailoutbox == []


# --- the page ------------------------------------------------------------------------------------


def test_the_group_page_links_to_the_email_choice(client, group, member):
    client.force_login(member)
    body = client.get(group.get_absolute_url()).content.decode()
    assert "Emails from this group: As in my account settings." in body
    assert reverse("groups:email", kwargs={"slug": group.slug}) in body


def test_a_member_chooses_on_the_groups_email_page(client, group, member):
    client.force_login(member)
    page = reverse("groups:email", kwargs={"slug": group.slug})
    body = client.get(page).content.decode()
    assert "As in my account settings (now: one daily summary)" in body
    for label in ("No emails from this group", "An email for each notification",
                  "One daily summary"):
        assert label in body
    response = client.post(page, {"email_notifications": "off"})
    assert response.status_code == 302 and response["Location"] == group.get_absolute_url()
    assert Membership.objects.get(user=member, group=group).email_notifications == "off"
    client.post(page, {"email_notifications": ""})
    assert Membership.objects.get(user=member, group=group).email_notifications == ""


def test_an_unknown_choice_is_refused_and_nothing_changes(client, group, member):
    client.force_login(member)
    page = reverse("groups:email", kwargs={"slug": group.slug})
    response = client.post(page, {"email_notifications": "hourly"})
    assert response.status_code == 400
    assert "Please choose one of the options." in response.content.decode()
    assert Membership.objects.get(user=member, group=group).email_notifications == ""


@pytest.mark.parametrize(("who", "status"), [("outsider", 404), ("ex_member", 404)])
def test_only_members_may_choose(client, group, make_user, who, status):
    person = make_user("Not In")
    if who == "ex_member":
        add_membership(person, group, "left")
    client.force_login(person)
    page = reverse("groups:email", kwargs={"slug": group.slug})
    assert client.post(page, {"email_notifications": "off"}).status_code == status
    assert not Membership.objects.filter(user=person, email_notifications="off").exists()


def test_my_groups_links_to_each_groups_email_choice(client, group, member):
    client.force_login(member)
    policy.forget_memberships(member)
    body = client.get(reverse("profile")).content.decode()
    assert reverse("groups:email", kwargs={"slug": group.slug}) in body


# --- the notification centre -------------------------------------------------------------------


def test_the_header_shows_the_unread_count_and_loads_the_live_updater(
    client, group, member, django_capture_on_commit_callbacks,
):
    client.force_login(member)
    body = client.get("/").content.decode()
    assert 'id="nav-notifications"' in body and "badge" not in body.split(
        'id="nav-notifications"')[1].split("</a>")[0]
    for _ in range(2):
        reply_notice(member, group, django_capture_on_commit_callbacks)
    body = client.get("/").content.decode()
    link = body.split('id="nav-notifications"')[1].split("</a>")[0]
    assert '<span class="badge">2<span class="visually-hidden"> unread</span></span>' in link
    assert "/static/js/notifications.js" in body  # keeps the count live over the socket
    client.post(reverse("notifications_read"))
    link = client.get("/").content.decode().split('id="nav-notifications"')[1].split("</a>")[0]
    assert "badge" not in link
