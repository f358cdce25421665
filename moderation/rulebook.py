"""The database side of screening: which rules apply in a group, and which signposts fit
a verdict, compiled once per process and refreshed when staff or moderators change them.

Changing a rule or a signpost bumps a version number in the shared cache; each process
looks at it at most every few seconds, so every daphne process picks up a change quickly
without a query per message.
"""

from __future__ import annotations

import contextlib
import threading
import time

from django.conf import settings
from django.core.cache import cache

from community.signposts import as_resource as shipped_resource
from community.signposts import crisis_signposts, shipped
from moderation.screening import RuleSet, Verdict, load_pack

VERSION_KEY = "screening:version"
LOOK_EVERY = 5.0  # seconds between looks at the shared version

_lock = threading.Lock()
_state = {"version": None, "looked": 0.0}
_rulesets: dict[int | None, RuleSet] = {}
_signposts: dict[tuple, list[dict]] = {}


def changed() -> None:
    """Call after saving or deleting a rule, signpost or a group's screening setting."""
    with contextlib.suppress(Exception):  # the cache being away must not stop a save
        cache.set(VERSION_KEY, time.time_ns(), None)
    forget()


def forget() -> None:
    with _lock:
        _rulesets.clear()
        _signposts.clear()
        _state["looked"] = 0.0


def _fresh() -> None:
    now = time.monotonic()
    if now - _state["looked"] < LOOK_EVERY:
        return
    try:
        version = cache.get(VERSION_KEY)
    except Exception:
        version = _state["version"]
    with _lock:
        if version != _state["version"]:
            _rulesets.clear()
            _signposts.clear()
            _state["version"] = version
        _state["looked"] = now


def _site_rules() -> list:
    from moderation.models import ScreeningRule

    rows = list(ScreeningRule.objects.filter(group__isnull=True, enabled=True))
    if rows or ScreeningRule.objects.filter(group__isnull=True).exists():
        return [row.as_rule() for row in rows]
    return list(load_pack().rules)  # an empty database (fresh test run): the shipped pack


def ruleset_for(group=None) -> RuleSet:
    _fresh()
    key = getattr(group, "pk", None)
    ruleset = _rulesets.get(key)
    if ruleset is not None:
        return ruleset
    if key is None:
        ruleset = RuleSet(_site_rules(), load_pack().lexicon)
    else:
        from moderation.models import ScreeningRule

        own = [row.as_rule() for row in ScreeningRule.objects.filter(group_id=key, enabled=True)]
        ruleset = ruleset_for(None).extended(own)  # the site rules are compiled once
    with _lock:
        _rulesets[key] = ruleset
    return ruleset


def site_signposts(topic: str, region: str | None = None) -> list[dict]:
    from community.models import Signpost

    region = (region or settings.KINDRED_REGION).upper()
    rows = list(Signpost.objects.filter(group__isnull=True, region=region, topic=topic))
    if rows:
        return [row.as_resource() for row in rows]
    if Signpost.objects.filter(group__isnull=True, region=region).exists():
        return []
    return [shipped_resource(e) for e in shipped(region) if e["topic"] == topic]


def signposts_for_topic(topic: str, group=None) -> list[dict]:
    _fresh()
    key = (topic, getattr(group, "pk", None))
    found = _signposts.get(key)
    if found is None:
        try:
            found = site_signposts(topic)
        except Exception:  # never leave someone in crisis without a number to call
            found = crisis_signposts() if topic == "crisis" else []
        if group is not None:
            found = found + [row.as_resource() for row in group.signposts.filter(topic=topic)]
        with _lock:
            _signposts[key] = found
    return list(found)


TOPIC_FOR = {"crisis": "crisis", "unsafe_advice": "health"}


def signposts_for(verdict: Verdict, group=None) -> list[dict]:
    topic = TOPIC_FOR.get(verdict.reason)
    return signposts_for_topic(topic, group) if topic else []


def sync_site_pack(rule_model, pack=None) -> tuple[int, int]:
    """Load the shipped pack: add new rules, update unedited ones; staff edits stay.
    Returns (added, updated). Works with a migration's historical model too."""
    pack = pack or load_pack()
    added = updated = 0
    for rule in pack.rules:
        fields = {
            "category": rule.category, "action": rule.action,
            "kind": "raw" if rule.raw else "pattern", "pattern": rule.raw or rule.pattern,
            "unless": rule.unless, "guards": ",".join(rule.guards),
            "validator": rule.check, "concern": rule.concern,
            "requires": rule.requires, "scope": rule.scope,
            "description": rule.description, "test_phrase": rule.test,
        }
        known = {f.name for f in rule_model._meta.get_fields()}
        fields = {k: v for k, v in fields.items() if k in known}  # older migration states
        row = rule_model.objects.filter(group__isnull=True, key=rule.key).first()
        if row is None:
            rule_model.objects.create(key=rule.key, **fields)
            added += 1
        elif not row.edited and any(getattr(row, k) != v for k, v in fields.items()):
            for name, value in fields.items():
                setattr(row, name, value)
            row.save()
            updated += 1
    return added, updated
