"""Appeals: the author asks once, someone other than the decider reviews, and overturning
undoes the decision (content back, mute or ban lifted)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from community.models import Group, Membership, Notification, User
from moderation.models import Appeal, AuditEntry, Case
from moderation.services.appeals import appeal_decision, can_appeal, decide_appeal
from moderation.services.cases import flag_content, resolve_case
from tests.conftest import add_membership
from tests.moderation.test_flags_and_cases import (
    FAST_HASHERS,
    HIDEABLE,
    Room,
    actions,
    build_room,
    make_message,
    state,
)

A = AuditEntry.Action
D = Case.Decision


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def room(make_user, make_group) -> Room:
    return build_room(make_user, make_group)


def decided(room: Room, decision: str = D.REMOVE, kind: str = "chat_message", *,
            by: User | None = None, **extra) -> Case:
    """Ada's item, flagged by Ben and decided (by `mod` unless told)."""
    case = room.flag(room.ben, kind, "bullying")
    current = Case.objects.get(pk=case.pk)
    resolve_case(actor=by or room.mod, case=current, decision=decision,
                 reason="That was unkind.", version=current.version, **extra)
    return Case.objects.get(pk=case.pk)


def appeal(room: Room, case: Case, note: str = "I was quoting someone else.") -> Appeal:
    return appeal_decision(actor=User.objects.get(pk=room.ada.pk), case=case, note=note)


def ada_row(room: Room) -> Membership:
    return Membership.objects.get(user=room.ada, group=room.group)


# --- making an appeal -----------------------------------------------------------------------


def test_the_author_appeals_and_another_on_duty_moderator_is_asked(room, make_user):
    mod2 = make_user("Pia Second")
    add_membership(mod2, room.group, "approved", "moderator")  # on duty, highest id
    case = decided(room)
    assert can_appeal(room.ada, case)

    made = appeal(room, case)

    stored = Appeal.objects.get()
    assert stored.pk == made.pk
    assert (stored.case_id, stored.author_id, stored.status) == (
        case.pk, room.ada.pk, Appeal.Status.OPEN)
    assert stored.note == "I was quoting someone else."
    # the owner and Niamh are off duty (and older): the on-duty moderator comes first
    assert stored.assigned_to_id == mod2.pk
    [told] = Notification.objects.filter(kind="appeal")
    assert told.user_id == mod2.pk and told.url == f"/moderation/cases/{case.pk}/"
    [entry] = actions(A.APPEAL_MADE)
    assert (entry.actor_id, entry.target_user_id, entry.reason) == (
        room.ada.pk, room.ada.pk, "I was quoting someone else.")
    assert not can_appeal(room.ada, case)


def test_with_nobody_else_on_duty_another_moderator_is_asked(room):
    case = decided(room)  # by mod, the only one on duty
    assert appeal(room, case).assigned_to_id == room.owner.pk  # off duty, but not the decider


def test_when_the_decider_is_the_only_moderator_staff_review(make_user, make_group):
    owner = make_user("Solo Owner")
    group = make_group(Group.Privacy.OPEN, owner=owner)
    author, flagger = make_user("Ana Author"), make_user("Fin Flagger")
    staff = make_user("Sid Staff", staff=True)
    add_membership(author, group, "approved")
    add_membership(flagger, group, "approved")
    message = make_message(group, author, "Words")
    case = flag_content(actor=flagger, kind="chat_message", item_id=message.pk, reason="spam")
    case = Case.objects.get(pk=case.pk)
    resolve_case(actor=owner, case=case, decision=D.HIDE, reason="Advertising.",
                 version=case.version)

    made = appeal_decision(actor=author, case=Case.objects.get(pk=case.pk), note="It wasn't")

    assert made.assigned_to_id == staff.pk
    decide_appeal(actor=staff, appeal=made, uphold=False, reason="Fine after all.")
    message.refresh_from_db()
    assert message.status == "published"


