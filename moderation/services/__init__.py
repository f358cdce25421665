"""Moderation writes: the audit log, flags and cases, decisions, appeals and timed jobs."""

from moderation.services.audit import record_audit

__all__ = ["record_audit"]
