"""The calm design holds in a real browser (issue 10, part 3).

On the smallest phone width people use (320 px), in the light and the dark theme: nothing
makes the page scroll sideways (not even a very long word or link in a message), no text
is smaller than 16 px, every button is at least 44 px tall and has words, "Get help now"
is on the first screen, the theme follows the system setting, and the keyboard focus is
a thick visible ring. The colour pairs themselves are checked in tests/test_design_tokens.py.
"""

from __future__ import annotations

import pytest

from community.models import ChatMessage, Group
from forums.models import Category
from forums.services import create_default_categories, start_thread
from tests.conftest import add_membership
from tests.e2e.test_join_journey import log_in
from tests.e2e.test_local_group_journey import off_the_loop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LONG_WORD = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3
LONG_LINK = "https://example.org/" + "a-very-long-path-segment-" * 8
THEMES = {"light": "rgb(251, 250, 247)", "dark": "rgb(18, 24, 22)"}  # --bg in each

# Runs in the page: what a small screen would suffer from.
CHECK_JS = """
() => {
  const out = {scrollWidth: document.documentElement.scrollWidth, smallText: [],
               smallButtons: [], wordlessButtons: [], wide: []};
  const visible = (el) => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || !visible(el)) continue;
    if (el.closest('.visually-hidden, .skip-link')) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 15.9) out.smallText.push(`${el.tagName}.${el.className}: ${size}px`);
  }
  for (const el of document.querySelectorAll('button, .button, input[type=submit]')) {
    if (!visible(el) || el.classList.contains('link-button')) continue;
    const r = el.getBoundingClientRect();
    if (r.height < 43.5) out.smallButtons.push(`${el.textContent.trim()}: ${r.height}px`);
    const words = (el.textContent || el.value || '').trim();
    if (!/[A-Za-z]{2,}/.test(words)) out.wordlessButtons.push(el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('main *')) {
    const r = el.getBoundingClientRect();
    if (r.right > innerWidth + 0.5 && visible(el) && !el.closest('.table-wrap')) {
      out.wide.push(`${el.tagName}.${el.className} ends at ${Math.round(r.right)}px`);
    }
  }
  const help = document.querySelector('.help-now');
  const box = help && help.getBoundingClientRect();  // from the top of the page, not scrolled
  out.helpOnFirstScreen = !!box && box.top + scrollY >= 0 && box.bottom + scrollY <= innerHeight;
  out.background = getComputedStyle(document.body).backgroundColor;
  return out;
}
"""


@pytest.fixture
def lively_group(chromium, make_user, make_group):
    def make():
        sam, priya = make_user("Sam Example"), make_user(f"Priya {LONG_WORD[:30]}")
        group = make_group(Group.Privacy.OPEN, name="Carers Together", slug="carers-together",
                           description=f"For carers. {LONG_WORD}")
        add_membership(sam, group, "approved")
        add_membership(priya, group, "approved")
        create_default_categories(group)
        body = f"Have a look at {LONG_LINK} and {LONG_WORD}."
        ChatMessage.objects.create(group=group, seq=1, author=priya, client_id="long-1",
                                   body=body, body_html=f"<p>{body}</p>",
                                   status=ChatMessage.Status.PUBLISHED)
        Group.objects.filter(pk=group.pk).update(chat_seq=1)
        category = Category.objects.filter(group=group).order_by("position", "pk").first()
        thread = start_thread(actor=priya, group=group, category=category,
                              title=f"About {LONG_WORD[:60]}", body=body)
        return group, thread, sam

    return off_the_loop(make)


def test_pages_fit_a_small_phone_in_both_themes(daphne, chromium, lively_group):
    group, thread, sam = lively_group
    paths = ["/", "/help/", "/groups/", f"/groups/{group.slug}/",
             f"/groups/{group.slug}/chat/", f"/groups/{group.slug}/forum/t/{thread.pk}/"]
    problems = []
    for theme, background in THEMES.items():
        context = chromium.new_context(base_url=daphne.url, locale="en-GB",
                                       viewport={"width": 320, "height": 640},
                                       color_scheme=theme)
        try:
            page = context.new_page()
            log_in(page, sam.email)
            for path in paths:
                page.goto(path)
                found = page.evaluate(CHECK_JS)
                where = f"{theme} {path}"
                if found["scrollWidth"] > 320:
                    problems.append(f"{where}: page is {found['scrollWidth']}px wide")
                for key in ("wide", "smallText", "smallButtons", "wordlessButtons"):
                    problems += [f"{where}: {key}: {item}" for item in found[key]]
                if not found["helpOnFirstScreen"]:
                    problems.append(f"{where}: 'Get help now' is not on the first screen")
                if found["background"] != background:
                    problems.append(f"{where}: background {found['background']}, "
                                    f"expected {background}")
        finally:
            context.close()
    assert not problems, "\n".join(problems)


def test_keyboard_focus_is_a_thick_visible_ring(daphne, chromium, lively_group):
    group, _thread, sam = lively_group
    for theme in THEMES:
        context = chromium.new_context(base_url=daphne.url, color_scheme=theme)
        try:
            page = context.new_page()
            log_in(page, sam.email)
            page.goto(f"/groups/{group.slug}/chat/")
            page.get_by_label("Your message").focus()
            page.keyboard.press("Tab")  # onto the Send button, by keyboard
            ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
                return {text: document.activeElement.textContent.trim(), style: s.outlineStyle,
                        width: parseFloat(s.outlineWidth), shadow: s.boxShadow}; }""")
            assert ring["text"] == "Send"
            assert ring["style"] == "solid" and ring["width"] >= 2, ring
            assert ring["shadow"] != "none", ring  # the inner ring of the two
        finally:
            context.close()
