"""Reads for moderator pages."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from community import policy
from community.models import Group, Membership
from moderation.models import AuditEntry


def audit_entries_for_group(group: Group) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(group=group).order_by("-created_at", "-id")


def moderated_groups_with_counts(user) -> QuerySet[Group]:
    return (
        policy.moderated_groups(user)
        .annotate(
            pending=Count(
                "memberships",
                filter=Q(memberships__status=Membership.Status.PENDING),
                distinct=True,
            )
        )
        .order_by("-pending", "name")
    )
