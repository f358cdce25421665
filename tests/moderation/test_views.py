"""Moderation pages, driven through the views as people use them: flagging each kind of
item, the queue and its filters, a case page, claiming and deciding, being on duty, and
appeals (the author's page never names who flagged).

Services are tested on their own elsewhere; here every step is a request.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from django.urls import reverse
from django.utils import timezone

from community.models import ChatMessage, Group, Membership, Notification, User
from forums import services as forums
from forums.models import Category, Post, Thread
from moderation.models import Appeal, AuditEntry, Case, Flag
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db

A = AuditEntry.Action
KINDS = ("chat_message", "post", "thread", "profile")
FLAGGER_NOTE = "Fern's private worry about this"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- the scene -------------------------------------------------------------------------------


@dataclass
class Scene:
    """Group A (approval) with its owner, two moderators, the author Ada, the flagger Fern
    and Ben; group B with its own moderator and member; Ada wrote one item of each kind."""

    group: Group
    owner: User
    mod: User
    mod2: User
    ada: User
    fern: User
    ben: User
    staff: User
    other: Group
    other_mod: User
    other_member: User
    message: ChatMessage
    thread: Thread
    post: Post
    other_message: ChatMessage

    def item(self, kind: str):
        return {"chat_message": self.message, "post": self.post, "thread": self.thread,
                "profile": self.ada}[kind]

    def summary(self, kind: str) -> str:
        return {"chat_message": self.message.body, "post": self.post.body,
                "thread": self.thread.title, "profile": self.ada.about}[kind]


_seq = iter(range(1, 10_000))


def chat(group: Group, author: User, body: str) -> ChatMessage:
    n = next(_seq)
    return ChatMessage.objects.create(group=group, seq=n, author=author, client_id=f"c{n}",
                                      body=body, body_html=f"<p>{body}</p>")


@pytest.fixture
def scene(make_user, make_group) -> Scene:
    owner = make_user("Olive Owner")
    group = make_group(Group.Privacy.APPROVAL, owner=owner, name="Scene Alpha",
                       slug="scene-alpha")
    mod, mod2 = make_user("Milo Moderator"), make_user("Mira Moderator")
    ada, fern, ben = make_user("Ada Author"), make_user("Fern Flagger"), make_user("Ben Member")
    ada.about = "I like long walks and talking about my treatment."
    ada.save(update_fields=["about"])
    for person in (mod, mod2):
        add_membership(person, group, "approved", "moderator")
    for person in (ada, fern, ben):
        add_membership(person, group, "approved")
    other_mod, other_member = make_user("Otto Othermod"), make_user("Oona Othermember")
    other = make_group(Group.Privacy.APPROVAL, name="Scene Beta", slug="scene-beta")
    add_membership(other_mod, other, "approved", "moderator")
    add_membership(other_member, other, "approved")
    category = Category.objects.create(group=group, name="General")
    thread = forums.start_thread(actor=ada, group=group, category=category,
                                 title="Ada's thread about side effects", body="Opening words")
    post = forums.reply(actor=ada, thread=thread, body="Ada's reply with a tip")
    return Scene(
        group=group, owner=owner, mod=mod, mod2=mod2, ada=ada, fern=fern, ben=ben,
        staff=make_user("Stan Staff", staff=True), other=other, other_mod=other_mod,
        other_member=other_member, message=chat(group, ada, "Ada's chat message"),
        thread=thread, post=post,
        other_message=chat(other, other_member, "A message in the other group"),
    )


def flag_url(scene: Scene, kind: str, obj=None, *, group: Group | None = None) -> str:
    obj = obj if obj is not None else scene.item(kind)
    url = reverse("moderation:flag", kwargs={"kind": kind, "item_id": obj.pk})
    if kind == "profile":
        url += f"?group={(group or scene.group).slug}"
    return url


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def words_of(response) -> str:
    """The page as it reads, without tags."""
    return html.unescape(re.sub(r"<[^>]+>", "", response.content.decode()))


def stored() -> tuple:
    """Everything a refused flag must leave alone."""
    return (Case.objects.count(), Flag.objects.count(),
            AuditEntry.objects.filter(action__startswith="case.").count(),
            Notification.objects.count())


@pytest.fixture
def nothing_stored(scene):
    """Use: a test that must store nothing asserts `stored() == nothing_stored`."""
    return stored()


def flag_as(client, scene: Scene, person: User, kind: str = "chat_message",
            reason: str = "spam", note: str = "", obj=None):
    client.force_login(person)
    return client.post(flag_url(scene, kind, obj), {"reason": reason, "note": note})


CASE_LINK = re.compile(r'href="/moderation/cases/(\d+)/"')


def queue_ids(client, **filters) -> list[int]:
    response = client.get(reverse("moderation:queue"), filters)
    assert response.status_code == 200
    return [int(pk) for pk in CASE_LINK.findall(response.content.decode())]


def version_on_page(client, case: Case) -> int:
    body = client.get(reverse("moderation:case", kwargs={"case_id": case.pk})).content.decode()
    found = re.search(r'<input type="hidden" name="version" value="(\d+)"', body)
    assert found, "the decision form carries the case's version"
    return int(found.group(1))


def decide(client, case: Case, decision: str, reason: str = "Thank you, decided.", **extra):
    data = {"decision": decision, "reason": reason,
            "version": version_on_page(client, case)} | extra
    return client.post(reverse("moderation:decide", kwargs={"case_id": case.pk}), data)


# --- flagging --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_flag_form_shows_the_item_and_every_reason(client, scene, kind):
    client.force_login(scene.fern)
    response = client.get(flag_url(scene, kind))
    body = text_of(response)
    assert response.status_code == 200
    assert scene.summary(kind) in body
    for value, _label in Flag.Reason.choices:
        assert f'value="{value}"' in body
    assert ('name="group" value="scene-alpha"' in body) == (kind == "profile")
    assert not Case.objects.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_flagging_each_kind_opens_a_case_and_thanks_the_flagger(client, scene, kind):
    response = flag_as(client, scene, scene.fern, kind, reason="bullying", note=FLAGGER_NOTE)
    assert response.status_code == 302
    assert response["Location"] == scene.group.get_absolute_url()
    assert "Thank you for telling us" in text_of(client.get(response["Location"]))
    case = Case.objects.get()
    assert (case.kind, case.group, case.author, case.status) == (kind, scene.group, scene.ada,
                                                                 "open")
    assert getattr(case, kind) == scene.item(kind)
    flag = Flag.objects.get()
    assert (flag.case, flag.flagger, flag.reason, flag.note, flag.by_moderator) == (
        case, scene.fern, "bullying", FLAGGER_NOTE, False)


def test_flagging_again_updates_the_one_flag(client, scene):
    flag_as(client, scene, scene.fern, reason="spam")
    response = flag_as(client, scene, scene.fern, reason="unsafe_advice", note="Changed mind")
    assert response.status_code == 302
    flag = Flag.objects.get()
    assert (flag.reason, flag.note) == ("unsafe_advice", "Changed mind")
    assert Case.objects.get().flag_count == 1


def test_a_profile_is_flagged_with_the_group_in_the_form(client, scene):
    """The form carries the group in a hidden field, so a plain POST works too."""
    client.force_login(scene.fern)
    url = reverse("moderation:flag", kwargs={"kind": "profile", "item_id": scene.ada.pk})
    response = client.post(url, {"reason": "spam", "group": scene.group.slug})
    assert response.status_code == 302
    assert Case.objects.get().profile == scene.ada


@pytest.mark.parametrize("note", ["", "   "])
def test_something_else_without_a_note_is_400_and_stores_nothing(
    client, scene, nothing_stored, note
):
    response = flag_as(client, scene, scene.fern, reason="other", note=note)
    body = text_of(response)
    assert response.status_code == 400
    assert 'id="id_note-error"' in body
    assert "Please tell the moderators a little about it." in body
    assert stored() == nothing_stored


def test_something_else_with_a_note_is_fine(client, scene):
    assert flag_as(client, scene, scene.fern, reason="other",
                   note="It feels off").status_code == 302
    assert Flag.objects.get().reason == "other"


@pytest.mark.parametrize("data", [
    pytest.param({"reason": "angry"}, id="unknown-reason"),
    pytest.param({"reason": ""}, id="blank-reason"),
    pytest.param({"note": ""}, id="no-reason"),  # what a browser sends with no choice
    pytest.param({"reason": "spam", "note": "x" * 1001}, id="note-too-long"),
])
def test_a_malformed_flag_is_400_with_the_error_and_stores_nothing(
    client, scene, nothing_stored, data
):
    client.force_login(scene.fern)
    response = client.post(flag_url(scene, "chat_message"), data)
    body = text_of(response)
    assert response.status_code == 400
    field = "note" if len(data.get("note", "")) > 1000 else "reason"
    assert f'id="id_{field}-error"' in body
    assert stored() == nothing_stored


@pytest.mark.parametrize("kind", KINDS)
def test_flagging_your_own_words_is_refused_and_stores_nothing(client, scene, nothing_stored, kind):
    response = flag_as(client, scene, scene.ada, kind)
    assert response.status_code == 400
    assert "You can't flag your own words" in text_of(response)
    assert stored() == nothing_stored


@pytest.mark.parametrize("method", ["get", "post"])
def test_flagging_a_message_of_another_group_is_404_and_stores_nothing(
    client, scene, nothing_stored, method
):
    client.force_login(scene.fern)
    url = flag_url(scene, "chat_message", scene.other_message)
    assert getattr(client, method)(url, {"reason": "spam"}).status_code == 404
    assert stored() == nothing_stored


@pytest.mark.parametrize(("who", "group"), [
    pytest.param("other_member", "group", id="their-profile-under-my-group"),
    pytest.param("other_member", "other", id="a-group-i-am-not-in"),
    pytest.param("ada", "other", id="a-member-of-mine-under-another-group"),
])
def test_flagging_a_profile_outside_ones_groups_is_404(client, scene, nothing_stored, who, group):
    client.force_login(scene.fern)
    url = flag_url(scene, "profile", getattr(scene, who), group=getattr(scene, group))
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "spam"}).status_code == 404
    assert stored() == nothing_stored


@pytest.mark.parametrize("path", [
    pytest.param("/moderation/flag/meeting/{id}/", id="unknown-kind"),
    pytest.param("/moderation/flag/chat_message/abc/", id="not-a-number"),
    pytest.param("/moderation/flag/chat_message/99999999/", id="no-such-message"),
    pytest.param("/moderation/flag/profile/{ada}/", id="profile-without-group"),
    pytest.param("/moderation/flag/profile/{ada}/?group=no-such-group", id="unknown-group"),
])
def test_malformed_flag_addresses_are_404_and_store_nothing(client, scene, nothing_stored, path):
    client.force_login(scene.fern)
    url = path.format(id=scene.message.pk, ada=scene.ada.pk)
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "spam"}).status_code == 404
    assert stored() == nothing_stored


@pytest.mark.parametrize("status", ["removed", "held"])
def test_a_message_members_cannot_see_cannot_be_flagged(client, scene, nothing_stored, status):
    ChatMessage.objects.filter(pk=scene.message.pk).update(status=status)
    response = flag_as(client, scene, scene.fern)
    assert response.status_code == 404
    assert stored() == nothing_stored


# --- the queue -------------------------------------------------------------------------------


@pytest.fixture
def busy(client, scene, make_user, make_group):
    """Cases in A (spam, bullying, an urgent risk, and one already dealt with: "done") and
    in a third group C that Milo also moderates (spam)."""
    third = make_group(Group.Privacy.OPEN, name="Scene Gamma", slug="scene-gamma")
    add_membership(scene.mod, third, "approved", "moderator")
    carl = make_user("Carl Gamma")
    add_membership(carl, third, "approved")
    add_membership(scene.fern, third, "approved")
    gamma_message = chat(third, carl, "Buy my stuff")
    flag_as(client, scene, scene.fern, "chat_message", reason="spam")
    flag_as(client, scene, scene.fern, "thread", reason="bullying")
    flag_as(client, scene, scene.fern, "post", reason="risk_self", note="Worried for Ada")
    done = chat(scene.group, scene.ada, "My phone number is in my profile")
    flag_as(client, scene, scene.fern, "chat_message", reason="personal_details", obj=done)
    flag_as(client, scene, scene.fern, "chat_message", reason="spam", obj=gamma_message)
    cases = {kind: Case.objects.get(**{kind: scene.item(kind)}) for kind in KINDS[:3]}
    cases["gamma"] = Case.objects.get(chat_message=gamma_message)
    cases["done"] = Case.objects.get(chat_message=done)
    Case.objects.filter(pk=cases["done"].pk).update(
        status="resolved", decision="keep", resolved_by=scene.mod, resolved_at=timezone.now())
    client.force_login(scene.mod)
    return {name: case.pk for name, case in cases.items()}


def test_the_queue_puts_urgent_cases_first_then_by_score(client, scene, busy):
    ids = queue_ids(client)
    # risk_self (110) is urgent; bullying 40 and the two spam flags 25 each, oldest first
    assert ids == [busy["post"], busy["thread"], busy["chat_message"], busy["gamma"]]
    body = client.get(reverse("moderation:queue")).content.decode()
    assert body.index("Urgent: Forum post in Scene Alpha") < body.index("Forum thread in")


@pytest.mark.parametrize(("filters", "names"), [
    pytest.param({"group": "scene-alpha"}, ["post", "thread", "chat_message"], id="group"),
    pytest.param({"group": "scene-gamma"}, ["gamma"], id="other-group"),
    pytest.param({"status": "resolved"}, ["done"], id="status-resolved"),
    pytest.param({"status": "open"}, ["post", "thread", "chat_message", "gamma"],
                 id="status-open"),
    pytest.param({"status": "escalated"}, [], id="status-escalated"),
    pytest.param({"reason": "spam"}, ["chat_message", "gamma"], id="reason"),
    pytest.param({"reason": "risk_self"}, ["post"], id="reason-risk"),
    pytest.param({"reason": "personal_details"}, [], id="reason-only-dealt-with"),
    pytest.param({"reason": "personal_details", "status": "resolved"}, ["done"],
                 id="reason-and-status"),
    pytest.param({"urgent": "1"}, ["post"], id="urgent"),
    pytest.param({"group": "scene-gamma", "reason": "bullying"}, [], id="combined-none"),
    pytest.param({"group": "scene-alpha", "reason": "spam"}, ["chat_message"],
                 id="combined"),
])
def test_queue_filters(client, scene, busy, filters, names):
    assert queue_ids(client, **filters) == [busy[name] for name in names]


def test_a_moderator_of_one_group_never_sees_another_groups_cases(client, scene, busy):
    flag_as(client, scene, scene.other_member, "chat_message", obj=chat(
        scene.other, scene.other_mod, "Otto's words"))
    theirs = Case.objects.get(group=scene.other).pk
    client.force_login(scene.other_mod)
    mine_elsewhere = set(busy.values())
    for filters in ({}, {"group": "scene-alpha"}, {"status": "resolved"},
                    {"reason": "spam"}, {"urgent": "1"}, {"group": "scene-gamma"}):
        ids = queue_ids(client, **filters)
        assert not mine_elsewhere & set(ids), filters
    assert queue_ids(client) == [theirs]
    body = client.get(reverse("moderation:queue"), {"group": "scene-alpha"}).content.decode()
    assert "Scene Alpha" not in body
    # and the other way round
    client.force_login(scene.mod)
    assert theirs not in queue_ids(client)
    assert theirs not in queue_ids(client, group="scene-beta")


def test_site_staff_see_every_groups_cases(client, scene, busy):
    client.force_login(scene.staff)
    assert set(queue_ids(client)) == {busy["post"], busy["thread"], busy["chat_message"],
                                      busy["gamma"]}


# --- a case ------------------------------------------------------------------------------------


def test_the_case_page_shows_moderators_each_flag_with_its_flagger_and_note(client, scene):
    flag_as(client, scene, scene.fern, reason="unsafe_advice", note=FLAGGER_NOTE)
    flag_as(client, scene, scene.ben, reason="bullying")
    case = Case.objects.get()
    client.force_login(scene.mod)
    response = client.get(reverse("moderation:case", kwargs={"case_id": case.pk}))
    body = words_of(response)
    assert response.status_code == 200
    assert "Flags (2, score 80)" in body  # (30 + 10) for each
    assert f"Unsafe health advice from Fern Flagger: “{FLAGGER_NOTE}”" in body
    assert "Bullying or harassment from Ben Member" in body
    assert "Ada's chat message" in body and "By Ada Author" in body


# --- the author's side: never the flagger's name ----------------------------------------------


def _decided_case(client, scene, decision="remove"):
    flag_as(client, scene, scene.fern, reason="unsafe_advice", note=FLAGGER_NOTE)
    case = Case.objects.get()
    client.force_login(scene.mod)
    client.post(reverse("moderation:claim", kwargs={"case_id": case.pk}))
    response = decide(client, case, decision, reason="Please share experience, not advice.")
    assert response.status_code == 302
    case.refresh_from_db()
    return case


def test_the_authors_appeal_page_and_notices_never_name_the_flagger(
    client, scene, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case = _decided_case(client, scene)
    client.force_login(scene.ada)
    url = reverse("moderation:appeal", kwargs={"case_id": case.pk})
    pages = [client.get(url)]
    assert pages[0].status_code == 200
    assert "Please share experience, not advice." in text_of(pages[0])
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(url, {"note": "I was only saying what worked for me."})
    assert sent.status_code == 302
    pages += [client.get(url), client.get(reverse("notifications"))]
    notices = list(Notification.objects.filter(user=scene.ada).values_list("text", flat=True))
    assert any("Please share experience, not advice." in text for text in notices)
    mail = [m.subject + m.body for m in mailoutbox if scene.ada.email in m.to]
    assert mail, "the author was emailed about the decision"
    for text in [text_of(page) for page in pages] + notices + mail:
        assert "Fern" not in text
        assert FLAGGER_NOTE not in text
        assert scene.fern.display_name not in text


def test_an_author_who_moderates_never_learns_who_flagged_them(client, scene):
    """'The flagger is shown to moderators only, never the author': a moderator's own words
    are flagged; they must not read the flagger's name or note on the case page."""
    words = chat(scene.group, scene.mod2, "Mira's own message")
    flag_as(client, scene, scene.fern, obj=words, reason="bullying", note=FLAGGER_NOTE)
    case = Case.objects.get()
    client.force_login(scene.mod2)
    response = client.get(reverse("moderation:case", kwargs={"case_id": case.pk}))
    assert scene.fern.display_name not in text_of(response)
    assert FLAGGER_NOTE not in text_of(response)


