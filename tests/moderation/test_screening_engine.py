"""The screening engine on its own: the shipped site pack compiled into a `RuleSet` and
asked about text. Pure: no database, no cache, no Django request.

What must hold whatever the wording of the pack becomes: every rule catches its own test
phrase; everyday idioms are left alone; context (negation, a clinician's guidance, worry
about someone else) changes the verdict; text written around a filter is still caught;
contact details are caught as people write them, but ids, timestamps and helplines are
not; a broken group rule never breaks screening; and a crisis is never held or blocked.
"""

from __future__ import annotations

import pytest

from moderation.normalise import MAX_SCREEN_CHARS
from moderation.screening import (
    ACTIONS,
    CATEGORIES,
    Rule,
    RuleError,
    RuleSet,
    Verdict,
    _nhs_valid,
    check_user_pattern,
    load_pack,
)

PACK = load_pack()


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    ruleset = RuleSet(PACK.rules, PACK.lexicon)
    assert ruleset.errors == [], "the shipped pack must compile cleanly"
    return ruleset


def verdict_of(rules: RuleSet, text: str) -> Verdict:
    verdict = rules.screen(text)
    assert verdict.action in ACTIONS
    assert set(verdict.categories) <= set(CATEGORIES)
    return verdict


# --- the pack itself ------------------------------------------------------------------------


def test_the_pack_has_rules_of_every_category_each_with_a_test_phrase():
    assert {rule.category for rule in PACK.rules} == set(CATEGORIES)
    keys = [rule.key for rule in PACK.rules]
    assert len(keys) == len(set(keys)), "rule keys are unique"
    missing = [rule.key for rule in PACK.rules if not rule.test.strip()]
    assert missing == [], "every site rule carries a phrase it must catch"


@pytest.mark.parametrize("rule", PACK.rules, ids=lambda rule: rule.key)
def test_every_site_rule_catches_its_own_test_phrase(rules, rule):
    verdict = verdict_of(rules, rule.test)
    assert rule.key in verdict.rules, (
        f"{rule.key} does not catch its own test phrase {rule.test!r} "
        f"(matched: {verdict.rules})"
    )
    assert rule.category in verdict.categories
    if rule.category != "crisis" and "crisis" not in verdict.categories:
        # The verdict's action is at least as weighty as this rule's own.
        assert ACTIONS.index(verdict.action) >= ACTIONS.index(rule.action)


# --- idioms -------------------------------------------------------------------------------------

IDIOMS = [
    "this heat is killing me",
    "I could murder a cup of tea",
    "I killed it at the quiz",
    "my feet are killing me",
    "dying for a cuppa",
    "I nearly died laughing",
]


@pytest.mark.parametrize("text", IDIOMS)
def test_everyday_idioms_are_left_alone(rules, text):
    verdict = verdict_of(rules, text)
    assert (verdict.action, verdict.categories, verdict.rules) == ("allow", (), [])


# --- context --------------------------------------------------------------------------------------


def test_wanting_to_end_it_all_is_a_crisis_about_the_writer(rules):
    verdict = verdict_of(rules, "I want to end it all")
    assert verdict.is_crisis
    assert verdict.categories == ("crisis",)
    assert verdict.action == "flag"
    assert verdict.concern == "self"
    assert verdict.reason == "crisis"


def test_worry_about_a_friend_is_a_crisis_about_someone_else(rules):
    verdict = verdict_of(rules, "my friend says she will kill herself")
    assert verdict.is_crisis
    assert verdict.action == "flag"
    assert verdict.concern == "other"
    assert "crisis.other-suicidal" in verdict.rules


def test_telling_someone_to_stop_their_meds_is_unsafe_advice_and_asks_first(rules):
    verdict = verdict_of(rules, "you should stop your meds")
    assert verdict.categories == ("unsafe_advice",)
    assert verdict.action == "prompt"
    assert verdict.reason == "unsafe_advice"


