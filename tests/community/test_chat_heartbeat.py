"""The process-wide chat heartbeat (community/consumers/roster.py) and the send path's
folded membership check.

Events close a banned person's socket at once (test_chat_consumer.py); these tests take
the events away, changing rows directly, to prove the heartbeat is a real safety net:
it closes, mutes and catches sockets up from what is stored, with a fixed number of
queries however many sockets a process holds.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db.models import F
from django.utils import timezone

from community.consumers.chat import GAP_FILL_MAX, roster
from community.consumers.roster import standings_for
from community.models import ChatMessage, Group, Membership
from community.services.chat import ChatError, post_chat_message
from community.text import render_markdown
from tests.community.chat_helpers import FAST_HASHERS, fresh_cache_keys, new_client_id
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    fresh_cache_keys(settings)


@database_sync_to_async
def set_membership(user, group, **fields) -> None:
    """Change a membership row behind the services' back: no event goes out."""
    Membership.objects.filter(user=user, group=group).update(**fields)


@database_sync_to_async
def store_silently(group: Group, author, body: str) -> ChatMessage:
    """A stored message whose broadcast was lost (as if Redis dropped it)."""
    Group.objects.filter(pk=group.pk).update(chat_seq=F("chat_seq") + 1)
    seq = Group.objects.values_list("chat_seq", flat=True).get(pk=group.pk)
    return ChatMessage.objects.create(group=group, seq=seq, author=author,
                                      client_id=new_client_id(), body=body,
                                      body_html=render_markdown(body))


