"""A group's own watched words: its moderators add, try out and remove them, and choose
whether unsafe health advice is held for a look. Site staff keep the site's rules in the
admin (`save_site_rule`), through the same audit and cache refresh.

Every change refreshes the screening caches after commit (`rulebook.changed`), so the
next message screened, in any process, uses the new rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from community import policy
from community.models import Group, User
from moderation import rulebook, screening
from moderation.models import AuditEntry, ScreeningRule
from moderation.services.audit import record_audit

MAX_GROUP_RULES = 200
MAX_PATTERN_CHARS = 300
MAX_TEST_CHARS = 2000
GROUP_KINDS = (ScreeningRule.Kind.PHRASE, ScreeningRule.Kind.PATTERN)
DRAFT_KEY = "draft"


def _tidy(value: Any) -> str:
    return " ".join(str(value or "").split())


def _check_choices(*, kind: str, category: str, action: str) -> None:
    """Plain-English answers for values a form would never send (the model's are terse)."""
    errors = {}
    if kind not in GROUP_KINDS:
        errors["kind"] = "Please choose a word or phrase, or a pattern."
    if category not in ScreeningRule.Category.values:
        errors["category"] = "Please choose what it is about from the list."
    if action not in ScreeningRule.Action.values:
        errors["action"] = "Please choose what should happen from the list."
    if errors:
        raise ValidationError(errors)


def _same_rule_exists(group: Group, kind: str, pattern: str, *, exclude: int | None) -> bool:
    rows = ScreeningRule.objects.filter(group=group, kind=kind, pattern__iexact=pattern)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    return rows.exists()


def save_group_rule(
    *,
    actor: User,
    group: Group,
    rule: ScreeningRule | None = None,
    kind: str,
    pattern: str,
    category: str,
    action: str,
    description: str = "",
    test_phrase: str = "",
) -> ScreeningRule:
    """Add (or change) one of the group's watched words. Moderators and owners only; a
    pattern that is broken, too slow, or misses its own test phrase saves nothing."""
    policy.require_moderator(actor, group)
    if rule is not None:
        policy.require(rule.group_id == group.pk)
    pattern = (pattern or "").strip() if kind == ScreeningRule.Kind.PATTERN else _tidy(pattern)
    description, test_phrase = _tidy(description), _tidy(test_phrase)
    _check_choices(kind=kind, category=category, action=action)
    if not pattern:
        raise ValidationError({"pattern": "Please type the word, phrase or pattern to watch "
                                          "for."})
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValidationError({"pattern": f"Please keep it to {MAX_PATTERN_CHARS} characters "
                                          "or fewer."})
    with transaction.atomic():
        # Lock the group row so two moderators adding at once can't pass the limit.
        Group.objects.select_for_update().filter(pk=group.pk).first()
        adding = rule is None
        if adding:
            if ScreeningRule.objects.filter(group=group).count() >= MAX_GROUP_RULES:
                raise ValidationError(
                    f"This group already watches {MAX_GROUP_RULES} words and phrases, the "
                    "most it can. Please remove one you no longer need first.")
            rule = ScreeningRule(group=group, created_by=actor)
        else:
            rule = ScreeningRule.objects.select_for_update().get(pk=rule.pk, group=group)
        if _same_rule_exists(group, kind, pattern, exclude=rule.pk):
            raise ValidationError({"pattern": "This group already watches for that. You can "
                                              "remove the old one first if you want to change "
                                              "it."})
        rule.kind, rule.pattern = kind, pattern
        rule.category, rule.action = category, action
        rule.description, rule.test_phrase = description, test_phrase
        rule.updated_at = timezone.now()
        rule.full_clean()
        rule.save()
        record_audit(action=AuditEntry.Action.SCREENING_RULE_SAVED, actor=actor, group=group,
                     detail={"rule_id": rule.pk, "added": adding, "kind": kind,
                             "pattern": pattern[:300], "category": category,
                             "action": action})
        transaction.on_commit(rulebook.changed)
    return rule


def delete_group_rule(*, actor: User, rule: ScreeningRule) -> None:
    """Stop watching for one of the group's words. The site's rules are not a group's."""
    policy.require(rule.group_id is not None)
    group = rule.group
    policy.require_moderator(actor, group)
    with transaction.atomic():
        deleted, _ = ScreeningRule.objects.filter(pk=rule.pk, group=group).delete()
        policy.require(bool(deleted))
        record_audit(action=AuditEntry.Action.SCREENING_RULE_DELETED, actor=actor, group=group,
                     detail={"rule_id": rule.pk, "kind": rule.kind,
                             "pattern": rule.pattern[:300], "category": rule.category,
                             "action": rule.action})
        transaction.on_commit(rulebook.changed)


def set_hold_unsafe_advice(*, actor: User, group: Group, hold: bool) -> Group:
    """Choose whether unsafe health advice sent anyway is held for a moderator."""
    policy.require_moderator(actor, group)
    hold = bool(hold)
    with transaction.atomic():
        current = Group.objects.select_for_update().get(pk=group.pk)
        if current.hold_unsafe_advice != hold:
            Group.objects.filter(pk=group.pk).update(hold_unsafe_advice=hold)
            record_audit(action=AuditEntry.Action.SCREENING_SETTINGS, actor=actor, group=group,
                         detail={"hold_unsafe_advice": hold})
            transaction.on_commit(rulebook.changed)
    group.hold_unsafe_advice = hold
    return group


# --- trying a phrase ------------------------------------------------------------------------


def draft_rule(
    *,
    group: Group,
    kind: str,
    pattern: str,
    category: str,
    action: str,
    description: str = "",
    rule: ScreeningRule | None = None,
) -> ScreeningRule | None:
    """An unsaved rule from what a moderator typed (None when they typed no pattern)."""
    pattern = (pattern or "").strip() if kind == ScreeningRule.Kind.PATTERN else _tidy(pattern)
    if not pattern:
        return None
    draft = ScreeningRule(group=group, kind=kind, pattern=pattern, category=category,
                          action=action, description=_tidy(description))
    if rule is not None:
        draft.pk = rule.pk  # trying a change: it stands in for the saved rule
    return draft


def _draft_as_rule(draft: ScreeningRule) -> screening.Rule:
    _check_choices(kind=draft.kind, category=draft.category, action=draft.action)
    if len(draft.pattern) > MAX_PATTERN_CHARS:
        raise ValidationError({"pattern": f"Please keep it to {MAX_PATTERN_CHARS} characters "
                                          "or fewer."})
    try:
        if draft.kind == ScreeningRule.Kind.PATTERN:
            screening.check_user_pattern(draft.pattern)
        rule = draft.as_rule()
        screening.compile_rule(rule, screening.load_pack().lexicon)
    except screening.RuleError as error:
        raise ValidationError({"pattern": str(error)}) from None
    if draft.pk is None:
        return replace(rule, key=DRAFT_KEY)
    return rule


def test_phrase(group: Group, phrase: str, draft: ScreeningRule | None = None
                ) -> screening.Verdict:
    """What would happen to `phrase` written in `group`: the site's rules, the group's own,
    and (when given) an unsaved draft rule. Nothing is saved; a broken draft raises
    ValidationError on `pattern`, and an empty phrase on `phrase`."""
    phrase = (phrase or "").strip()
    if not phrase:
        raise ValidationError({"phrase": "Please type a phrase to try."})
    if len(phrase) > MAX_TEST_CHARS:
        raise ValidationError({"phrase": f"Please keep the phrase to {MAX_TEST_CHARS} "
                                         "characters or fewer."})
    ruleset = rulebook.ruleset_for(group)
    if draft is not None:
        extra = _draft_as_rule(draft)
        # The site's rules stay compiled; the group's own are added again, with the draft
        # standing in for the rule it changes (if any).
        own = [r for r in ruleset.rules if r.source == "group" and r.key != extra.key]
        ruleset = rulebook.ruleset_for(None).extended([*own, extra])
    verdict = ruleset.screen(phrase)
    if not verdict.matches:
        return verdict
    return verdict.with_signposts(rulebook.signposts_for(verdict, group))


test_phrase.__test__ = False  # a service, not a test: keep pytest from collecting imports


# --- site rules, kept by staff in the admin ----------------------------------------------------


def save_site_rule(*, actor: User, rule: ScreeningRule, adding: bool) -> ScreeningRule:
    """Staff saved a rule in the admin (already validated by the model's `clean`). It is
    marked edited, so a later load of the shipped pack leaves it alone."""
    policy.require(policy.is_site_staff(actor))
    with transaction.atomic():
        rule.edited = True
        rule.updated_at = timezone.now()
        if adding and rule.created_by_id is None:
            rule.created_by = actor
        rule.save()
        record_audit(action=AuditEntry.Action.SCREENING_RULE_SAVED, actor=actor,
                     group=rule.group,
                     detail={"rule_id": rule.pk, "key": rule.key, "added": adding,
                             "category": rule.category, "action": rule.action,
                             "enabled": rule.enabled, "site": rule.group_id is None})
        transaction.on_commit(rulebook.changed)
    return rule


def set_site_rules_enabled(*, actor: User, rules: Iterable[ScreeningRule], enabled: bool
                           ) -> int:
    """Staff turn rules on or off in bulk from the admin list."""
    policy.require(policy.is_site_staff(actor))
    changed = 0
    with transaction.atomic():
        for rule in rules:
            if rule.enabled == enabled:
                continue
            rule.enabled = enabled
            save_site_rule(actor=actor, rule=rule, adding=False)
            changed += 1
    return changed


def delete_site_rules(*, actor: User, rules: Iterable[ScreeningRule]) -> int:
    """Staff delete rules in the admin; each deletion is in the audit log."""
    policy.require(policy.is_site_staff(actor))
    done = 0
    with transaction.atomic():
        for rule in rules:
            record_audit(action=AuditEntry.Action.SCREENING_RULE_DELETED, actor=actor,
                         group=rule.group,
                         detail={"rule_id": rule.pk, "key": rule.key,
                                 "pattern": rule.pattern[:300], "category": rule.category,
                                 "site": rule.group_id is None})
            rule.delete()
            done += 1
        transaction.on_commit(rulebook.changed)
    return done
