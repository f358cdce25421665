"""Invite links: the only way into an invite-only group (and a shortcut into others)."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from community import abuse, policy
from community.models import Group, Invite, Membership, User
from community.services.membership import (
    _announce_membership_change,
    _approve,
    _membership_for_update,
    _refuse_if_banned,
    _tell_welcomers,
)
from moderation.models import AuditEntry
from moderation.services import record_audit


class InviteUnusable(ValidationError):
    """The link is unknown, revoked, expired or used up."""


def create_invite(
    *,
    actor: User,
    group: Group,
    note: str = "",
    expires_in_days: int | None = 14,
    max_uses: int | None = None,
) -> Invite:
    policy.require(policy.can_create_invites(actor, group))
    if expires_in_days is not None and not 1 <= expires_in_days <= 365:
        raise ValidationError({"expires_in_days": "Choose between 1 and 365 days."})
    if max_uses is not None and not 1 <= max_uses <= 1000:
        raise ValidationError({"max_uses": "Choose between 1 and 1000 uses."})
    abuse.check_rate("invite", user=actor)
    with transaction.atomic():
        invite = Invite.objects.create(
            group=group,
            created_by=actor,
            note=note.strip()[:100],
            expires_at=timezone.now() + timedelta(days=expires_in_days)
            if expires_in_days
            else None,
            max_uses=max_uses,
        )
        record_audit(action=AuditEntry.Action.INVITE_CREATED, actor=actor, group=group,
                     detail={"invite_id": invite.pk, "note": invite.note})
    return invite


def revoke_invite(*, actor: User, invite: Invite) -> Invite:
    policy.require(policy.can_create_invites(actor, invite.group))
    with transaction.atomic():
        invite = Invite.objects.select_for_update().get(pk=invite.pk)
        if invite.revoked_at is None:
            invite.revoked_at = timezone.now()
            invite.save(update_fields=["revoked_at"])
            record_audit(action=AuditEntry.Action.INVITE_REVOKED, actor=actor,
                         group=invite.group, detail={"invite_id": invite.pk})
    return invite


def usable_invite(token: str) -> Invite:
    """The invite for this token if it can still be used; InviteUnusable otherwise."""
    invite = (
        Invite.objects.select_related("group").filter(token=token).first()
        if token and len(token) <= 64
        else None
    )
    if (
        invite is None
        or not invite.is_usable()
        or invite.group.status != Group.Status.ACTIVE
    ):
        raise InviteUnusable("This invite link doesn't work any more.")
    return invite


def join_with_invite(*, actor: User, token: str) -> Membership:
    policy.require(policy.is_authenticated(actor))
    with transaction.atomic():
        invite = usable_invite(token)
        invite = Invite.objects.select_for_update().get(pk=invite.pk)
        if not invite.is_usable():
            raise InviteUnusable("This invite link doesn't work any more.")
        group = invite.group
        row = _membership_for_update(actor, group)
        if row.status == Membership.Status.APPROVED:
            return row
        _refuse_if_banned(row)
        now = timezone.now()
        row.requested_at = now
        row.answers = []
        _approve(row, decided_by=invite.created_by, now=now)
        row.save()
        Invite.objects.filter(pk=invite.pk).update(uses=F("uses") + 1)
        record_audit(action=AuditEntry.Action.INVITE_USED, actor=actor, group=group,
                     target_user=actor, detail={"invite_id": invite.pk})
        _tell_welcomers(group, actor)
        _announce_membership_change(row)
    policy.forget_memberships(actor)
    return row
