"""allauth's "where I'm logged in" tracking under every page, at most every few minutes
(community.session_activity): a page view soon after the last costs no query at all."""

from __future__ import annotations

import pytest
from allauth.usersessions.models import UserSession
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from community.session_activity import seen_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def signed_in(client, make_user):
    person = make_user("Sky Sessions")
    client.force_login(person)
    assert client.get("/help/").status_code == 200  # the first page view records
    return person


def writes_and_session_rows(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries
            if "usersessions_usersession" in q["sql"]
            or q["sql"].startswith(("UPDATE", "INSERT", "DELETE"))]


def test_a_page_view_soon_after_the_last_costs_no_query_for_tracking(client, signed_in):
    before = UserSession.objects.get(user=signed_in).last_seen_at
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/help/").status_code == 200
    assert writes_and_session_rows(captured) == []
    assert UserSession.objects.get(user=signed_in).last_seen_at == before


def test_the_next_page_view_after_the_interval_records_it(client, signed_in):
    before = UserSession.objects.get(user=signed_in).last_seen_at
    key = seen_key(client.session.session_key)
    assert cache.get(key)
    cache.delete(key)  # what the interval running out does
    with CaptureQueriesContext(connection) as captured:
        client.get("/help/")
    assert writes_and_session_rows(captured)
    assert UserSession.objects.get(user=signed_in).last_seen_at > before
    assert cache.get(key)


def test_recording_never_makes_the_session_save(client, make_user):
    """Only allauth's own row is written: the first page view after logging in costs
    what allauth's middleware cost, and nothing more."""
    client.force_login(make_user("Sam Save"))
    with CaptureQueriesContext(connection) as captured:
        client.get("/help/")
    assert not [q["sql"] for q in captured.captured_queries if "django_session" in q["sql"]
                and q["sql"].startswith(("UPDATE", "INSERT"))]


def test_a_new_browser_or_address_is_recorded_at_once(client, signed_in):
    client.get("/help/", HTTP_USER_AGENT="Another browser")
    assert UserSession.objects.get(user=signed_in).user_agent == "Another browser"
    client.get("/help/", HTTP_USER_AGENT="Another browser", REMOTE_ADDR="10.0.0.9")
    assert UserSession.objects.get(user=signed_in).ip == "10.0.0.9"


def test_people_who_are_not_signed_in_are_not_tracked(client):
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/help/").status_code == 200
    assert writes_and_session_rows(captured) == []
    assert not UserSession.objects.exists()
