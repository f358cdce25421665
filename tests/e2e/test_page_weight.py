"""The main pages are light on a poor connection (issue 10, part 4).

A member opens the group home, the chat and a forum thread in a fresh browser (nothing
cached), in a group with a demo-like amount of talk: a full page of chat (50 messages) and
a full page of replies (20 posts). For each page we add up what the browser actually
received (headers and bodies, as sent: the server does not compress, so this is the real
figure) and check it is under 150 KB; that every request went to our own server (no
fonts, scripts, images or analytics from anyone else); and that the first render comes
from the server's HTML (the messages and posts are in the document itself, and no
script fetches content before the page can be read).

Run with `-s` to see the figures (and a gzip estimate, for a proxy that compresses).
"""

from __future__ import annotations

import gzip
import re
from datetime import time, timedelta
from urllib.parse import urlsplit

import pytest
from django.db.models import F
from django.utils import timezone

from community.models import ChatMessage, Group
from community.services.meetings import schedule_meeting
from community.text import render_markdown
from forums.models import Category
from forums.services import create_default_categories, reply, start_thread
from tests.conftest import add_membership
from tests.e2e.test_join_journey import log_in
from tests.e2e.test_local_group_journey import off_the_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BUDGET_BYTES = 150 * 1000  # per page, before any pictures members add

# The kind of things people say: short and long, with the odd bit of Markdown.
SAYINGS = [
    "Morning all. Rough night, but the tea is helping.",
    "Sending support. Anyone else up early?",
    "My clinic appointment got moved again, so I'm trying not to let it get to me.",
    "Does anyone have tips for **pacing** on a busy day? I always overdo it and pay for it "
    "the day after, and then feel guilty for cancelling on people.",
    "Thank you for sharing that. It helps to know I'm not the only one.",
    "I've started writing my questions down before appointments, like someone suggested "
    "here last month. It made such a difference: I came away actually understanding the "
    "plan for once, and I didn't forget the thing about my feet.",
    "Welcome to everyone new this week! Say hello when you're ready.",
    "Quiet day here. Garden, a nap, and a good film.",
]
REPLIES = [
    "Honestly, finding this group. And writing my questions down before appointments.",
    "Taking it one day at a time. Some weeks are better than others, and that's fine.",
    "My nurse was brilliant. I wish I'd asked her more at the start instead of trying to "
    "work it all out from leaflets at two in the morning.",
    "A flask of tea and a folding stool for the long waits in clinic, truly.",
    "Talking to my family about what I actually needed, rather than what they guessed.",
]


def seed_chat(group: Group, authors: list, count: int) -> None:
    """`count` published messages stored as the chat service stores them (ids follow seq)."""
    group.refresh_from_db(fields=["chat_seq"])
    start = group.chat_seq
    for i in range(1, count + 1):
        body = SAYINGS[i % len(SAYINGS)]
        ChatMessage.objects.create(
            group=group, seq=start + i, author=authors[i % len(authors)],
            client_id=f"weight-{start + i}", body=body, body_html=render_markdown(body),
            status=ChatMessage.Status.PUBLISHED,
        )
    Group.objects.filter(pk=group.pk).update(chat_seq=F("chat_seq") + count)


@pytest.fixture
def busy_group(chromium, make_user, make_group):
    """An open group as lively as the demo's: a full chat page, a full thread, a meeting.

    Made on a worker thread: the services publish live events through async_to_sync,
    which refuses to run in this thread while sync Playwright's event loop runs here.
    """
    return off_the_loop(lambda: _busy_group(make_user, make_group))


def _busy_group(make_user, make_group):
    people = [make_user(name) for name in ("Sam Example", "Priya Example", "Wren Example",
                                           "Mo Example")]
    group = make_group(
        Group.Privacy.OPEN, name="Living Well Together", slug="living-well",
        description="General peer support for anyone living with any long-term condition.",
        rules="We share experience, not medical advice.\nBe kind. Nobody is judged here.",
        welcome_message="Welcome! Say hello in the introductions when you're ready.",
    )
    for person in people:
        add_membership(person, group, "approved")
    owner = group.memberships.get(role="owner").user
    create_default_categories(group)
    seed_chat(group, people, 60)
    category = Category.objects.filter(group=group).order_by("position", "pk").first()
    thread = start_thread(
        actor=people[0], group=group, category=category,
        title="What helped you most in your first month?",
        body="I'm quite new to all this. What made the biggest difference for you early on?",
    )
    for n in range(20):  # four people, five replies each: inside the posting limits
        parent = None if n % 3 else thread.posts.order_by("pk").last()
        reply(actor=people[1 + n % 3] if n % 4 else people[0], thread=thread,
              body=REPLIES[n % len(REPLIES)], parent=parent)
    today = timezone.localdate()
    schedule_meeting(actor=owner, group=group, title="Fortnightly evening video call",
                     date=today + timedelta(days=3), start_time=time(19, 30),
                     end_time=time(20, 30), recurrence="fortnightly",
                     online_url="https://meet.example.org/living-well",
                     description="An hour to catch up. Cameras optional.")
    return group, thread, people[0]


