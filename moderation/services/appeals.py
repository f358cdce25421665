"""Appeals: the author asks once for another look, by someone other than who decided."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from community import policy
from community.models import Membership, Notification, User
from community.services.membership import unban_member, unmute_member
from community.services.notifications import notify
from moderation import items as item_kinds
from moderation.models import Appeal, AuditEntry, Case
from moderation.services.audit import record_audit
from moderation.services.cases import case_url, group_moderators, site_staff

APPEALABLE = frozenset({
    Case.Decision.HIDE, Case.Decision.REMOVE, Case.Decision.REMOVE_AND_WARN,
    Case.Decision.MUTE, Case.Decision.REMOVE_MEMBER, Case.Decision.BAN,
})


def can_appeal(user: User, case: Case) -> bool:
    return (
        case.author_id is not None and case.author_id == getattr(user, "pk", None)
        and case.status == Case.Status.RESOLVED and case.decision in APPEALABLE
        and not Appeal.objects.filter(case=case).exists()
    )


def _reviewer_for(case: Case) -> User | None:
    """Another moderator of the group (on duty first), else site staff."""
    others = group_moderators(case.group).exclude(pk=case.resolved_by_id)
    on_duty = others.filter(memberships__group=case.group, memberships__on_duty=True)
    return on_duty.order_by("pk").first() or others.order_by("pk").first() or (
        site_staff().exclude(pk=case.resolved_by_id).order_by("pk").first()
    )


def appeal_decision(*, actor: User, case: Case, note: str) -> Appeal:
    if case.author_id != actor.pk:
        policy.require(False)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Please say why you think the decision was wrong."})
    if len(note) > 2000:
        raise ValidationError({"note": "Please keep this to 2000 characters or fewer."})
    if not can_appeal(actor, case):
        raise ValidationError("This decision can't be appealed (you can appeal once).")
    reviewer = _reviewer_for(case)
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(case=case, author=actor, note=note,
                                           assigned_to=reviewer)
            record_audit(action=AuditEntry.Action.APPEAL_MADE, actor=actor, group=case.group,
                         target_user=actor, reason=note, detail={"case_id": case.pk})
            if reviewer is not None:
                notify(user=reviewer, kind=Notification.Kind.APPEAL, group=case.group,
                       text=f"Someone in {case.group.name} has asked for a second look at a "
                       "decision.", url=case_url(case))
    except IntegrityError as error:
        raise ValidationError("You have already appealed this decision.") from error
    return appeal


def decide_appeal(*, actor: User, appeal: Appeal, uphold: bool, reason: str) -> Appeal:
    case = appeal.case
    policy.require(policy.can_moderate(actor, case.group))
    if actor.pk == case.resolved_by_id:
        raise ValidationError("Someone other than the moderator who decided must review this.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Please give a reason. The author will see it."})
    with transaction.atomic():
        appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
        if appeal.status != Appeal.Status.OPEN:
            raise ValidationError("This appeal has already been decided.")
        appeal.status = Appeal.Status.UPHELD if uphold else Appeal.Status.OVERTURNED
        appeal.decided_at = timezone.now()
        appeal.decided_by = actor
        appeal.outcome_reason = reason
        appeal.save()
        if not uphold:
            _undo(actor, case, reason)
        record_audit(action=AuditEntry.Action.APPEAL_DECIDED, actor=actor, group=case.group,
                     target_user=case.author, reason=reason,
                     detail={"case_id": case.pk, "upheld": uphold})
        outcome = "stands" if uphold else "has been changed"
        notify(user=appeal.author, kind=Notification.Kind.APPEAL, group=None,
               text=f"Your appeal in {case.group.name} was reviewed: the decision {outcome}. "
               f"{reason}"[:300])
    return appeal


def _undo(actor: User, case: Case, reason: str) -> None:
    item = item_kinds.from_case(case)
    if case.decision in APPEALABLE - {Case.Decision.MUTE}:
        item_kinds.set_visibility(item, "published", case=case)
    row = Membership.objects.select_related("group", "user").filter(
        group=case.group, user=case.author).first()
    if row is None:
        return
    if case.decision == Case.Decision.MUTE:
        unmute_member(actor=actor, membership=row, reason=reason)
    elif case.decision == Case.Decision.BAN:
        unban_member(actor=actor, membership=row, reason=reason)
