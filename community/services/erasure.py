"""Deleting an account, when its owner asks.

In one transaction: the person's own words go or stay (their choice), the moderation
record keeps every entry but names them only by a pseudonymous reference, every session
ends, and then the account row is deleted. Deleting the row (rather than blanking it)
erases everything that hangs off it in one go, by the database's own rules: email
addresses, profile, home town and its map position, memberships with their join answers,
calendar addresses and email choices, meeting replies, check-in receipts, notifications,
reactions, follows, flags raised and appeals made, and allauth's session records. What
others wrote stays, and so do messages and posts the person chose to keep: their author
becomes empty, shown as "Former member".

A group must always have an owner (as when leaving), so an only owner hands over first.
A group nobody else was ever part of goes with the account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DateTimeField, Exists, OuterRef, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from community import policy, realtime
from community.models import ChatMessage, Group, Membership, User
from community.security_log import pseudonym, security_event
from community.services.chat import CHAT_REMOVED
from community.services.sessions import end_all_sessions
from moderation.models import AuditEntry
from moderation.services import record_audit
from moderation.services.audit import pseudonymise_person

# Live chat screens drop the removed messages at once; more than this many per group are
# not on anyone's screen (catch-up and history already skip removed messages).
LIVE_REMOVALS_PER_GROUP = 200
REMOVED_REASON = "Removed by its author when they deleted their account."


@dataclass(frozen=True)
class Deleted:
    reference: str
    chat_messages_removed: int = 0
    posts_removed: int = 0
    threads_removed: int = 0


def _others_in_group(user: User):
    return Membership.objects.filter(group=OuterRef("pk")).exclude(user=user)


def groups_needing_a_new_owner(user: User) -> list[Group]:
    """Groups where this person is the only owner and someone else is (or was) involved:
    they must make someone else an owner before deleting their account."""
    owned = Membership.objects.filter(user=user, role=Membership.Role.OWNER,
                                      status=Membership.Status.APPROVED)
    other_owners = _others_in_group(user).filter(role=Membership.Role.OWNER,
                                                 status=Membership.Status.APPROVED)
    return list(Group.objects.filter(pk__in=owned.values("group_id"))
                .filter(Exists(_others_in_group(user)), ~Exists(other_owners))
                .order_by("name"))


def groups_only_they_are_in(user: User) -> list[Group]:
    """Groups nobody else ever joined or asked to join: they close with the account."""
    theirs = Membership.objects.filter(user=user).values("group_id")
    return list(Group.objects.filter(pk__in=theirs)
                .filter(~Exists(_others_in_group(user))).order_by("name"))


def _remove_chat_messages(user_id: int) -> int:
    now = timezone.now()
    mine = ChatMessage.objects.filter(author_id=user_id)
    live = list(mine.exclude(status=ChatMessage.Status.REMOVED)
                .order_by("-id").values_list("group_id", "id"))
    mine.exclude(status=ChatMessage.Status.REMOVED).update(
        status=ChatMessage.Status.REMOVED, removed_by=None, removal_reason=REMOVED_REASON,
        removed_at=Coalesce("removed_at", Value(now, output_field=DateTimeField())),
    )
    mine.update(body="", body_html="")  # a moderator's removal kept the words: not now
    told: dict[int, int] = {}
    for group_id, message_id in live:
        if told.get(group_id, 0) >= LIVE_REMOVALS_PER_GROUP:
            continue
        told[group_id] = told.get(group_id, 0) + 1
        realtime.publish_on_commit(realtime.chat_group(group_id), {
            "type": CHAT_REMOVED, "id": message_id,
            "frame": json.dumps({"type": "message.removed", "id": message_id}),
        })
    return len(live)


def delete_account(*, actor: User, remove_posts: bool,
                   current_session_key: str | None = None) -> Deleted:
    """Delete the actor's own account (see the module docstring). The caller has checked
    their password; `current_session_key` is the session the request came in on."""
    from forums.erasure import delete_forum_of, remove_posts_by

    user_id = actor.pk
    reference = pseudonym(user_id)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user_id).first()
        blocking = groups_needing_a_new_owner(actor)
        if blocking:
            names = ", ".join(group.name for group in blocking)
            raise ValidationError(
                f"You are the only owner of {names}. Please make another member an owner "
                "first (on the group's members page), then come back here."
            )
        counts = {"chat_messages": 0, "posts": 0, "threads": 0}
        if remove_posts:
            counts["chat_messages"] = _remove_chat_messages(user_id)
            counts.update(remove_posts_by(user_id=user_id))
        closed_groups = groups_only_they_are_in(actor)
        for group in closed_groups:
            delete_forum_of(group_id=group.pk)  # threads protect their categories
            group.delete()
        pseudonymise_person(user_id=user_id, reference=reference)
        record_audit(
            action=AuditEntry.Action.ACCOUNT_DELETED, actor=None, actor_name=reference,
            target_name=reference,
            detail={"posts": "removed" if remove_posts else "kept",
                    "groups_closed": len(closed_groups), **counts},
        )
        if current_session_key:
            from community.services.sessions import _store_delete

            _store_delete([current_session_key])
        sessions_ended = end_all_sessions(user_id=user_id, reason="account_deleted")
        User.objects.filter(pk=user_id).delete()
    policy.forget_memberships(actor)
    security_event("account_deleted", user=user_id, posts="removed" if remove_posts else "kept",
                   sessions_ended=sessions_ended, groups_closed=len(closed_groups))
    return Deleted(reference=reference, chat_messages_removed=counts["chat_messages"],
                   posts_removed=counts["posts"], threads_removed=counts["threads"])
