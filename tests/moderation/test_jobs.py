"""The timed moderation jobs, driven by a fixed clock: unclaimed urgent cases go to site
staff, idle claims are let go, and `run_scheduler --once` runs every job."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from community.models import Notification
from community.scheduler import JOBS
from moderation.models import AuditEntry, Case
from moderation.services.cases import (
    claim_case,
    escalate_unclaimed_urgent,
    expire_claims,
    resolve_case,
)
from tests.moderation.test_flags_and_cases import FAST_HASHERS, Room, actions, build_room

A = AuditEntry.Action
PICKED_UP = "not picked up"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def room(make_user, make_group) -> Room:
    return build_room(make_user, make_group)


def urgent_case(room: Room, kind: str = "chat_message") -> Case:
    return Case.objects.get(pk=room.flag(room.ben, kind, "risk_self").pk)


def escalation_notices() -> list[Notification]:
    return list(Notification.objects.filter(kind="new_case", text__contains=PICKED_UP))


def at(case: Case, minutes: float):
    return case.opened_at + timedelta(minutes=minutes)


# --- unclaimed urgent cases --------------------------------------------------------------------


def test_an_unclaimed_urgent_case_escalates_after_15_minutes_once(
        room, make_user, mailoutbox, django_capture_on_commit_callbacks):
    other_staff = make_user("Tess Staff", staff=True)
    case = urgent_case(room)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_unclaimed_urgent(at(case, 14)) == 0
    assert Case.objects.get(pk=case.pk).escalated_at is None
    assert escalation_notices() == [] and mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_unclaimed_urgent(at(case, 16)) == 1

    stored = Case.objects.get(pk=case.pk)
    assert stored.escalated_at == at(case, 16)
    assert stored.version == case.version + 1
    assert {n.user_id for n in escalation_notices()} == {room.staff.pk, other_staff.pk}
    assert all(n.group_id == room.group.pk and n.url.endswith(f"/cases/{case.pk}/")
               for n in escalation_notices())
    assert sorted(m.to[0] for m in mailoutbox) == sorted([room.staff.email,
                                                          other_staff.email])
    assert all("not picked up" in m.subject for m in mailoutbox)
    [entry] = actions(A.CASE_ESCALATED)
    assert entry.actor is None
    assert entry.detail == {"case_id": case.pk, "after_minutes": 15}

    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_unclaimed_urgent(at(case, 17)) == 0
        assert escalate_unclaimed_urgent(at(case, 120)) == 0
    assert len(escalation_notices()) == 2 and len(mailoutbox) == 2
    assert len(actions(A.CASE_ESCALATED)) == 1


def test_a_claimed_urgent_case_never_escalates(room):
    case = urgent_case(room)
    claim_case(actor=room.mod, case=case)
    for minutes in (16, 60, 24 * 60):
        assert escalate_unclaimed_urgent(at(case, minutes)) == 0
    assert Case.objects.get(pk=case.pk).escalated_at is None
    assert escalation_notices() == []


def test_plain_and_decided_cases_never_escalate(room):
    plain = Case.objects.get(pk=room.flag(room.ben, "post", "bullying").pk)
    urgent = urgent_case(room, "thread")
    resolve_case(actor=room.mod, case=urgent, decision="keep", reason="Talked, all OK",
                 version=urgent.version)
    assert escalate_unclaimed_urgent(at(plain, 60)) == 0
    assert escalate_unclaimed_urgent(at(urgent, 60)) == 0
    assert not Case.objects.filter(escalated_at__isnull=False).exists()


def test_the_escalation_delay_is_a_setting(room, settings):
    settings.KINDRED_URGENT_ESCALATE_MINUTES = 5
    case = urgent_case(room)
    assert escalate_unclaimed_urgent(at(case, 4)) == 0
    assert escalate_unclaimed_urgent(at(case, 6)) == 1
    assert actions(A.CASE_ESCALATED)[0].detail["after_minutes"] == 5


def test_escalation_only_counts_from_when_the_case_opened(room):
    first = urgent_case(room, "chat_message")
    later = urgent_case(room, "post")
    Case.objects.filter(pk=later.pk).update(opened_at=at(first, 10))
    assert escalate_unclaimed_urgent(at(first, 16)) == 1
    assert Case.objects.get(pk=later.pk).escalated_at is None
    assert escalate_unclaimed_urgent(at(first, 26)) == 1
    assert Case.objects.get(pk=later.pk).escalated_at == at(first, 26)


def test_a_reopened_urgent_case_escalates_again_if_nobody_claims_it(room):
    """A new risk flag reopens the case: its 15 minutes start again, and so does the watch."""
    case = urgent_case(room)
    assert escalate_unclaimed_urgent(at(case, 16)) == 1
    claim_case(actor=room.mod, case=case)
    current = Case.objects.get(pk=case.pk)
    resolve_case(actor=room.mod, case=current, decision="keep", reason="Spoke with her",
                 version=current.version)
    room.flag(room.cat, "chat_message", "risk_self", "Worse again today")
    reopened = Case.objects.get(pk=case.pk)
    assert reopened.status == Case.Status.OPEN and reopened.claimed_by is None

    assert escalate_unclaimed_urgent(at(reopened, 16)) == 1


# --- idle claims ---------------------------------------------------------------------------------


def test_an_idle_claim_is_let_go_after_30_minutes(room):
    case = Case.objects.get(pk=room.flag(room.ben, "post", "spam").pk)
    claim_case(actor=room.mod, case=case)
    claimed = Case.objects.get(pk=case.pk)
    start = claimed.claimed_at

    assert expire_claims(start + timedelta(minutes=29)) == 0
    assert Case.objects.get(pk=case.pk).claimed_by_id == room.mod.pk

    assert expire_claims(start + timedelta(minutes=31)) == 1
    let_go = Case.objects.get(pk=case.pk)
    assert let_go.claimed_by is None and let_go.claimed_at is None
    assert let_go.version == claimed.version + 1
    assert let_go.status == Case.Status.OPEN
    assert expire_claims(start + timedelta(minutes=32)) == 0

    claim_case(actor=room.mod_off, case=let_go)  # back to everyone
    assert Case.objects.get(pk=case.pk).claimed_by_id == room.mod_off.pk


def test_a_let_go_claim_makes_the_old_version_stale(room):
    case = Case.objects.get(pk=room.flag(room.ben, "post", "spam").pk)
    claimed = claim_case(actor=room.mod, case=case)
    expire_claims(claimed.claimed_at + timedelta(minutes=31))

    with pytest.raises(ValidationError):
        resolve_case(actor=room.mod, case=claimed, decision="remove", reason="Spam",
                     version=claimed.version)


def test_claims_on_decided_cases_are_left_alone(room):
    case = Case.objects.get(pk=room.flag(room.ben, "post", "spam").pk)
    claimed = claim_case(actor=room.mod, case=case)
    resolve_case(actor=room.mod, case=claimed, decision="keep", reason="Fine",
                 version=claimed.version)
    assert expire_claims(claimed.claimed_at + timedelta(minutes=31)) == 0
    assert Case.objects.get(pk=case.pk).claimed_by_id == room.mod.pk


# --- the scheduler ------------------------------------------------------------------------------


def test_the_moderation_jobs_are_scheduled_often_enough():
    runs = {job.run: job for job in JOBS}
    assert escalate_unclaimed_urgent in runs and expire_claims in runs
    assert runs[escalate_unclaimed_urgent].every_seconds <= 60
    assert runs[expire_claims].every_seconds <= 5 * 60


def test_run_scheduler_once_runs_every_job(room, mailoutbox,
                                           django_capture_on_commit_callbacks):
    urgent = urgent_case(room)
    Case.objects.filter(pk=urgent.pk).update(opened_at=timezone.now() - timedelta(minutes=20))
    idle = Case.objects.get(pk=room.flag(room.ben, "post", "spam").pk)
    claim_case(actor=room.mod, case=idle)
    Case.objects.filter(pk=idle.pk).update(claimed_at=timezone.now() - timedelta(minutes=40))
    mailoutbox.clear()

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_scheduler", "--once", stdout=out)

    lines = out.getvalue().splitlines()
    assert [line.rsplit(":", 1)[0] for line in lines] == [job.name for job in JOBS]
    results = dict(line.rsplit(": ", 1) for line in lines)
    assert results["urgent cases to site staff"] == "1"
    assert results["idle claims let go"] == "1"
    assert Case.objects.get(pk=urgent.pk).escalated_at is not None
    assert Case.objects.get(pk=idle.pk).claimed_by is None
    assert [m.to for m in mailoutbox] == [[room.staff.email]]

    again = StringIO()
    call_command("run_scheduler", "--once", stdout=again)
    results = dict(line.rsplit(": ", 1) for line in again.getvalue().splitlines())
    assert results["urgent cases to site staff"] == "0"
    assert results["idle claims let go"] == "0"
