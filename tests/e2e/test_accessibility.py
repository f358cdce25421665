"""WCAG 2.2 AA across Kindred's main pages, in a real Chromium over a real daphne.

Every main page, logged out and logged in (as a member, an outsider and a moderator):
- axe-core finds no WCAG 2.0/2.1/2.2 A or AA violation, in the light and the dark theme;
- at 320 CSS px wide (WCAG 1.4.10 reflow), there with WCAG 1.4.12's text spacing, and at
  200% zoom, nothing scrolls sideways.
  200% zoom is emulated as the browser does it: a 1280 x 720 window at zoom 200% is a
  640 x 360 CSS-px viewport with a device pixel ratio of 2, so media queries, rem sizes
  and viewport units all see what they see under real zoom (CSS `zoom` on <html> would
  not change the viewport that media queries and `vw` read). Text-only zoom (WCAG 1.4.4,
  "resize text") is checked too, by doubling the root font size at that width.
Then, on single pages: reduced motion turns transitions and animations off; every stop of
the Tab key shows a focus indicator of at least 3:1 that nothing covers; new chat messages
are announced politely and the connection state is a status message; and live updates
(a message arriving or being removed, a case arriving in the moderators' queue) never
take the keyboard focus away.

The chat log is a labelled list, not role=log: each new message is read once, briefly
("Ben says: …"), from the chat's own polite live region. A log role on the list as well
would read every message twice, with its Flag link, and would read out the whole catch-up
after a reconnect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from community.models import ChatMessage, Group, User
from community.services.chat import post_chat_message
from community.services.meetings import schedule_meeting
from forums.models import Category
from forums.services import create_default_categories, start_thread
from moderation.services.cases import flag_content
from tests.community.chat_helpers import seed_messages
from tests.conftest import add_membership
from tests.e2e.a11y import CHECKED, accessibility_problems
from tests.e2e.keyboard import PASSWORD, tab_to
from tests.e2e.live import NAVIGATION_TIMEOUT_MS, PAGE_TIMEOUT_MS, off_the_loop, page_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NO_SIDEWAYS_SCROLL_JS = """
() => {
  const doc = document.documentElement;
  const wide = [];
  if (doc.scrollWidth > window.innerWidth) {
    for (const el of document.body.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      if (box.right > window.innerWidth + 1 && box.width > 0) {
        wide.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}` +
          `${el.className && typeof el.className === 'string' ? '.' +
            el.className.trim().split(/\\s+/).join('.') : ''} (right ${Math.round(box.right)})`);
        if (wide.length >= 5) break;
      }
    }
  }
  return {scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth, wide};
}
"""


# WCAG 1.4.12's text spacing, as a person's own style sheet would set it (a constructed
# sheet: the CSSOM is not inline style, so the site's CSP allows it).
TEXT_SPACING_JS = """
() => {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(`* { line-height: 1.5 !important; letter-spacing: 0.12em !important;
    word-spacing: 0.16em !important; } p { margin-bottom: 2em !important; }`);
  document.adoptedStyleSheets = [sheet];
}
"""

DOUBLE_TEXT_JS = """
() => {
  const root = document.documentElement;
  root.style.fontSize = `${parseFloat(getComputedStyle(root).fontSize) * 2}px`;
}
"""


def sign_in(context, user: User, password: str = PASSWORD) -> None:
    """Log `user` in through the real login form, without drawing it (faster than typing)."""
    context.request.get("/accounts/login/")
    token = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    response = context.request.post(
        "/accounts/login/", max_redirects=0,
        form={"csrfmiddlewaretoken": token, "login": user.email, "password": password},
    )
    assert response.status == 302, f"login for {user.email}: HTTP {response.status}"


@dataclass
class World:
    group: Group
    member: User
    other: User
    outsider: User
    moderator: User
    thread_id: int
    meeting_id: int
    case_id: int


@pytest.fixture
def world(make_user, make_group) -> World:
    member = make_user("Ada Member")
    other = make_user("Ben Member")
    outsider = make_user("Olive Outsider")
    moderator = make_user("Mo Moderator")
    group = make_group(
        Group.Privacy.APPROVAL, name="Kidney Friends", slug="kidney-friends",
        kind=Group.Kind.CONDITION, condition="Chronic kidney disease",
        description="Peer support for people living with kidney disease.",
        rules="Be kind. Share experience, not medical advice.",
        questions=("What would you like from the group?",),
    )
    create_default_categories(group)
    for person, role in ((member, "member"), (other, "member"), (moderator, "moderator")):
        add_membership(person, group, "approved", role)

    def content() -> tuple[int, int, int]:
        for author, body, client_id in (
            (member, "Hello all, how are you today?", "a11y-1"),
            (other, "Who else finds the waiting room too cold?", "a11y-2"),
        ):
            post_chat_message(actor=author, group=group, body=body, client_id=client_id)
        message = ChatMessage.objects.get(group=group, client_id="a11y-2")
        case = flag_content(actor=member, kind="chat_message", item_id=message.pk,
                            reason="other", note="Just checking this is all right.")
        category = Category.objects.filter(group=group).order_by("position", "pk").first()
        thread = start_thread(actor=member, group=group, category=category,
                              title="Tips for clinic days", body="Bring a **snack**.")
        meeting = schedule_meeting(
            actor=group.memberships.get(role="owner").user, group=group,
            title="Tea and a chat", date=timezone.localdate() + timedelta(days=7),
            start_time=time(14, 0), duration_minutes=90, venue_name="Library",
            venue_address="1 High Street", step_free=True,
        )
        return thread.pk, meeting.pk, case.pk

    thread_id, meeting_id, case_id = off_the_loop(content)
    return World(group=group, member=member, other=other, outsider=outsider,
                 moderator=moderator,
                 thread_id=thread_id, meeting_id=meeting_id, case_id=case_id)


def pages_for(world: World) -> list[tuple[str, str | None, str]]:
    """(label, who, path) for every main page; `who` is None for logged out."""
    g = world.group.slug
    return [
        ("home", None, "/"),
        ("help", None, "/help/"),
        ("group directory", None, "/groups/"),
        ("group home (public)", None, f"/groups/{g}/"),
        ("login", None, "/accounts/login/"),
        ("signup", None, "/accounts/signup/"),
        ("home", "member", "/"),
        ("help", "member", "/help/"),
        ("group directory", "member", "/groups/"),
        ("join form", "outsider", f"/groups/{g}/"),
        ("group home (member)", "member", f"/groups/{g}/"),
        ("chat", "member", f"/groups/{g}/chat/"),
        ("forum index", "member", f"/groups/{g}/forum/"),
        ("thread", "member", f"/groups/{g}/forum/t/{world.thread_id}/"),
        ("new thread form", "member", f"/groups/{g}/forum/new/"),
        ("meetings", "member", f"/groups/{g}/meetings/"),
        ("meeting detail", "member", f"/groups/{g}/meetings/{world.meeting_id}/"),
        ("profile", "member", "/accounts/profile/"),
        ("notifications", "member", "/notifications/"),
        ("export my data", "member", "/accounts/export/"),
        ("delete my account", "member", "/accounts/delete/"),
        ("moderation queue", "moderator", "/moderation/"),
        ("case page", "moderator", f"/moderation/cases/{world.case_id}/"),
        ("join requests", "moderator", f"/groups/{g}/requests/"),
    ]


def context_for(chromium, base_url: str, user: User | None = None, **options):
    context = chromium.new_context(base_url=base_url, locale="en-GB", **options)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    if user is not None:
        sign_in(context, user)
    return context


def post_form(context, path: str, fields: dict) -> int:
    """POST a form as this browser's person (their session and CSRF token), unrendered."""
    if not any(c["name"] == "csrftoken" for c in context.cookies()):
        context.request.get("/")
    token = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    response = context.request.post(path, form={"csrfmiddlewaretoken": token, **fields},
                                    max_redirects=0)
    return response.status


def sideways_scroll(page, label: str, how: str) -> list[str]:
    fit = page.evaluate(NO_SIDEWAYS_SCROLL_JS)
    if fit["scrollWidth"] <= fit["innerWidth"]:
        return []
    return [f"{label} ({page.url}) at {how}: scrolls sideways, {fit['scrollWidth']}px in "
            f"{fit['innerWidth']}px; too wide: {', '.join(fit['wide']) or '?'}"]


def test_main_pages_pass_axe_and_reflow_at_320px_and_200_percent_zoom(
    daphne, chromium, world
):
    """One page load per page: checked on a desktop window, then narrowed to 320 px, then
    as a 1280 x 720 window at 200% zoom, then with its text alone at 200%.

    Device pixel ratio 2 throughout (zoom is a change of device pixel ratio to Chromium);
    layout in CSS pixels does not depend on it, so one context serves every width.
    """
    people = {None: None, "member": world.member, "outsider": world.outsider,
              "moderator": world.moderator}
    problems: list[str] = []
    contexts = {who: context_for(chromium, daphne.url, user, device_scale_factor=2)
                for who, user in people.items()}
    try:
        for label, who, path in pages_for(world):
            context = contexts[who]
            page = context.pages[0] if context.pages else context.new_page()
            page.set_viewport_size({"width": 1280, "height": 800})
            response = page.goto(path)
            assert response is not None and response.ok, f"{label}: HTTP {response.status}"
            problems += page_problems(page, label)
            # The dark theme follows the system: its colours must pass as well.
            page.emulate_media(color_scheme="dark")
            problems += accessibility_problems(page, f"{label} (dark theme)")
            page.emulate_media(color_scheme="light")
            page.set_viewport_size({"width": 320, "height": 640})
            problems += sideways_scroll(page, label, "320 px wide")
            page.evaluate(TEXT_SPACING_JS)
            problems += sideways_scroll(page, label, "320 px wide with WCAG text spacing")
            page.evaluate("() => { document.adoptedStyleSheets = []; }")
            page.set_viewport_size({"width": 640, "height": 360})
            problems += sideways_scroll(page, label, "200% zoom")
            page.evaluate(DOUBLE_TEXT_JS)
            problems += sideways_scroll(page, label, "200% zoom with 200% text")
    finally:
        for context in contexts.values():
            context.close()
    assert problems == [], "\n".join(problems)


MOTION_JS = """
() => {
  const moving = [];
  const seconds = (value) => value.split(',').reduce((sum, part) => {
    const v = part.trim();
    return sum + (v.endsWith('ms') ? parseFloat(v) / 1000 : parseFloat(v) || 0);
  }, 0);
  for (const el of [document.documentElement, ...document.querySelectorAll('body, body *')]) {
    for (const pseudo of [null, '::before', '::after']) {
      const style = getComputedStyle(el, pseudo);
      const transition = seconds(style.transitionDuration) + seconds(style.transitionDelay);
      const animated = style.animationName !== 'none' && seconds(style.animationDuration) > 0;
      if (transition > 0 || animated || style.scrollBehavior === 'smooth') {
        moving.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${pseudo || ''}: ` +
          `transition ${style.transitionDuration}, animation ${style.animationName} ` +
          `${style.animationDuration}, scroll ${style.scrollBehavior}`);
      }
    }
  }
  return {reduce: matchMedia('(prefers-reduced-motion: reduce)').matches, moving};
}
"""


def test_reduced_motion_turns_off_transitions_and_animations(daphne, chromium, world):
    context = context_for(chromium, daphne.url, world.member, reduced_motion="reduce")
    try:
        page = context.new_page()
        for path in ("/", f"/groups/{world.group.slug}/chat/", "/groups/"):
            page.goto(path)
            # Hover and keyboard focus are where transitions usually live.
            page.keyboard.press("Tab")
            page.locator("button, .button").first.hover()
            found = page.evaluate(MOTION_JS)
            assert found["reduce"], "the browser did not report prefers-reduced-motion"
            assert found["moving"] == [], f"{path}: still moving: {found['moving'][:10]}"
    finally:
        context.close()


FOCUS_JS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const lum = (rgb) => {
    const [r, g, b] = rgb.map((c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const colours = (text) => (text.match(/rgba?\\([^)]*\\)/g) || []).map((c) =>
    c.replace(/rgba?\\(|\\)/g, '').split(',').map(Number));
  const opaque = (c) => c.length < 4 || c[3] > 0.5;
  let back = null;
  for (let n = el; n && !back; n = n.parentElement) {
    const c = colours(getComputedStyle(n).backgroundColor)[0];
    if (c && opaque(c)) back = c;
  }
  back = back || [255, 255, 255];
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const style = getComputedStyle(el);
  const indicators = [];
  if (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2) {
    indicators.push(...colours(style.outlineColor).filter(opaque));
  }
  if (style.boxShadow !== 'none') indicators.push(...colours(style.boxShadow).filter(opaque));
  const best = Math.max(0, ...indicators.map((c) => ratio(c, back)));
  const box = el.getBoundingClientRect();
  const x = Math.min(Math.max(box.left + box.width / 2, 0), innerWidth - 1);
  const y = Math.min(Math.max(box.top + Math.min(box.height, 20) / 2, 0), innerHeight - 1);
  const top = document.elementFromPoint(x, y);
  return {
    what: `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "` +
      `${(el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 40)}"`,
    contrast: Math.round(best * 100) / 100,
    inView: box.bottom > 0 && box.top < innerHeight && box.right > 0 && box.left < innerWidth,
    covered: !!top && top !== el && !el.contains(top) && !top.contains(el),
    hidden: box.width === 0 && box.height === 0,
  };
}
"""


