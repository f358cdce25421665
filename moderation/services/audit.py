"""Moderation writes. For now: the one way to add to the audit log."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from moderation.models import AuditEntry


def record_audit(
    *,
    action: str,
    actor: Any | None,
    group: Any | None = None,
    target_user: Any | None = None,
    reason: str = "",
    detail: dict | None = None,
    actor_name: str | None = None,
    target_name: str | None = None,
) -> AuditEntry:
    """Append one audit entry; callers run it inside the transaction of the act itself.

    `actor_name`/`target_name` replace the copied display names (a deleted account is
    recorded under its pseudonymous reference, never its name)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_audit must run inside the transaction of the act it records.")
    if actor_name is None:
        actor_name = getattr(actor, "display_name", "") or ("Kindred" if actor is None else "")
    if target_name is None:
        target_name = getattr(target_user, "display_name", "")
    return AuditEntry.objects.create(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=actor_name,
        group=group,
        group_name=getattr(group, "name", ""),
        target_user=target_user,
        target_name=target_name,
        reason=reason or "",
        detail=detail or {},
    )


def pseudonymise_person(*, user_id: int, reference: str) -> int:
    """When a person deletes their account, their entries stay but name them only by a
    pseudonymous reference (community.security_log.pseudonym).

    The one change ever made to written entries, so it goes past the append-only guard
    on purpose (`_base_manager`): the record of what happened is kept, the person's name
    is not. Their own words in an appeal are theirs, so those go too. The foreign keys are
    cleared when the account row is deleted (SET_NULL).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("pseudonymise_person must run inside the account deletion.")
    rows = AuditEntry._base_manager.all()
    changed = rows.filter(actor_id=user_id).update(actor_name=reference)
    changed += rows.filter(target_user_id=user_id).update(target_name=reference)
    rows.filter(actor_id=user_id, action=AuditEntry.Action.APPEAL_MADE).update(reason="")
    return changed
