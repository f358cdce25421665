"""Flags, review cases, claims, decisions and the timed jobs that watch them.

Urgent reasons (risk to self or someone else) put a case at the top and push it at once
to every on-duty moderator of the group and to site staff. Enough independent flags (or
one from a moderator) hide the item until someone looks. Decisions use an optimistic
version check, so two moderators can never both act on one case.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from community import abuse, policy, realtime
from community.models import Group, Membership, Notification, User
from community.services.membership import ban_member, mute_member, remove_member
from community.services.notifications import notify
from moderation import items as item_kinds
from moderation.models import AuditEntry, Case, Flag
from moderation.services.audit import record_audit

URGENT_REASONS = frozenset({Flag.Reason.RISK_TO_SELF, Flag.Reason.RISK_TO_OTHERS})
WEIGHTS = {
    Flag.Reason.RISK_TO_SELF: 100,
    Flag.Reason.RISK_TO_OTHERS: 100,
    Flag.Reason.UNSAFE_ADVICE: 30,
    Flag.Reason.BULLYING: 30,
    Flag.Reason.PERSONAL_DETAILS: 25,
    Flag.Reason.SPAM: 15,
    Flag.Reason.OTHER: 10,
}
PER_FLAGGER = 10
CASE_EVENT = "notify.case"


def case_url(case: Case) -> str:
    return reverse("moderation:case", kwargs={"case_id": case.pk})


def group_moderators(group: Group, *, on_duty_only: bool = False):
    rows = Membership.objects.filter(
        group=group, status=Membership.Status.APPROVED,
        role__in=[Membership.Role.MODERATOR, Membership.Role.OWNER],
    )
    if on_duty_only:
        rows = rows.filter(on_duty=True)
    return User.objects.filter(pk__in=rows.values("user_id"), is_active=True)


def site_staff():
    return User.objects.filter(is_staff=True, is_active=True)


def _publish_case(case: Case, change: str) -> None:
    """Live queue updates for the group's moderators (no notification row)."""
    frame = {"id": case.pk, "change": change, "group": case.group.slug,
             "urgent": case.urgent, "status": case.status}
    people = set(group_moderators(case.group).values_list("pk", flat=True))
    if case.urgent:
        people |= set(site_staff().values_list("pk", flat=True))
    for user_id in people:
        realtime.publish_on_commit(realtime.user_group(user_id),
                                   {"type": CASE_EVENT, "case": frame})


def _rescore(case: Case) -> None:
    """Score and urgency from the flags, plus what screening found (if it did)."""
    from moderation.services.screened import screening_score

    flags = list(case.flags.all()) if case.pk else []
    extra, screened_urgent = screening_score(case)
    case.flag_count = len(flags)
    case.score = sum(WEIGHTS[Flag.Reason(f.reason)] + PER_FLAGGER for f in flags) + extra
    case.urgent = screened_urgent or any(f.reason in URGENT_REASONS for f in flags)


def _should_hide(case: Case) -> bool:
    if case.auto_hidden:
        return False
    flags = list(case.flags.all())
    return any(f.by_moderator for f in flags) or len(flags) >= settings.KINDRED_HIDE_AFTER_FLAGGERS


def _tell_moderators_urgent(case: Case, item: item_kinds.Item) -> None:
    on_duty = list(group_moderators(case.group, on_duty_only=True))
    text = (f"Urgent: someone in {case.group.name} may be at risk. Please take a look now."
            if on_duty else
            f"Urgent, and no moderator of {case.group.name} is on duty: someone may be at "
            "risk.")
    people = {p.pk: p for p in on_duty}
    people.update({p.pk: p for p in site_staff()})
    for person in people.values():
        notify(user=person, kind=Notification.Kind.NEW_CASE, group=case.group, text=text,
               url=case_url(case), email_subject="Urgent case" if person.is_staff else "",
               email_body=f"{text}\n\nOpen the case: {case_url(case)}")