def focus_problems_while_tabbing(page, label: str, presses: int = 40) -> tuple[list[str], int]:
    """Tab through the page; every stop must show a visible, unobscured focus indicator
    (WCAG 2.4.7, 2.4.11, and 1.4.11 for the indicator's contrast)."""
    problems, seen = [], set()
    for _ in range(presses):
        page.keyboard.press("Tab")
        now = page.evaluate(FOCUS_JS)
        if now is None:
            break  # off the end of the page and into the browser's own toolbar
        if now["what"] in seen:
            continue
        seen.add(now["what"])
        if now["contrast"] < 3:
            problems.append(f"{label}: {now['what']} has no visible focus indicator "
                            f"(best contrast {now['contrast']}:1)")
        if now["hidden"] or not now["inView"] or now["covered"]:
            problems.append(f"{label}: focus on {now['what']} is hidden or covered ({now})")
    return problems, len(seen)


def test_focus_is_always_visible_when_tabbing(daphne, chromium, world):
    problems: list[str] = []
    visits = [
        (None, "/accounts/signup/", "signup"),
        ("member", f"/groups/{world.group.slug}/forum/t/{world.thread_id}/", "thread"),
        ("member", f"/groups/{world.group.slug}/chat/", "chat"),
        ("moderator", f"/moderation/cases/{world.case_id}/", "case page"),
    ]
    users = {None: None, "member": world.member, "moderator": world.moderator}
    for who, path, label in visits:
        context = context_for(chromium, daphne.url, users[who],
                              viewport={"width": 1280, "height": 720})
        try:
            page = context.new_page()
            page.goto(path)
            found, stops = focus_problems_while_tabbing(page, label)
            problems += found
            assert stops >= 8, f"{label}: only {stops} things took the keyboard focus"
        finally:
            context.close()
    assert problems == [], "\n".join(problems)