def test_the_appeal_page_is_the_authors_alone(client, scene):
    case = _decided_case(client, scene)
    url = reverse("moderation:appeal", kwargs={"case_id": case.pk})
    for person in (scene.fern, scene.mod, scene.owner, scene.staff, scene.ben):
        client.force_login(person)
        assert client.get(url).status_code == 404
        assert client.post(url, {"note": "Me too"}).status_code == 404
    assert not Appeal.objects.exists()


# --- claiming and deciding -------------------------------------------------------------------


def test_claiming_a_case_makes_it_yours_and_another_moderator_is_told(client, scene):
    flag_as(client, scene, scene.fern)
    case = Case.objects.get()
    client.force_login(scene.mod)
    url = reverse("moderation:claim", kwargs={"case_id": case.pk})
    response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("moderation:case", kwargs={"case_id": case.pk})
    assert "This case is yours for now." in text_of(client.get(response["Location"]))
    case.refresh_from_db()
    assert (case.claimed_by, case.version) == (scene.mod, 2)
    client.force_login(scene.mod2)
    response = client.post(url, follow=True)
    assert "Milo Moderator is looking at this case." in text_of(response)
    case.refresh_from_db()
    assert (case.claimed_by, case.version) == (scene.mod, 2)


def _effects(scene: Scene, case: Case, decision: str) -> None:
    message = ChatMessage.objects.get(pk=scene.message.pk)
    membership = Membership.objects.get(user=scene.ada, group=scene.group)
    status = {"hide": "hidden", "remove": "removed", "remove_warn": "removed",
              "remove_member": "removed", "ban": "removed"}.get(decision, "published")
    assert message.status == status
    assert membership.status == {"remove_member": "removed", "ban": "banned"}.get(
        decision, "approved")
    assert membership.is_muted == (decision == "mute")
    if decision == "mute":
        left = membership.muted_until - timezone.now()
        assert timezone.timedelta(minutes=50) < left <= timezone.timedelta(hours=1)
    warned = AuditEntry.objects.filter(action=A.MEMBER_WARNED, target_user=scene.ada)
    assert warned.exists() == (decision == "remove_warn")
    told = Notification.objects.filter(user=scene.ada, kind="case_decision")
    assert told.exists() == (decision not in ("keep", "escalate"))
    if decision == "escalate":
        assert (case.status, case.resolved_at) == ("escalated", None)
        assert case.escalated_at is not None
        assert Notification.objects.filter(user=scene.staff, kind="new_case").exists()
    else:
        assert case.status == "resolved" and case.resolved_at is not None
        assert Notification.objects.filter(user=scene.fern, kind="flag_reviewed").exists()