def test_reporting_a_clinicians_guidance_is_allowed(rules):
    verdict = verdict_of(rules, "my GP said I can reduce my steroids")
    assert verdict.action == "allow" and verdict.rules == []


SAFE_ADVICE = [
    "please never stop your insulin without talking to your diabetes team",
    "do not stop your steroids suddenly",
    "please don't stop taking your tablets without asking your GP",
    # The opposite of unsafe advice, in the words peers use every day:
    "never stop taking your insulin",
    "please do not stop taking your inhaler",
    "don't stop taking your antidepressants suddenly",
]


@pytest.mark.parametrize("text", SAFE_ADVICE)
def test_advice_not_to_stop_medicine_is_allowed(rules, text):
    verdict = verdict_of(rules, text)
    assert (verdict.action, verdict.rules) == ("allow", []), (
        f"{text!r} is safe advice but matched {verdict.rules}")


def test_negation_turns_the_same_words_safe(rules):
    assert verdict_of(rules, "just stop taking your insulin").action == "prompt"
    assert verdict_of(rules, "I want to kill myself").is_crisis
    assert verdict_of(rules, "I would never kill myself").action == "allow"
    assert verdict_of(rules, "I don't want to hurt myself").action == "allow"


# --- bad and awkward input ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "   \n\t  \r\n ", "\u200b\u200b", None])
def test_empty_and_blank_text_is_allowed(rules, text):
    verdict = rules.screen(text)
    assert verdict.action == "allow"
    assert verdict.matches == () and verdict.signposts == ()


def test_a_million_characters_are_capped_and_a_crisis_at_the_start_is_still_found(rules):
    text = "I want to kill myself. " + "and then we went to the shops " * 33_334
    assert len(text) > 1_000_000
    verdict = verdict_of(rules, text)
    assert verdict.is_crisis
    assert "crisis.kill-myself" in verdict.rules


def test_a_million_characters_without_spaces_do_not_crash(rules):
    assert verdict_of(rules, "a" * 1_000_000).action == "allow"
    assert verdict_of(rules, "ha" * 500_000).action == "allow"


