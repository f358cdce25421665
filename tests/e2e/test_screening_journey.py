"""Screening in real browsers over a real daphne.

A member in distress writes in the group chat: the private help panel (Samaritans,
116 123) appears for them at once, and the message is posted for the group; the on-duty
moderator's open queue shows the urgent case arriving without a reload, and they claim
it and pass it to site staff with a note. The member then
writes unsafe advice: the prompt appears, nothing is sent, the words are kept; they
choose "Edit my message", change it to something kind, and send that instead.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from community.models import ChatMessage, Group, Notification
from moderation.models import Case
from moderation.signposting import PANELS, PROMPTS
from tests.conftest import add_membership
from tests.e2e.live import page_problems
from tests.e2e.test_join_journey import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CRISIS = "I don't want to be here anymore"
UNSAFE = "just stop taking your insulin"
KIND = "Please talk to your diabetes nurse before changing anything. Sending love."


@pytest.fixture
def people(make_user, make_group):
    nia, ola, mo = make_user("Nia Member"), make_user("Ola Member"), make_user("Mo Moderator")
    group = make_group(Group.Privacy.APPROVAL, name="Type 1 Friends", slug="type-1-friends")
    add_membership(nia, group, "approved")
    add_membership(ola, group, "approved")
    add_membership(mo, group, "approved", "moderator")
    staff = make_user("Sol Staff", staff=True)
    return group, nia, ola, mo, staff


def watch_console(page, problems: list[str]) -> None:
    """Every console error and uncaught exception on this page ends up in `problems`."""
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))


def connected(page) -> None:
    expect(page.locator("#chat-status")).to_have_text(re.compile("Connected"))


def test_crisis_gets_help_at_once_and_unsafe_advice_is_edited_before_sending(
    daphne, visitor, people
):
    group, nia, ola, mo, staff = people
    nia_v, ola_v, mo_v = visitor(), visitor(), visitor()
    problems: list[str] = []
    for person in (nia_v, ola_v, mo_v):
        watch_console(person.page, problems)
    for person, who in ((nia_v, nia), (ola_v, ola), (mo_v, mo)):
        log_in(person.page, who.email)

    # The moderator keeps the review queue open in their own browser.
    mo_v.open("/moderation/")
    expect(mo_v.page.get_by_text("Nothing waiting")).to_be_visible()
    problems += page_problems(mo_v.page, "moderation queue, nothing waiting")

    chat_path = f"/groups/{group.slug}/chat/"
    for person in (nia_v, ola_v):
        person.open(chat_path)
        connected(person.page)
    problems += page_problems(nia_v.page, "chat")

    # --- a crisis: help for the writer at once, the message for the group ---------------
    box = nia_v.page.get_by_label("Your message")
    box.fill(CRISIS)
    box.press("Enter")

    panel = nia_v.page.locator("#chat-panel")
    title, _ = PANELS[("crisis", "self")]
    expect(panel.get_by_role("heading", name=title)).to_be_visible()
    expect(panel).to_contain_text("Samaritans")
    expect(panel).to_contain_text("116 123")
    problems += page_problems(nia_v.page, "chat, crisis help panel open")
    expect(nia_v.page.locator("#chat-log")).to_contain_text(CRISIS)
    expect(nia_v.page.locator("#chat-log .is-pending")).to_have_count(0)
    expect(ola_v.page.locator("#chat-log")).to_contain_text(CRISIS)
    expect(ola_v.page.locator("#chat-panel")).not_to_contain_text("Samaritans")

    crisis = ChatMessage.objects.get(group=group, body=CRISIS)
    assert crisis.status == ChatMessage.Status.PUBLISHED
    case = Case.objects.get(chat_message=crisis)
    assert case.urgent

    # The moderator's open queue shows it, at the top, without a reload.
    first = mo_v.page.locator("#case-list > li").first
    expect(first).to_contain_text("Urgent", timeout=5_000)
    expect(first.get_by_role("link")).to_have_attribute("href", re.compile(rf"/{case.pk}/"))
    expect(mo_v.page.get_by_text("Nothing waiting")).to_have_count(0)
    expect(mo_v.page.locator("#queue-live")).to_contain_text("Urgent")
    problems += page_problems(mo_v.page, "moderation queue, urgent case arrived live")

    # The moderator claims it and passes it to site staff with a note, as the guide says.
    first.get_by_role("link").click()
    expect(mo_v.page.get_by_role("heading", name="How to respond")).to_be_visible()
    expect(mo_v.page.locator("blockquote")).to_contain_text(CRISIS)
    problems += page_problems(mo_v.page, "case page, urgent")
    mo_v.page.get_by_role("button", name="Claim this case").click()
    expect(mo_v.page.get_by_text("You are looking at this case")).to_be_visible()
    problems += page_problems(mo_v.page, "case page, claimed")
    mo_v.page.get_by_label("Pass to site staff").check()
    mo_v.page.get_by_label("Reason (the author will see this)").fill(
        "Nia may be at risk. I have sent her the crisis contacts and I'm checking in.")
    mo_v.page.get_by_role("button", name="Decide").click()
    expect(mo_v.page.get_by_text("Thank you for looking after the group")).to_be_visible()
    expect(mo_v.page.locator("#case-list > li").first).to_contain_text("passed to site staff")
    problems += page_problems(mo_v.page, "moderation queue, after acting")
    case.refresh_from_db()
    assert (case.status, case.decision, case.resolved_by_id) == (
        Case.Status.ESCALATED, Case.Decision.ESCALATE, mo.pk)
    assert Notification.objects.filter(user=staff, kind=Notification.Kind.NEW_CASE).exists()

    nia_v.page.locator("#chat-panel").get_by_role("button", name="Close").click()
    expect(nia_v.page.locator("#chat-panel")).to_be_empty()

    # --- unsafe advice: asked first, edited, then sent ------------------------------------
    box.fill(UNSAFE)
    box.press("Enter")
    prompt_title, _ = PROMPTS["unsafe_advice"]
    expect(panel.get_by_role("heading", name=prompt_title)).to_be_visible()
    pending = nia_v.page.locator("#chat-log .is-pending")
    expect(pending).to_contain_text(UNSAFE)  # the words are kept, marked as not sent
    expect(pending).to_contain_text("Not sent yet")
    problems += page_problems(nia_v.page, "chat, unsafe-advice prompt open")
    assert not ChatMessage.objects.filter(group=group, body=UNSAFE).exists()
    expect(ola_v.page.locator("#chat-log")).not_to_contain_text(UNSAFE)

    panel.get_by_role("button", name="Edit my message").click()
    expect(box).to_have_value(UNSAFE)
    expect(box).to_be_focused()
    expect(pending).to_have_count(0)
    expect(panel).to_be_empty()

    box.fill(KIND)
    box.press("Enter")
    expect(ola_v.page.locator("#chat-log")).to_contain_text(KIND)
    expect(nia_v.page.locator("#chat-log .chat-message", has_text=KIND)).to_have_count(1)
    expect(nia_v.page.locator("#chat-log .is-pending")).to_have_count(0)
    expect(panel).to_be_empty()
    expect(box).to_have_value("")

    kind = ChatMessage.objects.get(group=group, body=KIND)
    assert kind.status == ChatMessage.Status.PUBLISHED
    assert not Case.objects.filter(chat_message=kind).exists()
    assert not ChatMessage.objects.filter(group=group, body=UNSAFE).exists()
    assert ChatMessage.objects.filter(group=group).count() == 2
    expect(ola_v.page.locator("#chat-log")).not_to_contain_text(UNSAFE)

    problems += page_problems(nia_v.page, "chat, after editing and sending")
    for person in (nia_v, ola_v, mo_v):
        assert person.offsite_requests == []
    assert problems == []
