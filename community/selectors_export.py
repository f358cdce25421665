"""A member's own data, for their download (JSON and a readable web page).

"Everything they wrote and everything about them", read section by section. Each section
reads its rows in batches of BATCH by id (one query per batch, related rows joined in the
same query), so the export of a very active member streams out in steps instead of being
built in memory, and the number of queries never depends on how many rows a batch holds.

What is deliberately left out (and said so in the export itself, see NOT_INCLUDED):
other members' words (even replies to them), who flagged their content and why,
moderators' names, moderators' notes to one another (escalations, claims), the secret
address of their calendar feeds, and the anonymous monthly check-in answers, which are
stored apart from who gave them so nobody, us included, can tell whose they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.db.models import Model, QuerySet
from django.utils import timezone

from community import policy
from community.models import (
    ChatMessage,
    CheckInReceipt,
    Group,
    Invite,
    Meeting,
    MeetingReply,
    Membership,
    Notification,
    User,
)
from forums.models import Post, PostRevision, Reaction, Thread, ThreadFollow
from moderation.models import Appeal, AuditEntry, Case, Flag

BATCH = 500
FORMAT_VERSION = 1

ABOUT = (
    "This is a copy of the information Kindred keeps about you: your account, your "
    "groups and the answers you gave to join them, everything you wrote (chat messages, "
    "forum threads and posts, earlier versions of posts you edited, flags and appeals), "
    "your meeting replies, notifications, and the decisions moderators made about you or "
    "what you wrote. It only holds your own information."
)
NOT_INCLUDED = [
    "Other members' messages and posts, even replies to you: they belong to the people "
    "who wrote them.",
    "Who flagged something you wrote, and what they said.",
    "The names of moderators. Decisions about you or your posts are included, with the "
    "reason you were given.",
    "Notes moderators write for each other or for site staff (for example when they pass "
    "a worry on).",
    "The secret address of your calendar feeds (only whether you have one).",
    "Your answers to the monthly check-in: they are kept apart from your name, so "
    "nobody, including us, can tell which answers were yours.",
    "Your password (we never store it, only a scrambled check of it).",
]
# Audit actions whose reason the person was told at the time (a notification or email):
# the reason is theirs to keep. Other reasons are moderators' notes and stay out.
TOLD_REASONS = frozenset({
    AuditEntry.Action.MEMBER_DECLINED, AuditEntry.Action.MEMBER_REMOVED,
    AuditEntry.Action.MEMBER_BANNED, AuditEntry.Action.MEMBER_WARNED,
    AuditEntry.Action.MEMBER_MUTED, AuditEntry.Action.MESSAGE_REMOVED,
    AuditEntry.Action.CASE_DECIDED, AuditEntry.Action.APPEAL_DECIDED,
})


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    about: str
    rows: Callable[[], Iterator[dict[str, Any]]]


def _when(value) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def batched(queryset: QuerySet, to_row: Callable[[Model], dict]) -> Callable[[], Iterator]:
    """Rows of `queryset` in id order, BATCH at a time (one query each)."""

    def rows() -> Iterator[dict[str, Any]]:
        last = 0
        while True:
            batch = list(queryset.filter(pk__gt=last).order_by("pk")[:BATCH])
            for obj in batch:
                yield to_row(obj)
            if len(batch) < BATCH:
                return
            last = batch[-1].pk

    return rows


def _account(user: User) -> Callable[[], Iterator]:
    def rows() -> Iterator[dict[str, Any]]:
        person = User.objects.get(pk=user.pk)  # fresh: what is stored, not what a form held
        yield {
            "id": person.pk,
            "display_name": person.display_name,
            "email": person.email,
            "about_me": person.about,
            "home_town": person.home_town,
            "home_town_place_id": person.home_place_id,
            "home_latitude": person.home_latitude,
            "home_longitude": person.home_longitude,
            "appear_offline_in_chat": person.appear_offline,
            "emails_about_activity": person.get_email_notifications_display(),
            "last_daily_summary": _when(person.digest_sent_at),
            "joined_kindred": _when(person.date_joined),
            "last_logged_in": _when(person.last_login),
            "site_staff": person.is_staff,
        }

    return rows


def _membership(m: Membership) -> dict:
    return {
        "group": m.group.name,
        "group_address": m.group.slug,
        "status": m.get_status_display(),
        "role": m.get_role_display(),
        "join_answers": [
            {"question": str(a.get("question", "")), "answer": str(a.get("answer", ""))}
            for a in (m.answers or []) if isinstance(a, dict)
        ],
        "asked_to_join": _when(m.requested_at),
        "joined": _when(m.joined_at),
        "decided": _when(m.decided_at),
        "message_with_the_decision": m.decision_message,
        "muted_until": _when(m.muted_until),
        "on_duty_as_moderator": m.on_duty if m.role in ("moderator", "owner") else None,
        "share_that_i_am_nearby": m.share_nearby,
        "emails_from_this_group": m.get_email_notifications_display(),
        "has_a_calendar_feed": bool(m.calendar_token),
        "saw_the_welcome": _when(m.welcome_seen_at),
    }


def _chat(m: ChatMessage) -> dict:
    return {
        "id": m.pk,
        "group": m.group.name,
        "written": _when(m.created_at),
        "text": m.body,
        "status": m.get_status_display(),
        "removed": _when(m.removed_at),
        "reason_for_removal": m.removal_reason,
    }


def _thread(t: Thread) -> dict:
    return {"id": t.pk, "group": t.group.name, "title": t.title,
            "started": _when(t.created_at), "status": t.get_status_display()}


class ReadableGroups:
    """The groups the person may read now, asked once and only if a section needs it.

    A thread's or a meeting's title is someone else's words: it goes in beside the
    person's own post, follow or reply only while they may still read that group, so
    someone who left or was banned learns nothing new of it (not even a title changed
    after they went)."""

    def __init__(self, user: User) -> None:
        self.user = user
        self._ids: frozenset[int] | None = None

    def title(self, title: str, group_id: int, *, own: bool = False) -> str:
        if own:
            return title
        if self._ids is None:
            self._ids = frozenset(policy.member_groups(self.user).values_list("pk", flat=True))
        return title if group_id in self._ids else ""


def _post(p: Post, readable: ReadableGroups) -> dict:
    return {
        "id": p.pk,
        "group": p.group.name,
        "thread": readable.title(p.thread.title, p.group_id,
                                 own=p.thread.author_id == p.author_id),
        "in_reply_to_post": p.parent_id,
        "written": _when(p.created_at),
        "edited": _when(p.edited_at),
        "deleted": _when(p.deleted_at),
        "content_warning": p.content_warning,
        "text": p.body,
        "status": p.get_status_display(),
    }


def _revision(r: PostRevision) -> dict:
    return {"post": r.post_id, "saved": _when(r.created_at), "content_warning":
            r.content_warning, "text": r.body}


def _reaction(r: Reaction) -> dict:
    return {"post": r.post_id, "reaction": r.get_kind_display(), "given": _when(r.created_at)}


def _follow(f: ThreadFollow, readable: ReadableGroups) -> dict:
    return {"thread": readable.title(f.thread.title, f.thread.group_id,
                                     own=f.thread.author_id == f.user_id),
            "following": f.following,
            "last_read": _when(f.last_read_at)}


def _reply(r: MeetingReply, readable: ReadableGroups) -> dict:
    return {"group": r.meeting.group.name,
            "meeting": readable.title(r.meeting.title, r.meeting.group_id,
                                      own=r.meeting.created_by_id == r.user_id),
            "date": _when(r.occurrence), "answer": r.get_answer_display(),
            "answered": _when(r.updated_at)}


def _checkin(c: CheckInReceipt) -> dict:
    return {"group": c.group.name, "month": c.month.isoformat()}


def _notification(n: Notification) -> dict:
    return {"kind": n.get_kind_display(), "text": n.text, "link": n.url,
            "sent": _when(n.created_at), "read": _when(n.read_at)}


def _flag(f: Flag) -> dict:
    return {"group": f.case.group.name, "what": f.case.get_kind_display(),
            "reason": f.get_reason_display(), "my_note": f.note, "flagged": _when(f.created_at),
            "case_status": f.case.get_status_display()}


# Decisions the author is not told the reason for: "keep" (nothing happened to them) and
# "pass to site staff" (the reason is a note for staff). Their reasons stay out.
UNTOLD_DECISIONS = frozenset({Case.Decision.KEEP, Case.Decision.ESCALATE})


def _case(c: Case) -> dict:
    told = bool(c.decision) and c.decision not in UNTOLD_DECISIONS
    return {"group": c.group.name, "what": c.get_kind_display(),
            "status": c.get_status_display(), "hidden_until_reviewed": c.auto_hidden,
            "opened": _when(c.created_at), "decided": _when(c.resolved_at),
            "decision": c.get_decision_display() if c.decision else "",
            "reason_given": c.decision_reason if told else ""}


def _appeal(a: Appeal) -> dict:
    return {"group": a.case.group.name, "what": a.case.get_kind_display(),
            "my_appeal": a.note, "made": _when(a.created_at), "status": a.get_status_display(),
            "decided": _when(a.decided_at), "reason_given": a.outcome_reason}


def _about_me(e: AuditEntry) -> dict:
    told = e.action in TOLD_REASONS and not (
        e.action == AuditEntry.Action.CASE_DECIDED
        and (e.detail or {}).get("decision") in UNTOLD_DECISIONS)
    return {"when": _when(e.created_at), "what": e.get_action_display(),
            "group": e.group_name, "reason_given": e.reason if told else ""}


def _my_act(e: AuditEntry) -> dict:
    """What the person did that the audit log records; who it was done to stays out."""
    return {"when": _when(e.created_at), "what": e.get_action_display(),
            "group": e.group_name, "my_reason": e.reason}


def _group(g: Group) -> dict:
    return {"name": g.name, "address": g.slug, "started": _when(g.created_at),
            "description": g.description, "rules": g.rules,
            "welcome_message": g.welcome_message}


def _meeting(m: Meeting) -> dict:
    return {"group": m.group.name, "title": m.title, "description": m.description,
            "first_date": _when(m.starts_at), "repeats": m.get_recurrence_display(),
            "cancelled": _when(m.cancelled_at)}


def _invite(i: Invite) -> dict:
    return {"group": i.group.name, "note": i.note, "made": _when(i.created_at),
            "times_used": i.uses, "revoked": _when(i.revoked_at)}


def _email(e: EmailAddress) -> dict:
    return {"email": e.email, "verified": e.verified, "main_address": e.primary}


def _session(s: UserSession) -> dict:
    return {"started": _when(s.created_at), "last_seen": _when(s.last_seen_at),
            "ip_address": s.ip, "browser": s.user_agent}


def export_sections(user: User) -> list[Section]:
    """The sections of the person's export, in reading order; nothing is read until a
    section's rows are asked for."""
    uid = user.pk
    readable = ReadableGroups(user)
    return [
        Section("account", "Your account", "What you told us when you signed up and in your "
                "profile.", _account(user)),
        Section("email_addresses", "Your email addresses", "", batched(
            EmailAddress.objects.filter(user_id=uid), _email)),
        Section("sessions", "Where you are logged in", "Each browser or device you are "
                "logged in on.", batched(UserSession.objects.filter(user_id=uid), _session)),
        Section("groups", "Your groups", "Groups you joined or asked to join, with the "
                "answers you gave.", batched(
                    Membership.objects.filter(user_id=uid).select_related("group"),
                    _membership)),
        Section("chat_messages", "Your chat messages", "", batched(
            ChatMessage.objects.filter(author_id=uid).select_related("group"), _chat)),
        Section("forum_threads", "Forum threads you started", "", batched(
            Thread.objects.filter(author_id=uid).select_related("group"), _thread)),
        Section("forum_posts", "Your forum posts", "", batched(
            Post.objects.filter(author_id=uid).select_related("group", "thread"),
            partial(_post, readable=readable))),
        Section("post_versions", "Earlier versions of your posts", "What your posts said "
                "before you edited or deleted them.", batched(
                    PostRevision.objects.filter(post__author_id=uid), _revision)),
        Section("reactions", "Reactions you gave", "", batched(
            Reaction.objects.filter(user_id=uid), _reaction)),
        Section("thread_follows", "Threads you follow or read", "", batched(
            ThreadFollow.objects.filter(user_id=uid).select_related("thread"),
            partial(_follow, readable=readable))),
        Section("meeting_replies", "Your meeting replies", "", batched(
            MeetingReply.objects.filter(user_id=uid).select_related("meeting__group"),
            partial(_reply, readable=readable))),
        Section("checkins", "Monthly check-ins you answered", "Only that you answered: "
                "your answers are not linked to you.", batched(
                    CheckInReceipt.objects.filter(user_id=uid).select_related("group"),
                    _checkin)),
        Section("notifications", "Your notifications", "", batched(
            Notification.objects.filter(user_id=uid), _notification)),
        Section("flags", "Things you flagged", "", batched(
            Flag.objects.filter(flagger_id=uid).select_related("case__group"), _flag)),
        Section("moderation_of_your_posts", "Moderators' decisions about what you wrote",
                "", batched(Case.objects.filter(author_id=uid).select_related("group"),
                            _case)),
        Section("appeals", "Your appeals", "", batched(
            Appeal.objects.filter(author_id=uid).select_related("case__group"), _appeal)),
        Section("records_about_you", "Records about you",
                "Decisions about you in the moderation record, without moderators' names.",
                batched(AuditEntry.objects.filter(target_user_id=uid), _about_me)),
        Section("your_moderation_acts", "Things you did that the moderation record keeps",
                "Without the names of other members.",
                batched(AuditEntry.objects.filter(actor_id=uid), _my_act)),
        Section("groups_started", "Groups you started", "", batched(
            Group.objects.filter(created_by_id=uid), _group)),
        Section("meetings_created", "Meetings you set up", "", batched(
            Meeting.objects.filter(created_by_id=uid).select_related("group"), _meeting)),
        Section("invites_created", "Invite links you made", "", batched(
            Invite.objects.filter(created_by_id=uid).select_related("group"), _invite)),
    ]
