"""Reads for moderator pages."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from community import policy
from community.models import Group, Membership
from moderation.models import AuditEntry


def audit_entries_for_group(group: Group) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(group=group).order_by("-created_at", "-id")


def moderated_groups_with_counts(user) -> QuerySet[Group]:
    pending = (
        Membership.objects.filter(group=OuterRef("pk"), status=Membership.Status.PENDING)
        .order_by()
        .values("group")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        policy.moderated_groups(user)
        .annotate(pending=Coalesce(Subquery(pending), 0))
        .order_by("-pending", "name")
    )
