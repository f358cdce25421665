"""Privacy rights in a real browser, with the keyboard alone: a member downloads a copy of
their data (as a web page and as JSON), then deletes their account. Each page on the way,
the downloaded web page and the form with its errors showing are checked by axe-core."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from community.models import ChatMessage, Group, User
from tests.conftest import add_membership
from tests.e2e.a11y import accessibility_problems
from tests.e2e.keyboard import (
    PASSWORD,
    follow_link,
    log_in_by_keyboard,
    press_button,
    tab_and_type,
    tab_to,
)
from tests.e2e.live import off_the_loop, page_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WORDS = "My consultant says the new tablets should help with the swelling."


@pytest.fixture
def leaving(make_user, make_group):
    pat = make_user("Pat Leaving")
    group = make_group(Group.Privacy.OPEN, name="Lupus Lounge", slug="lupus-lounge")
    add_membership(pat, group, "approved")

    def write() -> None:
        from community.services.chat import post_chat_message

        post_chat_message(actor=pat, group=group, body=WORDS, client_id="leaving-1")

    off_the_loop(write)
    return pat, group


def download(page, link_name: str) -> bytes:
    """Tab to the download link, press Enter, and give back the file that arrives."""
    tab_to(page, text=link_name, tag="A")
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    return Path(info.value.path()).read_bytes()


def test_member_downloads_their_data_then_deletes_their_account(daphne, visitor, leaving):
    pat, group = leaving
    person = visitor()
    page = person.page
    problems: list[str] = []

    log_in_by_keyboard(page, pat.email)
    follow_link(page, "My profile")
    problems += page_problems(page, "profile")

    # --- A copy of their data, as a web page and as data. ---
    follow_link(page, "Download my data")
    expect(page).to_have_url(re.compile(r"/accounts/export/$"))
    problems += page_problems(page, "export my data")
    as_page = download(page, "Download as a web page").decode()
    assert "Pat Leaving" in as_page and WORDS in as_page
    as_data = json.loads(download(page, "Download as data (JSON)"))
    assert WORDS in json.dumps(as_data)
    # The downloaded web page is read in a browser too: it must be accessible as well.
    reader = person.context.new_page()
    reader.set_content(as_page)
    problems += accessibility_problems(reader, "downloaded data (web page)")
    reader.close()

    # --- Deleting the account: the form explains itself when something is missing. ---
    follow_link(page, "Back to my profile")
    follow_link(page, "Delete my account")
    expect(page).to_have_url(re.compile(r"/accounts/delete/$"))
    problems += page_problems(page, "delete my account")
    press_button(page, "Delete my account")  # nothing filled in yet
    expect(page.get_by_text("Please choose what should happen to what you wrote.")).to_be_visible()
    problems += page_problems(page, "delete my account, with errors")
    assert User.objects.filter(pk=pat.pk).exists()

    remove = page.get_by_label("Remove my chat messages and forum posts")
    tab_to(page, label="Remove my chat messages and forum posts")
    page.keyboard.press("Space")
    expect(remove).to_be_checked()
    tab_and_type(page, "Your password", PASSWORD)
    understood = re.compile(r"^I understand that my account is gone for good")
    tab_to(page, label=understood)
    page.keyboard.press("Space")
    expect(page.get_by_label(understood)).to_be_checked()
    press_button(page, "Delete my account")

    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_text("Your account has been deleted.")).to_be_visible()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    problems += page_problems(page, "home, after deleting the account")

    # Gone: the account, and (as chosen) what they wrote. Their login no longer works.
    assert not User.objects.filter(pk=pat.pk).exists()
    assert not ChatMessage.objects.filter(group=group, body=WORDS).exists()
    page.goto("/accounts/login/")
    tab_and_type(page, "Email", pat.email)
    tab_and_type(page, "Password", PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("not correct")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    problems += page_problems(page, "login, with errors")

    assert person.offsite_requests == []
    assert problems == [], "\n".join(problems)
