"""Start a group: a guided form in steps, kept in the session, that works without JS.

Each step checks what was typed and keeps it (Back, errors, coming back later); the last
page shows everything to check; "Start the group" creates it through the services, with
the founder as owner, the gazetteer place for a local group, and the group's own
signposts and resources. With site approval on, the founder sees "Waiting for approval"
and is told the outcome by notification and email.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from community import services
from community.models import Group, Membership, Notification, Resource, Signpost
from community.views.group_wizard import SESSION_KEY

pytestmark = pytest.mark.django_db

START = "/groups/new/"


def url(step: str) -> str:
    return START if step == "purpose" else f"/groups/new/{step}/"


ANSWERS = {
    "purpose": {"kind": "condition", "condition": "COPD"},
    "place": {"format": "online", "town": ""},
    "privacy": {"privacy": "approval"},
    "about": {"name": "Breathe Easy Friends", "description": "Living with COPD, together.",
              "rules": "We share experience, not medical advice.\nBe kind."},
    "joining": {"question_0": "What brings you here?", "question_1": "How long have you had COPD?",
                "welcome_message": "Hello and welcome!"},
    "support": {"helpline_name": "Asthma + Lung UK", "helpline_phone": "0300 222 5800",
                "helpline_hours": "Monday to Friday, 9am to 5pm",
                "link_title": "NHS: COPD", "link_url": "https://www.nhs.uk/conditions/copd/"},
}
ORDER = list(ANSWERS)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def founder(client, make_user):
    person = make_user("Fiona Founder")
    client.force_login(person)
    return person


def next_(client, step: str, data: dict | None = None, **extra):
    return client.post(url(step), {**(ANSWERS[step] if data is None else data),
                                   "action": "next", **extra})


def fill_all(client, **changes) -> None:
    for step in ORDER:
        response = next_(client, step, {**ANSWERS[step], **changes.get(step, {})})
        assert response.status_code == 302, (step, response.content.decode()[:2000])


def start(client):
    return client.post(url("check"), {"action": "start"})


# --- each step ------------------------------------------------------------------------------


def test_anonymous_people_are_asked_to_log_in(client):
    response = client.get(START)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize(("step", "number"), [(step, i + 1) for i, step in enumerate(ORDER)])
def test_every_step_says_where_you_are(client, founder, step, number):
    response = client.get(url(step))
    body = response.content.decode()
    assert response.status_code == 200
    assert f"Step {number} of 6" in body
    assert f"<title>Step {number} of 6:" in body  # announced as the page loads
    assert 'name="action" value="next"' in body
    assert ('name="action" value="back"' in body) == (number > 1)


@pytest.mark.parametrize("step", ORDER)
def test_next_goes_to_the_following_step(client, founder, step):
    response = next_(client, step)
    following = ORDER[ORDER.index(step) + 1] if step != ORDER[-1] else "check"
    assert response.status_code == 302
    assert response["Location"] == url(following)


def test_the_privacy_step_explains_each_choice_plainly(client, founder):
    body = client.get(url("privacy")).content.decode()
    assert "anyone with a Kindred account can join straight away" in body
    assert "a moderator says yes before they can read anything" in body
    assert "the group is hidden" in body and "invite link" in body


def test_rules_start_from_peer_support_values_and_the_founder_edits_them(client, founder):
    body = client.get(url("about")).content.decode()
    for value in ("Shared experience", "Respect", "No judgement", "Confidentiality",
                  "Choice and control", "Safety", "We share experience, not medical advice"):
        assert value in body
    next_(client, "about", {**ANSWERS["about"], "rules": "Only our own rule."})
    assert "Only our own rule." in client.get(url("about")).content.decode()


def test_at_most_five_join_questions(client, founder):
    body = client.get(url("joining")).content.decode()
    assert 'name="question_4"' in body and 'name="question_5"' not in body


# --- errors keep what was typed -----------------------------------------------------------------


def test_a_condition_group_needs_the_condition_and_keeps_the_choice(client, founder):
    response = next_(client, "purpose", {"kind": "condition", "condition": ""})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Please name the condition the group is about." in body
    assert re.search(r'value="condition"[^>]*checked', body)


def test_errors_keep_every_word_typed(client, founder):
    typed = {"name": "", "description": "A group for people with very long words",
             "rules": "My own rule that I typed carefully."}
    response = next_(client, "about", typed)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Please give the group a name." in body
    assert "A group for people with very long words" in body
    assert "My own rule that I typed carefully." in body
    assert 'aria-invalid="true"' in body


def test_support_step_checks_the_helpline_and_link(client, founder):
    response = next_(client, "support", {"helpline_name": "Local nurses",
                                         "helpline_phone": "call me maybe",
                                         "link_title": "", "link_url": "www.example.org"})
    body = response.content.decode()
    assert "Please use only numbers and spaces" in body
    assert "starting with https://" in body
    assert "Please give the link a short name." in body
    assert "Local nurses" in body and "call me maybe" in body and "www.example.org" in body


def test_the_support_step_is_optional(client, founder):
    empty = {key: "" for key in ANSWERS["support"]}
    assert next_(client, "support", empty)["Location"] == url("check")


# --- back and next ----------------------------------------------------------------------------


def test_back_keeps_what_was_typed_even_unchecked(client, founder):
    next_(client, "purpose")
    half = {"name": "Half typed name", "description": "", "rules": "Rule one"}
    response = client.post(url("about"), {**half, "action": "back"})
    assert response.status_code == 302 and response["Location"] == url("privacy")
    body = client.get(url("about")).content.decode()
    assert "Half typed name" in body and "Rule one" in body


def test_coming_back_to_a_step_shows_the_saved_answers(client, founder):
    next_(client, "purpose", {"kind": "carers", "condition": ""})
    next_(client, "place")
    body = client.get(START).content.decode()
    assert 'value="carers"' in body
    assert client.session[SESSION_KEY]["purpose"]["values"]["kind"] == "carers"


def test_the_check_page_waits_until_every_step_is_done(client, founder):
    next_(client, "purpose")
    response = client.get(url("check"))
    assert response.status_code == 302 and response["Location"] == url("place")


def test_the_check_page_shows_everything_with_change_links(client, founder):
    fill_all(client)
    body = client.get(url("check")).content.decode()
    for text in ("Breathe Easy Friends", "COPD", "What brings you here?", "Hello and welcome!",
                 "Asthma + Lung UK", "https://www.nhs.uk/conditions/copd/", "Start the group"):
        assert text in body
    assert body.count(">Change<") == 6
    # "Change" then Next returns to the check page
    response = next_(client, "about", {**ANSWERS["about"], "name": "Breathe Easier"},
                     then="check")
    assert response["Location"] == url("check")
    assert "Breathe Easier" in client.get(url("check")).content.decode()


def test_unknown_step_is_404(client, founder):
    assert client.get("/groups/new/nonsense/").status_code == 404
    assert client.get("/groups/new/purpose/").status_code == 404  # the first is /groups/new/


def test_the_wizard_works_with_javascript_off(client, founder):
    """Plain forms only: every step posts to itself, with real submit buttons."""
    for step in ORDER:
        body = client.get(url(step)).content.decode()
        assert f'action="{url(step)}"' in body
        assert 'type="submit"' in body


# --- a local group and the gazetteer --------------------------------------------------------------


def test_a_local_town_is_found_and_its_place_stored(client, founder, settings):
    settings.KINDRED_GROUPS_NEED_APPROVAL = False
    fill_all(client, place={"format": "local", "town": "fort william"})
    response = start(client)
    group = Group.objects.get(name="Breathe Easy Friends")
    assert response["Location"] == group.get_absolute_url()
    assert (group.format, group.town) == ("local", "Fort William")
    assert group.place_id and round(group.latitude) == 57 and round(group.longitude) == -5


def test_a_town_we_cannot_find_offers_the_nearest_names(client, founder):
    response = next_(client, "place", {"format": "local", "town": "Fort Wiliam"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "We couldn&#x27;t find that town." in body
    assert "Fort William, Scotland" in body and 'name="place"' in body
    assert 'value="Fort Wiliam"' in body  # what was typed is kept
    value = re.search(r'name="place" value="(\d+)" id="(id_place_\d+)"> '
                      r'<label for="\2">Fort William, Scotland<', body).group(1)
    picked = next_(client, "place", {"format": "local", "town": "Fort Wiliam", "place": value})
    assert picked.status_code == 302
    saved = client.session[SESSION_KEY]["place"]["values"]
    assert saved["town"] == "Fort William" and saved["place_label"] == "Fort William, Scotland"


def test_no_suggestions_still_says_what_to_do(client, founder):
    body = next_(client, "place", {"format": "local", "town": "Qqzzxxyy"}).content.decode()
    assert "We couldn&#x27;t find that town." in body
    assert "try the nearest bigger town" in body


def test_a_local_group_needs_a_town(client, founder):
    body = next_(client, "place", {"format": "local", "town": ""}).content.decode()
    assert "Please say which town or village the group meets in." in body


# --- starting it ---------------------------------------------------------------------------------


def test_start_the_group_with_approval_off(client, founder, settings, mailoutbox):
    settings.KINDRED_GROUPS_NEED_APPROVAL = False
    fill_all(client)
    response = start(client)
    group = Group.objects.get(name="Breathe Easy Friends")
    assert response.status_code == 302 and response["Location"] == group.get_absolute_url()
    assert group.status == Group.Status.ACTIVE
    assert (group.kind, group.condition, group.privacy) == ("condition", "COPD", "approval")
    assert group.welcome_message == "Hello and welcome!"
    assert list(group.questions.values_list("text", flat=True)) == [
        "What brings you here?", "How long have you had COPD?"]
    owner = Membership.objects.get(group=group, user=founder)
    assert (owner.role, owner.status) == ("owner", "approved")
    signpost = Signpost.objects.get(group=group)
    assert (signpost.name, signpost.phone, signpost.hours) == (
        "Asthma + Lung UK", "0300 222 5800", "Monday to Friday, 9am to 5pm")
    resource = Resource.objects.get(group=group)
    assert (resource.title, resource.url) == ("NHS: COPD", "https://www.nhs.uk/conditions/copd/")
    assert SESSION_KEY not in client.session  # the draft is gone
    page = client.get(group.get_absolute_url()).content.decode()
    assert "Waiting for approval" not in page
    assert "Welcome, founder!" in page


def test_pressing_start_twice_makes_one_group(client, founder, settings):
    settings.KINDRED_GROUPS_NEED_APPROVAL = False
    fill_all(client)
    first, second = start(client), start(client)
    assert Group.objects.filter(name="Breathe Easy Friends").count() == 1
    assert second["Location"] == first["Location"]


def test_clear_and_start_again(client, founder):
    fill_all(client)
    response = client.post(url("check"), {"action": "restart"})
    assert response["Location"] == START
    assert client.session.get(SESSION_KEY) in (None, {})


def test_with_approval_on_the_founder_sees_waiting_and_staff_are_told(
    client, founder, settings, make_user, mailoutbox, django_capture_on_commit_callbacks,
):
    settings.KINDRED_GROUPS_NEED_APPROVAL = True
    staff = make_user("Sam Staff", staff=True)
    fill_all(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = start(client)
    group = Group.objects.get(name="Breathe Easy Friends")
    assert group.status == Group.Status.PENDING
    page = client.get(response["Location"]).content.decode()
    assert "Waiting for approval" in page
    profile = client.get(reverse("profile")).content.decode()
    assert "Breathe Easy Friends" in profile and "Waiting for approval" in profile
    home = client.get("/").content.decode()
    assert "Waiting for approval" in home
    told = Notification.objects.get(user=staff)
    assert "Breathe Easy Friends" in told.text
    # other people do not see the group yet
    client.force_login(make_user("Olly Outsider"))
    assert client.get(group.get_absolute_url()).status_code == 404


@pytest.mark.parametrize(("decide", "words"), [("approve", "is now open on Kindred"),
                                               ("decline", "was not approved")])
def test_the_founder_is_told_the_outcome(client, founder, settings, make_user, mailoutbox,
                                         django_capture_on_commit_callbacks, decide, words):
    settings.KINDRED_GROUPS_NEED_APPROVAL = True
    staff = make_user("Sam Staff", staff=True)
    fill_all(client)
    start(client)
    group = Group.objects.get(name="Breathe Easy Friends")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        getattr(services, f"{decide}_group")(actor=staff, group=group, reason="Thank you.")
    notice = Notification.objects.get(user=founder, kind=Notification.Kind.GROUP_DECISION)
    assert words in notice.text
    [email] = mailoutbox
    assert email.to == [founder.email]
    assert words in email.body and "Hello Fiona Founder" in email.body
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page = client.get(group.get_absolute_url()).content.decode()
    assert ("Waiting for approval" in page) is False
    if decide == "decline":
        assert "was not approved" in page


def test_a_service_refusal_is_shown_on_the_check_page(client, founder, monkeypatch):
    from django.core.exceptions import ValidationError

    from community.views import group_wizard

    def refuse(**kwargs):
        raise ValidationError({"name": "Please try a different name."})

    monkeypatch.setattr(group_wizard, "start_group", refuse)
    fill_all(client)
    response = start(client)
    body = response.content.decode()
    assert response.status_code == 400
    assert "Please try a different name." in body
    assert "/groups/new/about/?then=check" in body
    assert not Group.objects.filter(name="Breathe Easy Friends").exists()