def test_an_appeal_is_made_once_only(room):
    case = decided(room)
    appeal(room, case)
    with pytest.raises(ValidationError):
        appeal(room, Case.objects.get(pk=case.pk), note="Please, again")
    assert Appeal.objects.count() == 1
    assert len(actions(A.APPEAL_MADE)) == 1


def test_no_second_appeal_after_the_first_is_decided(room):
    case = decided(room)
    made = appeal(room, case)
    decide_appeal(actor=room.owner, appeal=made, uphold=True, reason="It stands.")
    assert not can_appeal(room.ada, case)
    with pytest.raises(ValidationError):
        appeal(room, case, note="One more try")
    assert Appeal.objects.count() == 1


@pytest.mark.parametrize(("note", "why"), [("", "empty"), ("   ", "blank"),
                                           ("n" * 2001, "too long")])
def test_an_appeal_needs_a_short_note(room, note, why):
    case = decided(room)
    with pytest.raises(ValidationError) as refused:
        appeal(room, case, note=note)
    assert "note" in refused.value.message_dict, why
    assert not Appeal.objects.exists()


def test_only_the_author_may_appeal(room):
    case = decided(room)
    for person in (room.ben, room.mod, room.owner, room.staff, room.outsider):
        with pytest.raises(Http404):
            appeal_decision(actor=person, case=case, note="On her behalf")
        assert not can_appeal(person, case)
    assert not Appeal.objects.exists()


@pytest.mark.parametrize("decision", [D.KEEP, D.ESCALATE])
def test_keep_and_escalate_cannot_be_appealed(room, decision):
    case = decided(room, decision)
    assert not can_appeal(room.ada, case)
    with pytest.raises(ValidationError):
        appeal(room, case)


def test_an_open_case_cannot_be_appealed(room):
    case = Case.objects.get(pk=room.flag(room.ben, "post", "spam").pk)
    with pytest.raises(ValidationError):
        appeal(room, case)


# --- reviewing it ---------------------------------------------------------------------------


def test_the_moderator_who_decided_cannot_review_the_appeal(room):
    case = decided(room)
    made = appeal(room, case)
    with pytest.raises(ValidationError):
        decide_appeal(actor=room.mod, appeal=made, uphold=False, reason="I changed my mind")
    assert Appeal.objects.get().status == Appeal.Status.OPEN
    assert state(room, "chat_message") == "removed"


def test_people_who_cannot_moderate_the_group_cannot_review(room):
    case = decided(room)
    made = appeal(room, case)
    other_owner = room.other_group.memberships.get(role="owner").user
    for person in (room.ada, room.ben, other_owner, room.stranger):
        with pytest.raises(Http404):
            decide_appeal(actor=person, appeal=made, uphold=False, reason="Overturned")
    assert Appeal.objects.get().status == Appeal.Status.OPEN


@pytest.mark.parametrize("reason", ["", "   "])
def test_reviewing_needs_a_reason(room, reason):
    made = appeal(room, decided(room))
    with pytest.raises(ValidationError):
        decide_appeal(actor=room.owner, appeal=made, uphold=True, reason=reason)
    assert Appeal.objects.get().status == Appeal.Status.OPEN


def test_upholding_keeps_the_decision_and_tells_the_author(room):
    case = decided(room, D.REMOVE, "post")
    made = appeal(room, case)

    decided_appeal = decide_appeal(actor=room.mod_off, appeal=made, uphold=True,
                                   reason="The post was unkind.")

    stored = Appeal.objects.get()
    assert stored.pk == decided_appeal.pk
    assert (stored.status, stored.decided_by_id, stored.outcome_reason) == (
        Appeal.Status.UPHELD, room.mod_off.pk, "The post was unkind.")
    assert stored.decided_at is not None
    assert state(room, "post") == "removed"
    [told] = Notification.objects.filter(user=room.ada, kind="appeal")
    assert "stands" in told.text and "The post was unkind." in told.text
    [entry] = actions(A.APPEAL_DECIDED)
    assert entry.detail == {"case_id": case.pk, "upheld": True}
    assert entry.actor_id == room.mod_off.pk


