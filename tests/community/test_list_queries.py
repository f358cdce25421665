"""Every list page costs the same number of queries with 3 rows as with 30 (STYLE rule 7).

Each bound is the count measured with 3 rows, with no slack: if the 30-row page needs
more, something is fetched once per row.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from community.models import Group, Invite, Notification
from moderation.models import AuditEntry
from tests.conftest import add_membership

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

ROWS = (3, 30)


def _owner_of(group: Group):
    return group.memberships.get(role="owner").user


def directory(make_user, make_group, rows):
    viewer = make_user()
    for i in range(rows):
        privacy = (Group.Privacy.OPEN, Group.Privacy.APPROVAL, Group.Privacy.INVITE)[i % 3]
        group = make_group(privacy, condition="Long Covid", town="Leeds")
        status = ("approved", "pending", "approved")[i % 3]
        add_membership(viewer, group, status)
    return viewer, "/groups/"


def members(make_user, make_group, rows):
    group = make_group(Group.Privacy.APPROVAL)
    roles = ("member", "welcomer", "moderator")
    for i in range(rows):
        add_membership(make_user(), group, "approved", roles[i % 3])
    return _owner_of(group), f"/groups/{group.slug}/members/"


def requests(make_user, make_group, rows):
    group = make_group(Group.Privacy.APPROVAL)
    for i in range(rows):
        add_membership(make_user(), group, "pending",
                       answers=[{"question": "Why?", "answer": f"Because {i}"}])
    return _owner_of(group), f"/groups/{group.slug}/requests/"


def invites(make_user, make_group, rows):
    group = make_group(Group.Privacy.INVITE)
    now = timezone.now()
    for i in range(rows):
        Invite.objects.create(
            group=group, created_by=make_user(), note=f"For friend {i}",
            expires_at=now + timezone.timedelta(days=7), max_uses=5 if i % 2 else None,
            revoked_at=now if i % 3 == 0 else None,
        )
    return _owner_of(group), f"/groups/{group.slug}/invites/"


def banned(make_user, make_group, rows):
    group = make_group(Group.Privacy.OPEN)
    for _ in range(rows):
        add_membership(make_user(), group, "banned", decided_at=timezone.now())
    return _owner_of(group), f"/groups/{group.slug}/banned/"


def audit_log(make_user, make_group, rows):
    group = make_group(Group.Privacy.APPROVAL)
    owner = _owner_of(group)
    for i in range(rows):
        target = make_user()
        AuditEntry.objects.create(
            action=AuditEntry.Action.MEMBER_REMOVED, actor=owner,
            actor_name=owner.display_name, group=group, group_name=group.name,
            target_user=target, target_name=target.display_name, reason=f"Reason {i}",
        )
    return owner, f"/groups/{group.slug}/log/"


def notifications(make_user, make_group, rows):
    viewer = make_user()
    for i in range(rows):
        group = make_group(Group.Privacy.OPEN)
        Notification.objects.create(
            user=viewer, kind=Notification.Kind.NEW_REQUEST, group=group,
            text=f"Someone has asked to join {group.name}.", url=f"/groups/{group.slug}/",
            read_at=timezone.now() if i % 2 else None,
        )
    return viewer, "/notifications/"


def moderation_queue(make_user, make_group, rows):
    viewer = make_user()
    for i in range(rows):
        group = make_group(Group.Privacy.APPROVAL)
        add_membership(viewer, group, "approved", "moderator" if i % 2 else "owner")
        add_membership(make_user(), group, "pending")
    return viewer, "/moderation/"


# page -> (how to fill it with n rows, most queries one view of it may make (the 3-row
# count), text shown once per row, rows per page)
PAGES = {
    "groups-list": (directory, 13, ": Long Covid", 20),
    "members": (members, 15, 'href="/people/', 50),
    "requests": (requests, 15, "Because ", 25),
    "invites": (invites, 15, "For friend ", 25),
    "banned": (banned, 15, "Lift the ban", 50),
    "log": (audit_log, 15, "Reason ", 50),
    "notifications": (notifications, 13, "Someone has asked to join", 30),
    "moderation": (moderation_queue, 16, "join request", 25),
}


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("page", list(PAGES))
def test_list_page_query_count_stays_flat(
    web, make_user, make_group, django_assert_max_num_queries, page, rows
):
    fill, bound, per_row, page_size = PAGES[page]
    viewer, path = fill(make_user, make_group, rows)
    web.force_login(viewer)
    with django_assert_max_num_queries(bound):
        response = web.get(path)
    assert response.status_code == 200
    assert response.content.decode().count(per_row) >= min(rows, page_size)
