"""The chat on a poor phone connection (issue 10, part 4).

One member's browser is slowed with Chromium's own network emulation (400 kbit/s each
way and 400 ms of extra latency on every request, a weak mobile signal); the other's is
not. The slow member still reads the chat from the server's HTML, sees the connection
state go from "Connecting…" to "Connected", and sends and receives messages live.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from community.models import ChatMessage, Group
from tests.conftest import add_membership
from tests.e2e.test_join_journey import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KBIT = 1000 / 8  # bytes per second in one kilobit per second
POOR_SIGNAL = {
    "offline": False,
    "latency": 400,  # ms added to every request's round trip
    "downloadThroughput": 400 * KBIT,
    "uploadThroughput": 400 * KBIT,
    "connectionType": "cellular3g",
}

# Runs before the page's own scripts: remember every text the connection state shows.
RECORD_STATUS_JS = """
(() => {
  window.__statusSeen = [];
  const note = () => {
    const el = document.getElementById('chat-status');
    if (!el) return;
    const text = el.textContent.trim();
    const seen = window.__statusSeen;
    if (seen[seen.length - 1] !== text) seen.push(text);
  };
  new MutationObserver(note).observe(document, {subtree: true, childList: true,
                                                 characterData: true});
  document.addEventListener('DOMContentLoaded', note);
})();
"""


@pytest.fixture
def chat_group(make_user, make_group):
    sam, priya = make_user("Sam Example"), make_user("Priya Example")
    group = make_group(Group.Privacy.APPROVAL, name="Breathe Easy", slug="breathe-easy")
    add_membership(sam, group, "approved")
    add_membership(priya, group, "approved")
    for n, (who, body) in enumerate([(priya, "Morning all. Rough night, but the tea helps."),
                                     (sam, "Sending support. Anyone else up early?")]):
        ChatMessage.objects.create(group=group, seq=n + 1, author=who, client_id=f"seed-{n}",
                                   body=body, body_html=f"<p>{body}</p>",
                                   status=ChatMessage.Status.PUBLISHED)
    Group.objects.filter(pk=group.pk).update(chat_seq=2)
    return group, sam, priya


def slow_down(person) -> None:
    cdp = person.context.new_cdp_session(person.page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", POOR_SIGNAL)


def test_chat_works_and_shows_its_state_on_a_poor_connection(daphne, visitor, chat_group):
    group, sam, priya = chat_group
    sam_v, priya_v = visitor(), visitor()
    for person, who in ((sam_v, sam), (priya_v, priya)):
        log_in(person.page, who.email)
    priya_v.open(f"/groups/{group.slug}/chat/")
    expect(priya_v.page.locator("#chat-status")).to_have_text(re.compile("Connected"))

    sam_v.page.add_init_script(RECORD_STATUS_JS)
    slow_down(sam_v)
    page = sam_v.page
    started = time.monotonic()
    page.goto(f"/groups/{group.slug}/chat/", wait_until="commit")
    # What the server sent is readable before any script has run or connected.
    expect(page.locator("#chat-log")).to_contain_text("Rough night", timeout=15_000)
    readable = time.monotonic() - started
    expect(page.locator("#chat-status")).to_have_text(re.compile("^Connected"), timeout=20_000)
    connected = time.monotonic() - started
    seen = page.evaluate("window.__statusSeen")
    states = [s for s in seen if s.startswith(("Connecting", "Connected"))]
    assert states[:1] == ["Connecting…"], seen
    assert states[-1].startswith("Connected"), seen
    assert "is-offline" not in (page.locator("#chat-status").get_attribute("class") or "")

    # The slow member sends: it shows as waiting at once, then arrives for the other member.
    box = page.get_by_label("Your message")
    box.fill("Hello from the bus, the signal is terrible")
    box.press("Enter")
    mine = page.locator("#chat-log .chat-message").filter(has_text="signal is terrible")
    expect(mine).to_have_count(1)
    expect(chat_text(priya_v.page)).to_contain_text("signal is terrible", timeout=15_000)
    expect(mine).not_to_have_class(re.compile("is-pending"), timeout=15_000)

    # ...and receives what the other member writes, live.
    priya_v.page.get_by_label("Your message").fill("We can hear you, Sam!")
    priya_v.page.keyboard.press("Enter")
    expect(chat_text(page)).to_contain_text("We can hear you, Sam!", timeout=15_000)

    for who in (sam_v.page, priya_v.page):
        texts = [t.strip() for t in who.locator("#chat-log .chat-body").all_inner_texts()]
        assert texts.count("Hello from the bus, the signal is terrible") == 1
        assert texts.count("We can hear you, Sam!") == 1
    assert sam_v.offsite_requests == [] and priya_v.offsite_requests == []
    print(f"\nPoor connection (400 kbit/s, +400 ms): chat readable after {readable:.1f}s, "
          f"connected after {connected:.1f}s; states seen: {seen}")


def chat_text(page):
    return page.locator("#chat-log")
