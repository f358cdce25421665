"""Members choose how they hear about replies and mentions: off, each one, or a summary."""

import pytest

from community.models import User


@pytest.mark.django_db
@pytest.mark.parametrize("choice", ["off", "immediate", "daily"])
def test_profile_saves_the_email_choice(client, make_user, choice):
    user = make_user("Chooser")
    client.force_login(user)
    response = client.post("/accounts/profile/", {"display_name": "Chooser",
                                                  "email_notifications": choice})
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).email_notifications == choice


@pytest.mark.django_db
def test_an_unknown_choice_is_refused_and_nothing_changes(client, make_user):
    user = make_user("Chooser")
    client.force_login(user)
    response = client.post("/accounts/profile/", {"display_name": "Chooser",
                                                  "email_notifications": "hourly"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert User.objects.get(pk=user.pk).email_notifications == "daily"
