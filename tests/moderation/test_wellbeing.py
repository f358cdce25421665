"""Moderator wellbeing on the queue: who is on duty, cases handled this week, and a
gentle prompt to step away after a run of urgent cases."""

from datetime import timedelta

import pytest
from django.utils import timezone

from community.models import Group, Membership
from moderation.models import Case
from moderation.selectors import on_duty_names, wellbeing
from tests.conftest import add_membership


@pytest.fixture
def group_with_mods(make_user, make_group):
    group = make_group(Group.Privacy.APPROVAL)
    on, off = make_user("Olu On"), make_user("Fay Off")
    add_membership(on, group, "approved", "moderator")
    add_membership(off, group, "approved", "moderator", on_duty=False)
    return group, on, off


@pytest.mark.django_db
def test_queue_lists_only_the_moderators_on_duty(client, group_with_mods):
    group, on, off = group_with_mods
    names = on_duty_names([group])[group.pk]
    assert "Olu On" in names and "Fay Off" not in names
    client.force_login(on)
    body = client.get("/moderation/").content.decode()
    assert "On duty:" in body and "Olu On" in body and "Fay Off" not in body


@pytest.mark.django_db
def test_going_off_duty_is_remembered_and_audited(client, group_with_mods):
    from moderation.models import AuditEntry

    group, on, _off = group_with_mods
    client.force_login(on)
    assert client.post(f"/moderation/duty/{group.slug}/", {"on_duty": "0"}).status_code == 302
    assert Membership.objects.get(user=on, group=group).on_duty is False
    assert AuditEntry.objects.filter(action="moderator.duty", actor=on).exists()
    assert "Olu On" not in on_duty_names([group])[group.pk]
    Membership.objects.filter(group=group).update(on_duty=False)
    assert "nobody" in client.get("/moderation/").content.decode().split("On duty:")[1][:80]


@pytest.mark.django_db
def test_a_run_of_urgent_cases_suggests_a_break(group_with_mods):
    group, on, _off = group_with_mods
    now = timezone.now()
    assert wellbeing(on, now)["suggest_break"] is False
    for _ in range(3):
        Case.objects.create(group=group, kind="profile", profile=None, urgent=True,
                            status="resolved", resolved_by=on, resolved_at=now)
    assert wellbeing(on, now)["suggest_break"] is True
    assert wellbeing(on, now + timedelta(hours=3))["suggest_break"] is False


@pytest.mark.django_db
def test_a_common_reason_can_be_chosen_instead_of_typed(client, group_with_mods, make_user):
    from community.services.chat import post_chat_message
    from moderation.forms import REASON_TEMPLATES
    from moderation.services.cases import flag_content

    group, on, _off = group_with_mods
    author, flagger = make_user("Ari Author"), make_user("Fin Flagger")
    add_membership(author, group, "approved")
    add_membership(flagger, group, "approved")
    message = post_chat_message(actor=author, group=group, body="Stop your insulin",
                                client_id="t1", confirm=True).message
    case = flag_content(actor=flagger, kind="chat_message", item_id=message.pk,
                        reason="unsafe_advice")
    client.force_login(on)
    response = client.post(f"/moderation/cases/{case.pk}/decide/", {
        "decision": "remove", "reason": "", "reason_template": "0", "version": case.version})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.decision_reason == REASON_TEMPLATES[0]
    empty = client.post(f"/moderation/cases/{case.pk}/decide/", {
        "decision": "keep", "reason": "", "version": case.version})
    assert empty.status_code == 400


@pytest.mark.django_db
def test_a_hidden_chat_message_stays_visible_to_its_author_with_a_note(client, make_user,
                                                                       group_with_mods):
    from community.models import ChatMessage
    from community.services.chat import post_chat_message

    group, _on, _off = group_with_mods
    author, other = make_user("Ari Author"), make_user("Oli Other")
    add_membership(author, group, "approved")
    add_membership(other, group, "approved")
    message = post_chat_message(actor=author, group=group, body="Something worrying",
                                client_id="h1").message
    ChatMessage.objects.filter(pk=message.pk).update(status="hidden")
    client.force_login(author)
    mine = client.get(f"/groups/{group.slug}/chat/").content.decode()
    assert "Something worrying" in mine and "Hidden while moderators take a look" in mine
    client.force_login(other)
    assert "Something worrying" not in client.get(f"/groups/{group.slug}/chat/").content.decode()


@pytest.mark.django_db
def test_others_see_a_placeholder_where_a_hidden_post_was(client, make_user, group_with_mods):
    from forums.models import Post
    from forums.services import create_default_categories, reply, start_thread

    group, _on, _off = group_with_mods
    create_default_categories(group)
    author, other = make_user("Ari Author"), make_user("Oli Other")
    add_membership(author, group, "approved")
    add_membership(other, group, "approved")
    thread = start_thread(actor=other, group=group, category=group.forum_categories.first(),
                          title="Check-in", body="How is everyone?")
    post = reply(actor=author, thread=thread, body="Quarantined words")
    Post.objects.filter(pk=post.pk).update(status="hidden")
    client.force_login(other)
    page = client.get(f"/groups/{group.slug}/forum/t/{thread.pk}/").content.decode()
    assert "Quarantined words" not in page
    assert "Hidden while moderators take a look" in page