def test_text_past_the_cap_is_not_screened_but_the_start_is(rules):
    # The cap is part of the contract of the engine: long text costs the same as short.
    padding = "we had a lovely walk by the river " * (MAX_SCREEN_CHARS // 30 + 10)
    assert verdict_of(rules, padding + "I want to kill myself").action == "allow"
    assert verdict_of(rules, "I want to kill myself. " + padding).is_crisis


DISGUISED_CRISIS = {
    "zero-width space inside a word": "I want to ki\u200bll myself",
    "zero-width joiner and soft hyphen": "I want to k\u200dil\u00adl my\u200cself",
    "word joiner and BOM": "I want to kill\u2060 my\ufeffself",
    "Cyrillic i": "I want to k\u0456ll myself",
    "Cyrillic o and e": "I w\u0430nt t\u043e kill mys\u0435lf",
    "combining marks": "I want to k\u0301i\u0308ll my\u0300self",
    "precomposed accents": "I want to kíll mysélf",
    "full-width letters": "I want to ｋｉｌｌ ｍｙｓｅｌｆ",
    "leetspeak": "k1ll mys3lf",
    "leetspeak with symbols": "i w@nt to kill my$elf",
    "leetspeak with an exclamation mark": "i want to k!ll myself",
    "stretched letters": "i want to dieeeee",
    "stretched consonants": "i want to killllll myselffff",
    "spaced letters": "s u i c i d a l",
    "dotted letters": "feeling s.u.i.c.i.d.a.l tonight",
    "shouting": "I WANT TO KILL MYSELF",
    "txt speak": "i wanna kms",
}


@pytest.mark.parametrize("text", DISGUISED_CRISIS.values(), ids=DISGUISED_CRISIS.keys())
def test_crisis_written_around_a_filter_is_still_caught(rules, text):
    verdict = verdict_of(rules, text)
    assert verdict.is_crisis, f"{text!r} was not seen as a crisis ({verdict.rules})"
    assert verdict.action == "flag"


# --- privacy ----------------------------------------------------------------------------------

PERSONAL_DETAILS = {
    # UK mobiles, as people type them
    "mobile spaced 5-6": ("text me on 07700 900123", "privacy.phone"),
    "mobile run together": ("ring me 07700900123 after 6", "privacy.phone"),
    "mobile 5-3-3": ("my number is 07700 900 123", "privacy.phone"),
    "mobile with dashes": ("call 07700-900-123 tonight", "privacy.phone"),
    "mobile +44": ("whatsapp me +44 7700 900123", "privacy.phone"),
    "mobile +44 (0)": ("I'm on +44 (0)7700 900123", "privacy.phone"),
    "mobile 0044": ("my mobile is 0044 7700 900123", "privacy.phone"),
    "mobile +44 run together": ("+447700900123", "privacy.phone"),
    # emails
    "email plain": ("my email is jo.bloggs99@hotmail.co.uk", "privacy.email"),
    "email after a colon": ("drop me a line: sam_lee@outlook.com", "privacy.email"),
    "email after 'at'": ("email me at sarah.jones@example.com", "privacy.email"),
    "email after 'contact me at'": ("contact me at bob.smith@gmail.com", "privacy.email"),
    "email spelt out": ("jo dot bloggs at gmail dot com", "privacy.email"),
    # postcodes
    "postcode": ("we're at LS6 2AB", "privacy.postcode"),
    "postcode lower case": ("postcode is sw1a 1aa", "privacy.postcode"),
    "postcode short": ("we're in M1 1AE", "privacy.postcode"),
    # NHS numbers with a valid check digit
    "NHS number 3-3-4": ("my NHS number is 943 476 5919", "privacy.nhs-number"),
    "NHS number with dashes": ("it's 401-023-2137", "privacy.nhs-number"),
    "NHS number run together with context": ("nhs no 4010232137", "privacy.nhs-number"),
}


@pytest.mark.parametrize("text,rule", PERSONAL_DETAILS.values(), ids=PERSONAL_DETAILS.keys())
def test_personal_details_are_caught_as_people_write_them(rules, text, rule):
    verdict = verdict_of(rules, text)
    assert rule in verdict.rules, f"{text!r}: expected {rule}, matched {verdict.rules}"
    assert verdict.categories == ("privacy",)
    assert verdict.action == "prompt"
    assert verdict.reason == "privacy"


def test_the_example_numbers_do_or_do_not_have_valid_check_digits():
    # The tests below lean on these facts, so check them here, not by trust.
    assert _nhs_valid("9434765919") and _nhs_valid("4010232137")
    assert not _nhs_valid("9434765918") and not _nhs_valid("4010232138")
    assert _nhs_valid("1712345605"), "a timestamp that happens to pass the check"
    assert _nhs_valid("5012345606"), "an order number that happens to pass the check"


NOT_PERSONAL = {
    "NHS-like, bad check digit, spaced": "my NHS number is 943 476 5918",
    "NHS-like, bad check digit, run together": "my NHS number is 9434765918",
    "NHS-like, bad check digit, dashes": "nhs 401-023-2138",
    "unix timestamp": "the log says 1712345605",
    "unix timestamp named": "unix timestamp 1712345605",
    "order number": "my order number is 5012345606",
    "order no.": "Order no. 5012345606 still hasn't arrived",
    "order #": "Order #5012345606 still hasn't arrived",
    "tracking number": "tracking number 5012345606",
    "Samaritans": "Samaritans are on 116 123, any time",
    "Samaritans run together": "call Samaritans on 116123",
    "Childline": "ring Childline free on 0800 1111",
    "0345 helpline": "the Diabetes UK helpline is 0345 123 2399",
    "0345 number": "call 0345 123 2399 and ask for the nurse",
    "0300 helpline": "Asthma + Lung UK helpline 0300 222 5800",
    "999 and 111": "call 999, or NHS 111 if it isn't an emergency",
    "blood sugar": "my sugar was 11.5 at 7.30 this morning",
    "steps": "I walked 10000 steps today",
    "prices": "it costs £12.50 a month",
}


@pytest.mark.parametrize("text", NOT_PERSONAL.values(), ids=NOT_PERSONAL.keys())
def test_ids_timestamps_and_helplines_are_not_personal_details(rules, text):
    verdict = verdict_of(rules, text)
    assert "privacy" not in verdict.categories, f"{text!r} matched {verdict.rules}"
    assert verdict.action == "allow"


# --- group rules that go wrong -------------------------------------------------------------------


def test_a_group_rule_that_does_not_compile_is_reported_and_the_rest_still_work():
    broken = Rule(key="group-7", category="abuse", action="hold", pattern="(unclosed",
                  source="group")
    unknown_word_list = Rule(key="group-8", category="spam", action="hold",
                             pattern="{NO_SUCH_LIST}", source="group")
    watched = Rule(key="group-9", category="spam", action="hold",
                   pattern="miracle bananas", source="group")
    ruleset = RuleSet([*PACK.rules, broken, unknown_word_list, watched], PACK.lexicon)

    reported = dict(ruleset.errors)
    assert set(reported) == {"group-7", "group-8"}
    assert all(message.strip() for message in reported.values())
    assert ruleset.screen("buy my miracle bananas").rules == ["group-9"]
    verdict = ruleset.screen("I want to kill myself")
    assert verdict.is_crisis and verdict.rules == ["crisis.kill-myself"]
    assert ruleset.screen("(unclosed").action == "allow"


@pytest.mark.parametrize("pattern", ["(a+)+", "(a*)*", "(x+x+)+y", "(?:\\w+\\s?)+$"])
def test_patterns_that_could_take_minutes_are_refused(pattern):
    with pytest.raises(RuleError):
        check_user_pattern(pattern)


def test_overly_long_patterns_are_refused():
    with pytest.raises(RuleError, match="300"):
        check_user_pattern("word|" * 61)
    check_user_pattern("a" * 300)  # at the limit: fine


def test_patterns_that_do_not_compile_are_refused_and_plain_ones_pass():
    with pytest.raises(RuleError):
        check_user_pattern("[unclosed")
    for fine in ("miracle cure", "buy (now|today)", "colou?r", "\\bketo\\b"):
        check_user_pattern(fine)


# --- combining ------------------------------------------------------------------------------------

MIXED_WITH_CRISIS = {
    "crisis and a money scheme (block)": "I want to kill myself. earn £500 a day from home, DM me",
    "crisis and an advert (hold)":
        "I want to end it all. DM me for prices, cheap meds no prescription",
    "crisis and an insult (hold)": "I want to kill myself, you're a pathetic idiot",
    "crisis and telling to die (hold)": "I want to kill myself, just go and kill yourself",
    "crisis and a slur (block)": "I want to kill myself go home you paki",
    "crisis and unsafe advice (prompt)": "I want to end it all. just stop taking your insulin",
    "crisis and a phone number (prompt)":
        "I don't want to be here anymore, text me on 07700 900123",
}


@pytest.mark.parametrize("text", MIXED_WITH_CRISIS.values(), ids=MIXED_WITH_CRISIS.keys())
def test_a_crisis_is_never_held_blocked_or_prompted_whatever_else_matches(rules, text):
    verdict = verdict_of(rules, text)
    assert verdict.is_crisis
    assert len(verdict.categories) >= 2, verdict.rules
    assert verdict.action == "flag"
    assert verdict.reason == "crisis"


def test_without_the_crisis_the_weightiest_action_wins(rules):
    assert verdict_of(rules, "earn £500 a day from home, DM me").action == "block"
    assert verdict_of(rules, "you're a pathetic idiot").action == "hold"
    mixed = verdict_of(rules, "you're a pathetic idiot, text me on 07700 900123")
    assert set(mixed.categories) == {"abuse", "privacy"}
    assert mixed.action == "hold"
    assert mixed.reason == "abuse"