@pytest.mark.parametrize("decision", Case.Decision.values)
def test_claim_then_decide_each_decision(client, scene, decision):
    flag_as(client, scene, scene.fern, reason="unsafe_advice")
    case = Case.objects.get()
    client.force_login(scene.mod)
    assert client.post(reverse("moderation:claim", kwargs={"case_id": case.pk})).status_code \
        == 302
    response = decide(client, case, decision, reason=f"Reason for {decision}",
                      mute_hours="1")
    assert response.status_code == 302, text_of(response)[-2000:]
    assert response["Location"] == reverse("moderation:queue")
    case.refresh_from_db()
    assert (case.decision, case.decision_reason, case.resolved_by) == (
        decision, f"Reason for {decision}", scene.mod)
    entry = AuditEntry.objects.get(action=A.CASE_DECIDED)
    assert (entry.actor, entry.reason, entry.detail["decision"]) == (
        scene.mod, f"Reason for {decision}", decision)
    _effects(scene, case, decision)


def _case_state(case: Case) -> tuple:
    case.refresh_from_db()
    return (case.status, case.decision, case.decision_reason, case.version,
            case.claimed_by_id, ChatMessage.objects.get(pk=case.chat_message_id).status,
            AuditEntry.objects.filter(action=A.CASE_DECIDED).count())


