"""Moderation records: the append-only audit log, and review cases built from flags."""

from moderation.models.audit import AppendOnlyError, AuditEntry, AuditEntryQuerySet
from moderation.models.cases import Appeal, Case, Flag
from moderation.models.screening import ScreeningRule

__all__ = [
    "Appeal", "AppendOnlyError", "AuditEntry", "AuditEntryQuerySet", "Case", "Flag",
    "ScreeningRule",
]
