"""The join journey in a real browser against a real daphne.

A newcomer signs up, confirms their email, finds an approval group by its condition and
asks to join; a moderator accepts in another browser; the newcomer is welcomed in. Each
page on the way is checked for the structure assistive technology relies on, and no
request may leave 127.0.0.1.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from community.models import Group, Membership, Notification
from tests.conftest import add_membership
from tests.e2e.live import email_text, page_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Kindred-123!"
QUESTION = "What would you most like from the group?"
WELCOME = "Hello and welcome! Say hi in the chat when you feel ready."
CONDITION = "Ehlers-Danlos syndrome"


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
    page.goto("/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_newcomer_signs_up_asks_to_join_and_is_welcomed_after_a_moderator_accepts(
    daphne, visitor, approval_group
):
    group, moderator = approval_group
    problems: list[str] = []
    newcomer_email = "sam.newcomer@example.org"
    answer = "To talk to people who understand the joint pain and the tiredness."

    # --- The newcomer signs up from the front page. ---
    newcomer = visitor()
    page = newcomer.page
    newcomer.open("/")
    problems += page_problems(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    problems += page_problems(page)
    page.get_by_label("Email", exact=True).fill(newcomer_email)
    page.get_by_label("Display name").fill("Sam Newcomer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("sign up", re.I)).click()
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    problems += page_problems(page)

    # --- They confirm their address from the email the server sent. ---
    message = daphne.wait_for_email(to=newcomer_email, subject="Confirm")
    link = re.search(r"http://127\.0\.0\.1:\d+/accounts/confirm-email/\S+/", email_text(message))
    assert link, email_text(message)
    page.goto(link.group(0))
    problems += page_problems(page)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # --- They find the group by its condition and ask to join. ---
    newcomer.open("/groups/")
    problems += page_problems(page)
    page.get_by_label("Search by name or condition").fill("Ehlers-Danlos")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=group.name)).to_be_visible()
    expect(page.get_by_role("link", name="Carers Cuppa")).to_have_count(0)
    page.get_by_role("link", name=group.name).click()
    expect(page).to_have_url(re.compile(rf"/groups/{group.slug}/$"))
    problems += page_problems(page)
    page.get_by_label(QUESTION).fill(answer)
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_text("Your request is waiting")).to_be_visible()
    problems += page_problems(page)

    # --- The moderator, in their own browser, reads the answer and accepts. ---
    mod = visitor()
    mod_page = mod.page
    mod.open("/accounts/login/")
    problems += page_problems(mod_page)
    log_in(mod_page, moderator.email)
    mod.open(f"/groups/{group.slug}/requests/")
    problems += page_problems(mod_page)
    request_card = mod_page.locator("article", has_text="Sam Newcomer")
    expect(request_card).to_contain_text(QUESTION)
    expect(request_card).to_contain_text(answer)
    badge = mod_page.locator(".group-header .badge")
    if badge.count() != 1 or not badge.first.inner_text().strip().startswith("1"):
        problems.append(
            f"{mod_page.url}: the group header shows no count badge of 1 waiting request"
        )
    request_card.get_by_role("button", name="Accept").click()
    expect(mod_page.get_by_text("You accepted Sam Newcomer's request")).to_be_visible()
    problems += page_problems(mod_page)

    # --- The newcomer is in: welcome message, Members link, a notification and email. ---
    newcomer.open(f"/groups/{group.slug}/")
    expect(page.get_by_text(WELCOME)).to_be_visible()
    expect(page.get_by_role("link", name="Members")).to_be_visible()
    problems += page_problems(page)
    newcomer.open("/notifications/")
    expect(page.get_by_text(f"Your request to join {group.name} has been accepted")).to_be_visible()
    problems += page_problems(page)
    approval = daphne.wait_for_email(to=newcomer_email, subject="You're in")
    assert WELCOME in email_text(approval)

    membership = Membership.objects.get(group=group, user__email=newcomer_email)
    assert membership.status == Membership.Status.APPROVED
    assert membership.answers == [{"question": QUESTION, "answer": answer}]
    assert Notification.objects.filter(
        user=membership.user, kind=Notification.Kind.REQUEST_APPROVED
    ).count() == 1

    assert newcomer.offsite_requests == [] and mod.offsite_requests == []
    assert problems == []


def test_keyboard_only_person_can_ask_to_join(daphne, visitor, approval_group, make_user):
    group, _moderator = approval_group
    person = make_user("Kit Keyboard")
    someone = visitor()
    page = someone.page
    log_in(page, person.email)
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