def test_a_stale_version_is_400_and_changes_nothing(client, scene):
    flag_as(client, scene, scene.fern)
    case = Case.objects.get()
    client.force_login(scene.mod)
    seen = version_on_page(client, case)
    client.force_login(scene.mod2)
    client.post(reverse("moderation:claim", kwargs={"case_id": case.pk}))
    before = _case_state(case)
    client.force_login(scene.mod)
    response = client.post(reverse("moderation:decide", kwargs={"case_id": case.pk}),
                           {"decision": "remove", "reason": "Too late", "version": seen})
    assert response.status_code == 400
    assert "changed while you were looking" in text_of(response)
    assert _case_state(case) == before


def test_deciding_after_someone_else_decided_names_what_they_did(client, scene):
    flag_as(client, scene, scene.fern)
    case = Case.objects.get()
    client.force_login(scene.mod)
    seen = version_on_page(client, case)
    client.force_login(scene.mod2)
    assert decide(client, case, "hide", reason="Hidden first").status_code == 302
    before = _case_state(case)
    client.force_login(scene.mod)
    response = client.post(reverse("moderation:decide", kwargs={"case_id": case.pk}),
                           {"decision": "ban", "reason": "Second", "version": seen})
    assert response.status_code == 400
    assert "changed while you were looking (Mira Moderator decided: Hide it)" in text_of(
        response)
    assert _case_state(case) == before


