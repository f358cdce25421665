"""The site answers: front page, help, group directory and health."""

import pytest


@pytest.mark.django_db
def test_front_help_and_directory_render(client):
    for path in ("/", "/help/", "/groups/", "/accounts/login/", "/accounts/signup/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"Get help now" in response.content


@pytest.mark.django_db
def test_help_lists_gb_crisis_contacts_without_login(client):
    body = client.get("/help/").content.decode()
    for text in ("Samaritans", "116 123", "SHOUT", "85258", "111", "999"):
        assert text in body
