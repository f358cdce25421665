"""The urgent lane in real browsers: a member flags a chat message as risk to self; the
on-duty moderator sees it arrive at the top of the queue without reloading, claims it,
removes it with a reason; it vanishes from the other member's chat; the author sees the
reason and appeals; the moderation log shows every step."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from community.models import Group
from tests.conftest import add_membership
from tests.e2e.live import page_problems
from tests.e2e.test_join_journey import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WORRYING = "I don't think I can keep going any more"


@pytest.fixture
def people(make_user, make_group):
    alice, bob, mo = make_user("Alice Author"), make_user("Bob Flagger"), make_user("Mo Moderator")
    group = make_group(Group.Privacy.APPROVAL, name="Heart Friends", slug="heart-friends")
    add_membership(alice, group, "approved")
    add_membership(bob, group, "approved")
    add_membership(mo, group, "approved", "moderator")
    return group, alice, bob, mo


def test_urgent_flag_reaches_the_queue_live_and_the_decision_is_appealable(
    daphne, visitor, people
):
    group, alice, bob, mo = people
    alice_v, bob_v, mo_v = visitor(), visitor(), visitor()
    for person, who in ((alice_v, alice), (bob_v, bob), (mo_v, mo)):
        log_in(person.page, who.email)

    problems: list[str] = []
    mo_v.open("/moderation/")
    expect(mo_v.page.get_by_text("Nothing waiting")).to_be_visible()

    for person in (alice_v, bob_v):
        person.open(f"/groups/{group.slug}/chat/")
        expect(person.page.locator("#chat-status")).to_have_text(re.compile("Connected"))
    alice_v.page.get_by_label("Your message").fill(WORRYING)
    alice_v.page.keyboard.press("Enter")
    expect(bob_v.page.locator("#chat-log")).to_contain_text(WORRYING)

    # Bob flags it from a second tab, keeping the chat open in the first.
    href = bob_v.page.locator("#chat-log .chat-message", has_text=WORRYING).get_by_role(
        "link", name=re.compile("Flag")).get_attribute("href")
    flag_tab = bob_v.context.new_page()
    flag_tab.goto(bob_v.base_url + href)
    problems += page_problems(flag_tab, "flag a message")
    flag_tab.get_by_label("Risk to themselves").check()
    flag_tab.get_by_role("button", name="Send to the moderators").click()
    expect(flag_tab.get_by_text("Thank you for telling us")).to_be_visible()
    problems += page_problems(flag_tab, "group home, after flagging")

    # The moderator's open queue shows it, at the top, without a reload.
    first = mo_v.page.locator("#case-list > li").first
    expect(first).to_contain_text("Urgent", timeout=5_000)
    problems += page_problems(mo_v.page, "moderation queue, flag arrived live")
    first.get_by_role("link").click()
    expect(mo_v.page.get_by_role("heading", name="How to respond")).to_be_visible()
    problems += page_problems(mo_v.page, "case page, urgent")
    mo_v.page.get_by_role("button", name="Claim this case").click()
    expect(mo_v.page.get_by_text("You are looking at this case")).to_be_visible()
    mo_v.page.get_by_label("Remove it", exact=True).check()
    mo_v.page.get_by_label("Reason (the author will see this)").fill(
        "Removed to keep you safe. Please call Samaritans on 116 123 if you need to talk."
    )
    mo_v.page.get_by_role("button", name="Decide").click()
    expect(mo_v.page.get_by_text("Thank you for looking after the group")).to_be_visible()
    problems += page_problems(mo_v.page, "moderation queue, after deciding")

    # It vanishes from Bob's open chat.
    expect(bob_v.page.locator("#chat-log")).not_to_contain_text(WORRYING, timeout=5_000)
    problems += page_problems(bob_v.page, "chat, after a removal")

    # Alice sees the reason (never who flagged) and appeals.
    alice_v.open("/notifications/")
    alice_v.page.get_by_role("link", name=re.compile("acted on your chat message")).click()
    expect(alice_v.page.get_by_text("Removed to keep you safe")).to_be_visible()
    problems += page_problems(alice_v.page, "decision and appeal form")
    assert "Bob Flagger" not in alice_v.page.content()
    alice_v.page.get_by_label(re.compile("Why do you think")).fill("I was upset but safe.")
    alice_v.page.get_by_role("button", name="Send my appeal").click()
    expect(alice_v.page.get_by_text("You asked for a second look")).to_be_visible()
    problems += page_problems(alice_v.page, "appeal sent")

    # The log shows every step.
    mo_v.open(f"/groups/{group.slug}/log/")
    log = mo_v.page.locator("table")
    for step in ("Flagged", "Case claimed", "Case decided", "Decision appealed"):
        expect(log).to_contain_text(step)
    problems += page_problems(mo_v.page, "moderation log")
    assert problems == []
