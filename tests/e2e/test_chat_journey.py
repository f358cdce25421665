"""Two members chat live in real browsers, with the keyboard alone; one loses the
connection, writes while away, and comes back: nothing is lost and nothing is doubled.

The browser goes offline, and since that does not close an open WebSocket, the connection
is also cut with Playwright's WebSocket routing, which refuses reconnects until we say so.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from community.models import ChatMessage, Group
from tests.conftest import add_membership
from tests.e2e.keyboard import follow_link, log_in_by_keyboard, tab_to
from tests.e2e.live import page_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Line:
    """A WebSocket route we can cut and restore, like a phone losing signal."""

    def __init__(self) -> None:
        self.up = True
        self.open_routes: list = []

    def handle(self, ws) -> None:
        if not self.up:
            ws.close(code=1001, reason="no signal")
            return
        ws.connect_to_server()
        self.open_routes.append(ws)

    def cut(self) -> None:
        self.up = False
        for ws in self.open_routes:
            ws.close(code=1001, reason="no signal")
        self.open_routes.clear()


@pytest.fixture
def open_group(make_user, make_group):
    sam, priya = make_user("Sam Example"), make_user("Priya Example")
    group = make_group(Group.Privacy.OPEN, name="Carers Together", slug="carers-together")
    add_membership(sam, group, "approved")
    add_membership(priya, group, "approved")
    return group, sam, priya


def chat_log(page):
    return page.locator("#chat-log")


def open_chat_by_keyboard(page, group) -> None:
    """From the group's home page, Tab to its "Chat" link and press Enter."""
    page.goto(f"/groups/{group.slug}/")
    follow_link(page, "Chat")
    expect(page).to_have_url(re.compile(rf"/groups/{group.slug}/chat/$"))
    expect(page.locator("#chat-status")).to_have_text(re.compile("Connected"))


def say(page, words: str) -> None:
    """Tab to the message box (if not already there), type, press Enter."""
    tab_to(page, label="Your message")
    page.keyboard.type(words)
    page.keyboard.press("Enter")


def test_messages_survive_a_dropped_connection_without_loss_or_doubles(
    daphne, visitor, open_group
):
    """Keyboard only: logging in, finding the chat, writing and sending are all keys."""
    group, sam, priya = open_group
    sam_v, priya_v = visitor(), visitor()
    line = Line()
    priya_v.page.route_web_socket(re.compile(r"/ws/groups/"), line.handle)
    problems: list[str] = []

    for person, who in ((sam_v, sam), (priya_v, priya)):
        log_in_by_keyboard(person.page, who.email)
        open_chat_by_keyboard(person.page, group)
    problems += page_problems(priya_v.page, "chat")

    # Live: Sam writes (type, press Enter), Priya sees it at once.
    say(sam_v.page, "Hello everyone, how was your week?")
    expect(chat_log(priya_v.page)).to_contain_text("how was your week")
    box = sam_v.page.get_by_label("Your message")
    expect(box).to_be_focused()  # sending never moves the keyboard focus away
    expect(box).to_have_value("")

    # Priya's phone loses signal: the browser goes offline and her socket drops.
    priya_v.context.set_offline(True)
    line.cut()
    expect(priya_v.page.locator("#chat-status")).to_have_text(
        re.compile("offline|Reconnecting|lost"))
    say(sam_v.page, "Posted while Priya was away")
    expect(chat_log(sam_v.page)).to_contain_text("Posted while Priya was away")
    say(priya_v.page, "Written on the bus with no signal")
    expect(chat_log(priya_v.page)).to_contain_text("Waiting")
    expect(priya_v.page.get_by_label("Your message")).to_be_focused()
    problems += page_problems(priya_v.page, "chat, offline with a message waiting")

    # Signal returns: Priya catches up and her queued message goes out exactly once.
    line.up = True
    priya_v.context.set_offline(False)
    expect(priya_v.page.locator("#chat-status")).to_have_text(
        re.compile("Connected"), timeout=15_000
    )
    for page in (sam_v.page, priya_v.page):
        expect(chat_log(page)).to_contain_text("Posted while Priya was away")
        expect(chat_log(page)).to_contain_text("Written on the bus with no signal")

    texts = [
        "Hello everyone, how was your week?",
        "Posted while Priya was away",
        "Written on the bus with no signal",
    ]
    for page in (sam_v.page, priya_v.page):
        items = page.locator("#chat-log .chat-message .chat-body").all_inner_texts()
        assert [t.strip() for t in items] == texts  # each once, in order
        expect(page.locator("#chat-log .is-pending")).to_have_count(0)
    assert list(
        ChatMessage.objects.filter(group=group).order_by("id").values_list("body", flat=True)
    ) == texts
    problems += page_problems(priya_v.page, "chat, back online")
    assert problems == []


def test_new_messages_are_announced_politely(daphne, visitor, open_group):
    group, sam, priya = open_group
    sam_v, priya_v = visitor(), visitor()
    for person, who in ((sam_v, sam), (priya_v, priya)):
        log_in_by_keyboard(person.page, who.email)
        open_chat_by_keyboard(person.page, group)
    announcer = priya_v.page.locator("#chat-announcer")
    assert announcer.get_attribute("aria-live") == "polite"
    tab_to(priya_v.page, label="Your message")
    say(sam_v.page, "Anyone around tonight?")
    expect(announcer).to_contain_text("Sam Example says: Anyone around tonight?")
    expect(priya_v.page.locator("#chat-presence")).to_contain_text("Sam Example")
    expect(priya_v.page.get_by_label("Your message")).to_be_focused()
