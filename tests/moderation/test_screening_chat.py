"""Screening in group chat: the service (`post_chat_message(..., confirm=)`), the socket
frames of CONTRACT.md (`message.prompt`, `signpost`, `error` code "blocked", `message.ack`
with status "held") and the no-JavaScript chat page.

Crisis messages are published with an urgent case and a private help panel; unsafe
advice asks first and, sent anyway, is published with a case (or held, in a group that
holds it); blocked words are never stored; a group's own watched words apply at once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils.html import escape

from community import realtime
from community.models import ChatMessage, Group, Membership, Notification, User
from community.services.chat import CHAT_MESSAGE, post_chat_message
from moderation import rulebook
from moderation.models import Case, ScreeningRule
from moderation.services.cases import resolve_case
from moderation.signposting import PANELS, PROMPTS, ScreeningBlocked, ScreeningPrompt
from tests.community.chat_helpers import (
    FAST_HASHERS,
    ChatSocket,
    fresh_cache_keys,
)
from tests.conftest import add_membership

CRISIS = "I don't want to be here anymore"
UNSAFE = "just stop taking your insulin"
SLUR = "go home you paki"

PROMPT_KEYS = {"type", "client_id", "reason", "title", "text", "resources"}
SIGNPOST_KEYS = {"type", "reason", "title", "text", "resources"}


@pytest.fixture(autouse=True)
def isolated(settings):
    """Fast passwords, this test's own rate-limit counts, and screening caches that start
    (and end) empty: ids are reused between tests, and a cached rule set for a group id
    would otherwise carry one test's watched words into the next."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
    fresh_cache_keys(settings)
    rulebook.forget()
    yield
    rulebook.forget()


@dataclass
class Room:
    group: Group
    owner: User
    moderator: User  # on duty
    resting: User  # a moderator who is off duty
    ada: User
    ben: User
    cal: User

    @property
    def slug(self) -> str:
        return self.group.slug

    @property
    def url(self) -> str:
        return f"/groups/{self.group.slug}/chat/"


@pytest.fixture
def room(make_user, make_group) -> Room:
    group = make_group(Group.Privacy.APPROVAL, name="Type 1 Together")
    owner = group.memberships.get(role="owner").user
    Membership.objects.filter(group=group, user=owner).update(on_duty=False)
    moderator, resting = make_user("Mo Moderator"), make_user("Rita Resting")
    add_membership(moderator, group, "approved", "moderator")
    add_membership(resting, group, "approved", "moderator", on_duty=False)
    people = {name: make_user(name) for name in ("Ada", "Ben", "Cal")}
    for person in people.values():
        add_membership(person, group, "approved")
    return Room(group=group, owner=owner, moderator=moderator, resting=resting,
                ada=people["Ada"], ben=people["Ben"], cal=people["Cal"])


def holding(room: Room) -> Room:
    Group.objects.filter(pk=room.group.pk).update(hold_unsafe_advice=True)
    room.group.refresh_from_db()
    return room


def rule_keys(case: Case) -> list[str]:
    return [match["key"] for match in case.screening]


def samaritans(resources: list[dict]) -> list[dict]:
    return [r for r in resources if r.get("name") == "Samaritans" and r.get("phone") == "116 123"]


def watch(group: Group, phrase: str, *, action: str, category: str = "spam") -> ScreeningRule:
    rule = ScreeningRule.objects.create(group=group, kind=ScreeningRule.Kind.PHRASE,
                                        pattern=phrase, category=category, action=action)
    rulebook.changed()
    return rule


def keep(case: Case, moderator: User) -> Case:
    current = Case.objects.get(pk=case.pk)
    return resolve_case(actor=moderator, case=current, decision=Case.Decision.KEEP,
                        reason="Fine to stay up: thank you for sharing.",
                        version=current.version)


# --- the service ----------------------------------------------------------------------------


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, dict]]:
    events: list[tuple[str, dict]] = []
    monkeypatch.setattr(realtime, "publish", lambda group, event: events.append((group, event)))
    return events


