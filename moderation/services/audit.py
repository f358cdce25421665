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
) -> AuditEntry:
    """Append one audit entry; callers run it inside the transaction of the act itself."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_audit must run inside the transaction of the act it records.")
    return AuditEntry.objects.create(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "display_name", "") or ("Kindred" if actor is None else ""),
        group=group,
        group_name=getattr(group, "name", ""),
        target_user=target_user,
        target_name=getattr(target_user, "display_name", ""),
        reason=reason or "",
        detail=detail or {},
    )
