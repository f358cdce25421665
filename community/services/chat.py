"""Posting and removing group chat messages.

Order of work for a send: who may post → shape → idempotency → rate limit → render →
store under the group's lock (which gives the message its place in the group) →
broadcast after commit. Nothing reaches anyone that is not stored.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache as once
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from community import abuse, policy, realtime
from community.models import ChatMessage, Group, Membership, Notification, User
from community.services.notifications import notify
from community.text import render_markdown, strip_controls
from moderation import items as item_kinds
from moderation import screening
from moderation.models import AuditEntry, Case
from moderation.services import record_audit
from moderation.services.screened import open_screening_case
from moderation.signposting import Outcome, ScreeningBlocked, ScreeningPrompt, outcome_for

MAX_BODY = 4000
MAX_CLIENT_ID = 64

CHAT_MESSAGE = "chat.message"
CHAT_REMOVED = "chat.removed"


class ChatError(Exception):
    """A send that cannot go ahead; `code` is the `error` frame's code (CONTRACT.md)."""

    def __init__(self, code: str, detail: str, *, retry_after: int | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after  # seconds, for `rate_limited`


@dataclass(frozen=True)
class SendResult:
    message: ChatMessage
    created: bool
    outcome: Outcome | None = None

    @property
    def panel(self) -> dict | None:
        """The private `signpost` frame for the author, if screening asks for one."""
        return self.outcome.panel if self.outcome and self.created else None

    @property
    def status(self) -> str:
        return self.message.status


def author_payload(user: User | None) -> dict:
    if user is None:
        return {"id": None, "name": "Former member"}
    return {"id": user.pk, "name": user.display_name}


def message_payload(message: ChatMessage) -> dict:
    return {
        "id": message.pk,
        "seq": message.seq,
        "client_id": message.client_id,
        "author": author_payload(message.author),
        "body": message.body,
        "body_html": message.body_html,
        "created": message.created_at.isoformat(),
        "status": message.status,
    }


def clean_body(body: object) -> str:
    if not isinstance(body, str):
        raise ChatError("invalid_body", "The message must be text.")
    text = strip_controls(body).strip()
    if not text:
        raise ChatError("invalid_body", "Please write a message before sending.")
    if len(text) > MAX_BODY:
        raise ChatError(
            "invalid_body",
            f"Messages can be up to {MAX_BODY} characters. This one has {len(text)}.",
        )
    return text


def clean_client_id(client_id: object) -> str:
    if (
        not isinstance(client_id, str)
        or not 1 <= len(client_id) <= MAX_CLIENT_ID
        or any(unicodedata.category(ch).startswith("C") for ch in client_id)
    ):
        raise ChatError(
            "invalid_client_id", "client_id must be a string of 1 to 64 printable characters."
        )
    return client_id


def _existing(actor: User, group: Group, client_id: str) -> SendResult | None:
    message = (
        ChatMessage.objects.select_related("author").filter(author=actor, client_id=client_id)
        .first()
    )
    if message is None:
        return None
    if message.group_id != group.pk:
        raise ChatError("duplicate_client_id", "That client_id was already used for another "
                        "message. Please send with a new one.")
    return SendResult(message=message, created=False)


def mentioned_members(group: Group, author: User, body: str) -> list[User]:
    """Members named as @display name (longest names first, so '@Sam Lee' beats '@Sam')."""
    if "@" not in body:
        return []
    lowered = body.casefold()
    members = User.objects.filter(
        memberships__group=group, memberships__status=Membership.Status.APPROVED
    ).exclude(pk=author.pk).only("pk", "display_name")
    found = []
    for member in sorted(members, key=lambda m: -len(m.display_name)):
        pattern = r"(?<!\w)@" + re.escape(member.display_name.casefold()) + r"(?!\w)"
        lowered, hits = re.subn(pattern, " ", lowered)  # a longer name's mention is used up
        if hits:
            found.append(member)
    return found


def _next_seq(group_id: int, *, only_if: tuple[str, list] | None = None) -> int | None:
    """Take the group's next place in its sequence, locking its row until commit.

    One UPDATE ... RETURNING both locks and counts, so two writers in one group are
    serialised and ids and seqs rise in the order messages become visible. With `only_if`
    (SQL and its parameters) the place is taken only if that query finds a row, checked
    under the same statement; otherwise nothing changes and the answer is None.
    """
    sql = f"UPDATE {Group._meta.db_table} SET chat_seq = chat_seq + 1 WHERE id = %s"  # noqa: S608
    params: list = [group_id]
    if only_if is not None:
        condition, condition_params = only_if
        sql += f" AND EXISTS ({condition})"
        params += condition_params
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING chat_seq", params)
        row = cursor.fetchone()
    return row[0] if row else None


_USER, _GROUP = -7_000_001, -7_000_002  # no real id is negative


@once
def _posting_sql(vendor: str) -> tuple[str, list]:
    """`policy.posting_membership` compiled once per process, with markers where the
    person and the group go: compiling the query on every send cost a quarter of the
    send's own time."""
    query = policy.posting_membership(SimpleNamespace(pk=_USER), SimpleNamespace(pk=_GROUP))
    return query.values("pk").query.sql_with_params()


def _posting_condition(actor: User, group: Group) -> tuple[str, list]:
    sql, template = _posting_sql(connection.vendor)
    ids = {_USER: actor.pk, _GROUP: group.pk}
    return sql, [ids.get(p, p) if type(p) is int else p for p in template]


def _require_may_post(actor: User, group: Group) -> None:
    """The full check, with the reason, for when the fast one in the UPDATE said no or
    something else went wrong first (a non-member hears "not allowed", not why their
    text was wrong)."""
    policy.forget_memberships(actor)
    if not policy.is_member(actor, group):
        raise ChatError("not_allowed", "Only members of this group can send messages.")
    if not policy.can_post(actor, group):
        raise ChatError("muted", "A moderator has paused your messages in this group for now.")


def post_chat_message(
    *, actor: User, group: Group, body: object, client_id: object, confirm: bool = False
) -> SendResult:
    """Store a member's message and broadcast it after commit; a resend is a no-op.

    Screening may ask the author to think again first (`ScreeningPrompt`: nothing is
    stored; `confirm=True` is their "send anyway"), refuse it (`ScreeningBlocked`), hold
    it for a moderator, or publish it with a review case (always so for a crisis: people
    must be able to reach out).

    Whether they may post is checked inside the statement that takes the group's lock
    (`policy.posting_membership`), so a mute or ban is seen at once without a query of
    its own; every refusal is explained by `_require_may_post` before anything else.
    """
    try:
        text = clean_body(body)
        client_id = clean_client_id(client_id)
    except ChatError:
        _require_may_post(actor, group)
        raise
    try:
        abuse.check_links(user=actor, text=text, scope="chat")
        abuse.check_rate("chat", user=actor, key=f"{group.pk}:{actor.pk}")
    except (abuse.RateLimited, abuse.LinksNotYet) as refused:
        _require_may_post(actor, group)
        existing = _existing(actor, group, client_id)  # a resend is never refused
        if existing is not None:
            return existing
        raise ChatError(refused.code, refused.messages[0],
                        retry_after=getattr(refused, "retry_after", None)) from None
    try:
        outcome = outcome_for(screening.screen(text, group), group, confirm=confirm)
    except (ScreeningPrompt, ScreeningBlocked):
        _require_may_post(actor, group)
        raise
    html = render_markdown(text)
    status = ChatMessage.Status.HELD if outcome.held else ChatMessage.Status.PUBLISHED
    try:
        with transaction.atomic():
            seq = _next_seq(group.pk, only_if=_posting_condition(actor, group))
            if seq is None:
                _require_may_post(actor, group)  # raises the reason, or ...
                seq = _next_seq(group.pk)  # ... the wider rule allows it (a founder)
            message = ChatMessage.objects.create(
                group=group, seq=seq, author=actor, client_id=client_id, body=text,
                body_html=html, status=status,
            )
            if outcome.held:
                # Others' sockets only learn that this place in the sequence is taken.
                realtime.publish_on_commit(realtime.chat_group(group.pk),
                                           {"type": CHAT_MESSAGE, "id": message.pk,
                                            "seq": seq, "frame": None})
            else:
                _broadcast(message)
                _notify_mentions(actor, group, message)
            if outcome.needs_case:
                open_screening_case(
                    item=item_kinds.Item(Case.Kind.CHAT_MESSAGE, message, group, actor),
                    verdict=outcome.verdict, held=outcome.held)
    except IntegrityError:
        # The unique (author, client_id) caught a resend: hand back the stored message.
        existing = _existing(actor, group, client_id)
        if existing is None:
            raise
        return existing
    return SendResult(message=message, created=True, outcome=outcome)


def _broadcast(message: ChatMessage) -> None:
    frame = json.dumps({"type": "message.new", "message": message_payload(message)})
    realtime.publish_on_commit(
        realtime.chat_group(message.group_id),
        {"type": CHAT_MESSAGE, "id": message.pk, "seq": message.seq, "frame": frame},
    )


def _notify_mentions(actor: User, group: Group, message: ChatMessage) -> None:
    chat_url = reverse("groups:chat", kwargs={"slug": group.slug})
    for person in mentioned_members(group, actor, message.body):
        notify(user=person, kind=Notification.Kind.MENTION, group=group,
               text=f"{actor.display_name} mentioned you in {group.name}'s chat.",
               url=f"{chat_url}#message-{message.pk}")


def release_held_message(message: ChatMessage, *, case=None) -> ChatMessage:
    """A moderator let a held message through. Nobody else has seen it, so it arrives
    now: stored again as a new row, which gives it the next id and place in the group
    (ids rise in the order messages become visible, so catch-up with `?after=` finds it),
    and the review case moves to the new row. Broadcast after commit."""
    with transaction.atomic():
        held = ChatMessage.objects.select_for_update().get(pk=message.pk)
        seq = _next_seq(held.group_id)
        released = ChatMessage.objects.create(
            group_id=held.group_id, seq=seq, author_id=held.author_id,
            client_id=f"{held.client_id[:40]}:released:{held.pk}", body=held.body,
            body_html=held.body_html, status=ChatMessage.Status.PUBLISHED,
            created_at=held.created_at,
        )
        Case.objects.filter(chat_message=held).update(chat_message=released)
        if case is not None:
            case.chat_message = released
        held.delete()
        # The author's client still knows it by its client_id: keep that.
        ChatMessage.objects.filter(pk=released.pk).update(client_id=held.client_id)
        released.client_id = held.client_id
        released = ChatMessage.objects.select_related("group", "author").get(pk=released.pk)
        _broadcast(released)
        if released.author is not None:
            _notify_mentions(released.author, released.group, released)
    return released


def remove_chat_message(*, actor: User, message: ChatMessage, reason: str) -> ChatMessage:
    """A moderator removes a message: members' screens drop it and catch-up skips it."""
    group = message.group
    if not policy.can_moderate(actor, group):
        raise Http404("Not found")
    reason = strip_controls(reason)  # typed into a form field: NUL cannot be stored
    if not reason.strip():
        raise ValidationError({"reason": "Please say why, for the record."})
    with transaction.atomic():
        message = ChatMessage.objects.select_for_update().get(pk=message.pk)
        if message.status == ChatMessage.Status.REMOVED:
            return message
        message.status = ChatMessage.Status.REMOVED
        message.removed_at = timezone.now()
        message.removed_by = actor
        message.removal_reason = reason.strip()
        message.save(update_fields=["status", "removed_at", "removed_by", "removal_reason"])
        record_audit(action=AuditEntry.Action.MESSAGE_REMOVED, actor=actor, group=group,
                     target_user=message.author, reason=message.removal_reason,
                     detail={"message_id": message.pk})
        realtime.publish_on_commit(
            realtime.chat_group(group.pk),
            {"type": CHAT_REMOVED, "id": message.pk,
             "frame": json.dumps({"type": "message.removed", "id": message.pk})},
        )
    return message
