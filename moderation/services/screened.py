"""Cases opened by screening rather than by a member's flag.

A message that screening catches is stored first (published, or held), then opens or
joins its item's review case in the same transaction, so moderators see why (the rules
that matched) and a crisis goes straight to the urgent lane.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from moderation import items as item_kinds
from moderation.models import AuditEntry, Case
from moderation.screening import Verdict
from moderation.services.audit import record_audit
from moderation.services.cases import (
    _publish_case,
    _rescore,
    _tell_moderators_urgent,
    case_for_item,
)

SCREEN_WEIGHTS = {"crisis": 100, "unsafe_advice": 30, "abuse": 30, "privacy": 20,
                  "spam": 15}


def screening_score(case: Case) -> tuple[int, bool]:
    """(extra score, urgent) from the screening matches recorded on a case."""
    categories = {m.get("category") for m in case.screening or []}
    return sum(SCREEN_WEIGHTS.get(c, 10) for c in categories), "crisis" in categories


def open_screening_case(*, item: item_kinds.Item, verdict: Verdict, held: bool) -> Case:
    """Open (or join) the item's case with what screening found. Call inside the
    transaction that stored the item."""
    lookup = {item.case_field: item.obj}
    with transaction.atomic():
        case, reopened = case_for_item(kind=item.kind, item=item, lookup=lookup,
                                       now=timezone.now())
        was_urgent = case.urgent and not reopened
        known = {m["key"] for m in case.screening}
        case.screening = case.screening + [m.as_dict() for m in verdict.matches
                                           if m.key not in known]
        _rescore(case)
        if held:
            case.auto_hidden = True
        case.save()
        record_audit(action=AuditEntry.Action.CASE_SCREENED, actor=None, group=item.group,
                     target_user=item.author,
                     detail={"case_id": case.pk, "rules": verdict.rules,
                             "categories": list(verdict.categories), "held": held})
        if case.urgent and not was_urgent:
            _tell_moderators_urgent(case, item)
        _publish_case(case, "screened")
    return case