async def test_heartbeat_closes_a_socket_whose_ban_event_was_lost(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    await set_membership(room.ada, room.group, status=Membership.Status.BANNED)
    assert await ada.quiet() == [] and ada.closed is None, "no event: still open"

    await roster().beat()

    assert await ada.close_code(timeout=1.0) == 4404
    assert await ben.quiet(ignore=("presence",)) == [] and ben.closed is None


async def test_heartbeat_closes_sockets_of_a_deactivated_account(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    await database_sync_to_async(type(room.ada).objects.filter(pk=room.ada.pk).update)(
        is_active=False)
    await roster().beat()
    assert await ada.close_code(timeout=1.0) == 4401


async def test_a_mute_without_an_event_still_stops_the_next_send(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    await set_membership(room.ada, room.group,
                         muted_until=timezone.now() + timedelta(hours=1))
    refused = await ada.post("Am I heard?")
    assert refused["type"] == "error" and refused["code"] == "muted"
    count = await database_sync_to_async(ChatMessage.objects.filter(group=room.group).count)()
    assert count == 0


async def test_a_removed_member_without_an_event_cannot_send(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    await set_membership(room.ada, room.group, status=Membership.Status.REMOVED)
    refused = await ada.post("Still here?")
    assert refused["type"] == "error" and refused["code"] == "not_allowed"


async def test_heartbeat_delivers_a_message_whose_broadcast_was_lost_exactly_once(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    lost = await store_silently(room.group, room.cal, "Did anyone see this?")
    assert await ada.quiet(ignore=("presence",)) == []

    await roster().beat()

    for sock in (ada, ben):
        frame = await sock.next("message.new")
        assert frame["message"]["id"] == lost.pk
    await roster().beat()  # caught up: nothing more
    assert await ada.quiet(ignore=("presence",)) == []

    live = await ben.post("Yes, I did")
    assert (await ada.next("message.new"))["message"]["id"] == live["id"]


@pytest.mark.django_db
def test_standings_take_three_queries_however_many_sockets(
    make_user, make_group, django_assert_max_num_queries
):
    groups = [make_group(Group.Privacy.APPROVAL, name=f"Group {n}") for n in range(3)]
    pairs = set()
    for n in range(30):
        person = make_user(f"Person {n}")
        group = groups[n % 3]
        status = "banned" if n == 7 else "approved"
        add_membership(person, group, status)
        pairs.add((person.pk, group.pk))
    with django_assert_max_num_queries(3):
        standings = standings_for(pairs)
    codes = {code for code, _muted, _seq in standings.values()}
    assert codes == {None, 4404}
    assert sum(code == 4404 for code, _m, _s in standings.values()) == 1


@pytest.mark.django_db
def test_standings_cover_a_deleted_account_and_a_deleted_group(make_user, make_group):
    group = make_group(Group.Privacy.APPROVAL, name="Gone soon")
    person = make_user("Dee")
    add_membership(person, group, "approved")
    standings = standings_for({(person.pk, group.pk), (999999, group.pk),
                               (person.pk, 888888)})
    assert standings[(person.pk, group.pk)][0] is None
    assert standings[(999999, group.pk)][0] == 4401
    assert standings[(person.pk, 888888)][0] == 4404


@pytest.mark.django_db
def test_sending_a_message_is_one_update_and_one_insert(
    make_user, make_group, django_capture_on_commit_callbacks, django_assert_num_queries,
    settings,
):
    """No selects on the send path: who may post is checked inside the UPDATE that takes
    the group's place in its sequence."""
    group = make_group(Group.Privacy.APPROVAL, name="Quiet room")
    person = make_user("Fay")
    add_membership(person, group, "approved")
    post_chat_message(actor=person, group=group, body="warm up", client_id="w-1")

    writes = {"UPDATE", "INSERT"}
    with django_assert_num_queries(4) as captured:  # with the transaction's SAVEPOINT pair
        post_chat_message(actor=person, group=group, body="Hello all", client_id="w-2")
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    assert [s for s in statements if s not in {"SAVEPOINT", "RELEASE"}] == sorted(
        writes, reverse=True)


@pytest.mark.django_db
def test_founder_of_a_group_awaiting_approval_can_still_chat(make_user, make_group):
    """The fast check is narrower than the policy; the policy has the last word."""
    group = make_group(Group.Privacy.APPROVAL, name="Not live yet")
    Group.objects.filter(pk=group.pk).update(status=Group.Status.PENDING)
    group.refresh_from_db()
    founder = group.memberships.get(role="owner").user
    Group.objects.filter(pk=group.pk).update(created_by=founder)
    group.refresh_from_db()
    result = post_chat_message(actor=founder, group=group, body="Testing", client_id="f-1")
    assert result.created and result.message.seq == 1


@pytest.mark.django_db
def test_a_non_member_hears_not_allowed_before_any_complaint_about_their_text(
    make_user, make_group
):
    group = make_group(Group.Privacy.APPROVAL, name="Members only")
    outsider = make_user("Gus")
    with pytest.raises(ChatError) as refused:
        post_chat_message(actor=outsider, group=group, body="", client_id="g-1")
    assert refused.value.code == "not_allowed"


async def test_a_socket_far_behind_is_told_to_resync_with_the_newest_page(room, chat):
    """Its channel overflowed (a slow connection): rather than hundreds of frames it gets
    the newest page marked `resync`, and pages back over the gap as after a reconnect."""
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    missed = [await store_silently(room.group, room.cal, f"Missed {n}")
              for n in range(GAP_FILL_MAX + 20)]
    live = await ben.post("And now live")

    resync = await ada.next("history")
    assert resync["resync"] is True and resync["more"] is True
    shown = [m["id"] for m in resync["messages"]]
    assert shown[-1] == live["id"] and shown == sorted(shown)
    assert await ada.quiet(ignore=("presence",)) == [], "nothing doubled after the page"

    await ada.send({"type": "history", "before": shown[0], "limit": 50})
    older = await ada.next("history")
    assert [m["id"] for m in older["messages"]][-1] == shown[0] - 1
    assert {m.pk for m in missed} >= {m["id"] for m in older["messages"]}

    again = await ben.post("Still here")
    assert (await ada.next("message.new"))["message"]["id"] == again["id"]