def case_for_item(*, kind: str, item: item_kinds.Item, lookup: dict,
                  now: datetime) -> tuple[Case, bool]:
    """The item's one case, locked: made if missing (two first flags at once join one),
    reopened if it was closed. Returns (case, reopened)."""
    case = Case.objects.select_for_update().filter(**lookup).first()
    if case is None:
        try:
            with transaction.atomic():
                case = Case.objects.create(kind=kind, author=item.author,
                                           **{**lookup, "group": item.group})
        except IntegrityError:
            case = Case.objects.select_for_update().get(**lookup)
    if case.status == Case.Status.OPEN:
        return case, False
    case.status = Case.Status.OPEN
    case.opened_at = now
    case.decision = ""
    case.decision_reason = ""
    case.resolved_at = None
    case.resolved_by = None
    case.claimed_by = None
    case.claimed_at = None
    case.escalated_at = None
    case.auto_hidden = False
    case.version += 1
    return case, True


def flag_content(*, actor: User, kind: str, item_id: int, reason: str, note: str = "",
                 group: Group | None = None) -> Case:
    """A member flags something they can see; flags on one item gather into one case."""
    if kind not in Case.Kind.values:
        raise ValidationError({"kind": "That can't be flagged."})
    item = item_kinds.load(kind, item_id, group=group)
    item_kinds.require_visible(actor, item)
    if item.author is not None and item.author.pk == actor.pk:
        raise ValidationError("You can't flag your own words. You can edit or delete them.")
    if reason not in Flag.Reason.values:
        raise ValidationError({"reason": "Please choose a reason from the list."})
    note = (note or "").strip()
    if reason == Flag.Reason.OTHER and not note:
        raise ValidationError({"note": "Please tell the moderators a little about it."})
    if len(note) > 1000:
        raise ValidationError({"note": "Please keep the note to 1000 characters or fewer."})
    abuse.check_rate("flag", user=actor)
    now = timezone.now()
    with transaction.atomic():
        lookup = {item.case_field: item.obj}
        if kind == Case.Kind.PROFILE:
            lookup["group"] = item.group
        case, reopened = case_for_item(kind=kind, item=item, lookup=lookup, now=now)
        was_urgent = case.urgent and not reopened
        Flag.objects.update_or_create(
            case=case, flagger=actor,
            defaults={"reason": reason, "note": note, "updated_at": now,
                      "by_moderator": policy.can_moderate(actor, item.group)},
        )
        _rescore(case)
        hide = _should_hide(case)
        if hide:
            case.auto_hidden = True
            item_kinds.set_visibility(item, "hidden", case=case)
        case.save()
        record_audit(action=AuditEntry.Action.CASE_FLAGGED, actor=actor, group=item.group,
                     target_user=item.author, detail={"case_id": case.pk, "reason": reason})
        if hide:
            record_audit(action=AuditEntry.Action.CASE_AUTO_HIDDEN, actor=None,
                         group=item.group, target_user=item.author,
                         detail={"case_id": case.pk, "flags": case.flag_count})
        if case.urgent and not was_urgent:
            _tell_moderators_urgent(case, item)
        _publish_case(case, "flagged")
    return case


def _not_your_own(actor: User, case: Case) -> None:
    if case.author_id is not None and case.author_id == actor.pk:
        raise ValidationError("Another moderator must look at a case about your own words.")


def claim_case(*, actor: User, case: Case) -> Case:
    """A moderator takes a case so two volunteers don't work on it at once."""
    policy.require(policy.can_moderate(actor, case.group))
    _not_your_own(actor, case)
    now = timezone.now()
    expiry = now - timedelta(minutes=settings.KINDRED_CLAIM_EXPIRE_MINUTES)
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related(
            "group", "claimed_by").get(pk=case.pk)
        if case.status == Case.Status.RESOLVED:
            raise ValidationError("This case has already been dealt with.")
        if case.claimed_by_id and case.claimed_by_id != actor.pk and case.claimed_at > expiry:
            # Read the name afresh: after waiting for the lock the joined row may be stale.
            name = User.objects.filter(pk=case.claimed_by_id).values_list(
                "display_name", flat=True).first() or "Another moderator"
            raise ValidationError(f"{name} is looking at this case.")
        case.claimed_by = actor
        case.claimed_at = now
        case.first_action_at = case.first_action_at or now
        case.version += 1
        case.save(update_fields=["claimed_by", "claimed_at", "first_action_at", "version"])
        record_audit(action=AuditEntry.Action.CASE_CLAIMED, actor=actor, group=case.group,
                     target_user=case.author, detail={"case_id": case.pk})
        _publish_case(case, "claimed")
    return case


