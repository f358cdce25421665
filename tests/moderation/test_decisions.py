"""Claiming and deciding cases: every decision's effect, audit entries and notifications,
the optimistic version check, and real claim/decision races on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.utils import timezone

from community import realtime
from community.models import Membership, Notification, User
from moderation import items as item_kinds
from moderation.models import AuditEntry, Case, Flag
from moderation.services.cases import CASE_EVENT, claim_case, resolve_case
from tests.conftest import add_membership, need_service
from tests.moderation.test_flags_and_cases import (
    FAST_HASHERS,
    HIDEABLE,
    Room,
    actions,
    build_room,
    notified,
    removed_frames,
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


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, dict]]:
    events: list[tuple[str, dict]] = []
    monkeypatch.setattr(realtime, "publish", lambda group, event: events.append((group, event)))
    return events


def flagged(room: Room, kind: str = "chat_message", *, by=("ben", "cat"),
            reason: str = "bullying") -> Case:
    """A case on Ada's item, flagged by Ben and Cat (not enough to hide it)."""
    case = None
    for name in by:
        case = room.flag(getattr(room, name), kind, reason)
    return Case.objects.get(pk=case.pk)


def decide(case: Case, decision: str, actor: User, reason: str = "Please be kind here.",
           **extra) -> Case:
    current = Case.objects.get(pk=case.pk)
    return resolve_case(actor=actor, case=current, decision=decision, reason=reason,
                        version=current.version, **extra)


def membership(room: Room, user: User | None = None) -> Membership:
    return Membership.objects.get(user=user or room.ada, group=room.group)


# --- claims -----------------------------------------------------------------------------------


def test_a_moderator_claims_a_case(room):
    case = flagged(room)
    claimed = claim_case(actor=room.mod, case=case)

    stored = Case.objects.get(pk=case.pk)
    assert stored.claimed_by_id == room.mod.pk and stored.claimed_at is not None
    assert stored.first_action_at == stored.claimed_at
    assert stored.version == case.version + 1 == claimed.version
    [entry] = actions(A.CASE_CLAIMED)
    assert (entry.actor_id, entry.detail) == (room.mod.pk, {"case_id": case.pk})


def test_a_second_moderator_is_refused_while_the_claim_is_fresh(room):
    case = flagged(room)
    claim_case(actor=room.mod, case=case)
    Case.objects.filter(pk=case.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=29))
    before = Case.objects.values().get(pk=case.pk)

    with pytest.raises(ValidationError) as refused:
        claim_case(actor=room.mod_off, case=case)

    assert "Mo Moderator" in refused.value.messages[0]
    assert Case.objects.values().get(pk=case.pk) == before
    assert len(actions(A.CASE_CLAIMED)) == 1
    claim_case(actor=room.mod, case=case)  # the claimer may take it again
    assert Case.objects.get(pk=case.pk).claimed_by_id == room.mod.pk


def test_another_moderator_may_claim_once_the_claim_is_stale(room):
    case = flagged(room)
    claim_case(actor=room.mod, case=case)
    Case.objects.filter(pk=case.pk).update(
        claimed_at=timezone.now() - timedelta(minutes=31))

    claim_case(actor=room.mod_off, case=case)

    assert Case.objects.get(pk=case.pk).claimed_by_id == room.mod_off.pk


def test_claims_are_for_the_groups_moderators_and_staff(room, make_user, make_group):
    case = flagged(room)
    other_owner = room.other_group.memberships.get(role="owner").user
    for person in (room.ada, room.ben, other_owner, room.stranger, room.outsider):
        with pytest.raises(Http404):
            claim_case(actor=person, case=case)
    assert not actions(A.CASE_CLAIMED)
    claim_case(actor=room.staff, case=case)
    assert Case.objects.get(pk=case.pk).claimed_by_id == room.staff.pk


def test_a_decided_case_cannot_be_claimed(room):
    case = flagged(room)
    decide(case, D.KEEP, room.mod)
    with pytest.raises(ValidationError):
        claim_case(actor=room.mod_off, case=case)


# --- every decision ---------------------------------------------------------------------------

ITEM_AFTER = {
    D.KEEP: "published", D.HIDE: "hidden", D.REMOVE: "removed", D.REMOVE_AND_WARN: "removed",
    D.MUTE: "published", D.REMOVE_MEMBER: "removed", D.BAN: "removed",
    D.ESCALATE: "published",
}
MEMBER_AUDIT = {
    D.REMOVE_AND_WARN: A.MEMBER_WARNED, D.MUTE: A.MEMBER_MUTED,
    D.REMOVE_MEMBER: A.MEMBER_REMOVED, D.BAN: A.MEMBER_BANNED,
}


