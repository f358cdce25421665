"""Driving a page with the keyboard alone, as a person who can't use a mouse would.

`tab_to` presses Tab (never clicks, never calls focus()) until the focused element is the
one wanted, and fails with where the focus got stuck if it never arrives.
"""

from __future__ import annotations

import re

PASSWORD = "pw-Kindred-123!"

FOCUSED_JS = """
() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  // A label's "(optional)" or "(required)" note is not part of its name here.
  const labels = Array.from(e.labels || []).map((l) => l.textContent.replace(/\\s+/g, ' ')
    .replace(/\\s*\\((optional|required)\\)\\s*$/, '').trim());
  return {
    tag: e.tagName, id: e.id, type: (e.getAttribute('type') || '').toLowerCase(),
    text: (e.innerText || '').replace(/\\s+/g, ' ').trim(),
    label: labels.join(' ') || (e.getAttribute('aria-label') || ''),
    href: e.getAttribute('href') || '', value: e.value ?? '',
  };
}
"""


def focused(page) -> dict | None:
    return page.evaluate(FOCUSED_JS)


def _matches(now: dict | None, *, text, label, tag) -> bool:
    if now is None:
        return False
    if tag is not None and now["tag"] != tag.upper():
        return False
    for wanted, have in ((text, now["text"]), (label, now["label"])):
        if wanted is None:
            continue
        if isinstance(wanted, re.Pattern):
            if not wanted.search(have):
                return False
        elif have != wanted:
            return False
    return True


def tab_to(page, *, text=None, label=None, tag=None, presses: int = 80,
           backwards: bool = False) -> dict:
    """Press Tab until the focus is on the element with this text/label/tag."""
    key = "Shift+Tab" if backwards else "Tab"
    now = focused(page)
    if _matches(now, text=text, label=label, tag=tag):
        return now
    for _ in range(presses):
        page.keyboard.press(key)
        now = focused(page)
        if _matches(now, text=text, label=label, tag=tag):
            return now
    wanted = {k: v for k, v in (("text", text), ("label", label), ("tag", tag)) if v}
    raise AssertionError(f"{page.url}: {presses} presses of {key} never reached {wanted} "
                         f"(focus ended on {now})")


def tab_and_type(page, label, words: str) -> None:
    """Tab to the field with this label and type into it."""
    tab_to(page, label=label)
    page.keyboard.type(words)


def press_button(page, name) -> None:
    """Tab to the button called `name` and press Enter on it."""
    tab_to(page, text=name, tag="BUTTON")
    page.keyboard.press("Enter")


def follow_link(page, name) -> None:
    """Tab to the link called `name`, press Enter on it, and wait for the page it opens."""
    tab_to(page, text=name, tag="A")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def log_in_by_keyboard(page, email: str, password: str = PASSWORD) -> None:
    """From the login page: type the email, Tab, type the password, press Enter."""
    page.goto("/accounts/login/")
    tab_and_type(page, "Email", email)
    tab_and_type(page, "Password", password)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Log out").wait_for()