@pytest.mark.parametrize(("data", "error"), [
    pytest.param({"decision": "remove", "reason": ""},
                 "Please give a reason. The author will see it.", id="no-reason"),
    pytest.param({"decision": "remove", "reason": "   "},
                 "Please give a reason. The author will see it.", id="blank-reason"),
    pytest.param({"decision": "delete_everything", "reason": "Because"},
                 "Select a valid choice", id="unknown-decision"),
    pytest.param({"reason": "Because"}, "This field is required", id="no-decision"),
])
def test_a_bad_decision_is_400_with_the_error_and_changes_nothing(client, scene, data, error):
    flag_as(client, scene, scene.fern)
    case = Case.objects.get()
    client.force_login(scene.mod)
    data = data | {"version": version_on_page(client, case)}
    before = _case_state(case)
    response = client.post(reverse("moderation:decide", kwargs={"case_id": case.pk}), data)
    assert response.status_code == 400
    assert error in text_of(response)
    assert _case_state(case) == before
    assert not Notification.objects.filter(user=scene.ada).exists()


# --- duty --------------------------------------------------------------------------------------


def test_going_off_and_on_duty(client, scene):
    client.force_login(scene.mod)
    url = reverse("moderation:duty", kwargs={"slug": scene.group.slug})
    row = Membership.objects.get(user=scene.mod, group=scene.group)
    assert row.on_duty
    assert "Go off duty" in client.get(reverse("moderation:queue")).content.decode()
    response = client.post(url, {"on_duty": "0"}, follow=True)
    assert response.redirect_chain == [(reverse("moderation:queue"), 302)]
    body = text_of(response)
    assert "You're off duty. Take care of yourself." in body and "Go on duty" in body
    row.refresh_from_db()
    assert not row.on_duty
    response = client.post(url, {"on_duty": "1"}, follow=True)
    assert "You're on duty. Thank you." in text_of(response)
    row.refresh_from_db()
    assert row.on_duty
    entries = AuditEntry.objects.filter(action=A.DUTY_CHANGED, actor=scene.mod)
    assert [e.detail["on_duty"] for e in entries.order_by("pk")] == [False, True]


