"""The join journey in a real browser against a real daphne.

A newcomer signs up, confirms their email, finds a local group for their condition near
their town and asks to join; a moderator accepts in another browser and says hello in the
chat; the newcomer is welcomed in, reads the greeting and says hello back. Both people use
the keyboard alone: Tab, typing, arrow keys, Space and Enter, never a click. Each page on
the way is checked for the structure assistive technology relies on and by axe-core
(WCAG 2.2 A/AA), and no request may leave 127.0.0.1.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from community import gazetteer
from community.models import ChatMessage, Group, Membership, Notification
from tests.conftest import add_membership
from tests.e2e.keyboard import (
    PASSWORD,
    follow_link,
    log_in_by_keyboard,
    press_button,
    tab_and_type,
    tab_to,
)
from tests.e2e.live import email_text, page_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QUESTION = "What would you most like from the group?"
WELCOME = "Hello and welcome! Say hi in the chat when you feel ready."
CONDITION = "Ehlers-Danlos syndrome"
HEBDEN_BRIDGE = gazetteer.get(2647207)


@pytest.fixture
def approval_group(make_user, make_group):
    """An approval group with a join question, its owner and a separate moderator."""
    moderator = make_user("Morag Moderator")
    group = make_group(
        Group.Privacy.APPROVAL,
        name="Calder Valley EDS Circle",
        slug="calder-eds",
        condition=CONDITION,
        kind=Group.Kind.CONDITION,
        format=Group.Format.LOCAL,
        town="Hebden Bridge",
        place_id=HEBDEN_BRIDGE.id,
        latitude=HEBDEN_BRIDGE.latitude,
        longitude=HEBDEN_BRIDGE.longitude,
        description="A friendly group for people living with EDS.",
        rules="Be kind. Share experience, not medical advice.",
        welcome_message=WELCOME,
        questions=(QUESTION,),
    )
    add_membership(moderator, group, "approved", "moderator")
    # Another group, so the search has something to leave out.
    make_group(Group.Privacy.OPEN, name="Carers Cuppa", slug="carers-cuppa",
               kind=Group.Kind.CARERS, description="Tea and a chat for carers.")
    return group, moderator


def log_in(page, email: str, password: str = PASSWORD) -> None:
    """Log in with the mouse (the keyboard way is tests.e2e.keyboard.log_in_by_keyboard)."""
    page.goto("/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_newcomer_signs_up_finds_a_group_near_them_joins_is_greeted_and_says_hello(
    daphne, visitor, approval_group
):
    """Everything here is done with the keyboard."""
    group, moderator = approval_group
    problems: list[str] = []
    newcomer_email = "sam.newcomer@example.org"
    answer = "To talk to people who understand the joint pain and the tiredness."
    hello = "Hello everyone, thank you for having me. I live in Halifax."

    # --- The newcomer signs up from the front page. ---
    newcomer = visitor()
    page = newcomer.page
    newcomer.open("/")
    problems += page_problems(page, "home")
    follow_link(page, "Sign up")
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    problems += page_problems(page, "signup")
    tab_and_type(page, "Email", newcomer_email)
    tab_and_type(page, "Display name", "Sam Newcomer")
    tab_and_type(page, "Password", PASSWORD)
    tab_and_type(page, "Password (again)", PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    problems += page_problems(page, "check your email")

    # --- They confirm their address from the email the server sent. ---
    message = daphne.wait_for_email(to=newcomer_email, subject="Confirm")
    link = re.search(r"http://127\.0\.0\.1:\d+/accounts/confirm-email/\S+/", email_text(message))
    assert link, email_text(message)
    page.goto(link.group(0))
    problems += page_problems(page, "confirm email")
    press_button(page, "Confirm")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # --- They look for their condition near their town, and ask to join. ---
    follow_link(page, "Groups")
    expect(page).to_have_url(re.compile(r"/groups/$"))
    problems += page_problems(page, "group directory")
    tab_and_type(page, "Search by name or condition", "Ehlers-Danlos")
    tab_and_type(page, re.compile(r"^Near \(town or village\)"), "Halif")
    town = page.get_by_role("option", name="Halifax, England")
    expect(town).to_be_visible()
    problems += page_problems(page, "group directory, choosing a town")
    page.keyboard.press("ArrowDown")
    expect(town).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")  # picks the town
    expect(page.get_by_label(re.compile(r"^Near"))).to_have_value("Halifax, England")
    page.keyboard.press("Enter")  # and now searches
    near = page.locator("section[aria-labelledby=near-heading]")
    expect(near.get_by_role("heading", level=2)).to_have_text(
        "Local groups within 25 miles of Halifax, England")
    card = near.locator("li", has=page.get_by_role("link", name=group.name))
    expect(card).to_contain_text("in Hebden Bridge")
    expect(page.get_by_role("link", name="Carers Cuppa")).to_have_count(0)
    problems += page_problems(page, "group directory, groups near Halifax")
    follow_link(page, group.name)
    expect(page).to_have_url(re.compile(rf"/groups/{group.slug}/$"))
    problems += page_problems(page, "join form")
    tab_and_type(page, QUESTION, answer)
    press_button(page, "Send my request")
    expect(page.get_by_text("Your request is waiting")).to_be_visible()
    problems += page_problems(page, "join request waiting")

    # --- The moderator, in their own browser, reads the answer and accepts (keyboard too). ---
    mod = visitor()
    mod_page = mod.page
    mod.open("/accounts/login/")
    problems += page_problems(mod_page, "login")
    log_in_by_keyboard(mod_page, moderator.email)
    follow_link(mod_page, re.compile(r"^Moderation"))
    follow_link(mod_page, "1 join request waiting")
    expect(mod_page).to_have_url(re.compile(rf"/groups/{group.slug}/requests/$"))
    problems += page_problems(mod_page, "join requests")
    request_card = mod_page.locator("article", has_text="Sam Newcomer")
    expect(request_card).to_contain_text(QUESTION)
    expect(request_card).to_contain_text(answer)
    badge = mod_page.locator(".group-header .badge")
    if badge.count() != 1 or not badge.first.inner_text().strip().startswith("1"):
        problems.append(
            f"{mod_page.url}: the group header shows no count badge of 1 waiting request"
        )
    press_button(mod_page, "Accept")
    expect(mod_page.get_by_text("You accepted Sam Newcomer's request")).to_be_visible()
    problems += page_problems(mod_page, "join request accepted")

    # --- The moderator says hello from their notification (the group has no welcomer). ---
    follow_link(mod_page, re.compile(r"^Notifications"))
    follow_link(mod_page, f"Sam Newcomer has joined {group.name}. Say hello!")
    problems += page_problems(mod_page, "say hello")
    greeting = "Welcome Sam! Lovely to have you here."
    tab_to(mod_page, label="Your message")
    mod_page.keyboard.press("ControlOrMeta+A")  # replace the suggested words
    mod_page.keyboard.type(greeting)
    press_button(mod_page, "Send my welcome")
    expect(mod_page).to_have_url(re.compile(rf"/groups/{group.slug}/chat/#message-\d+$"))
    expect(mod_page.locator("#chat-status")).to_have_text(re.compile("Connected"))

    # --- The newcomer is in: welcomed on the group's home page, greeted in the chat. ---
    follow_link(page, re.compile(r"^Notifications"))
    expect(page.get_by_text(f"Your request to join {group.name} has been accepted")).to_be_visible()
    problems += page_problems(page, "notifications")
    follow_link(page, f"Welcome! Your request to join {group.name} has been accepted.")
    expect(page).to_have_url(re.compile(rf"/groups/{group.slug}/$"))
    # The first-visit welcome panel is read first: the focus starts on its heading.
    welcome_heading = page.get_by_role("heading", name=f"Welcome to {group.name}")
    expect(welcome_heading).to_be_focused()
    expect(page.get_by_text(WELCOME)).to_be_visible()
    expect(page.get_by_role("link", name="Members")).to_be_visible()
    problems += page_problems(page, "group home, first visit")
    press_button(page, "Got it")
    expect(page.get_by_role("heading", name=f"Welcome to {group.name}")).to_have_count(0)
    follow_link(page, "Chat")
    expect(page).to_have_url(re.compile(rf"/groups/{group.slug}/chat/$"))
    expect(page.locator("#chat-log")).to_contain_text(greeting)
    expect(page.locator("#chat-status")).to_have_text(re.compile("Connected"))
    problems += page_problems(page, "chat")
    tab_and_type(page, "Your message", hello)
    page.keyboard.press("Enter")
    expect(mod_page.locator("#chat-log")).to_contain_text(hello)  # live, no reload
    expect(page.locator("#chat-log .is-pending")).to_have_count(0)
    expect(page.get_by_label("Your message")).to_be_focused()
    problems += page_problems(page, "chat, after saying hello")

    approval = daphne.wait_for_email(to=newcomer_email, subject="You're in")
    assert WELCOME in email_text(approval)
    membership = Membership.objects.get(group=group, user__email=newcomer_email)
    assert membership.status == Membership.Status.APPROVED
    assert membership.answers == [{"question": QUESTION, "answer": answer}]
    assert membership.greeted_at is not None
    assert Notification.objects.filter(
        user=membership.user, kind=Notification.Kind.REQUEST_APPROVED
    ).count() == 1
    assert list(ChatMessage.objects.filter(group=group).order_by("id").values_list(
        "author__display_name", "body")) == [("Morag Moderator", greeting),
                                             ("Sam Newcomer", hello)]

    assert newcomer.offsite_requests == [] and mod.offsite_requests == []
    assert problems == []


def test_keyboard_only_person_can_ask_to_join(daphne, visitor, approval_group, make_user):
    group, _moderator = approval_group
    person = make_user("Kit Keyboard")
    someone = visitor()
    page = someone.page
    log_in_by_keyboard(page, person.email)
    someone.open(f"/groups/{group.slug}/")

    def focused() -> dict:
        return page.evaluate(
            "() => { const e = document.activeElement;"
            " return {tag: e.tagName, id: e.id, text: (e.innerText || '').trim(),"
            " href: e.getAttribute('href') || ''}; }"
        )

    # The first Tab lands on the skip link, and Enter takes focus into the main content.
    page.keyboard.press("Tab")
    assert focused()["href"] == "#main"
    page.keyboard.press("Enter")
    assert focused()["id"] == "main"

    for _ in range(40):
        page.keyboard.press("Tab")
        if focused()["tag"] == "TEXTAREA":
            break
    now = focused()
    assert now["tag"] == "TEXTAREA", f"Tab never reached the answer box (at {now})"
    assert page.evaluate(
        "() => Array.from(document.activeElement.labels).map(l => l.textContent.trim())"
    ) == [QUESTION]
    page.keyboard.type("I would like to swap tips on pacing.")

    for _ in range(5):
        page.keyboard.press("Tab")
        if focused()["tag"] == "BUTTON":
            break
    assert focused() == {"tag": "BUTTON", "id": "", "text": "Send my request", "href": ""}
    page.keyboard.press("Enter")
    expect(page.get_by_text("Your request is waiting")).to_be_visible()

    membership = Membership.objects.get(group=group, user=person)
    assert membership.status == Membership.Status.PENDING
    assert membership.answers == [
        {"question": QUESTION, "answer": "I would like to swap tips on pacing."}
    ]
    assert someone.offsite_requests == []


def test_help_page_works_logged_out_and_lists_samaritans(daphne, visitor):
    someone = visitor()
    page = someone.page
    someone.open("/help/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Get help now")
    samaritans = page.locator("li", has=page.get_by_role("heading", name="Samaritans"))
    expect(samaritans).to_contain_text("116 123")
    expect(samaritans.get_by_role("link", name="116 123")).to_have_attribute("href", "tel:116123")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    assert page_problems(page) == []
    assert someone.offsite_requests == []
