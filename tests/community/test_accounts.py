"""Accounts: signup with a display name, mandatory email verification, sessions that
rotate, rate limits, and the profile pages (see the issue and CONTRACT.md)."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest
from allauth.account.models import EmailAddress
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client

from community.models import User
from community.services.profiles import update_profile
from tests.conftest import add_membership

PASSWORD = "pw-Kindred-123!"
CONFIRM_LINK = re.compile(r"https?://testserver(/accounts/confirm-email/[-:\w]+/)")

pytestmark = pytest.mark.django_db


_addresses = itertools.count(1)


def new_address() -> str:
    """A client address of its own: allauth's rate limits count per address and per email
    in the shared cache (Redis in CI), so tests must not share either."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def new_email(stem: str = "river") -> str:
    return f"{stem}.{uuid.uuid4().hex[:10]}@example.org"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def client():
    return Client(REMOTE_ADDR=new_address())


@pytest.fixture
def email():
    return new_email()


def signup(client, *, email, display_name="River"):
    data = {"email": email, "display_name": display_name, "password1": PASSWORD,
            "password2": PASSWORD}
    return client.post("/accounts/signup/", data)


def logged_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


def session_cookie(client) -> str:
    cookie = client.cookies.get("sessionid")
    return cookie.value if cookie is not None else ""


def start_anonymous_session(client) -> str:
    session = client.session
    session["probe"] = "before login"
    session.save()
    return session_cookie(client)


# --- signup and verification -----------------------------------------------------------------


def test_signup_creates_the_account_with_its_display_name_but_does_not_log_in(
    client, email, mailoutbox,
):
    assert not User.objects.filter(email=email).exists()

    response = signup(client, email=email)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get(email=email)
    assert user.display_name == "River"
    assert not EmailAddress.objects.get(user=user).verified
    assert logged_in_user_id(client) is None
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [email]
    assert CONFIRM_LINK.search(mailoutbox[0].body)


def test_unverified_account_cannot_log_in_until_the_email_is_confirmed(client, email,
                                                                       mailoutbox):
    signup(client, email=email)
    other = Client(REMOTE_ADDR=new_address())

    response = other.post("/accounts/login/", {"login": email, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    assert logged_in_user_id(other) is None
    assert other.get("/accounts/profile/").status_code == 302


def test_following_the_confirm_link_verifies_and_logs_in(client, email, mailoutbox):
    signup(client, email=email)
    path = CONFIRM_LINK.search(mailoutbox[0].body).group(1)

    page = client.get(path)
    assert page.status_code == 200
    # Opening the link alone must not confirm (mail scanners follow links).
    assert not EmailAddress.objects.get(email=email).verified

    response = client.post(path)

    assert response.status_code == 302
    user = User.objects.get(email=email)
    assert EmailAddress.objects.get(user=user).verified
    assert logged_in_user_id(client) == str(user.pk)
    assert client.get("/accounts/profile/").status_code == 200


def test_display_name_differing_only_by_case_is_refused_at_signup(
    client, email, make_user, mailoutbox,
):
    make_user("Robin")
    users_before = User.objects.count()

    response = signup(client, email=email, display_name="rOBIN")

    assert response.status_code == 200
    assert "Someone already uses that name" in response.content.decode()
    assert User.objects.count() == users_before
    assert not EmailAddress.objects.filter(email=email).exists()
    assert mailoutbox == []


def test_display_name_must_look_like_a_name(client, email):
    response = signup(client, email=email, display_name="me@example.org")
    assert response.status_code == 200
    assert not User.objects.filter(email=email).exists()


def test_database_refuses_display_names_differing_only_by_case(make_user):
    make_user("Robin")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(email="x@example.org", password=PASSWORD, display_name="ROBIN")


# --- sessions --------------------------------------------------------------------------------


def test_login_rotates_the_session_key(client, make_user):
    user = make_user("Sky")
    before = start_anonymous_session(client)
    assert before

    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})

    assert response.status_code == 302
    after = session_cookie(client)
    assert after and after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert logged_in_user_id(client) == str(user.pk)


def test_logout_flushes_the_session(client, make_user):
    user = make_user("Sky")
    client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    logged_in = session_cookie(client)
    assert Session.objects.filter(session_key=logged_in).exists()

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert session_cookie(client) != logged_in
    assert not Session.objects.filter(session_key=logged_in).exists()
    assert logged_in_user_id(client) is None
    assert client.get("/accounts/profile/").status_code == 302


def test_wrong_password_does_not_log_in(client, make_user):
    user = make_user()
    response = client.post("/accounts/login/", {"login": user.email, "password": "wrong"})
    assert response.status_code == 200
    assert logged_in_user_id(client) is None


# --- rate limits -----------------------------------------------------------------------------


def _refused(response) -> bool:
    return response.status_code == 429 or "Too many" in response.content.decode()