@pytest.mark.parametrize("who", ["ada", "other_mod", "staff"])
def test_duty_in_a_group_one_does_not_moderate_is_404(client, scene, who):
    client.force_login(getattr(scene, who))
    url = reverse("moderation:duty", kwargs={"slug": scene.group.slug})
    assert client.post(url, {"on_duty": "0"}).status_code == 404
    assert Membership.objects.filter(group=scene.group, on_duty=False).count() == 0
    assert not AuditEntry.objects.filter(action=A.DUTY_CHANGED).exists()


# --- appeals -----------------------------------------------------------------------------------


@pytest.fixture
def appealed(client, scene) -> Case:
    case = _decided_case(client, scene, "hide")
    client.force_login(scene.ada)
    response = client.post(reverse("moderation:appeal", kwargs={"case_id": case.pk}),
                           {"note": "It was only my experience."})
    assert response.status_code == 302
    return case


def _appeal_state(case: Case) -> tuple:
    appeal = Appeal.objects.get(case=case)
    return (appeal.status, appeal.decided_by_id, appeal.outcome_reason,
            ChatMessage.objects.get(pk=case.chat_message_id).status,
            AuditEntry.objects.filter(action=A.APPEAL_DECIDED).count())


def test_the_author_appeals_once(client, scene, appealed):
    appeal = Appeal.objects.get(case=appealed)
    assert (appeal.author, appeal.status) == (scene.ada, "open")
    assert appeal.assigned_to != scene.mod  # someone other than who decided
    url = reverse("moderation:appeal", kwargs={"case_id": appealed.pk})
    body = text_of(client.get(url))
    assert "You asked for a second look: waiting." in body
    assert 'name="note"' not in body
    response = client.post(url, {"note": "Again"})
    assert response.status_code == 400
    assert Appeal.objects.filter(case=appealed).count() == 1


