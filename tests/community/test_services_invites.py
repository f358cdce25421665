"""Invite links: moderators create and revoke them; people join with them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from community import realtime
from community.models import Group, Invite, Membership, Notification
from community.services.invites import (
    InviteUnusable,
    create_invite,
    join_with_invite,
    revoke_invite,
)
from moderation.models import AuditEntry

A = AuditEntry.Action


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """These tests make many accounts; the slow production hasher adds nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def published(monkeypatch):
    """Every (channel group, event) the services broadcast, recorded instead of sent."""
    events: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        realtime, "publish", lambda channel_group, event: events.append((channel_group, event))
    )
    return events


@pytest.fixture
def circle(make_group, people_in):
    """An invite-only group with someone in every standing."""
    group = make_group(Group.Privacy.INVITE, questions=())
    return group, people_in(group)


def row(user, group) -> Membership | None:
    return Membership.objects.filter(user=user, group=group).first()


# --- create_invite ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["moderator", "owner", "staff"])
def test_moderators_create_invites(circle, who, published, django_capture_on_commit_callbacks):
    group, people = circle
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        invite = create_invite(actor=people[who], group=group, note="  For Jo  ", max_uses=3)

    invite.refresh_from_db()
    assert invite.group == group
    assert invite.created_by == people[who]
    assert invite.note == "For Jo"
    assert invite.max_uses == 3
    assert invite.uses == 0
    assert invite.revoked_at is None
    assert len(invite.token) >= 20
    assert before + timedelta(days=14) <= invite.expires_at <= timezone.now() + timedelta(days=14)
    entry = AuditEntry.objects.get(group=group)
    assert (entry.action, entry.actor) == (A.INVITE_CREATED, people[who])
    assert entry.detail["invite_id"] == invite.pk
    assert published == []


@pytest.mark.parametrize("who", ["member", "welcomer", "muted", "outsider", "banned",
                                 "ex_member"])
def test_non_moderators_cannot_create_invites(circle, who):
    group, people = circle
    with pytest.raises(Http404):
        create_invite(actor=people[who], group=group)
    assert Invite.objects.count() == 0
    assert AuditEntry.objects.count() == 0


def test_invite_without_expiry_or_limit(circle):
    group, people = circle
    invite = create_invite(actor=people["moderator"], group=group, expires_in_days=None)
    assert invite.expires_at is None
    assert invite.max_uses is None
    assert invite.is_usable()


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"expires_in_days": 0}, "expires_in_days"),
        ({"expires_in_days": 366}, "expires_in_days"),
        ({"max_uses": 0}, "max_uses"),
        ({"max_uses": 1001}, "max_uses"),
    ],
)
def test_create_invite_checks_its_limits(circle, fields, bad):
    group, people = circle
    with pytest.raises(ValidationError) as caught:
        create_invite(actor=people["moderator"], group=group, **fields)
    assert set(caught.value.message_dict) == {bad}
    assert Invite.objects.count() == 0


# --- revoke_invite --------------------------------------------------------------------------


def test_moderator_revokes_an_invite_and_it_stops_working(circle, make_user):
    group, people = circle
    invite = create_invite(actor=people["owner"], group=group)

    revoke_invite(actor=people["moderator"], invite=invite)
    revoke_invite(actor=people["moderator"], invite=invite)

    invite.refresh_from_db()
    assert invite.revoked_at is not None
    revoked = AuditEntry.objects.filter(group=group, action=A.INVITE_REVOKED)
    assert [(e.actor, e.detail["invite_id"]) for e in revoked] == [(people["moderator"], invite.pk)]
    newcomer = make_user()
    with pytest.raises(InviteUnusable):
        join_with_invite(actor=newcomer, token=invite.token)
    assert row(newcomer, group) is None


@pytest.mark.parametrize("who", ["member", "welcomer", "outsider"])
def test_non_moderators_cannot_revoke_invites(circle, who):
    group, people = circle
    invite = create_invite(actor=people["moderator"], group=group)
    with pytest.raises(Http404):
        revoke_invite(actor=people[who], invite=invite)
    invite.refresh_from_db()
    assert invite.revoked_at is None
    assert not AuditEntry.objects.filter(action=A.INVITE_REVOKED).exists()


# --- join_with_invite ------------------------------------------------------------------------


