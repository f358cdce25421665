"""Two members chat live in real browsers; one loses the connection, writes while away,
and comes back: nothing is lost and nothing is doubled.

The connection is cut with Playwright's WebSocket routing (going "offline" in the browser
does not close an open WebSocket), which also refuses reconnects until we say so.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from community.models import ChatMessage, Group
from tests.conftest import add_membership
from tests.e2e.test_join_journey import log_in

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


def test_messages_survive_a_dropped_connection_without_loss_or_doubles(
    daphne, visitor, open_group
):
    group, sam, priya = open_group
    sam_v, priya_v = visitor(), visitor()
    line = Line()
    priya_v.page.route_web_socket(re.compile(r"/ws/groups/"), line.handle)

    for person, who in ((sam_v, sam), (priya_v, priya)):
        log_in(person.page, who.email)
        person.open(f"/groups/{group.slug}/chat/")
        expect(person.page.locator("#chat-status")).to_have_text(re.compile("Connected"))

    # Live: Sam writes (keyboard only: type, press Enter), Priya sees it at once.
    box = sam_v.page.get_by_label("Your message")
    box.focus()
    sam_v.page.keyboard.type("Hello everyone, how was your week?")
    sam_v.page.keyboard.press("Enter")
    expect(chat_log(priya_v.page)).to_contain_text("how was your week")
    expect(box).to_be_focused()  # sending never moves the keyboard focus away

    # Priya loses signal. Sam keeps talking; Priya writes while away.
    line.cut()
    expect(priya_v.page.locator("#chat-status")).to_have_text(re.compile("Reconnecting|lost"))
    sam_v.page.get_by_label("Your message").fill("Posted while Priya was away")
    sam_v.page.keyboard.press("Enter")
    expect(chat_log(sam_v.page)).to_contain_text("Posted while Priya was away")
    priya_v.page.get_by_label("Your message").fill("Written on the bus with no signal")
    priya_v.page.keyboard.press("Enter")
    expect(chat_log(priya_v.page)).to_contain_text("Waiting")

    # Signal returns: Priya catches up and her queued message goes out exactly once.
    line.up = True
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


def test_new_messages_are_announced_politely(daphne, visitor, open_group):
    group, sam, priya = open_group
    sam_v, priya_v = visitor(), visitor()
    for person, who in ((sam_v, sam), (priya_v, priya)):
        log_in(person.page, who.email)
        person.open(f"/groups/{group.slug}/chat/")
        expect(person.page.locator("#chat-status")).to_have_text(re.compile("Connected"))
    announcer = priya_v.page.locator("#chat-announcer")
    assert announcer.get_attribute("aria-live") == "polite"
    sam_v.page.get_by_label("Your message").fill("Anyone around tonight?")
    sam_v.page.get_by_role("button", name="Send").click()
    expect(announcer).to_contain_text("Sam Example says: Anyone around tonight?")
    expect(priya_v.page.locator("#chat-presence")).to_contain_text("Sam Example")