def load_cold(browser, base_url: str, storage_state: dict, path: str) -> dict:
    """Open `path` in a fresh context (empty cache) and account for every response."""
    context = browser.new_context(base_url=base_url, storage_state=storage_state,
                                  locale="en-GB")
    try:
        page = context.new_page()
        requests, sockets = [], []
        page.on("requestfinished", lambda request: requests.append(request))
        page.on("websocket", lambda ws: sockets.append(ws.url))
        response = page.goto(path, wait_until="load")
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        page.wait_for_load_state("networkidle")
        rows = []
        for request in requests:
            sizes = request.sizes()
            body = request.response().body() if request.response() else b""
            rows.append({
                "url": request.url, "type": request.resource_type,
                "transfer": sizes["responseHeadersSize"] + sizes["responseBodySize"],
                "body": len(body), "gzip": len(gzip.compress(body, 6)),
                "headers": sizes["responseHeadersSize"],
            })
        return {"path": path, "html": response.text(), "rows": rows, "sockets": sockets,
                "requests": [r.url for r in requests]}
    finally:
        context.close()


def test_main_pages_are_light_local_and_rendered_by_the_server(
    daphne, chromium, busy_group
):
    group, thread, member = busy_group
    context = chromium.new_context(base_url=daphne.url, locale="en-GB")
    log_in(context.new_page(), member.email)
    session = context.storage_state()
    context.close()

    origin = urlsplit(daphne.url)
    pages = {
        "group home": f"/groups/{group.slug}/",
        "chat": f"/groups/{group.slug}/chat/",
        "thread": f"/groups/{group.slug}/forum/t/{thread.pk}/",
    }
    report = []
    for name, path in pages.items():
        result = load_cold(chromium, daphne.url, session, path)
        rows = result["rows"]
        transfer = sum(r["transfer"] for r in rows)
        body = sum(r["body"] for r in rows)
        zipped = sum(r["gzip"] + r["headers"] for r in rows)
        report.append(f"{name:10} {transfer / 1000:6.1f} KB transferred "
                      f"({body / 1000:.1f} KB of bodies; about {zipped / 1000:.1f} KB if gzipped) "
                      f"in {len(rows)} requests")
        for row in rows:
            report.append(f"    {row['transfer'] / 1000:6.1f} KB  {row['type']:10} {row['url']}")

        assert transfer < BUDGET_BYTES, f"{name} transfers {transfer} bytes"
        # Nothing from anyone else: every request (and the chat socket) is our own server.
        for url in result["requests"] + result["sockets"]:
            parts = urlsplit(url)
            if parts.scheme in {"data", "blob"}:
                continue
            assert (parts.hostname, parts.port) == (origin.hostname, origin.port), url
        # The first render is the server's HTML: no script fetches the content.
        fetched = [r["url"] for r in rows if r["type"] in {"xhr", "fetch"}]
        assert not fetched, f"{name} fetched content with script: {fetched}"

        html = result["html"]
        if name == "chat":
            shown = re.findall(r'<li class="chat-message"', html)
            assert len(shown) == 50, "a full page of chat is in the HTML"
            assert "I&#x27;ve started writing my questions down" in html or \
                "I've started writing my questions down" in html
            assert [u for u in result["sockets"] if "/ws/groups/" in u], "chat goes live"
        elif name == "thread":
            assert html.count('class="post card') == 20, "a full page of replies is in the HTML"
            assert "folding stool" in html
        else:
            assert "Fortnightly evening video call" in html
    print("\nPage weight, cold cache, as a logged-in member:\n" + "\n".join(report))


def test_pages_read_without_javascript(daphne, chromium, busy_group):
    """With scripts off (or not yet loaded on a slow line) the content is all there."""
    group, thread, member = busy_group
    context = chromium.new_context(base_url=daphne.url, locale="en-GB",
                                   java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, member.email)
        page.goto(f"/groups/{group.slug}/chat/")
        assert page.locator("#chat-log .chat-message").count() == 50
        assert "reload the page" in page.locator("#chat-status").inner_text()
        page.goto(f"/groups/{group.slug}/forum/t/{thread.pk}/")
        assert page.locator("article.post").count() == 20
    finally:
        context.close()