def test_joining_with_an_invite_makes_a_member_and_counts_the_use(
    circle, make_user, published, mailoutbox, django_capture_on_commit_callbacks,
):
    group, people = circle
    invite = create_invite(actor=people["moderator"], group=group, max_uses=2)
    newcomer = make_user("Newcomer")
    assert row(newcomer, group) is None

    with django_capture_on_commit_callbacks(execute=True):
        membership = join_with_invite(actor=newcomer, token=invite.token)

    membership.refresh_from_db()
    assert membership.status == Membership.Status.APPROVED
    assert membership.role == Membership.Role.MEMBER
    assert membership.joined_at is not None
    assert membership.decided_by == people["moderator"]
    invite.refresh_from_db()
    assert invite.uses == 1
    entry = AuditEntry.objects.get(group=group, action=A.INVITE_USED)
    assert (entry.actor, entry.target_user, entry.detail) == (
        newcomer, newcomer, {"invite_id": invite.pk},
    )
    welcomes = Notification.objects.filter(kind=Notification.Kind.NEW_MEMBER)
    assert [n.user for n in welcomes] == [people["welcomer"]]
    mine = [e for g, e in published if g == realtime.user_group(newcomer.pk)]
    assert [(e["type"], e["status"]) for e in mine] == [(realtime.MEMBERSHIP_CHANGED, "approved")]
    theirs = [e for g, e in published if g == realtime.user_group(people["welcomer"].pk)]
    assert [e["type"] for e in theirs] == [realtime.NOTIFICATION]
    assert mailoutbox == []


def test_a_pending_requester_can_join_with_an_invite(make_group, people_in):
    group = make_group(Group.Privacy.APPROVAL)
    people = people_in(group)
    invite = create_invite(actor=people["moderator"], group=group)
    join_with_invite(actor=people["pending"], token=invite.token)
    assert row(people["pending"], group).status == Membership.Status.APPROVED


def test_a_member_following_the_link_uses_nothing(circle):
    group, people = circle
    invite = create_invite(actor=people["moderator"], group=group, max_uses=1)
    join_with_invite(actor=people["member"], token=invite.token)
    invite.refresh_from_db()
    assert invite.uses == 0
    assert invite.is_usable()
    assert not AuditEntry.objects.filter(action=A.INVITE_USED).exists()


def test_an_invite_is_used_up_after_its_last_use(circle, make_user):
    group, people = circle
    invite = create_invite(actor=people["moderator"], group=group, max_uses=1)
    first, second = make_user(), make_user()
    join_with_invite(actor=first, token=invite.token)

    with pytest.raises(InviteUnusable):
        join_with_invite(actor=second, token=invite.token)

    invite.refresh_from_db()
    assert invite.uses == 1
    assert row(first, group).status == Membership.Status.APPROVED
    assert row(second, group) is None


def test_an_expired_invite_is_refused(circle, make_user):
    group, people = circle
    invite = create_invite(actor=people["moderator"], group=group)
    Invite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    newcomer = make_user()

    with pytest.raises(InviteUnusable):
        join_with_invite(actor=newcomer, token=invite.token)

    invite.refresh_from_db()
    assert invite.uses == 0
    assert row(newcomer, group) is None
    assert not AuditEntry.objects.filter(action=A.INVITE_USED).exists()


@pytest.mark.parametrize("token", ["", "nope", "x" * 65])
def test_an_unknown_token_is_refused(circle, make_user, token):
    with pytest.raises(InviteUnusable):
        join_with_invite(actor=make_user(), token=token)


def test_an_invite_to_a_group_waiting_for_staff_is_refused(circle, make_user):
    group, people = circle
    invite = create_invite(actor=people["moderator"], group=group)
    Group.objects.filter(pk=group.pk).update(status=Group.Status.PENDING)
    newcomer = make_user()
    with pytest.raises(InviteUnusable):
        join_with_invite(actor=newcomer, token=invite.token)
    assert row(newcomer, group) is None


def test_anonymous_people_cannot_use_an_invite(circle):
    group, people = circle
    invite = create_invite(actor=people["moderator"], group=group)
    with pytest.raises(Http404):
        join_with_invite(actor=AnonymousUser(), token=invite.token)
    invite.refresh_from_db()
    assert invite.uses == 0


def test_failed_audit_write_rolls_back_an_invite_join(
    circle, make_user, monkeypatch, published, django_capture_on_commit_callbacks,
):
    group, people = circle
    invite = create_invite(actor=people["moderator"], group=group)
    newcomer = make_user()

    def fail(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("community.services.invites.record_audit", fail)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        join_with_invite(actor=newcomer, token=invite.token)

    invite.refresh_from_db()
    assert invite.uses == 0
    assert row(newcomer, group) is None
    assert Notification.objects.count() == 0
    assert published == []
