"""Flags gather into one case per item: who may flag what, reasons, scores and urgency,
hiding after enough flags, urgent pushes to on-duty moderators and staff, and reopening.

`Room` (built by `build_room`) is shared with the other moderation test modules.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.utils import timezone

from community import realtime
from community.models import ChatMessage, Group, Membership, Notification, User
from forums import services as forums
from forums.models import Category, Post, Thread
from moderation.models import AuditEntry, Case, Flag
from moderation.selectors import queue_cases
from moderation.services.cases import (
    PER_FLAGGER,
    URGENT_REASONS,
    WEIGHTS,
    claim_case,
    flag_content,
    resolve_case,
    set_duty,
)
from tests.conftest import add_membership, need_service

A = AuditEntry.Action
KINDS = ("chat_message", "post", "thread", "profile")
HIDEABLE = ("chat_message", "post", "thread")
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- the shared room ---------------------------------------------------------------------


@dataclass
class Room:
    """An approval group with its moderators, members and one item of each kind by Ada.

    On duty: only `mod`. Off duty: `owner` and `mod_off`. `staff` is site staff (not in
    the group); `stranger` belongs only to `other_group`; `outsider` to no group.
    """

    group: Group
    owner: User
    mod: User
    mod_off: User
    ada: User
    ben: User
    cat: User
    dan: User
    staff: User
    outsider: User
    other_group: Group
    stranger: User
    message: ChatMessage
    thread: Thread
    post: Post

    def item(self, kind: str):
        return {"chat_message": self.message, "post": self.post, "thread": self.thread,
                "profile": self.ada}[kind]

    def flag(self, actor: User, kind: str = "chat_message", reason: str = "spam",
             note: str = "", obj=None) -> Case:
        obj = obj if obj is not None else self.item(kind)
        return flag_content(actor=actor, kind=kind, item_id=obj.pk, reason=reason, note=note,
                            group=self.group if kind == "profile" else None)

    def chat(self, author: User, body: str = "Hello all", group: Group | None = None):
        return make_message(group or self.group, author, body)


def make_message(group: Group, author: User, body: str = "Hello all") -> ChatMessage:
    seq = ChatMessage.objects.filter(group=group).count() + 1
    return ChatMessage.objects.create(group=group, seq=seq, author=author,
                                      client_id=uuid.uuid4().hex, body=body,
                                      body_html=f"<p>{body}</p>")


def build_room(make_user, make_group, tag: str = "") -> Room:
    owner = make_user(f"Olive Owner{tag}")
    group = make_group(Group.Privacy.APPROVAL, owner=owner, name=f"Heart Friends{tag}")
    forums.create_default_categories(group)
    people = {}
    for key, name, role, extra in (
        ("mod", "Mo Moderator", "moderator", {}),
        ("mod_off", "Niamh Offduty", "moderator", {"on_duty": False}),
        ("ada", "Ada Author", "member", {}),
        ("ben", "Ben Flagger", "member", {}),
        ("cat", "Cat Flagger", "member", {}),
        ("dan", "Dan Flagger", "member", {}),
    ):
        people[key] = make_user(f"{name}{tag}")
        add_membership(people[key], group, "approved", role, **extra)
    Membership.objects.filter(user=owner, group=group).update(on_duty=False)
    staff = make_user(f"Sid Staff{tag}", staff=True)
    outsider = make_user(f"Oscar Outsider{tag}")
    other_group = make_group(Group.Privacy.APPROVAL, name=f"Elsewhere{tag}")
    stranger = make_user(f"Stan Stranger{tag}")
    add_membership(stranger, other_group, "approved")
    ada = people["ada"]
    User.objects.filter(pk=ada.pk).update(about="I like long walks.")
    ada.refresh_from_db()
    message = make_message(group, ada, "Some words from Ada")
    category = Category.objects.filter(group=group).first()
    thread = forums.start_thread(actor=ada, group=group, category=category,
                                 title="Finding my feet", body="Hello everyone.")
    post = forums.reply(actor=ada, thread=thread, body="And one more thing.")
    return Room(group=group, owner=owner, staff=staff, outsider=outsider,
                other_group=other_group, stranger=stranger, message=message,
                thread=Thread.objects.get(pk=thread.pk), post=Post.objects.get(pk=post.pk),
                **people)


def state(room: Room, kind: str) -> str:
    """"published", "hidden" or "removed", read back from the database."""
    if kind == "chat_message":
        return ChatMessage.objects.get(pk=room.message.pk).status
    if kind == "post":
        return Post.objects.get(pk=room.post.pk).status
    if kind == "thread":
        value = Thread.objects.get(pk=room.thread.pk).status
        return "published" if value == Thread.Status.VISIBLE else value
    return "published" if User.objects.get(pk=room.ada.pk).about else "hidden"


def notified(kind: str) -> set[int]:
    return set(Notification.objects.filter(kind=kind).values_list("user_id", flat=True))


def actions(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def room(make_user, make_group) -> Room:
    return build_room(make_user, make_group)


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, dict]]:
    """Every event handed to the channel layer (nothing is really sent)."""
    events: list[tuple[str, dict]] = []
    monkeypatch.setattr(realtime, "publish", lambda group, event: events.append((group, event)))
    return events


def notification_events(events, user: User) -> list[dict]:
    return [e["notification"] for g, e in events
            if g == realtime.user_group(user.pk) and e["type"] == realtime.NOTIFICATION]


def removed_frames(events, group: Group) -> list[dict]:
    return [json.loads(e["frame"]) for g, e in events
            if g == realtime.chat_group(group.pk) and e["type"] == "chat.removed"]


# --- flags, per kind ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_member_flags_each_kind_of_item_and_one_case_opens(room, kind):
    case = room.flag(room.ben, kind, "bullying", "  Unkind to Cat.  ")

    case.refresh_from_db()
    assert (case.kind, case.group_id, case.author_id, case.status) == (
        kind, room.group.pk, room.ada.pk, Case.Status.OPEN)
    assert getattr(case, f"{kind}_id") == room.item(kind).pk
    assert (case.flag_count, case.score, case.urgent, case.auto_hidden) == (
        1, WEIGHTS["bullying"] + PER_FLAGGER, False, False)
    [flag] = Flag.objects.all()
    assert (flag.case_id, flag.flagger_id, flag.reason, flag.note, flag.by_moderator) == (
        case.pk, room.ben.pk, "bullying", "Unkind to Cat.", False)
    [entry] = actions(A.CASE_FLAGGED)
    assert (entry.actor_id, entry.group_id, entry.target_user_id) == (
        room.ben.pk, room.group.pk, room.ada.pk)
    assert entry.detail == {"case_id": case.pk, "reason": "bullying"}
    assert state(room, kind) == "published"


@pytest.mark.parametrize("kind", KINDS)
def test_flags_from_several_people_gather_into_one_case(room, kind):
    first = room.flag(room.ben, kind, "spam")
    second = room.flag(room.cat, kind, "unsafe_advice")

    assert first.pk == second.pk
    assert Case.objects.count() == 1
    case = Case.objects.get()
    assert case.flag_count == 2 == case.flags.count()
    assert case.score == WEIGHTS["spam"] + WEIGHTS["unsafe_advice"] + 2 * PER_FLAGGER


def test_flagging_again_updates_the_one_flag(room):
    room.flag(room.ben, "post", "spam")
    case = room.flag(room.ben, "post", "other", "Actually it is a scam link")

    [flag] = Flag.objects.all()
    assert (flag.reason, flag.note) == ("other", "Actually it is a scam link")
    assert flag.updated_at >= flag.created_at
    case.refresh_from_db()
    assert (case.flag_count, case.score) == (1, WEIGHTS["other"] + PER_FLAGGER)


def test_a_profile_has_one_case_per_group(room):
    add_membership(room.ada, room.other_group, "approved")
    add_membership(room.ben, room.other_group, "approved")

    here = room.flag(room.ben, "profile", "spam")
    there = flag_content(actor=room.ben, kind="profile", item_id=room.ada.pk, reason="spam",
                         group=room.other_group)
    again = room.flag(room.cat, "profile", "spam")

    assert here.pk != there.pk and again.pk == here.pk
    assert {(c.group_id, c.flag_count) for c in Case.objects.all()} == {
        (room.group.pk, 2), (room.other_group.pk, 1)}


# --- reasons and notes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "note", "field"),
    [
        ("other", "", "note"),
        ("other", "    ", "note"),
        ("not-a-reason", "", "reason"),
        ("", "", "reason"),
        ("spam", "x" * 1001, "note"),
        ("other", "y" * 1001, "note"),
    ],
    ids=["other-without-note", "other-blank-note", "unknown-reason", "empty-reason",
         "long-note", "other-long-note"],
)
@pytest.mark.parametrize("kind", ["chat_message", "profile"])
def test_a_bad_reason_or_note_is_refused_without_partial_rows(room, kind, reason, note, field):
    with pytest.raises(ValidationError) as refused:
        room.flag(room.ben, kind, reason, note)

    assert field in refused.value.message_dict
    assert not Case.objects.exists() and not Flag.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="case.").exists()


def test_a_bad_second_flag_leaves_the_existing_case_alone(room):
    case = room.flag(room.ben, "thread", "spam")
    before = Case.objects.values().get(pk=case.pk)

    with pytest.raises(ValidationError):
        room.flag(room.cat, "thread", "other", "")
    with pytest.raises(ValidationError):
        room.flag(room.ben, "thread", "bullying", "z" * 1001)

    assert Case.objects.values().get(pk=case.pk) == before
    assert list(Flag.objects.values_list("flagger_id", "reason")) == [(room.ben.pk, "spam")]
    assert len(actions(A.CASE_FLAGGED)) == 1


def test_a_note_of_exactly_1000_characters_is_fine(room):
    room.flag(room.ben, "post", "other", "n" * 1000)
    assert len(Flag.objects.get().note) == 1000


def test_an_unknown_kind_is_refused(room):
    with pytest.raises(ValidationError) as refused:
        flag_content(actor=room.ben, kind="meeting", item_id=room.message.pk, reason="spam")
    assert "kind" in refused.value.message_dict
    assert not Case.objects.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_nobody_can_flag_their_own_item(room, kind):
    with pytest.raises(ValidationError):
        room.flag(room.ada, kind, "spam")
    assert not Case.objects.exists() and not Flag.objects.exists()


# --- what you can't see, you can't flag -------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("who", ["outsider", "stranger", "pending", "banned", "ex_member",
                                 "declined"])
def test_people_outside_the_group_get_not_found(room, make_user, kind, who):
    status = {"pending": "pending", "banned": "banned", "ex_member": "left",
              "declined": "declined"}
    person = getattr(room, who, None)
    if person is None:
        person = make_user(f"Pat {who}")
        add_membership(person, room.group, status[who])

    with pytest.raises(Http404):
        room.flag(person, kind, "spam")
    assert not Case.objects.exists() and not Flag.objects.exists()


def test_an_item_of_another_group_is_not_found(room):
    theirs = make_message(room.other_group, room.stranger, "Over here")
    category = Category.objects.create(group=room.other_group, name="General")
    thread = Thread.objects.create(group=room.other_group, category=category, title="Theirs",
                                   author=room.stranger)
    post = Post.objects.create(thread=thread, group=room.other_group, author=room.stranger,
                               body="Theirs", body_html="<p>Theirs</p>", tree_key="1")

    for kind, obj in (("chat_message", theirs), ("thread", thread), ("post", post)):
        with pytest.raises(Http404):
            room.flag(room.ben, kind, "spam", obj=obj)
        with pytest.raises(Http404):  # a moderator of one group is no one in another
            room.flag(room.mod, kind, "spam", obj=obj)
    with pytest.raises(Http404):  # the stranger's profile "in" a group they're not in
        room.flag(room.ben, "profile", "spam", obj=room.stranger)
    with pytest.raises(Http404):  # Ada's profile in a group Ada isn't in
        flag_content(actor=room.stranger, kind="profile", item_id=room.ada.pk, reason="spam",
                     group=room.other_group)
    assert not Case.objects.exists()


def test_missing_items_and_profiles_without_a_group_are_not_found(room):
    for kind in KINDS:
        with pytest.raises(Http404):
            flag_content(actor=room.ben, kind=kind, item_id=10**9, reason="spam",
                         group=room.group)
    with pytest.raises(Http404):
        flag_content(actor=room.ben, kind="profile", item_id=room.ada.pk, reason="spam")
    assert not Case.objects.exists()


def test_items_already_taken_down_are_not_found_for_members(room):
    ChatMessage.objects.filter(pk=room.message.pk).update(status="removed")
    Post.objects.filter(pk=room.post.pk).update(status="hidden")
    Thread.objects.filter(pk=room.thread.pk).update(status="hidden")

    for kind in HIDEABLE:
        with pytest.raises(Http404):
            room.flag(room.ben, kind, "spam")
    assert not Case.objects.exists()


def test_a_deleted_post_is_not_found(room):
    Post.objects.filter(pk=room.post.pk).update(deleted_at=timezone.now(), body="")
    with pytest.raises(Http404):
        room.flag(room.ben, "post", "spam")


# --- scores, urgency and the queue -----------------------------------------------------------


@pytest.mark.parametrize("reason", Flag.Reason.values)
def test_each_reason_scores_by_its_weight_and_only_risks_are_urgent(room, reason):
    case = room.flag(room.ben, "post", reason, "Details" if reason == "other" else "")
    case.refresh_from_db()
    assert case.score == WEIGHTS[reason] + PER_FLAGGER
    assert case.urgent is (reason in ("risk_self", "risk_others"))
    assert {"risk_self", "risk_others"} == URGENT_REASONS


def test_more_distinct_flaggers_raise_the_score(room):
    one = room.flag(room.ben, "post", "spam")
    one.refresh_from_db()
    two = room.flag(room.cat, "post", "spam")
    two.refresh_from_db()
    assert two.score - one.score == WEIGHTS["spam"] + PER_FLAGGER
    room.flag(room.cat, "post", "spam")  # the same person again adds nothing
    two.refresh_from_db()
    assert two.score == 2 * (WEIGHTS["spam"] + PER_FLAGGER)


def test_an_urgent_flag_added_later_makes_the_case_urgent(room):
    case = room.flag(room.ben, "chat_message", "spam")
    assert not Case.objects.get(pk=case.pk).urgent
    room.flag(room.cat, "chat_message", "risk_others")
    assert Case.objects.get(pk=case.pk).urgent


def test_the_queue_puts_urgent_cases_first_then_by_score(room, make_user):
    m = {name: room.chat(room.ada, name) for name in ("low", "mid", "high", "urgent")}
    flag = room.flag
    flag(room.ben, "chat_message", "spam", obj=m["low"])  # 25
    flag(room.ben, "chat_message", "personal_details", obj=m["mid"])  # 35
    flag(room.ben, "chat_message", "bullying", obj=m["high"])  # 40 + 40 = 80
    flag(room.cat, "chat_message", "bullying", obj=m["high"])
    flag(room.ben, "chat_message", "risk_self", obj=m["urgent"])  # 110, urgent
    # a non-urgent case whose score beats the urgent one still comes after it
    loud = room.chat(room.ada, "loud")
    for person in (room.ben, room.cat, room.dan):
        flag(person, "chat_message", "unsafe_advice", obj=loud)  # 120 (and hidden)
    elsewhere = make_message(room.other_group, room.stranger, "elsewhere")
    add_membership(room.ben, room.other_group, "approved")
    flag(room.ben, "chat_message", "risk_self", obj=elsewhere)

    order = [c.chat_message_id for c in queue_cases(room.mod)]

    assert order == [m["urgent"].pk, loud.pk, m["high"].pk, m["mid"].pk, m["low"].pk]
    assert Case.objects.get(chat_message=loud).score > Case.objects.get(
        chat_message=m["urgent"]).score


# --- hiding until someone looks --------------------------------------------------------------


@pytest.mark.parametrize("kind", HIDEABLE)
def test_two_flags_do_not_hide_and_a_third_distinct_flagger_does(
        room, kind, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        room.flag(room.ben, kind, "spam")
        room.flag(room.cat, kind, "bullying")
    assert state(room, kind) == "published"
    assert not Case.objects.get().auto_hidden
    assert removed_frames(published, room.group) == []

    with django_capture_on_commit_callbacks(execute=True):
        room.flag(room.dan, kind, "spam")

    assert state(room, kind) == "hidden"
    case = Case.objects.get()
    assert case.auto_hidden and case.flag_count == 3 and case.status == Case.Status.OPEN
    [entry] = actions(A.CASE_AUTO_HIDDEN)
    assert entry.actor is None and entry.detail == {"case_id": case.pk, "flags": 3}
    frames = removed_frames(published, room.group)
    if kind == "chat_message":
        assert frames == [{"type": "message.removed", "id": room.message.pk}]
    else:
        assert frames == []


@pytest.mark.parametrize("kind", HIDEABLE)
def test_one_flag_from_a_moderator_hides_the_item(room, kind, published,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        room.flag(room.mod_off, kind, "unsafe_advice")

    assert state(room, kind) == "hidden"
    case = Case.objects.get()
    assert case.auto_hidden and Flag.objects.get().by_moderator
    assert len(removed_frames(published, room.group)) == (kind == "chat_message")


@pytest.mark.parametrize("kind", HIDEABLE)
def test_the_same_person_flagging_again_does_not_count_twice(room, kind):
    for reason in ("spam", "bullying", "unsafe_advice", "spam"):
        room.flag(room.ben, kind, reason)
    room.flag(room.cat, kind, "spam")

    case = Case.objects.get()
    assert (case.flag_count, case.auto_hidden) == (2, False)
    assert state(room, kind) == "published"
    assert not actions(A.CASE_AUTO_HIDDEN)


def test_hiding_happens_once(room):
    for person in (room.ben, room.cat, room.dan):
        room.flag(person, "thread", "spam")
    room.flag(room.mod, "thread", "spam")  # moderators still see a hidden thread
    assert len(actions(A.CASE_AUTO_HIDDEN)) == 1
    assert state(room, "thread") == "hidden"
    assert Case.objects.get().flag_count == 4


# --- urgent cases are pushed at once ------------------------------------------------------------


def test_an_urgent_flag_tells_on_duty_moderators_and_staff_not_off_duty_ones(
        room, make_user, published, mailoutbox, django_capture_on_commit_callbacks):
    second_staff = make_user("Tess Staff", staff=True)

    with django_capture_on_commit_callbacks(execute=True):
        case = room.flag(room.ben, "chat_message", "risk_self", "She said goodbye")

    told = {room.mod.pk, room.staff.pk, second_staff.pk}
    assert notified(Notification.Kind.NEW_CASE) == told
    for note in Notification.objects.filter(kind=Notification.Kind.NEW_CASE):
        assert note.group_id == room.group.pk
        assert note.url.endswith(f"/cases/{case.pk}/")
        assert "Urgent" in note.text
    # in-app and on the personal socket, for each of them; nothing for the off-duty
    for person in (room.mod, room.staff, second_staff):
        assert [n["kind"] for n in notification_events(published, person)] == ["new_case"]
    for person in (room.mod_off, room.owner, room.ada, room.ben):
        assert notification_events(published, person) == []
    # email only to staff
    assert sorted(m.to[0] for m in mailoutbox) == sorted([room.staff.email,
                                                          second_staff.email])
    assert all("Urgent" in m.subject for m in mailoutbox)
    assert Case.objects.get().urgent


def test_out_of_hours_an_urgent_case_goes_straight_to_staff(
        room, published, mailoutbox, django_capture_on_commit_callbacks):
    set_duty(actor=room.mod, group=room.group, on_duty=False)

    with django_capture_on_commit_callbacks(execute=True):
        room.flag(room.ben, "post", "risk_others")

    assert notified(Notification.Kind.NEW_CASE) == {room.staff.pk}
    assert "no moderator" in Notification.objects.get(kind="new_case").text
    assert [m.to for m in mailoutbox] == [[room.staff.email]]
    assert notification_events(published, room.mod) == []


def test_more_urgent_flags_on_an_urgent_case_do_not_push_again(
        room, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        room.flag(room.ben, "thread", "risk_self")
        room.flag(room.cat, "thread", "risk_others")
        room.flag(room.ben, "thread", "risk_others")

    assert Notification.objects.filter(kind="new_case").count() == 2  # mod and staff
    assert len(mailoutbox) == 1


def test_a_plain_flag_pushes_no_notification(room, mailoutbox,
                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        room.flag(room.ben, "post", "spam")
        room.flag(room.cat, "chat_message", "bullying")
    assert not Notification.objects.filter(kind="new_case").exists()
    assert mailoutbox == []


def test_changing_a_flag_to_a_risk_makes_it_urgent_and_pushes(
        room, django_capture_on_commit_callbacks):
    room.flag(room.ben, "post", "spam")
    with django_capture_on_commit_callbacks(execute=True):
        room.flag(room.ben, "post", "risk_self")
    assert Case.objects.get().urgent
    assert notified("new_case") == {room.mod.pk, room.staff.pk}


def test_going_on_and_off_duty_is_recorded_and_limited_to_moderators(room):
    row = set_duty(actor=room.mod, group=room.group, on_duty=False)
    assert row.on_duty is False
    row = set_duty(actor=room.owner, group=room.group, on_duty=True)
    assert row.on_duty is True
    assert [e.detail for e in actions(A.DUTY_CHANGED)] == [{"on_duty": False},
                                                           {"on_duty": True}]
    for person in (room.ben, room.stranger, room.outsider):
        with pytest.raises(Http404):
            set_duty(actor=person, group=room.group, on_duty=True)


# --- reopening ----------------------------------------------------------------------------------


def test_a_new_flag_on_a_closed_case_reopens_the_same_case(room):
    case = room.flag(room.ben, "post", "spam")
    resolve_case(actor=room.mod, case=case, decision="keep", reason="It's fine",
                 version=Case.objects.get(pk=case.pk).version)
    closed = Case.objects.get(pk=case.pk)
    assert closed.status == Case.Status.RESOLVED

    again = room.flag(room.cat, "post", "bullying")

    assert again.pk == case.pk and Case.objects.count() == 1
    reopened = Case.objects.get(pk=case.pk)
    assert reopened.status == Case.Status.OPEN
    assert (reopened.decision, reopened.decision_reason) == ("", "")
    assert reopened.resolved_at is None and reopened.resolved_by is None
    assert reopened.claimed_by is None
    assert reopened.version > closed.version
    assert reopened.opened_at >= closed.resolved_at
    assert reopened.flag_count == 2


def test_the_same_flagger_flagging_again_also_reopens(room):
    case = room.flag(room.ben, "thread", "spam")
    resolve_case(actor=room.mod, case=case, decision="keep", reason="Fine",
                 version=Case.objects.get(pk=case.pk).version)
    room.flag(room.ben, "thread", "personal_details")
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN and case.flag_count == 1


def test_a_reopened_case_with_a_new_risk_flag_is_pushed_again(
        room, django_capture_on_commit_callbacks):
    """Someone may be at risk again: on-duty moderators must hear of it again."""
    with django_capture_on_commit_callbacks(execute=True):
        case = room.flag(room.ben, "chat_message", "risk_self")
    claim_case(actor=room.mod, case=case)
    resolve_case(actor=room.mod, case=case, decision="keep", reason="Spoke to her, OK",
                 version=Case.objects.get(pk=case.pk).version)
    Notification.objects.filter(kind="new_case").delete()

    with django_capture_on_commit_callbacks(execute=True):
        room.flag(room.cat, "chat_message", "risk_self", "Worse today")

    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN
    assert notified("new_case") == {room.mod.pk, room.staff.pk}


# --- two people flag the same new item at the same moment ---------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_first_flags_at_once_still_make_one_case(make_user, make_group, monkeypatch):
    """One case per item even when the first two flags race (real PostgreSQL)."""
    need_service("PostgreSQL", connection.vendor == "postgresql",
                 "a real race needs separate PostgreSQL connections")
    monkeypatch.setattr(realtime, "publish", lambda group, event: None)
    room = build_room(make_user, make_group)
    messages = [room.chat(room.ada, f"race {n}") for n in range(5)]

    for message in messages:
        barrier = threading.Barrier(2, timeout=5)
        errors: list[BaseException] = []

        def flag(person: User, item: ChatMessage = message, gate=barrier, out=errors) -> None:
            try:
                gate.wait()
                flag_content(actor=User.objects.get(pk=person.pk), kind="chat_message",
                             item_id=item.pk, reason="spam")
            except BaseException as exc:  # reported in the test's thread
                out.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=flag, args=(p,)) for p in (room.ben, room.cat)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert not any(t.is_alive() for t in threads)
        assert errors == [], errors
        [case] = Case.objects.filter(chat_message=message)
        assert case.flag_count == 2 == case.flags.count()
