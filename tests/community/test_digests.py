"""`manage.py send_digests`: one daily summary per person who chose it, grouped by group.

Nothing from a group the person can no longer read at send time (left, removed, banned,
group closed or deleted) ever goes out. Running it twice the same day sends one email.
Every summary carries a one-click unsubscribe link (and RFC 8058 headers) whose signed
token needs no login; a bad or expired token is a 404 with a way to the settings page.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import signing
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from community.emails import UNSUBSCRIBE_MAX_AGE, unsubscribe_token
from community.models import Group, Membership, Notification, User
from community.services.digests import send_digests
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db

REPLY = Notification.Kind.FORUM_REPLY


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(make_group, make_user):
    """Dana reads two groups (and once read a third); she chose one daily summary."""
    dana = make_user("Dana Daily")
    User.objects.filter(pk=dana.pk).update(email_notifications="daily")
    groups = {
        "kidney": make_group(Group.Privacy.APPROVAL, name="Kidney Friends", slug="kidney"),
        "arthritis": make_group(Group.Privacy.OPEN, name="Arthritis Circle", slug="arthritis"),
        "former": make_group(Group.Privacy.APPROVAL, name="Former Group", slug="former"),
    }
    for group in groups.values():
        add_membership(dana, group, "approved")
    return User.objects.get(pk=dana.pk), groups


def tell(person: User, group: Group | None, text: str, *, hours_ago: float = 2,
         kind: str = REPLY) -> Notification:
    return Notification.objects.create(
        user=person, kind=kind, group=group, text=text, url="/notifications/",
        created_at=timezone.now() - timedelta(hours=hours_ago),
    )


def unsubscribe_link(body: str) -> str:
    return re.search(r"http://127\.0\.0\.1:8000(/email/unsubscribe/[^/\s]+/)", body).group(1)


def test_one_summary_grouped_by_group(world, mailoutbox):
    dana, groups = world
    tell(dana, groups["kidney"], "Bob replied to your post in “Dialysis days”.")
    tell(dana, groups["arthritis"], "Ann mentioned you in “Cold mornings”.",
         kind=Notification.Kind.FORUM_MENTION)
    tell(dana, groups["kidney"], "Cy replied to your post in “Dialysis days”.", hours_ago=1)
    call_command("send_digests")
    [email] = mailoutbox
    assert email.to == [dana.email]
    assert email.subject == "[Kindred] Your daily summary"
    body = email.body
    assert body.startswith("Hello Dana Daily,")
    # sections by group name, each with its own items in order
    arthritis, kidney = body.index("Arthritis Circle\n"), body.index("Kidney Friends\n")
    assert arthritis < body.index("Ann mentioned you") < kidney
    assert kidney < body.index("Bob replied") < body.index("Cy replied")
    assert "http://127.0.0.1:8000/notifications/" in body
    assert "Why you got this email: you asked for one daily summary" in body
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    assert "<h2" in html and "Kidney Friends</h2>" in html and "<li>Bob replied" in html


@pytest.mark.parametrize("how", ["left", "removed", "banned", "deleted", "declined"])
def test_nothing_from_a_group_the_person_can_no_longer_read(world, mailoutbox, how):
    dana, groups = world
    former = groups["former"]
    tell(dana, former, "Secret words from the former group.")
    tell(dana, groups["kidney"], "Bob replied in Kidney Friends.")
    if how == "deleted":
        former.delete()
    elif how == "declined":
        Group.objects.filter(pk=former.pk).update(status=Group.Status.DECLINED)
    else:
        Membership.objects.filter(user=dana, group=former).update(status=how)
    call_command("send_digests")
    [email] = mailoutbox
    assert "Bob replied in Kidney Friends." in email.body
    assert "Secret words" not in email.body and "Former Group" not in email.body
    assert "Secret words" not in email.alternatives[0][0]


def test_nothing_at_all_when_only_the_former_group_had_news(world, mailoutbox):
    dana, groups = world
    tell(dana, groups["former"], "Secret words from the former group.")
    Membership.objects.filter(user=dana, group=groups["former"]).update(status="removed")
    assert send_digests(timezone.now()) == 0
    assert mailoutbox == []


def test_running_twice_the_same_day_sends_one_email(world, mailoutbox):
    dana, groups = world
    tell(dana, groups["kidney"], "Bob replied.")
    call_command("send_digests")
    tell(dana, groups["kidney"], "Cy replied.", hours_ago=0)
    call_command("send_digests")
    assert len(mailoutbox) == 1
    now = timezone.now()
    assert send_digests(now + timedelta(hours=12)) == 0  # still within the day
    # the next day brings only what is new
    assert send_digests(now + timedelta(hours=24)) == 1
    assert "Cy replied." in mailoutbox[1].body and "Bob replied." not in mailoutbox[1].body


def test_read_notifications_and_other_kinds_are_left_out(world, mailoutbox):
    dana, groups = world
    read = tell(dana, groups["kidney"], "Already read this one.")
    Notification.objects.filter(pk=read.pk).update(read_at=timezone.now())
    tell(dana, groups["kidney"], "Your request was approved.",
         kind=Notification.Kind.REQUEST_APPROVED)  # emailed at once, not summarised
    assert send_digests(timezone.now()) == 0


def test_the_per_group_choice_decides_what_is_summarised(world, mailoutbox):
    dana, groups = world
    User.objects.filter(pk=dana.pk).update(email_notifications="off")
    Membership.objects.filter(user=dana, group=groups["arthritis"]).update(
        email_notifications="daily")
    Membership.objects.filter(user=dana, group=groups["kidney"]).update(
        email_notifications="")  # as in the account: off
    tell(dana, groups["kidney"], "Kidney news.")
    tell(dana, groups["arthritis"], "Arthritis news.")
    assert send_digests(timezone.now()) == 1
    assert "Arthritis news." in mailoutbox[0].body and "Kidney news." not in mailoutbox[0].body

    # and a group set to each-one-now is not summarised for a daily account
    User.objects.filter(pk=dana.pk).update(email_notifications="daily", digest_sent_at=None)
    Membership.objects.filter(user=dana, group=groups["arthritis"]).update(
        email_notifications="immediate")
    mailoutbox.clear()
    assert send_digests(timezone.now() + timedelta(seconds=1)) == 1
    assert "Kidney news." in mailoutbox[0].body and "Arthritis news." not in mailoutbox[0].body


def test_the_scheduler_job_still_sends_summaries(world, mailoutbox):
    dana, groups = world
    tell(dana, groups["kidney"], "Bob replied.")
    call_command("run_scheduler", "--once")
    call_command("send_digests")  # cron as well: still one a day
    assert len(mailoutbox) == 1


# --- unsubscribe -----------------------------------------------------------------------------


def test_the_summary_has_a_working_unsubscribe_link_and_headers(world, mailoutbox, client):
    dana, groups = world
    tell(dana, groups["kidney"], "Bob replied.")
    call_command("send_digests")
    [email] = mailoutbox
    link = unsubscribe_link(email.body)
    assert email.extra_headers["List-Unsubscribe"] == f"<http://127.0.0.1:8000{link}>"
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in email.alternatives[0][0]

    page = client.get(link)  # no login needed; looking changes nothing
    body = page.content.decode()
    assert page.status_code == 200
    assert body.count("<form") == 1 and body.count("<button") == 1  # one button
    assert "Stop these emails</button>" in body
    assert User.objects.get(pk=dana.pk).email_notifications == "daily"

    done = client.post(link)
    assert done.status_code == 200
    assert "We won't email you about replies, mentions or daily summaries" in \
        done.content.decode()
    assert User.objects.get(pk=dana.pk).email_notifications == "off"
    tell(dana, groups["kidney"], "More news.", hours_ago=0)
    assert send_digests(timezone.now() + timedelta(days=1)) == 0


def test_one_click_post_needs_no_csrf_token(world):
    dana, groups = world
    strict = Client(enforce_csrf_checks=True)
    link = f"/email/unsubscribe/{unsubscribe_token(dana, groups['kidney'])}/"
    response = strict.post(link, "List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert Membership.objects.get(user=dana, group=groups["kidney"]).email_notifications == "off"
    # the other groups and the account are untouched
    assert User.objects.get(pk=dana.pk).email_notifications == "daily"
    assert Membership.objects.get(user=dana, group=groups["arthritis"]).email_notifications == ""


def test_account_unsubscribe_also_quiets_groups_set_to_send(world, client):
    dana, groups = world
    Membership.objects.filter(user=dana, group=groups["kidney"]).update(
        email_notifications="immediate")
    Membership.objects.filter(user=dana, group=groups["arthritis"]).update(
        email_notifications="off")
    client.post(f"/email/unsubscribe/{unsubscribe_token(dana)}/")
    choices = dict(Membership.objects.filter(user=dana).values_list("group__slug",
                                                                    "email_notifications"))
    assert choices == {"kidney": "", "arthritis": "off", "former": ""}
    assert User.objects.get(pk=dana.pk).email_notifications == "off"


@pytest.mark.parametrize("token", ["not-a-token", "abc:def:ghi"])
def test_a_bad_token_is_404_with_a_way_to_the_settings(client, token):
    for method in ("get", "post"):
        response = getattr(client, method)(f"/email/unsubscribe/{token}/")
        assert response.status_code == 404
        assert 'href="/accounts/profile/"' in response.content.decode()


def test_a_token_signed_for_something_else_is_404(world, client):
    dana, _groups = world
    forged = signing.dumps({"u": dana.pk, "g": None}, salt="some.other.salt")
    assert client.post(f"/email/unsubscribe/{forged}/").status_code == 404
    assert User.objects.get(pk=dana.pk).email_notifications == "daily"


def test_an_expired_token_is_404(world, client, monkeypatch):
    dana, _groups = world
    long_ago = timezone.now().timestamp() - UNSUBSCRIBE_MAX_AGE - 60
    monkeypatch.setattr(signing.time, "time", lambda: long_ago)
    old = unsubscribe_token(dana)
    monkeypatch.undo()
    assert client.post(f"/email/unsubscribe/{old}/").status_code == 404
    assert User.objects.get(pk=dana.pk).email_notifications == "daily"


def test_a_token_for_a_deleted_group_is_404(world, client):
    dana, groups = world
    token = unsubscribe_token(dana, groups["former"])
    groups["former"].delete()
    assert client.get(f"/email/unsubscribe/{token}/").status_code == 404
