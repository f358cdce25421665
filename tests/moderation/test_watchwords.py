"""A group's watched words: who may add and remove them, how a bad pattern is refused,
that screening uses a new word at once, trying a phrase without saving, the setting for
unsafe health advice, the screening pages, and the site rules in the admin."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse

from community.models import Group, User
from moderation import rulebook
from moderation.models import AuditEntry, ScreeningRule
from moderation.screening import screen
from moderation.services import watchwords
from tests.conftest import add_membership

A = AuditEntry.Action
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WORD = "lanternfish tonic"
TEXT = "Has anyone tried the Lanternfish Tonic? My cousin swears by it."

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def fresh_rules():
    """Compiled rules are cached per process by group id, and ids come back after a test's
    rollback: start and end every test with nothing cached."""
    rulebook.forget()
    yield
    rulebook.forget()


@dataclass
class Place:
    group: Group
    other: Group
    people: dict[str, User | None]


@pytest.fixture
def place(make_group, make_user, people_in) -> Place:
    group = make_group(Group.Privacy.APPROVAL, name="Lung Friends")
    other = make_group(Group.Privacy.APPROVAL, name="Heart Friends")
    return Place(group, other, people_in(group))


def _add(actor, group, *, pattern=WORD, kind="phrase", category="unsafe_advice",
         action="hold", **extra):
    return watchwords.save_group_rule(actor=actor, group=group, kind=kind, pattern=pattern,
                                      category=category, action=action, **extra)


def _audits(group, action) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(group=group, action=action))


# --- saving --------------------------------------------------------------------------------


def test_new_watched_word_changes_screening_at_once(place, django_capture_on_commit_callbacks):
    moderator = place.people["moderator"]
    assert "group-" not in " ".join(screen(TEXT, place.group).rules)  # cached: no match yet
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rule = _add(moderator, place.group, description="A tonic sold as a cure.",
                    test_phrase="try lanternfish tonic")
    assert rulebook.changed in callbacks
    verdict = screen(TEXT, place.group)
    assert verdict.rules == [f"group-{rule.pk}"]
    assert verdict.action == "hold" and verdict.categories == ("unsafe_advice",)
    assert verdict.matches[0].description == "A tonic sold as a cure."
    assert verdict.matches[0].source == "group"
    assert verdict.signposts  # unsafe advice comes with the health signposts
    assert screen(TEXT, place.other).rules == []  # only in this group
    assert (rule.group, rule.created_by, rule.kind) == (place.group, moderator, "phrase")
    [entry] = _audits(place.group, A.SCREENING_RULE_SAVED)
    assert entry.actor == moderator
    assert entry.detail["rule_id"] == rule.pk and entry.detail["added"] is True


@pytest.mark.parametrize(("role", "allowed"), [
    ("owner", True), ("moderator", True), ("staff", True),
    ("welcomer", False), ("member", False), ("pending", False), ("outsider", False),
    ("banned", False),
])
def test_only_moderators_owners_and_staff_add_watched_words(place, role, allowed):
    person = place.people[role]
    if allowed:
        _add(person, place.group)
    else:
        with pytest.raises(Http404):
            _add(person, place.group)
    assert ScreeningRule.objects.filter(group=place.group).count() == (1 if allowed else 0)
    assert len(_audits(place.group, A.SCREENING_RULE_SAVED)) == (1 if allowed else 0)


def test_moderator_of_another_group_gets_404(place, make_user):
    elsewhere = make_user("Elsewhere Mod")
    add_membership(elsewhere, place.other, "approved", "moderator")
    with pytest.raises(Http404):
        _add(elsewhere, place.group)
    assert not ScreeningRule.objects.filter(group=place.group).exists()


@pytest.mark.parametrize(("kind", "pattern", "field", "words"), [
    ("pattern", "(a+)+$", "pattern", "too complicated"),
    ("pattern", "(?=look)ahead", "pattern", "too complicated"),
    ("pattern", "cheap [meds", "pattern", "isn't valid"),
    ("pattern", "x" * 301, "pattern", "300 characters"),
    ("phrase", "!!! ???", "pattern", "at least one letter or number"),
    ("phrase", "   ", "pattern", "Please type the word"),
    ("sql", "cheap meds", "kind", "word or phrase, or a pattern"),
])
def test_bad_rule_is_refused_with_a_clear_message_and_nothing_saved(
    place, kind, pattern, field, words
):
    with pytest.raises(ValidationError) as caught:
        _add(place.people["moderator"], place.group, kind=kind, pattern=pattern)
    assert words in " ".join(caught.value.message_dict[field])
    assert not ScreeningRule.objects.filter(group=place.group).exists()
    assert not _audits(place.group, A.SCREENING_RULE_SAVED)


def test_rule_must_catch_its_own_test_phrase(place):
    with pytest.raises(ValidationError) as caught:
        _add(place.people["moderator"], place.group, test_phrase="a nice cup of tea")
    assert "doesn't catch its own test phrase" in caught.value.message_dict["test_phrase"][0]
    assert not ScreeningRule.objects.filter(group=place.group).exists()


def test_unknown_category_or_action_is_refused_in_plain_words(place):
    with pytest.raises(ValidationError) as caught:
        _add(place.people["moderator"], place.group, category="gossip", action="shout")
    assert set(caught.value.message_dict) == {"category", "action"}
    assert "from the list" in caught.value.message_dict["action"][0]


def test_a_pattern_matches_the_tidied_words(place, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _add(place.people["moderator"], place.group, kind="pattern",
             pattern=r"miracle (?:drops|tonic)", category="spam", action="block",
             test_phrase="buy the Miracle Drops")
    verdict = screen("These MIRACLE drops cured me!", place.group)
    assert verdict.action == "block" and verdict.categories == ("spam",)


def test_the_same_word_twice_is_refused(place):
    _add(place.people["moderator"], place.group)
    with pytest.raises(ValidationError) as caught:
        _add(place.people["owner"], place.group, pattern="Lanternfish  Tonic")
    assert "already watches for that" in caught.value.message_dict["pattern"][0]
    assert ScreeningRule.objects.filter(group=place.group).count() == 1


def test_a_group_may_watch_at_most_200_words(place):
    ScreeningRule.objects.bulk_create([
        ScreeningRule(group=place.group, kind="phrase", pattern=f"word {i}", category="spam",
                      action="flag") for i in range(watchwords.MAX_GROUP_RULES)])
    with pytest.raises(ValidationError) as caught:
        _add(place.people["moderator"], place.group)
    assert "200" in caught.value.messages[0]
    assert ScreeningRule.objects.filter(group=place.group).count() == 200
    _add(place.other.memberships.get(role="owner").user, place.other)  # others unaffected


def test_changing_a_rule_keeps_its_author_and_is_audited(place):
    rule = _add(place.people["moderator"], place.group)
    changed = _add(place.people["owner"], place.group, rule=rule, action="prompt",
                   description="Think twice")
    assert changed.pk == rule.pk
    assert (changed.action, changed.created_by) == ("prompt", place.people["moderator"])
    assert [e.detail["added"] for e in _audits(place.group, A.SCREENING_RULE_SAVED)] == [
        False, True]


def test_changing_another_groups_rule_is_404(place):
    theirs = _add(place.other.memberships.get(role="owner").user, place.other)
    with pytest.raises(Http404):
        _add(place.people["moderator"], place.group, rule=theirs, action="block")
    theirs.refresh_from_db()
    assert theirs.action == "hold"


# --- deleting ----------------------------------------------------------------------------


def test_deleting_a_rule_stops_it_at_once(place, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rule = _add(place.people["moderator"], place.group)
    assert screen(TEXT, place.group).matches
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        watchwords.delete_group_rule(actor=place.people["owner"], rule=rule)
    assert rulebook.changed in callbacks
    assert not ScreeningRule.objects.filter(pk=rule.pk).exists()
    assert not screen(TEXT, place.group).matches
    [entry] = _audits(place.group, A.SCREENING_RULE_DELETED)
    assert entry.actor == place.people["owner"] and entry.detail["pattern"] == WORD


@pytest.mark.parametrize("role", ["member", "welcomer", "outsider", "anonymous"])
def test_only_moderators_delete_rules(place, role):
    rule = _add(place.people["moderator"], place.group)
    with pytest.raises(Http404):
        watchwords.delete_group_rule(actor=place.people[role], rule=rule)
    assert ScreeningRule.objects.filter(pk=rule.pk).exists()
    assert not _audits(place.group, A.SCREENING_RULE_DELETED)


def test_a_moderator_cannot_delete_a_site_rule(place):
    site_rule = ScreeningRule.objects.filter(group__isnull=True).first()
    with pytest.raises(Http404):
        watchwords.delete_group_rule(actor=place.people["owner"], rule=site_rule)
    assert ScreeningRule.objects.filter(pk=site_rule.pk).exists()


# --- the setting for unsafe health advice ----------------------------------------------------


def test_holding_unsafe_advice_is_set_audited_and_refreshes_screening(
    place, django_capture_on_commit_callbacks
):
    assert place.group.hold_unsafe_advice is False
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        watchwords.set_hold_unsafe_advice(actor=place.people["moderator"], group=place.group,
                                          hold=True)
    assert rulebook.changed in callbacks
    assert Group.objects.get(pk=place.group.pk).hold_unsafe_advice is True
    [entry] = _audits(place.group, A.SCREENING_SETTINGS)
    assert entry.detail == {"hold_unsafe_advice": True}
    # Saying the same again changes nothing and records nothing.
    watchwords.set_hold_unsafe_advice(actor=place.people["owner"], group=place.group,
                                      hold=True)
    assert len(_audits(place.group, A.SCREENING_SETTINGS)) == 1


@pytest.mark.parametrize("role", ["member", "welcomer", "outsider"])
def test_only_moderators_change_the_setting(place, role):
    with pytest.raises(Http404):
        watchwords.set_hold_unsafe_advice(actor=place.people[role], group=place.group,
                                          hold=True)
    assert Group.objects.get(pk=place.group.pk).hold_unsafe_advice is False
    assert not _audits(place.group, A.SCREENING_SETTINGS)


# --- trying a phrase -----------------------------------------------------------------------


def _draft(group, **fields):
    values = {"kind": "phrase", "pattern": WORD, "category": "spam", "action": "block",
              "description": "Sold door to door"} | fields
    return watchwords.draft_rule(group=group, **values)


def test_trying_a_draft_shows_the_match_and_saves_nothing(place):
    before = (ScreeningRule.objects.count(), AuditEntry.objects.count())
    verdict = watchwords.test_phrase(place.group, TEXT, draft=_draft(place.group))
    assert verdict.action == "block"
    assert verdict.rules == [watchwords.DRAFT_KEY]
    assert verdict.matches[0].description == "Sold door to door"
    assert (ScreeningRule.objects.count(), AuditEntry.objects.count()) == before
    assert not screen(TEXT, place.group).matches  # the real rules are untouched


def test_trying_uses_site_rules_and_group_rules_too(place):
    crisis = ScreeningRule.objects.filter(group__isnull=True, category="crisis").exclude(
        test_phrase="").first()
    verdict = watchwords.test_phrase(place.group, crisis.test_phrase)
    assert verdict.is_crisis and crisis.key in verdict.rules
    assert any(s["name"] == "Samaritans" for s in verdict.signposts)
    rule = _add(place.people["moderator"], place.group)
    rulebook.changed()
    verdict = watchwords.test_phrase(place.group, TEXT, draft=_draft(place.group,
                                                                     pattern="cousin"))
    assert set(verdict.rules) == {f"group-{rule.pk}", watchwords.DRAFT_KEY}
    assert verdict.action == "block"  # the weightiest action wins


def test_trying_a_change_to_a_saved_rule_stands_in_for_it(place):
    rule = _add(place.people["moderator"], place.group)
    rulebook.changed()
    draft = watchwords.draft_rule(group=place.group, rule=rule, kind="phrase",
                                  pattern="swears by", category="spam", action="flag")
    verdict = watchwords.test_phrase(place.group, TEXT, draft=draft)
    assert verdict.rules == [f"group-{rule.pk}"] and verdict.action == "flag"


@pytest.mark.parametrize(("fields", "words"), [
    ({"kind": "pattern", "pattern": "(a+)+"}, "too complicated"),
    ({"kind": "pattern", "pattern": "[oops"}, "isn't valid"),
    ({"kind": "phrase", "pattern": "?!"}, "at least one letter"),
])
def test_trying_a_broken_draft_says_what_is_wrong(place, fields, words):
    with pytest.raises(ValidationError) as caught:
        watchwords.test_phrase(place.group, TEXT, draft=_draft(place.group, **fields))
    assert words in caught.value.message_dict["pattern"][0]


def test_trying_needs_a_phrase(place):
    with pytest.raises(ValidationError) as caught:
        watchwords.test_phrase(place.group, "   ")
    assert "Please type a phrase" in caught.value.message_dict["phrase"][0]


def test_an_empty_draft_is_no_draft(place):
    assert _draft(place.group, pattern="   ") is None


# --- the pages ---------------------------------------------------------------------------


def _url(name, group, **kwargs):
    return reverse(name, kwargs={"slug": group.slug, **kwargs})


FORM = {"kind": "phrase", "pattern": WORD, "category": "unsafe_advice", "action": "hold",
        "description": "A tonic sold as a cure", "test_phrase": "the lanternfish tonic",
        "phrase": ""}


def test_page_lists_the_groups_words_with_who_added_them(client, place):
    rule = _add(place.people["moderator"], place.group, description="A tonic sold as a cure")
    _add(place.other.memberships.get(role="owner").user, place.other, pattern="heartsease")
    client.force_login(place.people["owner"])
    response = client.get(_url("groups:screening", place.group))
    body = response.content.decode()
    assert response.status_code == 200
    assert WORD in body and "A tonic sold as a cure" in body
    assert place.people["moderator"].display_name in body
    assert "Unsafe health advice" in body and "Hold it until a moderator has looked" in body
    assert _url("groups:screening_delete", place.group, rule_id=rule.pk) in body
    assert "heartsease" not in body  # another group's words
    assert _url("groups:screening_site", place.group) in body
    assert 'name="hold_unsafe_advice"' in body
    assert '<label for="id_pattern">' in body and '<label for="id_phrase">' in body


@pytest.mark.parametrize(("role", "status"), [("moderator", 200), ("owner", 200),
                                              ("staff", 200), ("member", 404),
                                              ("welcomer", 404), ("outsider", 404)])
def test_page_is_for_moderators_only(client, place, role, status):
    client.force_login(place.people[role])
    assert client.get(_url("groups:screening", place.group)).status_code == status
    assert client.get(_url("groups:screening_site", place.group)).status_code == status


def test_saving_from_the_page_adds_the_word(client, place):
    client.force_login(place.people["moderator"])
    response = client.post(_url("groups:screening", place.group), FORM | {"do": "save"})
    assert response.status_code == 302
    assert response["Location"] == _url("groups:screening", place.group)
    rule = ScreeningRule.objects.get(group=place.group)
    assert (rule.pattern, rule.category, rule.action) == (WORD, "unsafe_advice", "hold")
    assert rule.test_phrase == "the lanternfish tonic"
    assert _audits(place.group, A.SCREENING_RULE_SAVED)


def test_a_bad_pattern_is_400_and_keeps_what_was_typed(client, place):
    client.force_login(place.people["moderator"])
    typed = FORM | {"do": "save", "kind": "pattern", "pattern": "(tonic+)+",
                    "description": "Careful wording here", "test_phrase": "my tonic"}
    response = client.post(_url("groups:screening", place.group), typed)
    body = response.content.decode()
    assert response.status_code == 400
    assert "too complicated" in body
    assert 'id="id_pattern-error"' in body
    for value in ("(tonic+)+", "Careful wording here", "my tonic"):
        assert f'value="{value}"' in body
    assert 'value="pattern" id="id_kind_1" checked' in body
    assert not ScreeningRule.objects.filter(group=place.group).exists()
    assert not _audits(place.group, A.SCREENING_RULE_SAVED)


def test_missing_test_phrase_match_is_400_by_that_field(client, place):
    client.force_login(place.people["moderator"])
    response = client.post(_url("groups:screening", place.group),
                           FORM | {"do": "save", "test_phrase": "nothing like it"})
    assert response.status_code == 400
    assert 'id="id_test_phrase-error"' in response.content.decode()
    assert not ScreeningRule.objects.filter(group=place.group).exists()


def test_the_test_button_shows_what_would_happen_and_saves_nothing(client, place):
    client.force_login(place.people["moderator"])
    before = (ScreeningRule.objects.count(), AuditEntry.objects.count())
    response = client.post(_url("groups:screening", place.group),
                           FORM | {"do": "test", "phrase": TEXT})
    body = response.content.decode()
    assert response.status_code == 200
    assert "What would happen to" in body
    assert "It would be held until a moderator has looked" in body
    assert "The word or phrase you are adding" in body
    assert "A tonic sold as a cure" in body
    assert "Nothing has been saved or sent." in body
    assert "Your pharmacist" in body  # the health signposts the writer would see
    # What was typed stays in the form, ready to save.
    assert f'value="{WORD}"' in body and TEXT.replace("'", "&#x27;") in body
    assert 'value="unsafe_advice" id="id_category_1" checked' in body
    assert (ScreeningRule.objects.count(), AuditEntry.objects.count()) == before


def test_testing_with_no_draft_uses_the_rules_already_there(client, place):
    client.force_login(place.people["moderator"])
    response = client.post(_url("groups:screening", place.group),
                           {"do": "test", "kind": "phrase", "phrase": "I feel so suicidal"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "the writer would be shown where to get help now" in body
    assert "Kindred&#x27;s site rules" in body and "Samaritans" in body


def test_testing_falls_back_to_the_phrase_it_must_catch(client, place):
    client.force_login(place.people["moderator"])
    response = client.post(_url("groups:screening", place.group), FORM | {"do": "test"})
    assert response.status_code == 200
    assert "What would happen to \u201cthe lanternfish tonic\u201d" in response.content.decode()


def test_testing_a_broken_draft_is_400_and_saves_nothing(client, place):
    client.force_login(place.people["moderator"])
    response = client.post(_url("groups:screening", place.group),
                           FORM | {"do": "test", "kind": "pattern", "pattern": "[oops",
                                   "phrase": TEXT})
    body = response.content.decode()
    assert response.status_code == 400
    assert "isn&#x27;t valid" in body and 'value="[oops"' in body
    assert "What would happen" not in body
    assert not ScreeningRule.objects.filter(group=place.group).exists()


def test_testing_nothing_is_400_asking_for_a_phrase(client, place):
    client.force_login(place.people["moderator"])
    response = client.post(_url("groups:screening", place.group),
                           {"do": "test", "kind": "phrase", "pattern": ""})
    assert response.status_code == 400
    assert "Please type a phrase to try." in response.content.decode()


@pytest.mark.parametrize(("role", "allowed"), [("moderator", True), ("owner", True),
                                               ("member", False), ("outsider", False)])
def test_the_setting_is_changed_by_moderators_only(client, place, role, allowed):
    client.force_login(place.people[role])
    response = client.post(_url("groups:screening", place.group),
                           {"do": "settings", "hold_unsafe_advice": "on"})
    assert response.status_code == (302 if allowed else 404)
    assert Group.objects.get(pk=place.group.pk).hold_unsafe_advice is allowed
    if allowed:  # and an unticked box turns it off again
        client.post(_url("groups:screening", place.group), {"do": "settings"})
        assert Group.objects.get(pk=place.group.pk).hold_unsafe_advice is False
        assert len(_audits(place.group, A.SCREENING_SETTINGS)) == 2


@pytest.mark.parametrize("role", ["member", "outsider"])
def test_saving_from_the_page_is_404_for_others(client, place, role):
    client.force_login(place.people[role])
    response = client.post(_url("groups:screening", place.group), FORM | {"do": "save"})
    assert response.status_code == 404
    assert not ScreeningRule.objects.filter(group=place.group).exists()


def test_deleting_from_the_page(client, place):
    rule = _add(place.people["moderator"], place.group)
    client.force_login(place.people["owner"])
    url = _url("groups:screening_delete", place.group, rule_id=rule.pk)
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 302
    assert not ScreeningRule.objects.filter(pk=rule.pk).exists()


def test_another_groups_rule_under_my_slug_is_404(client, place):
    theirs = _add(place.other.memberships.get(role="owner").user, place.other)
    site_rule = ScreeningRule.objects.filter(group__isnull=True).first()
    client.force_login(place.people["owner"])
    for rule in (theirs, site_rule):
        url = _url("groups:screening_delete", place.group, rule_id=rule.pk)
        assert client.post(url).status_code == 404
        assert ScreeningRule.objects.filter(pk=rule.pk).exists()


def test_site_rules_page_shows_words_not_patterns(client, place):
    client.force_login(place.people["moderator"])
    body = client.get(_url("groups:screening_site", place.group)).content.decode()
    rules = list(ScreeningRule.objects.filter(group__isnull=True, enabled=True))
    assert rules
    for rule in rules:
        assert rule.pattern not in body
    sample = next(r for r in rules if r.category == "unsafe_advice" and r.description)
    assert sample.description.replace("'", "&#x27;") in body
    assert "Someone may be in crisis" in body and "Spam or advertising" in body
    assert "For example:" in body


def test_moderator_nav_links_to_the_screening_and_signposts_pages(client, place):
    client.force_login(place.people["moderator"])
    body = client.get(_url("groups:home", place.group)).content.decode()
    assert _url("groups:screening", place.group) in body
    assert _url("groups:signposts", place.group) in body
    client.force_login(place.people["member"])
    body = client.get(_url("groups:home", place.group)).content.decode()
    assert _url("groups:screening", place.group) not in body
    assert _url("groups:signposts", place.group) not in body


@pytest.mark.parametrize("rows", [3, 30])
def test_screening_page_query_count_stays_flat(client, place, make_user,
                                               django_assert_max_num_queries, rows):
    for i in range(rows):
        author = make_user(f"Adder {i}")
        ScreeningRule.objects.create(group=place.group, kind="phrase", pattern=f"word {i}",
                                     category="spam", action="flag", created_by=author)
    client.force_login(place.people["owner"])
    client.get("/help/")  # settle the session first
    with django_assert_max_num_queries(13):
        response = client.get(_url("groups:screening", place.group))
    assert response.content.decode().count("Adder ") == rows


# --- the admin -------------------------------------------------------------------------------


def _admin_data(rule: ScreeningRule, **changes) -> dict:
    data = {name: getattr(rule, name) for name in (
        "key", "category", "action", "description", "kind", "pattern", "unless", "requires",
        "scope", "guards", "validator", "concern", "test_phrase")}
    data |= {"group": rule.group_id or "", "enabled": "on" if rule.enabled else ""}
    return data | changes


def test_staff_edit_a_site_rule_in_the_admin(client, make_user,
                                             django_capture_on_commit_callbacks):
    staff = make_user("Safeguarding Lead", staff=True)
    rule = ScreeningRule.objects.get(key="spam.make-money")
    assert rule.edited is False
    client.force_login(staff)
    url = reverse("admin:moderation_screeningrule_change", args=[rule.pk])
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, _admin_data(rule, action="hold",
                                                description="Get-rich adverts"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert rulebook.changed in callbacks
    rule.refresh_from_db()
    assert (rule.action, rule.description, rule.edited) == ("hold", "Get-rich adverts", True)
    entry = AuditEntry.objects.get(action=A.SCREENING_RULE_SAVED, actor=staff)
    assert entry.detail["key"] == "spam.make-money"
    assert screen("earn £500 a day from home, DM me").action == "hold"
    # A later load of the shipped pack leaves the edited rule alone.
    rulebook.sync_site_pack(ScreeningRule)
    rule.refresh_from_db()
    assert rule.action == "hold"


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"pattern": "earn (money"}, "pattern", "isn"),
    ({"test_phrase": "a lovely walk in the park"}, "test_phrase", "test phrase"),
])
def test_admin_shows_the_models_validation_and_saves_nothing(client, make_user, changes,
                                                              field, words):
    rule = ScreeningRule.objects.get(key="spam.make-money")
    before = (rule.pattern, rule.test_phrase, rule.edited)
    client.force_login(make_user("Safeguarding Lead", staff=True))
    url = reverse("admin:moderation_screeningrule_change", args=[rule.pk])
    response = client.post(url, _admin_data(rule, **changes))
    assert response.status_code == 200
    assert words in response.content.decode()
    rule.refresh_from_db()
    assert (rule.pattern, rule.test_phrase, rule.edited) == before
    assert not AuditEntry.objects.filter(action=A.SCREENING_RULE_SAVED).exists()


def test_admin_list_filters_and_search(client, make_user, place):
    _add(place.people["moderator"], place.group)
    client.force_login(make_user("Safeguarding Lead", staff=True))
    url = reverse("admin:moderation_screeningrule_changelist")
    body = client.get(url, {"whose": "site", "category": "spam"}).content.decode()
    assert "spam.make-money" in body and "crisis.suicide" not in body
    body = client.get(url, {"whose": "group"}).content.decode()
    assert place.group.name in body and "spam.make-money" not in body
    assert "crisis.suicide" in client.get(url, {"q": "suicid"}).content.decode()


def test_admin_turns_rules_off_through_the_audit(client, make_user,
                                                 django_capture_on_commit_callbacks):
    staff = make_user("Safeguarding Lead", staff=True)
    rule = ScreeningRule.objects.get(key="spam.make-money")
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:moderation_screeningrule_changelist"),
                               {"action": "turn_off", "_selected_action": [rule.pk]})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.enabled, rule.edited) == (False, True)
    assert AuditEntry.objects.filter(action=A.SCREENING_RULE_SAVED, actor=staff).count() == 1
    assert "spam.make-money" not in screen("earn £500 a day from home, DM me").rules


def test_members_cannot_reach_the_rules_admin(client, place):
    client.force_login(place.people["owner"])
    response = client.get(reverse("admin:moderation_screeningrule_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_saving_without_a_word_or_choices_names_each_missing_field(client, place):
    client.force_login(place.people["moderator"])
    response = client.post(_url("groups:screening", place.group),
                           {"do": "save", "kind": "phrase", "description": "Kept note"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Please type the word, phrase or pattern to watch for." in body
    assert "Please choose what it is about." in body
    assert "Please choose what should happen." in body
    assert 'value="Kept note"' in body
    assert not ScreeningRule.objects.filter(group=place.group).exists()


def test_the_result_follows_the_groups_setting_for_unsafe_advice(client, place):
    client.force_login(place.people["moderator"])
    url = _url("groups:screening", place.group)
    phrase = {"do": "test", "kind": "phrase", "phrase": "just stop taking your insulin"}
    body = client.post(url, phrase).content.decode()
    assert "it would be published and the group&#x27;s moderators would get a case" in body
    watchwords.set_hold_unsafe_advice(actor=place.people["owner"], group=place.group,
                                      hold=True)
    body = client.post(url, phrase).content.decode()
    assert "it would wait for a moderator (this group&#x27;s setting below)" in body
