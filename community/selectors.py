"""Reads shaped for pages: each returns a queryset with its joins done, for pagination."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from community import policy
from community.models import (
    ChatMessage,
    Group,
    Invite,
    Membership,
    Notification,
    Resource,
    Signpost,
)
from community.signposts import CHECKED, shipped


def group_directory(user, *, q: str = "", kind: str = "") -> QuerySet[Group]:
    groups = policy.visible_groups(user)
    if q:
        groups = groups.filter(
            Q(name__icontains=q) | Q(condition__icontains=q) | Q(description__icontains=q)
        )
    if kind in Group.Kind.values:
        groups = groups.filter(kind=kind)
    return groups.order_by("name", "pk")


def prime_memberships(user, groups: list[Group]) -> None:
    """One query for the viewer's standing in every group on a list page."""
    if not policy.is_authenticated(user) or not groups:
        return
    rows = {m.group_id: m for m in Membership.objects.filter(user=user, group__in=groups)}
    policy.remember_memberships(user, {g.pk: rows.get(g.pk) for g in groups})


def pending_requests(group: Group) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(group=group, status=Membership.Status.PENDING)
        .select_related("user", "group")
        .order_by("requested_at", "pk")
    )


def pending_request_count(group: Group) -> int:
    return Membership.objects.filter(group=group, status=Membership.Status.PENDING).count()


_ROLE_ORDER = Case(
    When(role=Membership.Role.OWNER, then=Value(0)),
    When(role=Membership.Role.MODERATOR, then=Value(1)),
    When(role=Membership.Role.WELCOMER, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def group_members(group: Group) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(group=group, status=Membership.Status.APPROVED)
        .select_related("user", "group")
        .annotate(role_order=_ROLE_ORDER)
        .order_by("role_order", "user__display_name", "pk")
    )


def banned_people(group: Group) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(group=group, status=Membership.Status.BANNED)
        .select_related("user", "group")
        .order_by("-decided_at", "pk")
    )


def group_invites(group: Group) -> QuerySet[Invite]:
    return Invite.objects.filter(group=group).select_related("created_by").order_by(
        "-created_at", "-pk"
    )


def notifications_for(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("group")


# --- chat -------------------------------------------------------------------------------

CHAT_PAGE = 50
CHAT_PAGE_MAX = 100
_PAYLOAD_FIELDS = (
    "id", "seq", "client_id", "body", "body_html", "created_at", "status", "author_id",
    "author__display_name",
)


def _payloads(queryset) -> list[dict]:
    """Frames' message dicts straight from the rows: the socket path skips model objects."""
    return [
        {
            "id": row["id"],
            "seq": row["seq"],
            "client_id": row["client_id"],
            "author": {
                "id": row["author_id"],
                "name": row["author__display_name"] or "Former member",
            },
            "body": row["body"],
            "body_html": row["body_html"],
            "created": row["created_at"].isoformat(),
            "status": row["status"],
        }
        for row in queryset.values(*_PAYLOAD_FIELDS)
    ]


def _published(group_id: int):
    return ChatMessage.objects.filter(group_id=group_id, status=ChatMessage.Status.PUBLISHED)


def chat_catch_up(group_id: int, *, after: int, limit: int = CHAT_PAGE_MAX):
    """Published messages after `after`, as of one snapshot of the group's sequence.

    Returns (payloads oldest first, more, snapshot_seq). When more than a page is missing
    it gives the newest page and more=True, so live messages continue in order and the
    client pages back with `before`.
    """
    snapshot = Group.objects.filter(pk=group_id).values_list("chat_seq", flat=True).first() or 0
    rows = _payloads(
        _published(group_id).filter(pk__gt=after, seq__lte=snapshot).order_by("-pk")[: limit + 1]
    )
    more = len(rows) > limit
    return list(reversed(rows[:limit])), more, snapshot


def chat_before(group_id: int, *, before: int, limit: int = CHAT_PAGE):
    """Older published messages as payloads, newest last; more=True if there are older."""
    rows = _payloads(_published(group_id).filter(pk__lt=before).order_by("-pk")[: limit + 1])
    return list(reversed(rows[:limit])), len(rows) > limit


def chat_page_messages(group_id: int, *, limit: int = CHAT_PAGE, viewer=None):
    """The newest page as model objects, for the server-rendered chat page. The viewer
    also sees their own messages that are hidden while moderators take a look."""
    visible = Q(status=ChatMessage.Status.PUBLISHED)
    if viewer is not None and viewer.is_authenticated:
        visible |= Q(status__in=[ChatMessage.Status.HIDDEN, ChatMessage.Status.HELD],
                     author=viewer)
    rows = list(
        ChatMessage.objects.filter(visible, group_id=group_id).select_related("author")
        .order_by("-pk")[: limit + 1]
    )
    return list(reversed(rows[:limit])), len(rows) > limit


def chat_by_seq(group_id: int, *, after_seq: int, upto_seq: int, limit: int = 500):
    """Every message (any status) in a range of the sequence: to fill a gap in order."""
    return _payloads(
        ChatMessage.objects.filter(group_id=group_id, seq__gt=after_seq, seq__lte=upto_seq)
        .order_by("seq")[:limit]
    )


def chat_message_in_group(group_id: int, message_id: int) -> bool:
    return ChatMessage.objects.filter(group_id=group_id, pk=message_id).exists()


# --- signposts and resources -------------------------------------------------------------

TOPIC_ORDER = (Signpost.Topic.CRISIS, Signpost.Topic.HEALTH, Signpost.Topic.SUPPORT)
TOPIC_HEADINGS = {
    Signpost.Topic.CRISIS: "If you or someone else may be at risk",
    Signpost.Topic.HEALTH: "Health advice and medicines",
    Signpost.Topic.SUPPORT: "Support and information",
}


def group_signposts(group: Group) -> QuerySet[Signpost]:
    return Signpost.objects.filter(group=group).order_by("position", "name", "pk")


def site_signposts(region: str | None = None) -> list[Signpost]:
    """The region's site signposts from the database; the shipped ones (unsaved) when the
    database has none, so "Get help now" is never empty."""
    region = (region or settings.KINDRED_REGION).upper()
    rows = list(Signpost.objects.filter(group__isnull=True, region=region)
                .order_by("position", "pk"))
    if rows:
        return rows
    checked = date.fromisoformat(CHECKED)
    return [Signpost(region=region, position=i, last_checked=checked, **entry)
            for i, entry in enumerate(shipped(region))]


def by_topic(signposts) -> list[dict]:
    """Signposts grouped crisis first, then health, then support; empty topics left out."""
    groups = []
    for topic in TOPIC_ORDER:
        rows = [s for s in signposts if s.topic == topic]
        if rows:
            groups.append({"topic": topic.value, "heading": TOPIC_HEADINGS[topic],
                           "signposts": rows})
    return groups


def group_resources(group: Group) -> QuerySet[Resource]:
    return Resource.objects.filter(group=group).select_related("added_by")
