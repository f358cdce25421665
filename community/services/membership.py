"""Joining, asking to join, decisions, leaving, removal, bans and roles.

Each function checks the policy itself (so a view, a consumer or a command cannot skip
the check), writes inside one transaction with its audit entry, and tells the people
concerned after commit.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from community import abuse, policy, realtime
from community.models import Group, Membership, Notification, User
from community.services.notifications import notify
from moderation.models import AuditEntry
from moderation.services import record_audit

Status = Membership.Status
Role = Membership.Role


class BannedError(ValidationError):
    """The person is banned from this group and may not ask to join again."""


def _lock_membership(user: User, group: Group) -> Membership | None:
    return Membership.objects.select_for_update().filter(user=user, group=group).first()


def _membership_for_update(user: User, group: Group) -> Membership:
    """The person's row for this group, locked; created (as 'left') if they never had one.

    Two racing requests both end up holding the one row the unique constraint allows.
    """
    row = _lock_membership(user, group)
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return Membership.objects.create(user=user, group=group, status=Status.LEFT)
    except IntegrityError:
        return Membership.objects.select_for_update().get(user=user, group=group)


def _refuse_if_banned(row: Membership) -> None:
    if row.status == Status.BANNED:
        raise BannedError(
            "You can't join this group again because its moderators have removed you."
        )


def _announce_membership_change(membership: Membership) -> None:
    """Open sockets re-check membership when told (a ban or removal closes them)."""
    realtime.publish_on_commit(
        realtime.user_group(membership.user_id),
        {
            "type": realtime.MEMBERSHIP_CHANGED,
            "group_id": membership.group_id,
            "status": membership.status,
            "role": membership.role,
        },
    )


def _tell_welcomers(group: Group, newcomer: User) -> None:
    """Welcomers (or, if none, moderators and owners) get a one-click link to greet."""
    from community.services.welcome import notify_welcomers

    notify_welcomers(group=group, newcomer=newcomer)


def _approve(row: Membership, *, decided_by: User | None, now) -> None:
    row.status = Status.APPROVED
    row.role = Role.MEMBER
    row.joined_at = now
    row.decided_at = now
    row.decided_by = decided_by
    row.muted_until = None


# --- joining --------------------------------------------------------------------------


def join_open_group(*, actor: User, group: Group) -> Membership:
    """Join an open group at once."""
    policy.require(policy.can_view_group(actor, group) and group.is_open)
    abuse.check_rate("join", user=actor)
    with transaction.atomic():
        row = _membership_for_update(actor, group)
        if row.status == Status.APPROVED:
            return row
        _refuse_if_banned(row)
        now = timezone.now()
        row.requested_at = now
        row.answers = []
        _approve(row, decided_by=None, now=now)
        row.save()
        record_audit(action=AuditEntry.Action.MEMBER_JOINED, actor=actor, group=group,
                     target_user=actor)
        _tell_welcomers(group, actor)
        _announce_membership_change(row)
    policy.forget_memberships(actor)
    return row


def clean_answers(group: Group, answers: list[str]) -> list[dict[str, str]]:
    """Pair each answer with its question; every question needs a short, non-empty answer."""
    questions = list(group.questions.all())
    limit = settings.KINDRED_JOIN_ANSWER_MAX_LENGTH
    errors: dict[str, str] = {}
    cleaned: list[dict[str, str]] = []
    for index, question in enumerate(questions):
        text = (answers[index] if index < len(answers) else "") or ""
        text = text.strip()
        field = f"answer_{index}"
        if not text:
            errors[field] = "Please answer this question."
        elif len(text) > limit:
            errors[field] = (
                f"Please keep this answer to {limit} characters or fewer "
                f"(it is {len(text)} now)."
            )
        cleaned.append({"question": question.text, "answer": text})
    if errors:
        raise ValidationError(errors)
    return cleaned


def request_membership(*, actor: User, group: Group, answers: list[str]) -> Membership:
    """Ask to join an approval group with answers to its questions.

    Asking again while a request waits changes nothing and gives back the one request.
    """
    policy.require(policy.can_view_group(actor, group))
    if group.is_open:
        return join_open_group(actor=actor, group=group)
    policy.require(not group.is_invite_only)
    cleaned = clean_answers(group, answers)
    abuse.check_rate("join", user=actor)
    with transaction.atomic():
        row = _membership_for_update(actor, group)
        _refuse_if_banned(row)
        if row.status in (Status.APPROVED, Status.PENDING):
            return row
        row.status = Status.PENDING
        row.role = Role.MEMBER
        row.answers = cleaned
        row.requested_at = timezone.now()
        row.decided_at = None
        row.decided_by = None
        row.decision_message = ""
        row.save()
        moderators = User.objects.filter(
            memberships__group=group,
            memberships__status=Status.APPROVED,
            memberships__role__in=[Role.MODERATOR, Role.OWNER],
        )
        requests_url = reverse("groups:requests", kwargs={"slug": group.slug})
        for moderator in moderators:
            notify(
                user=moderator,
                kind=Notification.Kind.NEW_REQUEST,
                text=f"Someone has asked to join {group.name}.",
                url=requests_url,
                group=group,
            )
    policy.forget_memberships(actor)
    return row


def _pending_request(actor: User, membership: Membership) -> Membership:
    group = membership.group
    policy.require(policy.can_approve_requests(actor, group))
    row = _lock_membership(membership.user, group)
    policy.require(row is not None)
    if row.status != Status.PENDING:
        raise ValidationError("This request has already been dealt with.")
    return row


def approve_membership(*, actor: User, membership: Membership, message: str = "") -> Membership:
    group = membership.group
    with transaction.atomic():
        row = _pending_request(actor, membership)
        now = timezone.now()
        _approve(row, decided_by=actor, now=now)
        row.decision_message = message.strip()
        row.save()
        record_audit(action=AuditEntry.Action.MEMBER_APPROVED, actor=actor, group=group,
                     target_user=row.user, reason=row.decision_message)
        text = f"Welcome! Your request to join {group.name} has been accepted."
        body = text
        if group.welcome_message:
            body += f"\n\nA message from the group:\n{group.welcome_message}"
        if row.decision_message:
            body += f"\n\nA note from the moderator:\n{row.decision_message}"
        notify(user=row.user, kind=Notification.Kind.REQUEST_APPROVED, text=text,
               url=group.get_absolute_url(), group=group,
               email_subject=f"You're in: {group.name}", email_body=body)
        _tell_welcomers(group, row.user)
        _announce_membership_change(row)
    policy.forget_memberships(row.user)
    return row


def decline_membership(*, actor: User, membership: Membership, message: str = "") -> Membership:
    group = membership.group
    with transaction.atomic():
        row = _pending_request(actor, membership)
        row.status = Status.DECLINED
        row.decided_at = timezone.now()
        row.decided_by = actor
        row.decision_message = message.strip()
        row.save()
        record_audit(action=AuditEntry.Action.MEMBER_DECLINED, actor=actor, group=group,
                     target_user=row.user, reason=row.decision_message)
        text = f"Your request to join {group.name} was not accepted this time."
        body = text
        if row.decision_message:
            body += f"\n\nA note from the moderator:\n{row.decision_message}"
        notify(user=row.user, kind=Notification.Kind.REQUEST_DECLINED, text=text,
               url=reverse("notifications"), group=None,
               email_subject=f"About your request to join {group.name}", email_body=body)
    policy.forget_memberships(row.user)
    return row


# --- leaving and being removed ------------------------------------------------------------


def _other_owner_count(group: Group, excluding: Membership) -> int:
    return (
        Membership.objects.filter(group=group, status=Status.APPROVED, role=Role.OWNER)
        .exclude(pk=excluding.pk)
        .count()
    )


def _keep_an_owner(group: Group, row: Membership) -> None:
    """A group always keeps at least one owner."""
    Group.objects.select_for_update().filter(pk=group.pk).first()  # serialise owner changes
    if row.role == Role.OWNER and _other_owner_count(group, row) == 0:
        raise ValidationError(
            "A group needs at least one owner. Make someone else an owner first."
        )


def leave_group(*, actor: User, group: Group) -> Membership:
    policy.require(policy.is_member(actor, group))
    with transaction.atomic():
        row = _lock_membership(actor, group)
        policy.require(row is not None and row.status == Status.APPROVED)
        _keep_an_owner(group, row)
        row.status = Status.LEFT
        row.role = Role.MEMBER
        row.save()
        record_audit(action=AuditEntry.Action.MEMBER_LEFT, actor=actor, group=group,
                     target_user=actor)
        _announce_membership_change(row)
    policy.forget_memberships(actor)
    return row


def _member_for_sanction(actor: User, membership: Membership) -> Membership:
    group = membership.group
    policy.require(policy.can_moderate(actor, group))
    row = _lock_membership(membership.user, group)
    policy.require(row is not None)
    if not policy.can_act_on_member(actor, group, row):
        raise ValidationError("You can't do that to this person.")
    return row


def _end_membership(
    *, actor: User, membership: Membership, reason: str, status: str, action: str,
    kind: str, text: str,
) -> Membership:
    """Removal and bans share their steps: check, keep an owner, record, tell, close sockets."""
    group = membership.group
    if not reason.strip():
        raise ValidationError({"reason": "Please say why, for the record."})
    with transaction.atomic():
        row = _member_for_sanction(actor, membership)
        if row.status == status:
            return row
        if status == Status.REMOVED and row.status != Status.APPROVED:
            raise ValidationError("This person is not a member.")
        if row.status == Status.APPROVED:
            _keep_an_owner(group, row)
        row.status = status
        row.role = Role.MEMBER
        row.decided_at = timezone.now()
        row.decided_by = actor
        row.save()
        record_audit(action=action, actor=actor, group=group, target_user=row.user,
                     reason=reason.strip())
        notify(user=row.user, kind=kind, text=text, group=None, url=reverse("notifications"))
        _announce_membership_change(row)
    policy.forget_memberships(row.user)
    return row


def remove_member(*, actor: User, membership: Membership, reason: str) -> Membership:
    return _end_membership(
        actor=actor, membership=membership, reason=reason, status=Status.REMOVED,
        action=AuditEntry.Action.MEMBER_REMOVED, kind=Notification.Kind.REMOVED,
        text=f"You have been removed from {membership.group.name}.",
    )


def ban_member(*, actor: User, membership: Membership, reason: str) -> Membership:
    """Remove (if a member) and stop the person ever asking to join again."""
    return _end_membership(
        actor=actor, membership=membership, reason=reason, status=Status.BANNED,
        action=AuditEntry.Action.MEMBER_BANNED, kind=Notification.Kind.BANNED,
        text=f"You can no longer take part in {membership.group.name}.",
    )


def unban_member(*, actor: User, membership: Membership, reason: str = "") -> Membership:
    group = membership.group
    with transaction.atomic():
        row = _member_for_sanction(actor, membership)
        if row.status != Status.BANNED:
            return row
        row.status = Status.REMOVED
        row.save()
        record_audit(action=AuditEntry.Action.MEMBER_UNBANNED, actor=actor, group=group,
                     target_user=row.user, reason=reason.strip())
    policy.forget_memberships(row.user)
    return row


# --- roles ----------------------------------------------------------------------------------


def set_role(*, actor: User, membership: Membership, role: str, reason: str = "") -> Membership:
    """Owners appoint and demote moderators, welcomers and other owners."""
    group = membership.group
    policy.require(policy.can_manage_roles(actor, group))
    if role not in Role.values:
        raise ValidationError({"role": "Please choose a role from the list."})
    with transaction.atomic():
        row = _lock_membership(membership.user, group)
        policy.require(row is not None)
        if row.status != Status.APPROVED:
            raise ValidationError("Only members can be given a role.")
        if row.role == role:
            return row
        if row.role == Role.OWNER:
            _keep_an_owner(group, row)
        previous = row.role
        row.role = role
        row.save(update_fields=["role", "updated_at"])
        record_audit(action=AuditEntry.Action.ROLE_CHANGED, actor=actor, group=group,
                     target_user=row.user, reason=reason.strip(),
                     detail={"from": previous, "to": role})
        notify(user=row.user, kind=Notification.Kind.ROLE_CHANGED,
               text=f"Your role in {group.name} is now: {row.get_role_display()}.",
               url=group.get_absolute_url(), group=group)
        _announce_membership_change(row)
    policy.forget_memberships(row.user)
    policy.forget_memberships(actor)
    return row


# --- muting -----------------------------------------------------------------------------------

MUTE_CHOICES_HOURS = (1, 24, 24 * 7)


def mute_member(*, actor: User, membership: Membership, hours: int, reason: str) -> Membership:
    """Pause a member's posting for a while; they can still read."""
    group = membership.group
    if not reason.strip():
        raise ValidationError({"reason": "Please say why, for the record."})
    if hours not in MUTE_CHOICES_HOURS:
        raise ValidationError({"hours": "Please choose how long from the list."})
    with transaction.atomic():
        row = _member_for_sanction(actor, membership)
        if row.status != Status.APPROVED:
            raise ValidationError("This person is not a member.")
        row.muted_until = timezone.now() + timezone.timedelta(hours=hours)
        row.save(update_fields=["muted_until", "updated_at"])
        record_audit(action=AuditEntry.Action.MEMBER_MUTED, actor=actor, group=group,
                     target_user=row.user, reason=reason.strip(), detail={"hours": hours})
        notify(user=row.user, kind=Notification.Kind.MUTED, group=group,
               text=f"A moderator has paused your messages in {group.name} for {hours} "
               f"hour{'s' if hours != 1 else ''}. You can still read.",
               url=group.get_absolute_url())
        _announce_membership_change(row)
    policy.forget_memberships(row.user)
    return row


def unmute_member(*, actor: User, membership: Membership, reason: str = "") -> Membership:
    group = membership.group
    with transaction.atomic():
        row = _member_for_sanction(actor, membership)
        if row.muted_until is None:
            return row
        row.muted_until = None
        row.save(update_fields=["muted_until", "updated_at"])
        record_audit(action=AuditEntry.Action.MEMBER_UNMUTED, actor=actor, group=group,
                     target_user=row.user, reason=reason.strip())
        _announce_membership_change(row)
    policy.forget_memberships(row.user)
    return row