@pytest.mark.parametrize("kind", HIDEABLE)
@pytest.mark.parametrize("decision", [d for d in D.values if d != D.ESCALATE])
def test_each_decision_writes_audits_and_notifies(room, kind, decision, mailoutbox,
                                                  django_capture_on_commit_callbacks):
    case = flagged(room, kind)
    version = case.version

    with django_capture_on_commit_callbacks(execute=True):
        result = decide(case, decision, room.mod, reason="  Please keep it kind.  ")

    stored = Case.objects.get(pk=case.pk)
    assert result.pk == stored.pk
    assert (stored.status, stored.decision, stored.decision_reason) == (
        Case.Status.RESOLVED, decision, "Please keep it kind.")
    assert stored.resolved_by_id == room.mod.pk and stored.resolved_at is not None
    assert stored.first_action_at is not None
    assert stored.version == version + 1
    assert state(room, kind) == ITEM_AFTER[decision]
    [entry] = actions(A.CASE_DECIDED)
    assert (entry.actor_id, entry.target_user_id, entry.reason, entry.detail) == (
        room.mod.pk, room.ada.pk, "Please keep it kind.",
        {"case_id": case.pk, "decision": decision})
    if decision in MEMBER_AUDIT:
        [member_entry] = actions(MEMBER_AUDIT[decision])
        assert (member_entry.actor_id, member_entry.target_user_id) == (
            room.mod.pk, room.ada.pk)
    # the author hears the decision and its reason, never who flagged
    told_author = Notification.objects.filter(user=room.ada, kind="case_decision")
    if decision == D.KEEP:
        assert not told_author.exists()
    else:
        [note] = told_author
        assert "Please keep it kind." in note.text
        assert note.url == f"/moderation/cases/{case.pk}/appeal/"
    everything_ada_saw = " ".join(
        [n.text for n in Notification.objects.filter(user=room.ada)]
        + [m.subject + m.body for m in mailoutbox if room.ada.email in m.to])
    for flagger in (room.ben, room.cat):
        assert flagger.display_name not in everything_ada_saw
    # the flaggers are thanked; the deciding moderator is not
    assert notified("flag_reviewed") == {room.ben.pk, room.cat.pk}
    assert all("taken a look" in n.text
               for n in Notification.objects.filter(kind="flag_reviewed"))


def test_keep_restores_an_auto_hidden_item(room):
    for kind in HIDEABLE:
        flagged(room, kind, by=("ben", "cat", "dan"))
        assert state(room, kind) == "hidden"
    for case in Case.objects.all():
        decide(case, D.KEEP, room.mod, reason="This is fine.")
    for kind in HIDEABLE:
        assert state(room, kind) == "published"
    assert not Notification.objects.filter(user=room.ada, kind="case_decision").exists()


def test_keep_restores_an_auto_hidden_profile(room):
    """Hiding a profile must be undoable: a moderator who keeps it gets the words back."""
    case = Case.objects.create(group=room.group, kind="profile", profile=room.ada,
                               author=room.ada, auto_hidden=True)
    Flag.objects.create(case=case, flagger=room.mod, reason="spam", by_moderator=True)
    item_kinds.set_visibility(item_kinds.from_case(case), "hidden", case=case)

    decide(case, D.KEEP, room.mod_off, reason="Nothing wrong here.")

    assert User.objects.get(pk=room.ada.pk).about == "I like long walks."


def test_remove_and_warn_emails_the_author_a_warning(room, mailoutbox,
                                                     django_capture_on_commit_callbacks):
    case = flagged(room, "post")
    with django_capture_on_commit_callbacks(execute=True):
        decide(case, D.REMOVE_AND_WARN, room.mod, reason="No medical advice, please.")
    [mail] = [m for m in mailoutbox if room.ada.email in m.to]
    assert "warning" in mail.subject.lower() and "No medical advice" in mail.body
    [warned] = actions(A.MEMBER_WARNED)
    assert warned.reason == "No medical advice, please."


@pytest.mark.parametrize("hours", [1, 24, 168])
def test_mute_pauses_the_author_for_the_chosen_time(room, hours):
    case = flagged(room)
    before = timezone.now()
    decide(case, D.MUTE, room.mod, mute_hours=hours)
    row = membership(room)
    assert before + timedelta(hours=hours) <= row.muted_until
    assert row.muted_until <= timezone.now() + timedelta(hours=hours)
    assert row.status == "approved"
    assert Notification.objects.filter(user=room.ada, kind="muted").exists()