def test_many_failed_logins_are_eventually_refused(make_user):
    user = make_user()
    client = Client(REMOTE_ADDR=new_address())
    outcomes = [
        _refused(client.post("/accounts/login/", {"login": user.email, "password": f"bad{i}"}))
        for i in range(15)
    ]
    assert not outcomes[0]
    assert any(outcomes)

    # Once refused, even the right password does not get in for now.
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert _refused(response)
    assert logged_in_user_id(client) is None


def test_failed_logins_from_one_address_do_not_lock_out_another(make_user):
    user = make_user()
    attacker = Client(REMOTE_ADDR=new_address())
    target = new_email("someone")
    for i in range(12):
        attacker.post("/accounts/login/", {"login": target, "password": f"x{i}"})
    owner = Client(REMOTE_ADDR=new_address())
    response = owner.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert logged_in_user_id(owner) == str(user.pk)


def test_many_signups_from_one_address_are_eventually_refused():
    client = Client(REMOTE_ADDR=new_address())
    outcomes = [
        _refused(signup(client, email=new_email("signer"), display_name=f"Signer {i}"))
        for i in range(25)
    ]
    assert not outcomes[0]
    assert any(outcomes)
    assert User.objects.count() < 25


# --- profile ---------------------------------------------------------------------------------


def test_profile_page_shows_and_saves_name_about_and_home_town(client, make_user):
    user = make_user("Sky")
    client.force_login(user)

    page = client.get("/accounts/profile/")
    assert page.status_code == 200
    assert "Sky" in page.content.decode()

    response = client.post("/accounts/profile/", {
        "display_name": "Sky Blue", "about": "I like tea.", "home_town": "Harrogate",
    })

    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.display_name, user.about, user.home_town) == (
        "Sky Blue", "I like tea.", "Harrogate",
    )


def test_profile_refuses_a_name_someone_else_uses_in_any_case(client, make_user):
    make_user("Robin")
    user = make_user("Sky")
    client.force_login(user)
    response = client.post("/accounts/profile/", {"display_name": "robin", "about": ""})
    assert response.status_code == 200
    assert "Someone already uses that name" in response.content.decode()
    user.refresh_from_db()
    assert user.display_name == "Sky"


def test_profile_page_needs_login(client):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_home_town_is_never_shown_on_another_members_profile(client, make_user, make_group):
    person = make_user("Harper")
    person.about = "I knit when I can't sleep."
    person.home_town = "Harrogate"
    person.save()
    viewer = make_user("Viewer")
    group = make_group()
    add_membership(person, group, "approved")
    add_membership(viewer, group, "approved")
    client.force_login(viewer)

    response = client.get(f"/people/{person.pk}/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Harper" in body
    assert "I knit when I can" in body
    assert "Harrogate" not in body


@pytest.mark.parametrize("viewer_status", [None, "pending", "declined", "banned", "left"])
def test_profile_is_404_to_someone_who_shares_no_group(
    client, make_user, make_group, viewer_status,
):
    person = make_user("Harper")
    viewer = make_user("Viewer")
    group = make_group()
    add_membership(person, group, "approved")
    if viewer_status:
        add_membership(viewer, group, viewer_status)
    client.force_login(viewer)
    assert client.get(f"/people/{person.pk}/").status_code == 404


def test_profile_of_a_missing_person_is_404_like_a_hidden_one(client, make_user):
    client.force_login(make_user())
    assert client.get("/people/999999/").status_code == 404


def test_password_change_page_is_there_for_logged_in_people(client, make_user):
    assert client.get("/accounts/password/change/").status_code == 302
    client.force_login(make_user())
    assert client.get("/accounts/password/change/").status_code == 200
    assert client.get("/accounts/email/").status_code == 200


def test_password_reset_page_is_there_for_everyone(client):
    assert client.get("/accounts/password/reset/").status_code == 200


# --- update_profile service --------------------------------------------------------------------


def test_update_profile_refuses_a_name_used_by_someone_else_in_any_case(make_user):
    make_user("Robin")
    user = make_user("Sky")
    for taken in ("Robin", "robin", "ROBIN", "  robin "):
        with pytest.raises(ValidationError) as caught:
            update_profile(actor=user, display_name=taken)
        assert "display_name" in caught.value.message_dict
    user.refresh_from_db()
    assert user.display_name == "Sky"


def test_update_profile_lets_you_change_the_case_of_your_own_name(make_user):
    user = make_user("Sky")
    update_profile(actor=user, display_name="  SKY   blue ", about=" Hi ", home_town=" York ")
    user.refresh_from_db()
    assert (user.display_name, user.about, user.home_town) == ("SKY blue", "Hi", "York")


def test_update_profile_needs_a_name(make_user):
    user = make_user("Sky")
    with pytest.raises(ValidationError):
        update_profile(actor=user, display_name="   ")
    user.refresh_from_db()
    assert user.display_name == "Sky"