def test_an_appeal_is_decided_once(room):
    made = appeal(room, decided(room))
    decide_appeal(actor=room.owner, appeal=made, uphold=True, reason="Stands.")
    with pytest.raises(ValidationError):
        decide_appeal(actor=room.mod_off, appeal=made, uphold=False, reason="Overturn")
    assert Appeal.objects.get().status == Appeal.Status.UPHELD
    assert state(room, "chat_message") == "removed"


@pytest.mark.parametrize("kind", HIDEABLE)
@pytest.mark.parametrize("decision", [D.HIDE, D.REMOVE, D.REMOVE_AND_WARN])
def test_overturning_restores_the_content(room, kind, decision):
    case = decided(room, decision, kind)
    assert state(room, kind) != "published"
    made = appeal(room, case)

    decide_appeal(actor=room.owner, appeal=made, uphold=False, reason="It was fine.")

    assert state(room, kind) == "published"
    assert Appeal.objects.get().status == Appeal.Status.OVERTURNED
    [told] = Notification.objects.filter(user=room.ada, kind="appeal")
    assert "changed" in told.text
    assert actions(A.APPEAL_DECIDED)[0].detail == {"case_id": case.pk, "upheld": False}


@pytest.mark.parametrize("decision", [D.REMOVE_MEMBER, D.BAN])
def test_overturning_a_removal_or_ban_also_restores_the_content_it_took_down(room, decision):
    case = decided(room, decision, "post")
    assert state(room, "post") == "removed"
    decide_appeal(actor=room.owner, appeal=appeal(room, case), uphold=False,
                  reason="That was too harsh.")
    assert state(room, "post") == "published"


def test_overturning_a_mute_lifts_it(room):
    case = decided(room, D.MUTE)
    assert ada_row(room).muted_until > timezone.now() + timedelta(hours=23)

    decide_appeal(actor=room.owner, appeal=appeal(room, case), uphold=False,
                  reason="You weren't to know.")

    assert ada_row(room).muted_until is None
    [unmuted] = actions(A.MEMBER_UNMUTED)
    assert (unmuted.actor_id, unmuted.target_user_id) == (room.owner.pk, room.ada.pk)


def test_upholding_a_mute_leaves_it(room):
    case = decided(room, D.MUTE)
    decide_appeal(actor=room.owner, appeal=appeal(room, case), uphold=True, reason="Stands.")
    assert ada_row(room).muted_until is not None
    assert not actions(A.MEMBER_UNMUTED)


def test_overturning_a_ban_lifts_it(room):
    case = decided(room, D.BAN)
    assert ada_row(room).status == "banned"

    decide_appeal(actor=room.mod_off, appeal=appeal(room, case), uphold=False,
                  reason="Sorry, our mistake.")

    assert ada_row(room).status != "banned"
    [unbanned] = actions(A.MEMBER_UNBANNED)
    assert unbanned.target_user_id == room.ada.pk


def test_upholding_a_ban_leaves_it(room):
    case = decided(room, D.BAN)
    decide_appeal(actor=room.staff, appeal=appeal(room, case), uphold=True, reason="Stands.")
    assert ada_row(room).status == "banned"


def test_overturning_a_hidden_profile_gives_the_words_back(room):
    """A profile case decided "hide" and then overturned: the about text returns."""
    case = Case.objects.create(group=room.group, kind="profile", profile=room.ada,
                               author=room.ada)
    resolve_case(actor=room.mod, case=case, decision=D.HIDE, reason="Contact details.",
                 version=case.version)
    assert User.objects.get(pk=room.ada.pk).about == ""

    decide_appeal(actor=room.owner, appeal=appeal(room, Case.objects.get(pk=case.pk)),
                  uphold=False, reason="No details after all.")

    assert User.objects.get(pk=room.ada.pk).about == "I like long walks."
