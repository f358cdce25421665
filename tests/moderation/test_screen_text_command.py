"""`manage.py screen_text` as CONTRACT.md gives it: JSON lines in, one verdict per line."""

from __future__ import annotations

import io
import json
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from moderation.models import ScreeningRule

pytestmark = pytest.mark.django_db

KEYS = {"text", "categories", "action", "signposts", "rules"}


def run(monkeypatch, text: str, *args: str) -> list[dict]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    out = io.StringIO()
    call_command("screen_text", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_verdict_per_line_in_order_with_the_contract_keys(monkeypatch):
    rows = run(monkeypatch, "hello there\nI don't want to be here anymore\n\n"
                            "just stop taking your insulin\ntext me on 07700 900123\n")
    assert [r["text"] for r in rows] == ["hello there", "I don't want to be here anymore", "",
                                         "just stop taking your insulin",
                                         "text me on 07700 900123"]
    assert all(set(r) == KEYS for r in rows)
    assert rows[0]["action"] == "allow" and rows[0]["categories"] == []
    assert rows[1]["categories"] == ["crisis"] and rows[1]["action"] == "flag"
    assert any(s["phone"] == "116 123" for s in rows[1]["signposts"])
    assert rows[2]["action"] == "allow"
    assert rows[3]["categories"] == ["unsafe_advice"] and rows[3]["action"] == "prompt"
    assert rows[3]["rules"]
    assert rows[4]["categories"] == ["privacy"]


def test_group_watched_words_apply_with_group(monkeypatch, make_group, make_user):
    group = make_group(make_user("Owner"), slug="watchers")
    ScreeningRule.objects.create(group=group, category="spam", action="hold", kind="phrase",
                                 pattern="magic beans")
    from moderation import rulebook

    rulebook.changed()
    [site] = run(monkeypatch, "selling magic beans\n")
    [own] = run(monkeypatch, "selling magic beans\n", "--group", "watchers")
    assert site["action"] == "allow"
    assert own["action"] == "hold" and own["categories"] == ["spam"]


def test_unknown_group_is_a_clear_error(monkeypatch):
    with pytest.raises(CommandError, match="No group"):
        run(monkeypatch, "hi\n", "--group", "no-such-group")


def test_a_big_input_screened_by_workers_matches_one_at_a_time(monkeypatch):
    lines = ["hello", "I want to end it all", "just stop your insulin", "my feet are killing me"]
    text = "\n".join(lines[i % 4] + f" {i}" for i in range(900)) + "\n"
    together = run(monkeypatch, text, "--jobs", "2")
    alone = run(monkeypatch, text, "--jobs", "1")
    assert len(together) == 900
    assert together == alone