def test_a_mute_of_an_odd_length_changes_nothing(room):
    case = flagged(room)
    with pytest.raises(ValidationError):
        decide(case, D.MUTE, room.mod, mute_hours=5)
    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN
    assert membership(room).muted_until is None
    assert not actions(A.CASE_DECIDED)


@pytest.mark.parametrize(("decision", "status"), [(D.REMOVE_MEMBER, "removed"),
                                                  (D.BAN, "banned")])
def test_remove_member_and_ban_end_the_membership(room, decision, status):
    case = flagged(room, "thread")
    decide(case, decision, room.mod)
    assert membership(room).status == status
    assert state(room, "thread") == "removed"


@pytest.mark.parametrize("decision", [D.MUTE, D.REMOVE_MEMBER, D.BAN])
def test_sanctions_on_an_author_who_left_change_nothing(room, decision, published,
                                                        django_capture_on_commit_callbacks):
    case = flagged(room)
    Membership.objects.filter(user=room.ada, group=room.group).delete()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        decide(case, decision, room.mod)

    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN
    assert state(room, "chat_message") == "published"
    assert removed_frames(published, room.group) == []
    assert not actions(A.CASE_DECIDED)


def test_escalate_passes_the_case_to_staff(room, make_user, mailoutbox,
                                           django_capture_on_commit_callbacks):
    other_staff = make_user("Tess Staff", staff=True)
    case = flagged(room, "post")
    with django_capture_on_commit_callbacks(execute=True):
        decide(case, D.ESCALATE, room.mod, reason="Needs someone with more experience.")

    stored = Case.objects.get(pk=case.pk)
    assert stored.status == Case.Status.ESCALATED
    assert stored.escalated_at is not None and stored.resolved_at is None
    assert notified("new_case") == {room.staff.pk, other_staff.pk}
    assert sorted(m.to[0] for m in mailoutbox) == sorted([room.staff.email,
                                                          other_staff.email])
    assert actions(A.CASE_DECIDED)[0].detail["decision"] == "escalate"
    assert state(room, "post") == "published"
    assert not Notification.objects.filter(user=room.ada).exists()

    # staff then decide the escalated case
    decide(stored, D.REMOVE, room.staff, reason="Removed by staff.")
    stored.refresh_from_db()
    assert (stored.status, stored.resolved_by_id) == (Case.Status.RESOLVED, room.staff.pk)
    assert state(room, "post") == "removed"


# --- live removal -------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", [D.REMOVE, D.REMOVE_AND_WARN, D.HIDE, D.BAN])
def test_taking_a_chat_message_down_removes_it_from_screens(
        room, decision, published, django_capture_on_commit_callbacks):
    case = flagged(room)
    with django_capture_on_commit_callbacks(execute=True):
        decide(case, decision, room.mod)
    assert removed_frames(published, room.group) == [
        {"type": "message.removed", "id": room.message.pk}]


def test_keeping_a_chat_message_broadcasts_no_removal_and_updates_the_queue(
        room, published, django_capture_on_commit_callbacks):
    case = flagged(room)
    with django_capture_on_commit_callbacks(execute=True):
        decide(case, D.KEEP, room.mod)
    assert removed_frames(published, room.group) == []
    queue_updates = {g for g, e in published if e["type"] == CASE_EVENT}
    assert realtime.user_group(room.mod.pk) in queue_updates
    assert realtime.user_group(room.ben.pk) not in queue_updates


# --- what is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_decision_needs_a_reason(room, reason):
    case = flagged(room)
    with pytest.raises(ValidationError) as refused:
        decide(case, D.REMOVE, room.mod, reason=reason)
    assert "reason" in refused.value.message_dict
    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN
    assert state(room, "chat_message") == "published"
    assert not actions(A.CASE_DECIDED)


def test_an_unknown_decision_is_refused(room):
    case = flagged(room)
    with pytest.raises(ValidationError) as refused:
        decide(case, "delete_everything", room.mod)
    assert "decision" in refused.value.message_dict
    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN


def test_only_the_groups_moderators_and_staff_may_decide(room):
    case = flagged(room)
    other_owner = room.other_group.memberships.get(role="owner").user
    for person in (room.ada, room.ben, room.stranger, other_owner, room.outsider):
        with pytest.raises(Http404):
            decide(case, D.REMOVE, person)
    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN
    assert state(room, "chat_message") == "published"
    decide(case, D.HIDE, room.staff)
    assert state(room, "chat_message") == "hidden"


def test_a_moderator_of_another_group_who_is_also_a_member_here_is_refused(room, make_user):
    elsewhere_mod = make_user("Eve Elsewhere")
    add_membership(elsewhere_mod, room.other_group, "approved", "moderator")
    add_membership(elsewhere_mod, room.group, "approved")
    case = flagged(room)
    with pytest.raises(Http404):
        decide(case, D.REMOVE, elsewhere_mod)
    with pytest.raises(Http404):
        claim_case(actor=elsewhere_mod, case=case)