def test_chat_is_announced_politely_and_live_updates_never_move_the_focus(
    daphne, chromium, world
):
    g = world.group.slug
    ada = context_for(chromium, daphne.url, world.member)
    ben = context_for(chromium, daphne.url, world.other)
    mo = context_for(chromium, daphne.url, world.moderator)
    try:
        ada_page, ben_page = ada.new_page(), ben.new_page()
        for page in (ada_page, ben_page):
            page.goto(f"/groups/{g}/chat/")
        status = ada_page.locator("#chat-status")
        # The connection state is a status message, read out when it changes.
        assert status.get_attribute("role") == "status"
        expect(status).to_have_text(re.compile("Connected"))
        expect(ben_page.locator("#chat-status")).to_have_text(re.compile("Connected"))
        # New messages are read out politely, never assertively; the log is a named list.
        announcer = ada_page.locator("#chat-announcer")
        assert announcer.get_attribute("aria-live") == "polite"
        assert ada_page.locator("#chat-log").get_attribute("aria-labelledby") == "chat-heading"

        # Ada is half-way through writing when Ben's message arrives.
        box = ada_page.get_by_label("Your message")
        for _ in range(60):
            ada_page.keyboard.press("Tab")
            if ada_page.evaluate("() => document.activeElement.id") == "chat-body":
                break
        expect(box).to_be_focused()
        ada_page.keyboard.type("I was just going to say")
        ben_page.get_by_label("Your message").fill("Evening all, the kettle is on")
        ben_page.get_by_label("Your message").press("Enter")
        expect(ada_page.locator("#chat-log")).to_contain_text("the kettle is on")
        expect(announcer).to_contain_text("Ben Member says: Evening all, the kettle is on")
        expect(box).to_be_focused()
        expect(box).to_have_value("I was just going to say")
        assert ada_page.evaluate("() => document.activeElement.selectionStart") == len(
            "I was just going to say")

        # Ada moves to the Flag link on Ben's message; a moderator removes that message.
        message = ChatMessage.objects.get(group=world.group, body__contains="kettle")
        flag = ada_page.locator(f"#message-{message.pk} .chat-flag a")
        flag.focus()
        expect(flag).to_be_focused()
        assert post_form(mo, f"/groups/{g}/chat/{message.pk}/remove/",
                         {"reason": "Testing the removal."}) == 302
        expect(ada_page.locator(f"#message-{message.pk}")).to_have_count(0)
        # Focus goes somewhere sensible (the message box), never to the page's start.
        expect(box).to_be_focused()
        expect(announcer).to_contain_text("A moderator removed a message")
    finally:
        for context in (ada, ben, mo):
            context.close()


