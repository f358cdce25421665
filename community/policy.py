"""The one place that decides who may see or do what in Kindred.

Views, consumers, services, search, notifications and exports all ask here; nothing
re-implements a check. Outsiders get "not found" for anything inside a group they may
not see, so the answer never reveals whether a private group or item exists.

Every check is a pure function of the user, the group and the user's membership row,
which is fetched once per (user, group) and cached on the user object for the request.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Now
from django.http import Http404

from community.models import Group, Membership

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from community.models import User

    AnyUser = User | AnonymousUser

_CACHE_ATTR = "_kindred_memberships"

ROLE_RANK = {
    Membership.Role.MEMBER: 0,
    Membership.Role.WELCOMER: 1,
    Membership.Role.MODERATOR: 2,
    Membership.Role.OWNER: 3,
}


class Standing(StrEnum):
    """Where a person stands with one group (site staff is a separate, additive flag)."""

    ANONYMOUS = "anonymous"
    OUTSIDER = "outsider"  # includes people who left or were removed
    PENDING = "pending"
    DECLINED = "declined"
    MEMBER = "member"
    WELCOMER = "welcomer"
    MODERATOR = "moderator"
    OWNER = "owner"
    BANNED = "banned"


MEMBER_STANDINGS = frozenset(
    {Standing.MEMBER, Standing.WELCOMER, Standing.MODERATOR, Standing.OWNER}
)


class HomeView(StrEnum):
    """What a person sees at a group's home page."""

    FULL = "full"  # a member: the group's own space
    PUBLIC = "public"  # the public description (and how to join, if they may)
    REFUSED = "refused"  # banned: a plain refusal
    NOT_FOUND = "not_found"


class ContentAccess(StrEnum):
    """Outcome of asking to read a group's content (chat, forum, members, meetings)."""

    ALLOW = "allow"
    LOGIN = "login"  # anonymous: send to the login page
    JOIN_FIRST = "join_first"  # open group, signed-in non-member: send to the group home
    NOT_FOUND = "not_found"


# --- membership lookup ----------------------------------------------------------------