def test_a_stale_version_is_told_what_happened_and_changes_nothing(room):
    case = flagged(room)
    seen = Case.objects.get(pk=case.pk).version
    resolve_case(actor=room.mod, case=case, decision=D.REMOVE, reason="Unkind.",
                 version=seen)

    with pytest.raises(ValidationError) as refused:
        resolve_case(actor=room.mod_off, case=case, decision=D.KEEP, reason="Looks fine.",
                     version=seen)

    assert "Mo Moderator" in refused.value.messages[0]
    assert "Remove it" in refused.value.messages[0]
    assert Case.objects.get(pk=case.pk).decision == D.REMOVE
    assert state(room, "chat_message") == "removed"
    assert len(actions(A.CASE_DECIDED)) == 1


def test_a_claim_in_between_makes_an_older_version_stale(room):
    case = flagged(room)
    seen = Case.objects.get(pk=case.pk).version
    claim_case(actor=room.mod, case=case)
    with pytest.raises(ValidationError):
        resolve_case(actor=room.mod_off, case=case, decision=D.BAN, reason="Gone.",
                     version=seen)
    assert membership(room).status == "approved"


def test_a_resolved_case_cannot_be_decided_again_even_with_its_new_version(room):
    case = flagged(room)
    decide(case, D.HIDE, room.mod)
    with pytest.raises(ValidationError):
        decide(case, D.BAN, room.mod_off)
    assert membership(room).status == "approved"
    assert len(actions(A.CASE_DECIDED)) == 1


# --- real races on PostgreSQL ----------------------------------------------------------------


def race(*calls) -> list:
    """Run each call in its own thread (its own database connection) at the same moment."""
    barrier = threading.Barrier(len(calls), timeout=5)
    results: list = [None] * len(calls)

    def run(index: int, call) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except BaseException as exc:  # reported in the test's thread
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shape", ["decide-decide", "claim-claim", "claim-decide"])
def test_racing_moderators_never_both_act(make_user, make_group, monkeypatch, shape):
    need_service("PostgreSQL", connection.vendor == "postgresql",
                 "a real race needs separate PostgreSQL connections")
    monkeypatch.setattr(realtime, "publish", lambda group, event: None)
    room = build_room(make_user, make_group)
    for round_ in range(3):
        message = room.chat(room.ada, f"Round {round_}")
        room.flag(room.ben, "chat_message", "bullying", obj=message)
        case = Case.objects.get(chat_message=message)
        seen = case.version
        one = User.objects.get(pk=room.mod.pk)
        two = User.objects.get(pk=room.mod_off.pk)

        def deciding(actor, decision, case=case, seen=seen):
            return lambda: resolve_case(actor=actor, case=Case.objects.get(pk=case.pk),
                                        decision=decision, reason="Race", version=seen)

        def claiming(actor, case=case):
            return lambda: claim_case(actor=actor, case=Case.objects.get(pk=case.pk))

        calls = {
            "decide-decide": (deciding(one, D.KEEP), deciding(two, D.REMOVE)),
            "claim-claim": (claiming(one), claiming(two)),
            "claim-decide": (claiming(one), deciding(two, D.REMOVE)),
        }[shape]
        results = race(*calls)

        won = [r for r in results if isinstance(r, Case)]
        lost = [r for r in results if not isinstance(r, Case)]
        assert len(won) == 1 and len(lost) == 1, results
        assert isinstance(lost[0], ValidationError), lost
        stored = Case.objects.get(pk=case.pk)
        decided = AuditEntry.objects.filter(action=A.CASE_DECIDED,
                                            detail__case_id=case.pk).count()
        claimed = AuditEntry.objects.filter(action=A.CASE_CLAIMED,
                                            detail__case_id=case.pk).count()
        if shape == "decide-decide":
            assert decided == 1 and stored.status == Case.Status.RESOLVED
            winner = stored.decision
            assert stored.resolved_by_id == (one.pk if winner == D.KEEP else two.pk)
            message.refresh_from_db()
            assert message.status == ("published" if winner == D.KEEP else "removed")
        elif shape == "claim-claim":
            assert claimed == 1 and stored.claimed_by_id in (one.pk, two.pk)
        else:
            assert decided + claimed == 1
            if decided:
                assert stored.status == Case.Status.RESOLVED and stored.claimed_by_id is None
            else:
                assert stored.status == Case.Status.OPEN and stored.claimed_by_id == one.pk
                message.refresh_from_db()
                assert message.status == "published"
