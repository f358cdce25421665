"""Reads for moderator pages."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from community import policy
from community.models import ChatMessage, Group, Membership
from moderation.models import AuditEntry, Case, Flag, ScreeningRule
from moderation.screening import load_pack


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


REASON_CHOICES = Flag.Reason.choices


def queue_cases(user, *, group: str = "", status: str = "", reason: str = "",
                urgent: str = "") -> QuerySet[Case]:
    """The cases of the groups this person moderates, most urgent first."""
    cases = Case.objects.filter(group__in=policy.moderated_groups(user))
    cases = cases.filter(status=status) if status in Case.Status.values else cases.exclude(
        status=Case.Status.RESOLVED)
    if group:
        cases = cases.filter(group__slug=group)
    if reason in Flag.Reason.values:
        cases = cases.filter(pk__in=Flag.objects.filter(reason=reason).values("case_id"))
    if urgent == "1":
        cases = cases.filter(urgent=True)
    return cases.select_related("group", "author", "claimed_by").order_by(
        "-urgent", "-score", "opened_at", "pk")


def duty_by_group(user, groups) -> dict[int, bool]:
    rows = Membership.objects.filter(user=user, group__in=groups).values_list(
        "group_id", "on_duty")
    return dict(rows)


def case_context(case: Case) -> list:
    """The surrounding conversation: nearby chat messages, or the thread's opening post."""
    if case.kind == Case.Kind.CHAT_MESSAGE and case.chat_message_id:
        around = ChatMessage.objects.filter(group=case.group).select_related("author")
        before = list(around.filter(pk__lt=case.chat_message_id).order_by("-pk")[:3])
        after = list(around.filter(pk__gt=case.chat_message_id).order_by("pk")[:3])
        return [*reversed(before), case.chat_message, *after]
    if case.kind == Case.Kind.POST and case.post_id:
        return [case.post.thread]
    return []


def author_history(case: Case) -> QuerySet[AuditEntry]:
    """What moderators have done about this author in this group lately."""
    if case.author_id is None:
        return AuditEntry.objects.none()
    return AuditEntry.objects.filter(group=case.group, target_user_id=case.author_id).exclude(
        action=AuditEntry.Action.CASE_FLAGGED).order_by("-created_at")[:10]


def on_duty_names(groups) -> dict[int, list[str]]:
    """Who is on duty in each group, for the queue (one query)."""
    names: dict[int, list[str]] = {g.pk: [] for g in groups}
    rows = Membership.objects.filter(
        group__in=groups, status=Membership.Status.APPROVED, on_duty=True,
        role__in=[Membership.Role.MODERATOR, Membership.Role.OWNER],
    ).select_related("user").order_by("user__display_name")
    for row in rows:
        names[row.group_id].append(row.user.display_name)
    return names


def wellbeing(user, now) -> dict:
    """Cases this person decided this week, and whether a run of urgent ones suggests a
    break."""
    decided = AuditEntry.objects.filter(actor=user, action=AuditEntry.Action.CASE_DECIDED)
    week = decided.filter(created_at__gte=now - timedelta(days=7)).count()
    recent_urgent = Case.objects.filter(
        resolved_by=user, urgent=True, resolved_at__gte=now - timedelta(hours=2)
    ).count()
    return {"handled_this_week": week, "suggest_break": recent_urgent >= 3}


def _median_minutes(durations: list[timedelta]) -> int | None:
    if not durations:
        return None
    ordered = sorted(durations)
    middle = ordered[len(ordered) // 2]
    return round(middle.total_seconds() / 60)


def health(groups, now) -> list[dict]:
    """Per group, over the last four weeks: open cases, median minutes to first action
    (urgent and other), and decisions by type. Two queries for all groups."""
    since = now - timedelta(weeks=4)
    rows = {g.pk: {"group": g, "open": 0, "first_action": {True: [], False: []},
                   "decisions": {}} for g in groups}
    for case in Case.objects.filter(group__in=groups).filter(
        Q(status__in=[Case.Status.OPEN, Case.Status.ESCALATED]) | Q(opened_at__gte=since)
    ).only("group_id", "status", "urgent", "opened_at", "first_action_at", "decision"):
        row = rows[case.group_id]
        if case.status != Case.Status.RESOLVED:
            row["open"] += 1
        if case.first_action_at and case.opened_at >= since:
            row["first_action"][case.urgent].append(case.first_action_at - case.opened_at)
        if case.decision and case.opened_at >= since:
            label = Case.Decision(case.decision).label
            row["decisions"][label] = row["decisions"].get(label, 0) + 1
    return [
        {"group": r["group"], "open": r["open"],
         "urgent_minutes": _median_minutes(r["first_action"][True]),
         "other_minutes": _median_minutes(r["first_action"][False]),
         "decisions": sorted(r["decisions"].items())}
        for r in rows.values()
    ]


# --- screening ----------------------------------------------------------------------------


def group_rules(group: Group) -> QuerySet[ScreeningRule]:
    """A group's own watched words, newest first, with who added them."""
    return (ScreeningRule.objects.filter(group=group).select_related("created_by")
            .order_by("-created_at", "-pk"))


def site_rules_by_category() -> list[dict]:
    """The site's rules as moderators may read them: what each is about, what happens and
    a phrase it catches (never the patterns themselves)."""
    labels = dict(ScreeningRule.Category.choices)
    actions = dict(ScreeningRule.Action.choices)
    rows = list(ScreeningRule.objects.filter(group__isnull=True, enabled=True)
                .order_by("category", "key").values("key", "category", "action",
                                                    "description", "test_phrase"))
    if not rows and not ScreeningRule.objects.filter(group__isnull=True).exists():
        rows = [{"key": r.key, "category": r.category, "action": r.action,
                 "description": r.description, "test_phrase": r.test}
                for r in load_pack().rules]
    out = []
    for category, label in labels.items():
        found = [{**row, "action_label": actions.get(row["action"], row["action"])}
                 for row in rows if row["category"] == category]
        if found:
            out.append({"category": category, "label": label, "rules": found})
    return out