def test_an_empty_appeal_is_400_and_stores_nothing(client, scene):
    case = _decided_case(client, scene, "hide")
    client.force_login(scene.ada)
    response = client.post(reverse("moderation:appeal", kwargs={"case_id": case.pk}),
                           {"note": "  "})
    assert response.status_code == 400
    assert 'id="id_note-error"' in response.content.decode()
    assert not Appeal.objects.exists()


def test_the_deciding_moderator_cannot_decide_the_appeal(client, scene, appealed):
    client.force_login(scene.mod)
    page = text_of(client.get(reverse("moderation:case", kwargs={"case_id": appealed.pk})))
    assert "Decide the appeal" not in page
    before = _appeal_state(appealed)
    response = client.post(reverse("moderation:decide_appeal", kwargs={"case_id": appealed.pk}),
                           {"outcome": "overturn", "reason": "I changed my mind"})
    assert response.status_code == 400
    assert "Someone other than the moderator who decided must review this." in text_of(response)
    assert _appeal_state(appealed) == before


@pytest.mark.parametrize(("outcome", "status", "message", "words"), [
    ("uphold", "upheld", "hidden", "the decision stands"),
    ("overturn", "overturned", "published", "the decision has been changed"),
])
def test_another_moderator_decides_the_appeal(client, scene, appealed, outcome, status,
                                              message, words):
    client.force_login(scene.mod2)
    url = reverse("moderation:case", kwargs={"case_id": appealed.pk})
    assert "Decide the appeal" in text_of(client.get(url))
    response = client.post(reverse("moderation:decide_appeal", kwargs={"case_id": appealed.pk}),
                           {"outcome": outcome, "reason": "Looked again carefully."})
    assert response.status_code == 302
    assert response["Location"] == url
    assert _appeal_state(appealed) == (status, scene.mod2.pk, "Looked again carefully.",
                                       message, 1)
    told = Notification.objects.filter(user=scene.ada, kind="appeal").get()
    assert words in told.text and "Looked again carefully." in told.text