def chat_events(room: Room, events: list[tuple[str, dict]]) -> list[dict]:
    return [e for g, e in events if g == realtime.chat_group(room.group.pk)]


@pytest.mark.django_db
def test_a_crisis_message_is_published_with_an_urgent_case_and_a_help_panel(
    room, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = post_chat_message(actor=room.ada, group=room.group, body=CRISIS,
                                   client_id="c-crisis")

    message = ChatMessage.objects.get()
    assert message.status == ChatMessage.Status.PUBLISHED == result.status
    assert result.created and result.message.pk == message.pk
    case = Case.objects.get(chat_message=message)
    assert case.kind == Case.Kind.CHAT_MESSAGE and case.group_id == room.group.pk
    assert case.urgent is True
    assert case.auto_hidden is False
    assert case.author_id == room.ada.pk
    assert "crisis.not-be-here" in rule_keys(case)
    assert {m["category"] for m in case.screening} == {"crisis"}

    # On-duty moderators are told now; an off-duty one is left to rest.
    told = Notification.objects.filter(kind=Notification.Kind.NEW_CASE)
    assert set(told.values_list("user_id", flat=True)) == {room.moderator.pk}
    assert str(case.pk) in told.get().url

    panel = result.panel
    assert panel is not None and set(panel) == SIGNPOST_KEYS
    assert panel["type"] == "signpost" and panel["reason"] == "crisis"
    assert (panel["title"], panel["text"]) == PANELS[("crisis", "self")]
    assert samaritans(panel["resources"])

    [event] = chat_events(room, published)
    assert event["type"] == CHAT_MESSAGE and event["id"] == message.pk
    frame = json.loads(event["frame"])
    assert frame["type"] == "message.new" and frame["message"]["body"] == CRISIS


@pytest.mark.django_db
def test_a_crisis_about_someone_else_gets_the_panel_for_worried_friends(room):
    result = post_chat_message(actor=room.ada, group=room.group, client_id="c-friend",
                               body="my friend says she will kill herself")
    assert result.status == ChatMessage.Status.PUBLISHED
    assert Case.objects.get(chat_message=result.message).urgent
    assert (result.panel["title"], result.panel["text"]) == PANELS[("crisis", "other")]


@pytest.mark.django_db
def test_unsafe_advice_asks_first_and_stores_nothing(room, published,
                                                     django_capture_on_commit_callbacks):
    with (django_capture_on_commit_callbacks(execute=True),
          pytest.raises(ScreeningPrompt) as asked):
        post_chat_message(actor=room.ada, group=room.group, body=UNSAFE, client_id="c-1")

    assert asked.value.reason == "unsafe_advice"
    assert (asked.value.title, asked.value.text) == PROMPTS["unsafe_advice"]
    assert ChatMessage.objects.count() == 0
    assert Case.objects.count() == 0
    assert published == []


@pytest.mark.django_db
def test_unsafe_advice_sent_anyway_is_published_with_a_case_that_is_not_urgent(
    room, published, django_capture_on_commit_callbacks
):
    with pytest.raises(ScreeningPrompt):
        post_chat_message(actor=room.ada, group=room.group, body=UNSAFE, client_id="c-1")
    with django_capture_on_commit_callbacks(execute=True):
        result = post_chat_message(actor=room.ada, group=room.group, body=UNSAFE,
                                   client_id="c-1", confirm=True)

    message = ChatMessage.objects.get()
    assert message.status == ChatMessage.Status.PUBLISHED
    case = Case.objects.get(chat_message=message)
    assert case.urgent is False and case.auto_hidden is False
    assert "unsafe.stop-meds" in rule_keys(case)
    assert not Notification.objects.filter(kind=Notification.Kind.NEW_CASE).exists()
    assert result.panel["reason"] == "unsafe_advice"
    [event] = chat_events(room, published)
    assert json.loads(event["frame"])["message"]["id"] == message.pk


@pytest.mark.django_db
def test_a_phone_number_asks_first_and_sent_anyway_has_a_case_but_no_help_panel(room):
    text = "text me on 07700 900123 if you want to chat"
    with pytest.raises(ScreeningPrompt) as asked:
        post_chat_message(actor=room.ada, group=room.group, body=text, client_id="c-p")
    assert asked.value.reason == "privacy"
    assert asked.value.frame("c-p")["reason"] == "privacy"
    assert ChatMessage.objects.count() == 0

    result = post_chat_message(actor=room.ada, group=room.group, body=text, client_id="c-p",
                               confirm=True)
    assert result.status == ChatMessage.Status.PUBLISHED
    case = Case.objects.get(chat_message=result.message)
    assert rule_keys(case) == ["privacy.phone"] and not case.urgent
    assert result.panel is None


@pytest.mark.django_db
def test_in_a_holding_group_unsafe_advice_sent_anyway_is_held(
    room, published, django_capture_on_commit_callbacks
):
    holding(room)
    with pytest.raises(ScreeningPrompt):
        post_chat_message(actor=room.ada, group=room.group, body=UNSAFE, client_id="c-1")
    with django_capture_on_commit_callbacks(execute=True):
        result = post_chat_message(actor=room.ada, group=room.group, body=UNSAFE,
                                   client_id="c-1", confirm=True)

    message = ChatMessage.objects.get()
    assert message.status == ChatMessage.Status.HELD == result.status
    case = Case.objects.get(chat_message=message)
    assert case.auto_hidden is True and case.urgent is False
    # Others' sockets only learn that this place in the sequence is taken.
    [event] = chat_events(room, published)
    assert event["frame"] is None and event["seq"] == message.seq
    assert UNSAFE not in json.dumps([e for _, e in published])


@pytest.mark.django_db
def test_a_crisis_in_a_holding_group_is_still_published(room):
    holding(room)
    result = post_chat_message(actor=room.ada, group=room.group, client_id="c-1",
                               body=f"{CRISIS}. {UNSAFE}")
    assert result.status == ChatMessage.Status.PUBLISHED
    assert Case.objects.get(chat_message=result.message).urgent


@pytest.mark.django_db
def test_a_site_block_rule_refuses_and_stores_nothing_even_when_confirmed(room, published):
    for confirm in (False, True):
        with pytest.raises(ScreeningBlocked) as blocked:
            post_chat_message(actor=room.ada, group=room.group, body=SLUR,
                              client_id=f"c-{confirm}", confirm=confirm)
        assert blocked.value.reason == "abuse"
        assert "still in the box" in blocked.value.detail
    assert ChatMessage.objects.count() == 0 and Case.objects.count() == 0
    assert published == []


@pytest.mark.django_db
def test_a_groups_own_block_rule_refuses_at_once_and_only_in_that_group(room, make_group):
    text = "Anyone tried the Miracle Bananas diet?"
    assert post_chat_message(actor=room.ada, group=room.group, body=text,
                             client_id="before").status == "published"

    watch(room.group, "miracle bananas", action=ScreeningRule.Action.BLOCK)

    with pytest.raises(ScreeningBlocked):
        post_chat_message(actor=room.ada, group=room.group, body=text, client_id="after")
    assert list(ChatMessage.objects.values_list("client_id", flat=True)) == ["before"]
    elsewhere = make_group(Group.Privacy.APPROVAL)
    add_membership(room.ada, elsewhere, "approved")
    assert post_chat_message(actor=room.ada, group=elsewhere, body=text,
                             client_id="elsewhere").status == "published"


@pytest.mark.django_db
def test_a_groups_watched_word_takes_effect_at_once_without_a_restart(room):
    # Screen once first, so the group's rule set is compiled and cached in this process.
    post_chat_message(actor=room.ben, group=room.group, body="Morning all, sunny here",
                      client_id="warm-up")

    rule = watch(room.group, "sunny here", action=ScreeningRule.Action.HOLD,
                 category="abuse")

    result = post_chat_message(actor=room.ada, group=room.group, body="Sunny here too!",
                               client_id="watched")
    assert result.status == ChatMessage.Status.HELD
    case = Case.objects.get(chat_message=result.message)
    assert rule_keys(case) == [f"group-{rule.pk}"]
    assert case.screening[0]["source"] == "group"


# --- the socket -------------------------------------------------------------------------------


@database_sync_to_async
def stored(group: Group) -> list[ChatMessage]:
    return list(ChatMessage.objects.filter(group=group).order_by("pk"))


@database_sync_to_async
def case_of(message_id: int) -> Case:
    return Case.objects.get(chat_message_id=message_id)


async def send(sock: ChatSocket, body: str, client_id: str, **extra) -> None:
    await sock.send({"type": "message.send", "body": body, "client_id": client_id, **extra})


def after(frames: list[dict], first: dict) -> list[dict]:
    return frames[frames.index(first) + 1:]


@pytest.mark.django_db(transaction=True)
async def test_socket_unsafe_advice_gets_a_prompt_then_send_anyway_publishes(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)

    await send(ada, UNSAFE, "c-unsafe")
    prompt = await ada.next("message.prompt", "message.ack", "error")
    assert set(prompt) == PROMPT_KEYS
    assert prompt["type"] == "message.prompt"
    assert prompt["client_id"] == "c-unsafe"
    assert prompt["reason"] == "unsafe_advice"
    assert (prompt["title"], prompt["text"]) == PROMPTS["unsafe_advice"]
    assert isinstance(prompt["resources"], list)
    assert await ada.quiet() == [], "a prompt is all the writer gets"
    assert await ben.quiet() == [], "nothing reaches anyone else"
    assert await stored(room.group) == []

    await send(ada, UNSAFE, "c-unsafe", confirm=True)
    ack = await ada.next("message.ack", "error", "message.prompt")
    [row] = await stored(room.group)
    assert ack == {"type": "message.ack", "client_id": "c-unsafe", "id": row.pk,
                   "status": "published"}
    signpost = await ada.next("signpost")
    assert set(signpost) == SIGNPOST_KEYS and signpost["reason"] == "unsafe_advice"
    assert signpost in after(ada.frames, ack), "the help panel follows the ack"
    new = await ben.next("message.new")
    assert new["message"]["id"] == row.pk and new["message"]["body"] == UNSAFE
    assert await ben.quiet() == []
    assert not any(f["type"] == "signpost" for f in ben.frames)
    assert (await case_of(row.pk)).urgent is False


@pytest.mark.django_db(transaction=True)
async def test_socket_crisis_is_published_and_the_author_alone_gets_help(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)

    await send(ada, CRISIS, "c-crisis")
    ack = await ada.next("message.ack", "error", "message.prompt")
    [row] = await stored(room.group)
    assert ack == {"type": "message.ack", "client_id": "c-crisis", "id": row.pk,
                   "status": "published"}
    signpost = await ada.next("signpost")
    assert signpost["reason"] == "crisis"
    assert (signpost["title"], signpost["text"]) == PANELS[("crisis", "self")]
    assert samaritans(signpost["resources"]), signpost["resources"]
    assert signpost in after(ada.frames, ack)

    new = await ben.next("message.new")
    assert new["message"]["id"] == row.pk and new["message"]["body"] == CRISIS
    assert await ben.quiet() == []
    assert not any(f["type"] == "signpost" for f in ben.frames)
    case = await case_of(row.pk)
    assert case.urgent and "crisis.not-be-here" in rule_keys(case)


@pytest.mark.django_db(transaction=True)
async def test_socket_blocked_message_gets_an_error_and_nothing_is_stored(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)

    for confirm in ({}, {"confirm": True}):
        await send(ada, SLUR, "c-blocked", **confirm)
        error = await ada.next("error", "message.ack", "message.prompt")
        assert error["code"] == "blocked"
        assert error["client_id"] == "c-blocked"
        assert error["detail"]
    assert await stored(room.group) == []
    assert await ben.quiet() == []
    assert ada.closed is None, "the socket stays open"
    ok = await ada.post("Sorry everyone, that was out of order.")
    assert ok["type"] == "message.ack" and ok["status"] == "published"


@pytest.mark.django_db(transaction=True)
async def test_socket_held_message_reaches_others_once_only_after_a_moderator_keeps_it(
    room, chat
):
    await database_sync_to_async(holding)(room)
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    cal, _ = await chat.join(room.cal, room.slug)

    await send(ada, UNSAFE, "c-held")
    assert (await ada.next("message.prompt", "message.ack", "error"))["type"] == \
        "message.prompt"
    await send(ada, UNSAFE, "c-held", confirm=True)
    ack = await ada.next("message.ack", "error", "message.prompt")
    [row] = await stored(room.group)
    assert ack == {"type": "message.ack", "client_id": "c-held", "id": row.pk,
                   "status": "held"}
    assert row.status == ChatMessage.Status.HELD
    for sock in (ben, cal):
        assert await sock.quiet() == [], "a held message reaches no one else"

    # Life goes on meanwhile.
    other = await ben.post("Has anyone tried the new sensor?")
    for sock in (ada, ben, cal):
        assert (await sock.next("message.new"))["message"]["id"] == other["id"]

    case = await case_of(row.pk)
    assert case.auto_hidden
    await database_sync_to_async(keep)(case, room.moderator)

    # It arrives now, so it takes the next id (ids rise in the order messages become
    # visible), keeps its author's client_id, and the case follows it.
    [released] = [m for m in await stored(room.group) if m.client_id == "c-held"]
    assert released.status == ChatMessage.Status.PUBLISHED
    assert released.pk > other["id"]
    for sock in (ben, cal):
        frames = await sock.collect("message.new", 1)
        assert [f["message"]["id"] for f in frames] == [released.pk]
        assert frames[0]["message"]["body"] == UNSAFE
        assert await sock.quiet() == [], "exactly once"
    assert (await case_of(released.pk)).pk == case.pk


@pytest.mark.django_db(transaction=True)
async def test_socket_reconnect_with_after_never_replays_held_messages(room, chat):
    await database_sync_to_async(holding)(room)
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    first = await ben.post("Before")
    await send(ada, UNSAFE, "c-held", confirm=True)
    held = await ada.next("message.ack", "error", "message.prompt")
    assert held["status"] == "held"
    last = await ben.post("After")

    for since in (first["id"], 0, None):
        _, history = await chat.join(room.cal, room.slug, after=since)
        ids = [m["id"] for m in history["messages"]]
        assert held["id"] not in ids, since
        assert last["id"] in ids
        assert UNSAFE not in json.dumps(history)


@pytest.mark.django_db(transaction=True)
async def test_socket_a_released_message_is_caught_up_by_a_member_who_was_away(room, chat):
    """CONTRACT.md: `id` rises in the order messages become visible, and a reconnect with
    ?after=<last id seen> receives every published message missed, exactly once. A held
    message becomes visible when a moderator keeps it, after messages sent meanwhile."""
    await database_sync_to_async(holding)(room)
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    cal, _ = await chat.join(room.cal, room.slug)
    await send(ada, UNSAFE, "c-held", confirm=True)
    held = await ada.next("message.ack", "error", "message.prompt")
    assert held["status"] == "held"
    meanwhile = await ben.post("Has anyone tried the new sensor?")
    seen = await cal.next("message.new")
    assert seen["message"]["id"] == meanwhile["id"]
    assert (await ben.next("message.new"))["message"]["id"] == meanwhile["id"]
    await cal.disconnect()  # Cal's phone goes to sleep, having seen everything so far

    await database_sync_to_async(keep)(await case_of(held["id"]), room.moderator)
    live = await ben.next("message.new")
    assert live["message"]["client_id"] == "c-held"

    _, history = await chat.join(room.cal, room.slug, after=seen["message"]["id"])
    assert [m["client_id"] for m in history["messages"]] == ["c-held"], (
        "the message a moderator let through after Cal's last one is not caught up"
    )


# --- the page without JavaScript ------------------------------------------------------------------


def textarea(html: str) -> str:
    match = re.search(r'<textarea id="chat-body"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, "the chat box is on the page"
    return match.group(1)


def hidden_client_id(html: str) -> str:
    match = re.search(r'<input type="hidden" name="client_id" value="([^"]+)">', html)
    assert match
    return match.group(1)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_page_unsafe_advice_shows_the_prompt_keeps_the_text_and_offers_send_anyway(room):
    client = logged_in(room.ada)
    text = "you should stop your meds, it's what I did & I'm fine"
    response = client.post(room.url, {"body": text, "client_id": "page-1"})

    assert response.status_code == 200
    html = response.content.decode()
    title, explanation = PROMPTS["unsafe_advice"]
    assert escape(title) in html and escape(explanation) in html
    assert textarea(html) == escape(text), "the words stay in the box"
    assert re.search(r'<button type="submit" name="confirm" value="1">Send anyway</button>',
                     html)
    assert hidden_client_id(html) == "page-1"
    assert ChatMessage.objects.count() == 0

    response = client.post(room.url, {"body": text, "client_id": "page-1", "confirm": "1"})
    assert response.status_code == 302 and response["Location"] == room.url
    message = ChatMessage.objects.get()
    assert (message.body, message.status, message.author_id) == (
        text, ChatMessage.Status.PUBLISHED, room.ada.pk)
    assert Case.objects.filter(chat_message=message, urgent=False).exists()
    after_send = client.get(room.url).content.decode()
    assert textarea(after_send) == ""
    assert 'name="confirm"' not in after_send


@pytest.mark.django_db
def test_page_blocked_message_is_refused_with_the_reason_and_the_text_kept(room):
    response = logged_in(room.ada).post(room.url, {"body": SLUR, "client_id": "page-b"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "still in the box" in html
    assert textarea(html) == escape(SLUR)
    assert ChatMessage.objects.count() == 0


def help_panels(html: str) -> int:
    return html.count('id="help-panel-title"')


@pytest.mark.django_db
def test_page_crisis_is_posted_and_the_help_panel_shows_once(room):
    client = logged_in(room.ada)
    response = client.post(room.url, {"body": CRISIS, "client_id": "page-c"})
    assert response.status_code == 302 and response["Location"] == room.url
    message = ChatMessage.objects.get()
    assert message.status == ChatMessage.Status.PUBLISHED
    assert Case.objects.get(chat_message=message).urgent

    first = client.get(room.url).content.decode()
    assert help_panels(first) == 1
    title, _ = PANELS[("crisis", "self")]
    assert escape(title) in first
    assert "Samaritans" in first and "116 123" in first
    assert message.body_html in first, "the message is on the page too"

    again = client.get(room.url).content.decode()
    assert help_panels(again) == 0, "the panel is shown once, not on every load"
    assert escape(title) not in again

    # Only the writer sees it.
    assert help_panels(logged_in(room.ben).get(room.url).content.decode()) == 0


@pytest.mark.django_db
def test_page_held_message_is_shown_to_its_author_with_a_note_and_to_no_one_else(room):
    holding(room)
    client = logged_in(room.ada)
    client.post(room.url, {"body": UNSAFE, "client_id": "page-h"})
    response = client.post(room.url, {"body": UNSAFE, "client_id": "page-h", "confirm": "1"},
                           follow=True)
    html = response.content.decode()
    assert ChatMessage.objects.get().status == ChatMessage.Status.HELD
    assert "waiting for a moderator" in html
    assert UNSAFE in html
    assert UNSAFE not in logged_in(room.ben).get(room.url).content.decode()


def test_case_page_says_which_screening_rules_caught_it(room, client):
    """Moderators see why screening opened the case, in words, not patterns."""
    result = post_chat_message(actor=room.ada, group=room.group, client_id="why",
                               body="I want to end it all")
    case = Case.objects.get(chat_message=result.message)
    client.force_login(room.moderator)
    page = client.get(f"/moderation/cases/{case.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Caught by screening" in text
    assert "Talks about ending their life." in text
    assert "Someone may be in crisis" in text
    assert "(?:" not in text  # never the raw pattern
