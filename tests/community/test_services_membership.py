"""Membership services: joining, asking, decisions, leaving, removal, bans and roles.

Each test checks the rows before and after, the audit entry, the notifications, the
emails and the events broadcast after commit.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from community import realtime, services
from community.models import Group, Membership, Notification
from community.services.invites import create_invite, join_with_invite
from community.services.membership import BannedError
from moderation.models import AuditEntry
from tests.conftest import add_membership

A = AuditEntry.Action
N = Notification.Kind


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


def sent_to(published, user) -> list[dict]:
    return [event for group, event in published if group == realtime.user_group(user.pk)]


def membership_events(published, user) -> list[dict]:
    return [e for e in sent_to(published, user) if e["type"] == realtime.MEMBERSHIP_CHANGED]


def notification_events(published, user) -> list[dict]:
    return [e for e in sent_to(published, user) if e["type"] == realtime.NOTIFICATION]


def row(user, group) -> Membership | None:
    return Membership.objects.filter(user=user, group=group).first()


def snapshot(user, group) -> tuple | None:
    r = row(user, group)
    if r is None:
        return None
    return (r.status, r.role, r.joined_at, r.decided_at, r.decided_by_id, r.decision_message)


def audit_for(group) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(group=group).order_by("id"))


def only_audit(group) -> AuditEntry:
    entries = audit_for(group)
    assert len(entries) == 1, [e.action for e in entries]
    return entries[0]


# --- join_open_group ---------------------------------------------------------------------


def test_join_open_group_makes_a_member_at_once_and_tells_welcomers(
    make_user, make_group, people_in, published, mailoutbox,
    django_capture_on_commit_callbacks,
):
    group = make_group(Group.Privacy.OPEN, welcome_message="Hello!")
    people = people_in(group)
    newcomer = make_user("Newcomer")
    assert row(newcomer, group) is None

    with django_capture_on_commit_callbacks(execute=True):
        membership = services.join_open_group(actor=newcomer, group=group)

    membership.refresh_from_db()
    assert membership.status == Membership.Status.APPROVED
    assert membership.role == Membership.Role.MEMBER
    assert membership.joined_at is not None
    assert Membership.objects.filter(user=newcomer, group=group).count() == 1
    entry = only_audit(group)
    assert (entry.action, entry.actor, entry.target_user, entry.group) == (
        A.MEMBER_JOINED, newcomer, newcomer, group,
    )
    assert entry.actor_name == "Newcomer"
    welcomes = Notification.objects.filter(kind=N.NEW_MEMBER, group=group)
    assert [n.user for n in welcomes] == [people["welcomer"]]
    assert "Newcomer" in welcomes[0].text
    assert [e["status"] for e in membership_events(published, newcomer)] == ["approved"]
    assert [e["notification"]["kind"] for e in notification_events(
        published, people["welcomer"])] == [N.NEW_MEMBER]
    assert notification_events(published, people["member"]) == []
    assert mailoutbox == []


@pytest.mark.parametrize("privacy", [Group.Privacy.APPROVAL, Group.Privacy.INVITE])
def test_join_open_group_is_404_for_groups_that_are_not_open(
    make_user, make_group, privacy, published, django_capture_on_commit_callbacks,
):
    group = make_group(privacy)
    outsider = make_user()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Http404):
        services.join_open_group(actor=outsider, group=group)
    assert row(outsider, group) is None
    assert audit_for(group) == []
    assert published == []


def test_joining_an_open_group_twice_keeps_one_row_and_one_audit_entry(
    make_user, make_group, published, django_capture_on_commit_callbacks,
):
    group = make_group(Group.Privacy.OPEN)
    person = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.join_open_group(actor=person, group=group)
    with django_capture_on_commit_callbacks(execute=True):
        second = services.join_open_group(actor=person, group=group)
    assert first.pk == second.pk
    assert Membership.objects.filter(user=person, group=group).count() == 1
    assert [e.action for e in audit_for(group)] == [A.MEMBER_JOINED]
    assert len(membership_events(published, person)) == 1


def test_ex_member_can_rejoin_an_open_group(
    make_group, people_in, published, django_capture_on_commit_callbacks,
):
    group = make_group(Group.Privacy.OPEN)
    person = people_in(group)["ex_member"]
    with django_capture_on_commit_callbacks(execute=True):
        services.join_open_group(actor=person, group=group)
    assert row(person, group).status == Membership.Status.APPROVED
    assert only_audit(group).action == A.MEMBER_JOINED


# --- request_membership ------------------------------------------------------------------


def test_request_membership_pairs_answers_with_questions_and_tells_moderators(
    make_user, make_group, people_in, published, mailoutbox,
    django_capture_on_commit_callbacks,
):
    group = make_group(questions=("Why join?", "Who do you care for?"))
    people = people_in(group)
    asker = make_user("Asker")
    assert row(asker, group) is None

    with django_capture_on_commit_callbacks(execute=True):
        membership = services.request_membership(
            actor=asker, group=group, answers=["  To talk.  ", "My mum."]
        )

    membership.refresh_from_db()
    assert membership.status == Membership.Status.PENDING
    assert membership.role == Membership.Role.MEMBER
    assert membership.joined_at is None
    assert membership.requested_at is not None
    assert membership.answers == [
        {"question": "Why join?", "answer": "To talk."},
        {"question": "Who do you care for?", "answer": "My mum."},
    ]
    told = Notification.objects.filter(kind=N.NEW_REQUEST, group=group)
    assert {n.user for n in told} == {people["owner"], people["moderator"]}
    assert all(n.url == f"/groups/{group.slug}/requests/" for n in told)
    for person in ("owner", "moderator"):
        assert [e["notification"]["kind"] for e in notification_events(
            published, people[person])] == [N.NEW_REQUEST]
    for person in ("member", "welcomer", "pending"):
        assert sent_to(published, people[person]) == []
    # Asking is not a moderation act: nothing in the audit log, and no email.
    assert audit_for(group) == []
    assert mailoutbox == []


def test_request_membership_reports_each_bad_answer_by_field(make_user, make_group, settings):
    group = make_group(questions=("One?", "Two?", "Three?"))
    asker = make_user()
    too_long = "x" * (settings.KINDRED_JOIN_ANSWER_MAX_LENGTH + 1)

    with pytest.raises(ValidationError) as caught:
        services.request_membership(actor=asker, group=group, answers=["   ", too_long])

    errors = caught.value.message_dict
    assert set(errors) == {"answer_0", "answer_1", "answer_2"}
    assert errors["answer_0"] == ["Please answer this question."]
    assert "characters or fewer" in errors["answer_1"][0]
    assert row(asker, group) is None
    assert Notification.objects.filter(group=group).count() == 0


def test_an_answer_at_the_length_limit_is_accepted(make_user, make_group, settings):
    group = make_group(questions=("One?",))
    asker = make_user()
    exact = "y" * settings.KINDRED_JOIN_ANSWER_MAX_LENGTH
    services.request_membership(actor=asker, group=group, answers=[exact])
    assert row(asker, group).answers == [{"question": "One?", "answer": exact}]


def test_requesting_twice_gives_one_request(
    make_user, make_group, people_in, published, django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    asker = make_user()
    with django_capture_on_commit_callbacks(execute=True):
        first = services.request_membership(actor=asker, group=group, answers=["First"])
    with django_capture_on_commit_callbacks(execute=True):
        second = services.request_membership(actor=asker, group=group, answers=["Second"])

    assert first.pk == second.pk
    assert Membership.objects.filter(user=asker, group=group).count() == 1
    assert row(asker, group).answers[0]["answer"] == "First"
    assert Notification.objects.filter(kind=N.NEW_REQUEST, user=people["owner"]).count() == 1
    assert len(notification_events(published, people["owner"])) == 1


def test_banned_person_cannot_ask_to_join_again(
    make_group, people_in, published, django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    banned = people["banned"]
    before = snapshot(banned, group)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(BannedError):
        services.request_membership(actor=banned, group=group, answers=["Please"])

    assert snapshot(banned, group) == before
    assert row(banned, group).status == Membership.Status.BANNED
    assert Notification.objects.filter(kind=N.NEW_REQUEST).count() == 0
    assert published == []


def test_declined_person_may_ask_again(
    make_group, people_in, published, django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    declined = people["declined"]
    Membership.objects.filter(pk=row(declined, group).pk).update(
        decision_message="Not this time", decided_by=people["moderator"]
    )

    with django_capture_on_commit_callbacks(execute=True):
        membership = services.request_membership(
            actor=declined, group=group, answers=["Trying again"]
        )

    membership.refresh_from_db()
    assert membership.status == Membership.Status.PENDING
    assert membership.answers == [
        {"question": "Why would you like to join?", "answer": "Trying again"}
    ]
    assert membership.decision_message == ""
    assert membership.decided_by is None
    assert Membership.objects.filter(user=declined, group=group).count() == 1
    assert len(notification_events(published, people["owner"])) == 1


def test_request_to_an_open_group_joins_at_once(make_user, make_group):
    group = make_group(Group.Privacy.OPEN)
    person = make_user()
    membership = services.request_membership(actor=person, group=group, answers=[])
    assert membership.status == Membership.Status.APPROVED


def test_request_to_an_invite_only_group_is_404(make_user, make_group):
    group = make_group(Group.Privacy.INVITE)
    person = make_user()
    with pytest.raises(Http404):
        services.request_membership(actor=person, group=group, answers=["Hi"])
    assert row(person, group) is None


# --- approve_membership / decline_membership -------------------------------------------


@pytest.mark.parametrize("decider", ["moderator", "owner", "staff"])
def test_approve_membership_makes_a_member_and_tells_requester_and_welcomers(
    make_group, people_in, decider, published, mailoutbox,
    django_capture_on_commit_callbacks,
):
    group = make_group(welcome_message="Say hi in the intro thread.")
    people = people_in(group)
    requester, actor = people["pending"], people[decider]
    request = row(requester, group)
    assert request.status == Membership.Status.PENDING

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_membership(actor=actor, membership=request, message=" Glad you came ")

    request.refresh_from_db()
    assert request.status == Membership.Status.APPROVED
    assert request.role == Membership.Role.MEMBER
    assert request.joined_at is not None
    assert request.decided_by == actor
    assert request.decision_message == "Glad you came"
    entry = only_audit(group)
    assert (entry.action, entry.actor, entry.target_user, entry.reason) == (
        A.MEMBER_APPROVED, actor, requester, "Glad you came",
    )
    assert entry.target_name == requester.display_name

    approved = Notification.objects.get(user=requester)
    assert approved.kind == N.REQUEST_APPROVED
    assert approved.group == group
    welcomes = Notification.objects.filter(kind=N.NEW_MEMBER)
    assert [n.user for n in welcomes] == [people["welcomer"]]

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [requester.email]
    assert group.name in mail.subject
    assert "Glad you came" in mail.body
    assert "Say hi in the intro thread." in mail.body

    assert [e["notification"]["kind"] for e in notification_events(
        published, requester)] == [N.REQUEST_APPROVED]
    assert [e["status"] for e in membership_events(published, requester)] == ["approved"]
    assert [e["notification"]["kind"] for e in notification_events(
        published, people["welcomer"])] == [N.NEW_MEMBER]


@pytest.mark.parametrize("decider", ["member", "welcomer", "muted", "pending", "outsider",
                                     "banned", "ex_member"])
@pytest.mark.parametrize("decision", ["approve_membership", "decline_membership"])
def test_only_moderators_decide_requests(
    make_group, people_in, decider, decision, published, mailoutbox,
    django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    # "pending" deciding on their own request is the denied case for them too.
    request = row(people["pending"], group)
    before = snapshot(people["pending"], group)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Http404):
        getattr(services, decision)(actor=people[decider], membership=request, message="x")

    assert snapshot(people["pending"], group) == before
    assert audit_for(group) == []
    assert Notification.objects.count() == 0
    assert published == []
    assert mailoutbox == []


@pytest.mark.parametrize("standing", ["member", "declined", "banned", "ex_member"])
@pytest.mark.parametrize("decision", ["approve_membership", "decline_membership"])
def test_only_pending_requests_can_be_decided(make_group, people_in, standing, decision):
    group = make_group()
    people = people_in(group)
    target = row(people[standing], group)
    before = snapshot(people[standing], group)

    with pytest.raises(ValidationError):
        getattr(services, decision)(actor=people["moderator"], membership=target)

    assert snapshot(people[standing], group) == before
    assert audit_for(group) == []


def test_decline_membership_tells_the_requester_with_the_message(
    make_group, people_in, published, mailoutbox, django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    requester, moderator = people["pending"], people["moderator"]
    request = row(requester, group)

    with django_capture_on_commit_callbacks(execute=True):
        services.decline_membership(
            actor=moderator, membership=request, message="We are full for now."
        )

    request.refresh_from_db()
    assert request.status == Membership.Status.DECLINED
    assert request.joined_at is None
    assert request.decided_by == moderator
    assert request.decided_at is not None
    assert request.decision_message == "We are full for now."
    entry = only_audit(group)
    assert (entry.action, entry.actor, entry.target_user, entry.reason) == (
        A.MEMBER_DECLINED, moderator, requester, "We are full for now.",
    )
    assert Notification.objects.get(user=requester).kind == N.REQUEST_DECLINED
    assert Notification.objects.filter(kind=N.NEW_MEMBER).count() == 0
    assert [m.to for m in mailoutbox] == [[requester.email]]
    assert group.name in mailoutbox[0].subject
    assert "We are full for now." in mailoutbox[0].body
    assert [e["notification"]["kind"] for e in notification_events(
        published, requester)] == [N.REQUEST_DECLINED]
    assert sent_to(published, people["welcomer"]) == []


def test_decline_without_a_message_still_emails_the_requester(
    make_group, people_in, mailoutbox, django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    with django_capture_on_commit_callbacks(execute=True):
        services.decline_membership(actor=people["owner"], membership=row(people["pending"], group))
    assert len(mailoutbox) == 1
    assert only_audit(group).reason == ""


# --- leave_group ---------------------------------------------------------------------------


def test_member_leaves_a_group(
    make_group, people_in, published, django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    member = people["moderator"]

    with django_capture_on_commit_callbacks(execute=True):
        services.leave_group(actor=member, group=group)

    left = row(member, group)
    assert (left.status, left.role) == (Membership.Status.LEFT, Membership.Role.MEMBER)
    entry = only_audit(group)
    assert (entry.action, entry.actor, entry.target_user) == (A.MEMBER_LEFT, member, member)
    assert [e["status"] for e in membership_events(published, member)] == ["left"]


def test_last_owner_cannot_leave(
    make_group, people_in, published, django_capture_on_commit_callbacks,
):
    group = make_group()
    owner = people_in(group)["owner"]
    before = snapshot(owner, group)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        services.leave_group(actor=owner, group=group)

    assert snapshot(owner, group) == before
    assert audit_for(group) == []
    assert published == []


def test_an_owner_may_leave_while_another_owner_remains(make_group, people_in):
    group = make_group()
    people = people_in(group)
    Membership.objects.filter(user=people["moderator"], group=group).update(role="owner")
    services.leave_group(actor=people["owner"], group=group)
    assert row(people["owner"], group).status == Membership.Status.LEFT
    assert Membership.objects.filter(group=group, role="owner", status="approved").count() == 1


@pytest.mark.parametrize("standing", ["outsider", "pending", "banned", "ex_member"])
def test_leaving_a_group_you_are_not_in_is_404(make_group, people_in, standing):
    group = make_group()
    person = people_in(group)[standing]
    before = snapshot(person, group)
    with pytest.raises(Http404):
        services.leave_group(actor=person, group=group)
    assert snapshot(person, group) == before
    assert audit_for(group) == []


# --- remove_member -----------------------------------------------------------------------


@pytest.mark.parametrize("sanction", ["remove_member", "ban_member"])
@pytest.mark.parametrize("reason", ["", "   "])
def test_removal_and_ban_need_a_reason(make_group, people_in, sanction, reason):
    group = make_group()
    people = people_in(group)
    before = snapshot(people["member"], group)
    with pytest.raises(ValidationError) as caught:
        getattr(services, sanction)(
            actor=people["moderator"], membership=row(people["member"], group), reason=reason
        )
    assert "reason" in caught.value.message_dict
    assert snapshot(people["member"], group) == before
    assert audit_for(group) == []


def test_moderator_removes_a_member(
    make_group, people_in, published, mailoutbox, django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    member, moderator = people["welcomer"], people["moderator"]

    with django_capture_on_commit_callbacks(execute=True):
        services.remove_member(
            actor=moderator, membership=row(member, group), reason=" Spam links "
        )

    removed = row(member, group)
    assert (removed.status, removed.role) == (Membership.Status.REMOVED, Membership.Role.MEMBER)
    assert removed.decided_by == moderator
    entry = only_audit(group)
    assert (entry.action, entry.actor, entry.target_user, entry.reason) == (
        A.MEMBER_REMOVED, moderator, member, "Spam links",
    )
    assert Notification.objects.get(user=member).kind == N.REMOVED
    assert [e["status"] for e in membership_events(published, member)] == ["removed"]
    assert [e["notification"]["kind"] for e in notification_events(
        published, member)] == [N.REMOVED]
    assert mailoutbox == []


@pytest.mark.parametrize("sanction", ["remove_member", "ban_member"])
@pytest.mark.parametrize("target", ["owner", "moderator"])
def test_moderator_cannot_remove_or_ban_owners_or_moderators(
    make_group, people_in, make_user, sanction, target,
):
    group = make_group()
    people = people_in(group)
    other_moderator = make_user()
    add_membership(other_moderator, group, "approved", "moderator")
    victim = people[target] if target == "owner" else other_moderator
    before = snapshot(victim, group)

    with pytest.raises(ValidationError):
        getattr(services, sanction)(
            actor=people["moderator"], membership=row(victim, group), reason="Because"
        )

    assert snapshot(victim, group) == before
    assert audit_for(group) == []


@pytest.mark.parametrize("sanction", ["remove_member", "ban_member"])
def test_owner_can_remove_or_ban_a_moderator(make_group, people_in, sanction):
    group = make_group()
    people = people_in(group)
    getattr(services, sanction)(
        actor=people["owner"], membership=row(people["moderator"], group), reason="Misuse"
    )
    after = row(people["moderator"], group)
    assert after.status in (Membership.Status.REMOVED, Membership.Status.BANNED)
    assert after.role == Membership.Role.MEMBER
    assert only_audit(group).actor == people["owner"]


@pytest.mark.parametrize("sanction", ["remove_member", "ban_member", "unban_member"])
@pytest.mark.parametrize("actor", ["member", "welcomer", "outsider", "banned"])
def test_non_moderators_cannot_remove_or_ban(make_group, people_in, sanction, actor):
    group = make_group()
    people = people_in(group)
    target = people["banned"] if sanction == "unban_member" else people["muted"]
    before = snapshot(target, group)
    with pytest.raises(Http404):
        getattr(services, sanction)(
            actor=people[actor], membership=row(target, group), reason="No"
        )
    assert snapshot(target, group) == before
    assert audit_for(group) == []


@pytest.mark.parametrize("sanction", ["remove_member", "ban_member"])
def test_last_owner_is_protected_even_from_staff(make_group, people_in, sanction):
    group = make_group()
    people = people_in(group)
    before = snapshot(people["owner"], group)
    with pytest.raises(ValidationError):
        getattr(services, sanction)(
            actor=people["staff"], membership=row(people["owner"], group), reason="Test"
        )
    assert snapshot(people["owner"], group) == before
    assert audit_for(group) == []


def test_owner_can_remove_another_owner_while_one_remains(make_group, people_in):
    group = make_group()
    people = people_in(group)
    Membership.objects.filter(user=people["moderator"], group=group).update(role="owner")
    services.remove_member(
        actor=people["owner"], membership=row(people["moderator"], group), reason="Stepping down"
    )
    assert row(people["moderator"], group).status == Membership.Status.REMOVED
    assert Membership.objects.filter(group=group, role="owner", status="approved").count() == 1


def test_nobody_can_remove_themselves(make_group, people_in):
    group = make_group()
    people = people_in(group)
    with pytest.raises(ValidationError):
        services.remove_member(
            actor=people["moderator"], membership=row(people["moderator"], group), reason="Me"
        )
    assert row(people["moderator"], group).status == Membership.Status.APPROVED


def test_removing_someone_who_is_not_a_member_is_refused(make_group, people_in):
    group = make_group()
    people = people_in(group)
    with pytest.raises(ValidationError):
        services.remove_member(
            actor=people["moderator"], membership=row(people["pending"], group), reason="No"
        )
    assert row(people["pending"], group).status == Membership.Status.PENDING
    assert audit_for(group) == []


# --- ban_member / unban_member ---------------------------------------------------------------


def test_moderator_bans_a_member(
    make_group, people_in, published, django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    member, moderator = people["member"], people["moderator"]

    with django_capture_on_commit_callbacks(execute=True):
        services.ban_member(actor=moderator, membership=row(member, group), reason="Abuse")

    banned = row(member, group)
    assert (banned.status, banned.role) == (Membership.Status.BANNED, Membership.Role.MEMBER)
    assert banned.decided_by == moderator
    entry = only_audit(group)
    assert (entry.action, entry.actor, entry.target_user, entry.reason) == (
        A.MEMBER_BANNED, moderator, member, "Abuse",
    )
    assert Notification.objects.get(user=member).kind == N.BANNED
    assert [e["status"] for e in membership_events(published, member)] == ["banned"]


def test_banning_twice_writes_one_audit_entry(make_group, people_in):
    group = make_group()
    people = people_in(group)
    for _ in range(2):
        services.ban_member(
            actor=people["moderator"], membership=row(people["member"], group), reason="Abuse"
        )
    assert [e.action for e in audit_for(group)] == [A.MEMBER_BANNED]


def test_a_pending_requester_can_be_banned(make_group, people_in):
    group = make_group()
    people = people_in(group)
    services.ban_member(
        actor=people["moderator"], membership=row(people["pending"], group), reason="Spam"
    )
    assert row(people["pending"], group).status == Membership.Status.BANNED
    assert only_audit(group).action == A.MEMBER_BANNED


def test_banned_member_cannot_rejoin_an_open_group(
    make_group, people_in, published, django_capture_on_commit_callbacks,
):
    group = make_group(Group.Privacy.OPEN)
    people = people_in(group)
    member = people["member"]
    services.ban_member(actor=people["moderator"], membership=row(member, group), reason="Abuse")
    published.clear()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(BannedError):
        services.join_open_group(actor=member, group=group)

    assert row(member, group).status == Membership.Status.BANNED
    assert [e.action for e in audit_for(group)] == [A.MEMBER_BANNED]
    assert published == []


@pytest.mark.parametrize("privacy", [Group.Privacy.APPROVAL, Group.Privacy.INVITE])
def test_banned_member_cannot_rejoin_with_an_invite(make_group, people_in, privacy):
    group = make_group(privacy)
    people = people_in(group)
    member = people["member"]
    services.ban_member(actor=people["moderator"], membership=row(member, group), reason="Abuse")
    invite = create_invite(actor=people["moderator"], group=group)

    with pytest.raises(BannedError):
        join_with_invite(actor=member, token=invite.token)

    invite.refresh_from_db()
    assert invite.uses == 0
    assert row(member, group).status == Membership.Status.BANNED
    assert AuditEntry.objects.filter(group=group, action=A.INVITE_USED).count() == 0


def test_unban_lifts_the_ban_so_the_person_may_come_back(
    make_group, people_in, published, django_capture_on_commit_callbacks,
):
    group = make_group(Group.Privacy.OPEN)
    people = people_in(group)
    banned, moderator = people["banned"], people["moderator"]

    with django_capture_on_commit_callbacks(execute=True):
        services.unban_member(actor=moderator, membership=row(banned, group), reason="Appeal")

    assert row(banned, group).status == Membership.Status.REMOVED
    entry = only_audit(group)
    assert (entry.action, entry.actor, entry.target_user, entry.reason) == (
        A.MEMBER_UNBANNED, moderator, banned, "Appeal",
    )
    services.join_open_group(actor=banned, group=group)
    assert row(banned, group).status == Membership.Status.APPROVED


# --- set_role --------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_owner_or_staff_appoints_a_moderator(
    make_group, people_in, actor, published, django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    member = people["member"]

    with django_capture_on_commit_callbacks(execute=True):
        services.set_role(actor=people[actor], membership=row(member, group), role="moderator",
                          reason="Steady hand")

    assert row(member, group).role == Membership.Role.MODERATOR
    entry = only_audit(group)
    assert (entry.action, entry.actor, entry.target_user, entry.reason) == (
        A.ROLE_CHANGED, people[actor], member, "Steady hand",
    )
    assert entry.detail == {"from": "member", "to": "moderator"}
    notice = Notification.objects.get(user=member)
    assert notice.kind == N.ROLE_CHANGED
    assert "Moderator" in notice.text
    assert [e["role"] for e in membership_events(published, member)] == ["moderator"]
    assert [e["notification"]["kind"] for e in notification_events(
        published, member)] == [N.ROLE_CHANGED]


@pytest.mark.parametrize("actor", ["moderator", "welcomer", "member", "outsider", "pending"])
def test_only_owners_and_staff_set_roles(make_group, people_in, actor):
    group = make_group()
    people = people_in(group)
    before = snapshot(people["muted"], group)
    with pytest.raises(Http404):
        services.set_role(actor=people[actor], membership=row(people["muted"], group),
                          role="moderator")
    assert snapshot(people["muted"], group) == before
    assert audit_for(group) == []


@pytest.mark.parametrize("actor", ["owner", "staff"])
def test_demoting_the_last_owner_is_refused(make_group, people_in, actor):
    group = make_group()
    people = people_in(group)
    with pytest.raises(ValidationError):
        services.set_role(actor=people[actor], membership=row(people["owner"], group),
                          role="member")
    assert row(people["owner"], group).role == Membership.Role.OWNER
    assert audit_for(group) == []


def test_owner_hands_over_and_then_steps_down(make_group, people_in):
    group = make_group()
    people = people_in(group)
    owner, successor = people["owner"], people["moderator"]
    services.set_role(actor=owner, membership=row(successor, group), role="owner")
    services.set_role(actor=owner, membership=row(owner, group), role="moderator")

    assert row(successor, group).role == Membership.Role.OWNER
    assert row(owner, group).role == Membership.Role.MODERATOR
    assert [(e.action, e.detail) for e in audit_for(group)] == [
        (A.ROLE_CHANGED, {"from": "moderator", "to": "owner"}),
        (A.ROLE_CHANGED, {"from": "owner", "to": "moderator"}),
    ]
    # The new owner now manages roles; the old one no longer can.
    services.set_role(actor=successor, membership=row(people["member"], group), role="welcomer")
    with pytest.raises(Http404):
        services.set_role(actor=owner, membership=row(people["member"], group), role="member")


def test_setting_an_unknown_role_is_refused(make_group, people_in):
    group = make_group()
    people = people_in(group)
    with pytest.raises(ValidationError) as caught:
        services.set_role(actor=people["owner"], membership=row(people["member"], group),
                          role="king")
    assert "role" in caught.value.message_dict
    assert row(people["member"], group).role == Membership.Role.MEMBER


def test_only_members_can_be_given_a_role(make_group, people_in):
    group = make_group()
    people = people_in(group)
    with pytest.raises(ValidationError):
        services.set_role(actor=people["owner"], membership=row(people["pending"], group),
                          role="moderator")
    assert row(people["pending"], group).role == Membership.Role.MEMBER
    assert audit_for(group) == []


def test_setting_the_same_role_changes_nothing(make_group, people_in):
    group = make_group()
    people = people_in(group)
    services.set_role(actor=people["owner"], membership=row(people["moderator"], group),
                      role="moderator")
    assert audit_for(group) == []
    assert Notification.objects.count() == 0


# --- one transaction: a failed audit write undoes the act ---------------------------------


@pytest.fixture
def broken_audit(monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("community.services.membership.record_audit", fail)


def test_failed_audit_write_rolls_back_a_ban(
    make_group, people_in, broken_audit, published, mailoutbox,
    django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    before = snapshot(people["member"], group)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.ban_member(actor=people["moderator"], membership=row(people["member"], group),
                            reason="Abuse")

    assert snapshot(people["member"], group) == before
    assert Notification.objects.count() == 0
    assert AuditEntry.objects.count() == 0
    assert published == []
    assert mailoutbox == []


def test_failed_audit_write_rolls_back_an_approval(
    make_group, people_in, broken_audit, published, mailoutbox,
    django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    before = snapshot(people["pending"], group)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.approve_membership(actor=people["moderator"],
                                    membership=row(people["pending"], group), message="Hi")

    assert snapshot(people["pending"], group) == before
    assert Notification.objects.count() == 0
    assert published == []
    assert mailoutbox == []


def test_failed_audit_write_rolls_back_a_join(
    make_user, make_group, people_in, broken_audit, published,
    django_capture_on_commit_callbacks,
):
    group = make_group(Group.Privacy.OPEN)
    people_in(group)
    newcomer = make_user()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.join_open_group(actor=newcomer, group=group)

    assert row(newcomer, group) is None
    assert Notification.objects.count() == 0
    assert published == []


def test_failed_audit_write_rolls_back_a_role_change(
    make_group, people_in, broken_audit, published, django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.set_role(actor=people["owner"], membership=row(people["member"], group),
                          role="moderator")
    assert row(people["member"], group).role == Membership.Role.MEMBER
    assert Notification.objects.count() == 0
    assert published == []


@pytest.mark.parametrize(
    ("act", "target", "kwargs"),
    [
        ("decline_membership", "pending", {"message": "No"}),
        ("remove_member", "member", {"reason": "Spam"}),
        ("unban_member", "banned", {"reason": "Appeal"}),
    ],
)
def test_failed_audit_write_rolls_back_every_moderation_act(
    make_group, people_in, broken_audit, published, mailoutbox, act, target, kwargs,
    django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    before = snapshot(people[target], group)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        getattr(services, act)(actor=people["owner"], membership=row(people[target], group),
                               **kwargs)

    assert snapshot(people[target], group) == before
    assert Notification.objects.count() == 0
    assert published == []
    assert mailoutbox == []


def test_failed_audit_write_rolls_back_leaving(
    make_group, people_in, broken_audit, published, django_capture_on_commit_callbacks,
):
    group = make_group()
    people = people_in(group)
    before = snapshot(people["member"], group)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        services.leave_group(actor=people["member"], group=group)
    assert snapshot(people["member"], group) == before
    assert published == []