def test_an_appeal_decided_without_a_reason_is_400(client, scene, appealed):
    client.force_login(scene.mod2)
    before = _appeal_state(appealed)
    response = client.post(reverse("moderation:decide_appeal", kwargs={"case_id": appealed.pk}),
                           {"outcome": "overturn", "reason": ""})
    assert response.status_code == 400
    assert "Please give a reason. The author will see it." in text_of(response)
    assert _appeal_state(appealed) == before


def test_an_appeal_is_decided_once(client, scene, appealed):
    client.force_login(scene.mod2)
    url = reverse("moderation:decide_appeal", kwargs={"case_id": appealed.pk})
    assert client.post(url, {"outcome": "uphold", "reason": "Stands"}).status_code == 302
    before = _appeal_state(appealed)
    client.force_login(scene.owner)
    response = client.post(url, {"outcome": "overturn", "reason": "Changed"})
    assert response.status_code == 400
    assert "already been decided" in text_of(response)
    assert _appeal_state(appealed) == before


def test_a_case_without_an_appeal_has_no_appeal_to_decide(client, scene):
    case = _decided_case(client, scene, "hide")
    client.force_login(scene.mod2)
    response = client.post(reverse("moderation:decide_appeal", kwargs={"case_id": case.pk}),
                           {"outcome": "overturn", "reason": "Nothing to decide"})
    assert response.status_code == 404
    assert ChatMessage.objects.get(pk=scene.message.pk).status == "hidden"
