"""The forum journey in real browsers: a member starts a thread with a content warning,
another replies to that post, the first is notified live, and search finds the thread
for members but nothing for an outsider. No JavaScript is needed for any of it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from community.models import Group
from forums.models import Post
from forums.services import create_default_categories
from tests.conftest import add_membership
from tests.e2e.live import page_problems
from tests.e2e.test_join_journey import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def forum_group(make_user, make_group):
    ann, ben, olive = make_user("Ann Writer"), make_user("Ben Reader"), make_user("Olive Out")
    group = make_group(Group.Privacy.APPROVAL, name="Kidney Friends", slug="kidney-friends")
    create_default_categories(group)
    add_membership(ann, group, "approved")
    add_membership(ben, group, "approved")
    return group, ann, ben, olive


def test_thread_with_warning_reply_notification_and_private_search(
    daphne, visitor, forum_group
):
    group, ann, ben, olive = forum_group
    ann_v, ben_v, olive_v = visitor(), visitor(), visitor()
    for person, who in ((ann_v, ann), (ben_v, ben), (olive_v, olive)):
        log_in(person.page, who.email)

    # Ann starts a thread with a content warning, previewing it first.
    page = ann_v.page
    ann_v.open(f"/groups/{group.slug}/forum/")
    problems = page_problems(page, "forum index")
    page.get_by_role("link", name="Start a new thread").click()
    problems += page_problems(page, "new thread form")
    page.get_by_label("Title", exact=True).fill("My first month on dialysis")
    page.get_by_label("Category").select_option(label="Living with it")
    page.get_by_label("Your post", exact=True).fill("Some days were **very** dark.")
    page.get_by_label("Content warning").fill("mentions low mood")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator(".preview strong")).to_have_text("very")
    problems += page_problems(page, "new thread form, preview")
    body_box = page.get_by_label("Your post", exact=True)
    expect(body_box).to_have_value("Some days were **very** dark.")
    page.get_by_role("button", name="Post the thread").click()
    expect(page.get_by_role("heading", name="My first month on dialysis")).to_be_visible()
    problems += page_problems(page, "thread")

    # Ben opens it: the post is folded behind its warning until he chooses to open it.
    ben_page = ben_v.page
    ben_v.open(f"/groups/{group.slug}/forum/")
    ben_page.get_by_role("link", name="My first month on dialysis").click()
    warning = ben_page.locator("details.content-warning")
    expect(warning.locator("summary")).to_contain_text("mentions low mood")
    expect(warning.locator(".post-body")).to_be_hidden()
    warning.locator("summary").click()
    expect(warning.locator(".post-body")).to_be_visible()
    problems += page_problems(ben_page, "thread, content warning opened")

    # Ben replies to Ann's post specifically; Ann (on another page) hears at once.
    ann_v.open("/help/")
    ben_page.get_by_role("link", name="Reply to this post").first.click()
    replying = ben_page.get_by_role("heading", name=re.compile("replying to Ann Writer"))
    expect(replying).to_be_visible()
    problems += page_problems(ben_page, "reply form")
    ben_page.get_by_label("Your reply", exact=True).fill(
        "Thank you for writing this. It gets easier."
    )
    ben_page.get_by_role("button", name="Post my reply").click()
    expect(ben_page.locator(".post")).to_have_count(2)
    expect(page.locator("#live-announcer")).to_contain_text("Ben Reader replied to your post")
    reply = Post.objects.latest("id")
    assert reply.parent.author_id == ann.pk

    ann_v.open("/notifications/")
    page.get_by_role("link", name=re.compile("Ben Reader replied to your post")).click()
    expect(page.locator(f"#post-{reply.pk}")).to_contain_text("It gets easier")
    problems += page_problems(page, "thread, at a reply")

    # While Ann reads the thread, a new reply offers itself in a banner (JS enhancement).
    expect(page.locator("#new-replies")).to_be_hidden()
    ben_page.goto(f"{ben_v.base_url}/groups/{group.slug}/forum/t/{reply.thread_id}/reply/")
    ben_page.get_by_label("Your reply", exact=True).fill("One more thing: drink water.")
    ben_page.get_by_role("button", name="Post my reply").click()
    expect(page.locator("#new-replies")).to_contain_text("New replies")
    problems += page_problems(page, "thread, new replies banner")
    page.locator("#new-replies a").click()
    expect(page.get_by_text("One more thing: drink water.")).to_be_visible()

    # Search: members find it; an outsider finds nothing and cannot open the thread.
    ann_v.open("/search/?q=dialysis")
    expect(page.get_by_role("link", name="My first month on dialysis")).to_be_visible()
    problems += page_problems(page, "search")
    olive_v.open("/search/?q=dialysis")
    expect(olive_v.page.get_by_text("Nothing found")).to_be_visible()
    problems += page_problems(olive_v.page, "search, nothing found")
    response = olive_v.page.goto(f"{olive_v.base_url}/groups/{group.slug}/forum/")
    assert response.status == 404
    assert problems == []