def _membership_of_author(case: Case) -> Membership:
    row = Membership.objects.select_related("group", "user").filter(
        group=case.group, user=case.author).first()
    if case.author is None or row is None:
        raise ValidationError("The author is no longer in this group.")
    return row


def resolve_case(*, actor: User, case: Case, decision: str, reason: str, version: int,
                 mute_hours: int = 24) -> Case:
    """Decide a case. One decision wins: a stale version is told what happened instead."""
    policy.require(policy.can_moderate(actor, case.group))
    _not_your_own(actor, case)
    if decision not in Case.Decision.values:
        raise ValidationError({"decision": "Please choose a decision from the list."})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Please give a reason. The author will see it."})
    now = timezone.now()
    with transaction.atomic():
        current = Case.objects.select_for_update(of=("self",)).select_related(
            "group", "author", "resolved_by").get(pk=case.pk)
        if current.version != version or current.status == Case.Status.RESOLVED:
            who = current.resolved_by.display_name if current.resolved_by else "someone"
            raise ValidationError(
                f"This case changed while you were looking ({who} "
                f"{'decided: ' + current.get_decision_display() if current.decision else 'acted'}"
                "). Please look again before deciding."
            )
        case = current
        item = item_kinds.from_case(case)
        if decision == Case.Decision.KEEP:
            if case.auto_hidden:
                item_kinds.set_visibility(item, "published", case=case)
        elif decision == Case.Decision.HIDE:
            item_kinds.set_visibility(item, "hidden", case=case)
        elif decision in (Case.Decision.REMOVE, Case.Decision.REMOVE_AND_WARN):
            item_kinds.set_visibility(item, "removed", case=case)
        elif decision == Case.Decision.MUTE:
            mute_member(actor=actor, membership=_membership_of_author(case), hours=mute_hours,
                        reason=reason)
        elif decision == Case.Decision.REMOVE_MEMBER:
            item_kinds.set_visibility(item, "removed", case=case)
            remove_member(actor=actor, membership=_membership_of_author(case), reason=reason)
        elif decision == Case.Decision.BAN:
            item_kinds.set_visibility(item, "removed", case=case)
            ban_member(actor=actor, membership=_membership_of_author(case), reason=reason)
        escalating = decision == Case.Decision.ESCALATE
        case.status = Case.Status.ESCALATED if escalating else Case.Status.RESOLVED
        case.decision = decision
        case.decision_reason = reason
        case.resolved_at = None if escalating else now
        case.resolved_by = actor
        case.first_action_at = case.first_action_at or now
        case.escalated_at = now if escalating else case.escalated_at
        case.version += 1
        case.save()
        record_audit(action=AuditEntry.Action.CASE_DECIDED, actor=actor, group=case.group,
                     target_user=case.author, reason=reason,
                     detail={"case_id": case.pk, "decision": decision})
        if decision == Case.Decision.REMOVE_AND_WARN:
            record_audit(action=AuditEntry.Action.MEMBER_WARNED, actor=actor, group=case.group,
                         target_user=case.author, reason=reason, detail={"case_id": case.pk})
        _tell_people_about(case, actor)
        _publish_case(case, "resolved")
    return case


