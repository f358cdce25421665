"""How each person wants to hear from Kindred by email: per account, and per group.

A member may choose, for each of their groups, "as in my account settings", off, an email
for each notification, or one daily summary (`Membership.email_notifications`). The group's
choice wins when set; otherwise the account's choice (`User.email_notifications`) counts.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from community import policy
from community.models import Group, Membership, User

GroupChoice = Membership.EmailChoice
AccountChoice = User.EmailChoice


def group_email_choice(user: User, group: Group | None) -> str:
    """The person's own choice for this group ("" when they follow their account)."""
    if group is None:
        return GroupChoice.ACCOUNT
    choice = (
        Membership.objects.filter(user=user, group=group)
        .values_list("email_notifications", flat=True)
        .first()
    )
    return choice or GroupChoice.ACCOUNT


def effective_choice(user: User, group_choice: str) -> str:
    """off, immediate or daily: the group's choice when set, else the account's."""
    return group_choice or user.email_notifications


def wants_email_now(user: User, group_choice: str, *, activity: bool) -> bool:
    """Activity (replies, mentions, ...) follows the choice; other notices about the person
    themselves are always emailed, unless they turned this group's emails off."""
    if activity:
        return effective_choice(user, group_choice) == AccountChoice.IMMEDIATE
    return group_choice != GroupChoice.OFF


def set_group_email_choice(*, actor: User, group: Group, choice: str) -> Membership:
    """A member chooses how they hear about one of their groups by email."""
    policy.require_member(actor, group)
    if choice not in GroupChoice.values:
        raise ValidationError({"email_notifications": "Please choose one of the options."})
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(user=actor, group=group)
        membership.email_notifications = choice
        membership.save(update_fields=["email_notifications", "updated_at"])
    policy.forget_memberships(actor)
    return membership


def unsubscribe(*, user: User, group: Group | None) -> None:
    """What a one-click unsubscribe link does: no login, so it only ever turns emails off.

    For a group: that group's emails off. For the account (daily summaries, account
    notices): activity emails off, and groups set to "each one" or "daily" follow that.
    """
    with transaction.atomic():
        if group is not None:
            Membership.objects.filter(user=user, group=group).update(
                email_notifications=GroupChoice.OFF
            )
            return
        User.objects.filter(pk=user.pk).update(email_notifications=AccountChoice.OFF)
        Membership.objects.filter(
            user=user, email_notifications__in=[GroupChoice.IMMEDIATE, GroupChoice.DAILY]
        ).update(email_notifications=GroupChoice.ACCOUNT)
    user.email_notifications = AccountChoice.OFF