def is_authenticated(user: AnyUser | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_site_staff(user: AnyUser | None) -> bool:
    return is_authenticated(user) and bool(user.is_staff)


def membership_of(user: AnyUser | None, group: Group) -> Membership | None:
    """The user's membership row for this group, fetched once and then cached on the user."""
    if not is_authenticated(user):
        return None
    cache: dict[int, Membership | None] = user.__dict__.setdefault(_CACHE_ATTR, {})
    if group.pk not in cache:
        cache[group.pk] = Membership.objects.filter(user=user, group=group).first()
    return cache[group.pk]


def remember_memberships(user: AnyUser, memberships: dict[int, Membership | None]) -> None:
    """Prime the cache from a batch query (list pages), so checks in loops cost nothing."""
    if is_authenticated(user):
        user.__dict__.setdefault(_CACHE_ATTR, {}).update(memberships)


def forget_memberships(user: Any) -> None:
    """Drop cached rows after a service changed this person's membership."""
    if user is not None:
        user.__dict__.pop(_CACHE_ATTR, None)


def standing(user: AnyUser | None, group: Group) -> Standing:
    if not is_authenticated(user):
        return Standing.ANONYMOUS
    membership = membership_of(user, group)
    if membership is None:
        return Standing.OUTSIDER
    status = membership.status
    if status == Membership.Status.APPROVED:
        return Standing(membership.role)
    if status == Membership.Status.PENDING:
        return Standing.PENDING
    if status == Membership.Status.DECLINED:
        return Standing.DECLINED
    if status == Membership.Status.BANNED:
        return Standing.BANNED
    return Standing.OUTSIDER


def _is_founder(user: AnyUser | None, group: Group) -> bool:
    return is_authenticated(user) and group.created_by_id == user.pk


def _group_is_live(user: AnyUser | None, group: Group) -> bool:
    """Groups waiting for (or refused) site approval exist only for their founder and staff."""
    if group.status == Group.Status.ACTIVE:
        return True
    return is_site_staff(user) or _is_founder(user, group)


# --- seeing -----------------------------------------------------------------------------


def is_member(user: AnyUser | None, group: Group) -> bool:
    return _group_is_live(user, group) and standing(user, group) in MEMBER_STANDINGS


def home_view(user: AnyUser | None, group: Group) -> HomeView:
    if not _group_is_live(user, group):
        return HomeView.NOT_FOUND
    where = standing(user, group)
    if where in MEMBER_STANDINGS:
        return HomeView.FULL
    if group.is_invite_only:
        return HomeView.PUBLIC if is_site_staff(user) else HomeView.NOT_FOUND
    if where == Standing.BANNED:
        return HomeView.REFUSED
    return HomeView.PUBLIC


def can_view_group(user: AnyUser | None, group: Group) -> bool:
    """May this person know the group exists (see its home page in some form)?"""
    return home_view(user, group) != HomeView.NOT_FOUND


def content_access(user: AnyUser | None, group: Group) -> ContentAccess:
    """Chat, forum, members and meetings: members only, and never public."""
    if not _group_is_live(user, group):
        return ContentAccess.NOT_FOUND
    where = standing(user, group)
    if where in MEMBER_STANDINGS:
        return ContentAccess.ALLOW
    if group.is_invite_only or where == Standing.BANNED:
        return ContentAccess.NOT_FOUND
    if where == Standing.ANONYMOUS:
        return ContentAccess.LOGIN
    if group.is_open:
        return ContentAccess.JOIN_FIRST
    return ContentAccess.NOT_FOUND


def can_read_content(user: AnyUser | None, group: Group) -> bool:
    return content_access(user, group) == ContentAccess.ALLOW


# --- doing ------------------------------------------------------------------------------


def can_post(user: AnyUser | None, group: Group) -> bool:
    if not is_member(user, group):
        return False
    membership = membership_of(user, group)
    return membership is not None and not membership.is_muted


def posting_membership(user: AnyUser, group: Group) -> QuerySet:
    """The membership row that lets this person post in this group right now, read fresh.

    A narrower twin of `can_post` (an active account, a live group, an approved member
    who is not muted by the database's clock) for chat's send path, which folds it into
    the statement that takes the group's lock, so a busy chat costs no extra query per
    message. Whatever this refuses is decided again by `can_post`, which also gives the
    reason.
    """
    return Membership.objects.filter(
        user_id=user.pk, group_id=group.pk, status=Membership.Status.APPROVED,
        user__is_active=True, group__status=Group.Status.ACTIVE,
    ).filter(Q(muted_until__isnull=True) | Q(muted_until__lte=Now()))


def can_moderate(user: AnyUser | None, group: Group) -> bool:
    """Moderator pages and acts: the group's moderators and owners, and site staff."""
    if is_site_staff(user):
        return True
    return is_member(user, group) and standing(user, group) in {
        Standing.MODERATOR,
        Standing.OWNER,
    }


def can_approve_requests(user: AnyUser | None, group: Group) -> bool:
    return can_moderate(user, group)


def can_create_invites(user: AnyUser | None, group: Group) -> bool:
    return can_moderate(user, group)


def can_manage_roles(user: AnyUser | None, group: Group) -> bool:
    """Appointing and demoting moderators and welcomers is for owners (and site staff)."""
    if is_site_staff(user):
        return True
    return is_member(user, group) and standing(user, group) == Standing.OWNER


def can_welcome(user: AnyUser | None, group: Group) -> bool:
    return is_member(user, group) and standing(user, group) in {
        Standing.WELCOMER,
        Standing.MODERATOR,
        Standing.OWNER,
    }


def can_view_group_health(user: AnyUser | None, group: Group) -> bool:
    """Group health (aggregated figures, never names): like the other moderator pages."""
    return can_moderate(user, group)


def can_change_checkins(user: AnyUser | None, group: Group) -> bool:
    """Switching the anonymous monthly check-in on or off is for owners (and site staff)."""
    return can_manage_roles(user, group)


def can_check_in(user: AnyUser | None, group: Group) -> bool:
    """Members answer the monthly check-in when the group has it switched on."""
    return bool(group.checkins_enabled) and is_member(user, group)


def can_greet(user: AnyUser | None, group: Group, newcomer: Membership | None) -> bool:
    """Welcomers, moderators and owners greet an approved member (not themselves)."""
    return (
        can_welcome(user, group)
        and newcomer is not None
        and newcomer.group_id == group.pk
        and newcomer.status == Membership.Status.APPROVED
        and newcomer.user_id != getattr(user, "pk", None)
    )


def can_request_to_join(user: AnyUser | None, group: Group) -> bool:
    """Open and approval groups take requests from signed-in people who are not in them."""
    if not is_authenticated(user) or group.status != Group.Status.ACTIVE:
        return False
    if group.is_invite_only:
        return False
    return standing(user, group) in {Standing.OUTSIDER, Standing.DECLINED}


def can_act_on_member(user: AnyUser | None, group: Group, target: Membership) -> bool:
    """Remove or ban: moderators act on those below them; owners and staff on anyone."""
    if target.user_id == getattr(user, "pk", None):
        return False
    if is_site_staff(user):
        return True
    if not can_moderate(user, group):
        return False
    mine = membership_of(user, group)
    if mine is None:
        return False
    if mine.role == Membership.Role.OWNER:
        return True
    return ROLE_RANK[Membership.Role(mine.role)] > ROLE_RANK[Membership.Role(target.role)]


def can_view_profile(user: AnyUser | None, person: Any) -> bool:
    """Profiles are seen by their owner, site staff, and people who share a group with them."""
    if not is_authenticated(user):
        return False
    if user.pk == person.pk or is_site_staff(user):
        return True
    mine = Membership.objects.filter(user=user, status=Membership.Status.APPROVED).values(
        "group_id"
    )
    return Membership.objects.filter(
        user=person,
        status=Membership.Status.APPROVED,
        group_id__in=mine,
        group__status=Group.Status.ACTIVE,
    ).exists()


# --- forums -----------------------------------------------------------------------------

def can_read_thread(user: AnyUser | None, thread: Any) -> bool:
    """Members read visible threads; moderators also see hidden ones (and the author theirs)."""
    if not can_read_content(user, thread.group):
        return False
    if thread.status == "visible":
        return True
    return can_moderate(user, thread.group) or (
        thread.status == "hidden" and thread.author_id == getattr(user, "pk", None)
    )


def can_reply(user: AnyUser | None, thread: Any) -> bool:
    if not can_read_thread(user, thread) or not can_post(user, thread.group):
        return False
    return not thread.locked or can_moderate(user, thread.group)


def can_edit_post(user: AnyUser | None, post: Any, *, now: Any = None) -> bool:
    """Authors edit their own posts for a while after writing them."""
    from django.conf import settings
    from django.utils import timezone

    if post.author_id is None or post.author_id != getattr(user, "pk", None):
        return False
    if post.is_deleted or post.status == "removed" or not can_post(user, post.group):
        return False
    window = timezone.timedelta(minutes=settings.KINDRED_EDIT_WINDOW_MINUTES)
    return (now or timezone.now()) - post.created_at <= window


def can_delete_post(user: AnyUser | None, post: Any) -> bool:
    return (
        post.author_id is not None
        and post.author_id == getattr(user, "pk", None)
        and not post.is_deleted
        and is_member(user, post.group)
    )


def readable_group_ids(user: AnyUser | None) -> QuerySet:
    """Ids of the groups whose content this person may read (for search and feeds)."""
    return member_groups(user).values("pk")


def chat_close_code(user: AnyUser | None, group: Group | None) -> int | None:
    """Why a chat socket must close (CONTRACT.md close codes), or None if it may stay.

    4401 not logged in; 4403 a group the person can see but is not a member of;
    4404 no such group, an invite-only group they are not in, or banned.
    """
    if not is_authenticated(user):
        return 4401
    if group is None:
        return 4404
    if content_access(user, group) == ContentAccess.ALLOW:
        return None
    # Site staff may read an invite-only group's public description, but its chat is
    # "not found" to everyone who is not in it, as the contract says.
    if not group.is_invite_only and home_view(user, group) == HomeView.PUBLIC:
        return 4403
    return 4404


# --- raising twins ------------------------------------------------------------------------


class NotAllowed(Http404):
    """A "not found" that is really a refusal: answered exactly like a missing page, but
    the security log (community.security_middleware) can tell the two apart."""


def require(allowed: bool) -> None:
    """Refuse with "not found", the same answer as for something that does not exist."""
    if not allowed:
        raise NotAllowed("Not found")


def require_moderator(user: AnyUser | None, group: Group) -> None:
    require(can_moderate(user, group))


def require_member(user: AnyUser | None, group: Group) -> None:
    require(is_member(user, group))


# --- querysets ----------------------------------------------------------------------------


def visible_groups(user: AnyUser | None) -> QuerySet[Group]:
    """Groups whose existence this person may know about: listed open and approval groups,
    any group they belong to, and their own groups still waiting for (or refused) approval.
    Site staff see every group, so they can review new ones."""
    if is_site_staff(user):
        return Group.objects.all()
    active = Q(status=Group.Status.ACTIVE)
    listed = Q(privacy__in=[Group.Privacy.OPEN, Group.Privacy.APPROVAL])
    if not is_authenticated(user):
        return Group.objects.filter(active & listed)
    mine = Membership.objects.filter(user=user, status=Membership.Status.APPROVED).values(
        "group_id"
    )
    return Group.objects.filter((active & (listed | Q(pk__in=mine))) | Q(created_by=user))


def _live_for(user: AnyUser) -> Q:
    """Mirror of `_group_is_live` as a filter: active, or (for its founder) not yet."""
    return Q(status=Group.Status.ACTIVE) | Q(created_by=user)


def member_groups(user: AnyUser | None) -> QuerySet[Group]:
    if not is_authenticated(user):
        return Group.objects.none()
    mine = Membership.objects.filter(user=user, status=Membership.Status.APPROVED).values(
        "group_id"
    )
    return Group.objects.filter(_live_for(user), pk__in=mine)


def moderated_groups(user: AnyUser | None) -> QuerySet[Group]:
    if not is_authenticated(user):
        return Group.objects.none()
    if is_site_staff(user):
        return Group.objects.all()
    mine = Membership.objects.filter(
        user=user,
        status=Membership.Status.APPROVED,
        role__in=[Membership.Role.MODERATOR, Membership.Role.OWNER],
    ).values("group_id")
    return Group.objects.filter(_live_for(user), pk__in=mine)


def get_group_for(user: AnyUser | None, slug: str) -> Group:
    """The group at this slug if the person may know it exists; 404 for missing and hidden."""
    group = Group.objects.filter(slug=slug).first()
    if group is None:
        raise Http404("Not found")
    require(can_view_group(user, group))
    return group


def get_moderated_group(user: AnyUser | None, slug: str) -> Group:
    """The group at this slug if the person moderates it; 404 otherwise."""
    group = Group.objects.filter(slug=slug).first()
    if group is None:
        raise Http404("Not found")
    require(can_moderate(user, group))
    return group