def test_earlier_chat_messages_can_be_read_by_keyboard_and_the_focus_goes_to_them(
    daphne, chromium, world
):
    seed_messages(world.group, [world.member, world.other], 52, prefix="Earlier")
    context = context_for(chromium, daphne.url, world.member)
    try:
        page = context.new_page()
        page.goto(f"/groups/{world.group.slug}/chat/")
        expect(page.locator("#chat-status")).to_have_text(re.compile("Connected"))
        log = page.locator("#chat-log .chat-message")
        expect(log).to_have_count(50)  # the newest page, drawn by the server
        tab_to(page, text="Show earlier messages", tag="BUTTON")
        page.keyboard.press("Enter")
        expect(log).to_have_count(54)
        expect(log.first).to_contain_text("Hello all, how are you today?")
        expect(page.get_by_role("button", name="Show earlier messages")).to_be_hidden()
        expect(log.first).to_be_focused()  # not lost when the button went away
        expect(page.locator("#chat-announcer")).to_contain_text("4 earlier messages shown.")
        problems = page_problems(page, "chat, earlier messages shown")
        assert problems == [], "\n".join(problems)
    finally:
        context.close()


def test_moderation_queue_keeps_the_focus_when_a_case_arrives(daphne, chromium, world):
    mo = context_for(chromium, daphne.url, world.moderator)
    ben = context_for(chromium, daphne.url, world.other)
    try:
        page = mo.new_page()
        page.goto("/moderation/")
        link = page.locator("#case-list a").first
        href = link.get_attribute("href")
        link.focus()
        # Ben flags Ada's message: the queue refreshes itself in place.
        message = ChatMessage.objects.get(group=world.group, client_id="a11y-1")
        assert post_form(ben, f"/moderation/flag/chat_message/{message.pk}/",
                         {"reason": "risk_self"}) == 302
        expect(page.locator("#queue-live")).to_contain_text("Urgent")
        expect(page.locator("#case-list > li")).to_have_count(2)
        assert page.evaluate("() => document.activeElement.getAttribute('href')") == href
    finally:
        mo.close()
        ben.close()


def test_axe_helper_reports_what_it_finds(chromium):
    """The helper itself: a page with known failures gives a readable report."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_content('<html lang="en"><head><title>t</title></head><body><main>'
                         '<img src="data:,"><p style="color:#bbb;background:#fff">faint</p>'
                         '<button></button></main></body></html>')
        problems = accessibility_problems(page, "known failures")
        text = "\n".join(problems)
        for rule in ("image-alt", "color-contrast", "button-name"):
            assert rule in text, text
        assert "known failures" in text and "[critical]" in text
    finally:
        context.close()
        CHECKED.pop()  # not one of Kindred's pages