def _tell_people_about(case: Case, actor: User) -> None:
    group = case.group
    if case.decision == Case.Decision.ESCALATE:
        for person in site_staff():
            notify(user=person, kind=Notification.Kind.NEW_CASE, group=group,
                   text=f"A moderator of {group.name} has passed a case to site staff.",
                   url=case_url(case), email_subject="A case was passed to you",
                   email_body=f"Reason: {case.decision_reason}\n\n{case_url(case)}")
        return
    if case.author is not None and case.decision != Case.Decision.KEEP:
        what = case.get_kind_display().lower()
        text = (f"A moderator of {group.name} acted on your {what}: "
                f"{case.get_decision_display()}. Reason: {case.decision_reason}")
        warning = case.decision == Case.Decision.REMOVE_AND_WARN
        notify(user=case.author, kind=Notification.Kind.CASE_DECISION, group=None,
               text=text[:300], url=reverse("moderation:appeal", kwargs={"case_id": case.pk}),
               email_subject=("A warning from " if warning else "About your post in ")
               + group.name,
               email_body=f"{text}\n\nIf you think this was wrong, you can ask another "
               "moderator to look again.")
    for flag in case.flags.select_related("flagger"):
        if flag.flagger_id in (actor.pk, getattr(case.author, "pk", None)):
            continue
        notify(user=flag.flagger, kind=Notification.Kind.FLAG_REVIEWED, group=group,
               text=f"Thank you for flagging something in {group.name}. A moderator has "
               "taken a look.")


def set_duty(*, actor: User, group: Group, on_duty: bool) -> Membership:
    policy.require(policy.can_moderate(actor, group) and policy.is_member(actor, group))
    with transaction.atomic():
        Membership.objects.filter(user=actor, group=group).update(on_duty=on_duty)
        record_audit(action=AuditEntry.Action.DUTY_CHANGED, actor=actor, group=group,
                     detail={"on_duty": on_duty})
    policy.forget_memberships(actor)
    return Membership.objects.get(user=actor, group=group)


def save_guidelines(*, actor: User, group: Group, text: str) -> Group:
    """Owners write their group's own guidance for its moderators."""
    policy.require(policy.can_manage_roles(actor, group))
    with transaction.atomic():
        Group.objects.filter(pk=group.pk).update(moderator_guidelines=text.strip())
        record_audit(action=AuditEntry.Action.GUIDELINES_SAVED, actor=actor, group=group)
    group.moderator_guidelines = text.strip()
    return group


# --- timed jobs (run_scheduler) ---------------------------------------------------------


def escalate_unclaimed_urgent(now: datetime) -> int:
    """Urgent cases nobody has claimed in time go to site staff, in-app and by email."""
    limit = now - timedelta(minutes=settings.KINDRED_URGENT_ESCALATE_MINUTES)
    due = Case.objects.filter(status=Case.Status.OPEN, urgent=True, claimed_by__isnull=True,
                              escalated_at__isnull=True, opened_at__lte=limit)
    done = 0
    for case in due.select_related("group"):
        with transaction.atomic():
            updated = Case.objects.filter(pk=case.pk, escalated_at__isnull=True).update(
                escalated_at=now, version=F("version") + 1)
            if not updated:
                continue
            record_audit(action=AuditEntry.Action.CASE_ESCALATED, actor=None, group=case.group,
                         target_user=case.author,
                         detail={"case_id": case.pk, "after_minutes":
                                 settings.KINDRED_URGENT_ESCALATE_MINUTES})
            for person in site_staff():
                notify(user=person, kind=Notification.Kind.NEW_CASE, group=case.group,
                       text=f"Urgent case in {case.group.name} not picked up in "
                       f"{settings.KINDRED_URGENT_ESCALATE_MINUTES} minutes.",
                       url=case_url(case), email_subject="Urgent case not picked up",
                       email_body=f"Please look now: {case_url(case)}")
            done += 1
    return done


def expire_claims(now: datetime) -> int:
    """A claim left idle is let go, so the case goes back to everyone."""
    limit = now - timedelta(minutes=settings.KINDRED_CLAIM_EXPIRE_MINUTES)
    return Case.objects.filter(status=Case.Status.OPEN, claimed_at__lte=limit).update(
        claimed_by=None, claimed_at=None, version=F("version") + 1)
