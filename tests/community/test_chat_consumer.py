"""`/ws/groups/<slug>/chat/` through the whole ASGI stack (Origin check, session auth,
routing, the consumer, the services and the configured channel layer).

With the embedded defaults this is the in-memory layer; with REDIS_URL set it is
channels-redis. The same flow over two real daphne processes is in
tests/test_chat_two_processes.py.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from types import SimpleNamespace

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from community import ratelimit, services
from community.models import ChatMessage, Group, Membership, User
from tests.community.chat_helpers import (
    FAST_HASHERS,
    ORIGIN,
    QUIET,
    ChatSocket,
    fresh_cache_keys,
    new_client_id,
    seed_messages,
    session_cookie,
)
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """A fast hasher (no test types a password) and rate-limit counts of this test's own."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
    fresh_cache_keys(settings)


def ids_of(messages: list[dict]) -> list[int]:
    return [m["id"] for m in messages]


def new_ids(frames: list[dict]) -> list[int]:
    return [f["message"]["id"] for f in frames]


@database_sync_to_async
def stored(group: Group) -> list[ChatMessage]:
    return list(ChatMessage.objects.filter(group=group).order_by("pk"))


@database_sync_to_async
def membership(user: User, group: Group) -> Membership:
    return Membership.objects.select_related("group", "user").get(user=user, group=group)


# --- who may connect ------------------------------------------------------------------

# Per group privacy: each standing's close code, or None for "a member: stays open".
# (One test per privacy, not per person: every transactional test costs a database flush.)
CLOSE_CODES = {
    "approval": {"anonymous": 4401, "outsider": 4403, "pending": 4403, "declined": 4403,
                 "ex_member": 4403, "banned": 4404, "member": None, "muted": None,
                 "welcomer": None, "moderator": None, "owner": None},
    "open": {"anonymous": 4401, "outsider": 4403, "pending": 4403, "declined": 4403,
             "banned": 4404, "member": None, "muted": None},
    "invite": {"anonymous": 4401, "outsider": 4404, "pending": 4404, "declined": 4404,
               "banned": 4404, "member": None, "owner": None},
}


@pytest.mark.parametrize("privacy", list(CLOSE_CODES))
async def test_close_code_after_accepting_follows_the_contract(
    privacy, make_group, people_in, chat
):
    def world() -> tuple[Group, dict]:
        group = make_group(privacy)
        return group, people_in(group)

    group, people = await database_sync_to_async(world)()
    got = {}
    for role, code in CLOSE_CODES[privacy].items():
        sock = await chat.open(people[role], group.slug)
        assert sock.accepted, f"{role}: accept first, so a browser can read the close code"
        if code is not None:
            got[role] = await sock.close_code()
            assert sock.frames == [], f"{role}: the close must be the first thing sent"
            continue
        history = await sock.next("history")
        assert history["more"] is False, role
        answer = await sock.post(f"Hello from {role}")
        expected = ("error", "muted") if role == "muted" else ("message.ack", None)
        assert (answer["type"], answer.get("code")) == expected, role
        got[role] = sock.closed  # None: a member (muted or not) stays connected
        await sock.disconnect()
    assert got == CLOSE_CODES[privacy]


async def test_unknown_group_is_4404_even_for_a_member_elsewhere(room, chat):
    sock = await chat.open(room.ada, "no-such-group")
    assert sock.accepted
    assert await sock.close_code() == 4404
    assert sock.frames == []


async def test_handshake_from_a_foreign_origin_is_refused(room, chat):
    cookie = (b"cookie", (await database_sync_to_async(session_cookie)(room.ada)).encode())
    allowed = await chat.open(room.ada, room.slug, headers=[ORIGIN, cookie])
    assert allowed.accepted and (await allowed.next("history"))["type"] == "history"
    for origin in (None, b"https://evil.example", b"http://127.0.0.1.evil.example", b"null",
                   b"http://localhost.evil.example:8000"):
        headers = [cookie] if origin is None else [(b"origin", origin), cookie]
        refused = await chat.open(room.ada, room.slug, headers=headers)
        assert not refused.accepted, origin


# --- sending ----------------------------------------------------------------------------


async def test_message_is_acked_with_its_stored_id_and_reaches_members_only(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    eve, _ = await chat.join(room.eve, room.elsewhere.slug)
    await eve.next("presence")  # her own arrival; after this she must hear nothing

    ack = await ada.post("  Hello **everyone**  ", client_id="c-hello")

    [row] = await stored(room.group)
    assert ack == {"type": "message.ack", "client_id": "c-hello", "id": row.pk,
                   "status": "published"}
    assert row.body == "Hello **everyone**" and row.author_id == room.ada.pk
    frame = await ben.next("message.new")
    message = frame["message"]
    assert message["id"] == row.pk
    assert message["client_id"] == "c-hello"
    assert message["author"] == {"id": room.ada.pk, "name": "Ada"}
    assert message["body"] == "Hello **everyone**"
    assert message["body_html"] == "<p>Hello <strong>everyone</strong></p>"
    created = datetime.fromisoformat(message["created"])
    assert created.tzinfo is not None and created == row.created_at
    assert await ben.quiet() == []
    assert await eve.communicator.receive_nothing(timeout=QUIET), (
        "a member of another group must hear nothing"
    )


async def test_the_same_client_id_never_makes_a_second_message(room, chat):
    phone, _ = await chat.join(room.ada, room.slug)
    laptop, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)

    first = await phone.post("Is anyone awake?", client_id="resend-1")
    again = await phone.post("Is anyone awake?", client_id="resend-1")  # a retry

    [row] = await stored(room.group)
    assert first["type"] == again["type"] == "message.ack"
    assert first["id"] == again["id"] == row.pk and again["client_id"] == "resend-1"

    # The same send from two sockets at once (a phone and a laptop, say).
    frame = {"type": "message.send", "body": "Sent twice by accident", "client_id": "dup"}
    await asyncio.gather(phone.send(frame), laptop.send(frame))
    acks = await asyncio.gather(phone.next("message.ack", "error"),
                                laptop.next("message.ack", "error"))

    rows = await stored(room.group)
    assert len(rows) == 2
    assert [a["type"] for a in acks] == ["message.ack", "message.ack"]
    assert {a["id"] for a in acks} == {rows[1].pk}
    assert new_ids(await ben.collect("message.new", 2)) == [row.pk, rows[1].pk]
    assert await ben.quiet() == [], "a resend is never broadcast a second time"


async def test_thirty_messages_from_three_senders_reach_everyone_once_in_order(room, chat):
    senders = [(await chat.join(u, room.slug))[0] for u in (room.ada, room.ben, room.cal)]
    reader, _ = await chat.join(room.moderator, room.slug)

    async def burst(sock: ChatSocket, name: str) -> list[dict]:
        for i in range(10):
            await sock.send({"type": "message.send", "body": f"{name} {i}",
                             "client_id": f"{name}-{i}"})
        return [await sock.next("message.ack", "error") for _ in range(10)]

    results = await asyncio.gather(*(burst(s, n) for s, n in zip(senders, "ABC", strict=True)))

    acks = [ack for result in results for ack in result]
    assert {a["type"] for a in acks} == {"message.ack"}, acks
    acked = {a["id"] for a in acks}
    assert len(acked) == 30
    rows = await stored(room.group)
    assert [r.pk for r in rows] == sorted(acked)
    assert [r.seq for r in rows] == list(range(1, 31)), "seq rises with id, no gaps"
    for sock in [*senders, reader]:
        frames = await sock.collect("message.new", 30)
        got = new_ids(frames)
        assert got == sorted(acked), "each receiver gets all 30, in id order, once"
        seqs = [f["message"]["seq"] for f in frames]
        assert seqs == sorted(set(seqs))
        assert await sock.quiet() == []


async def test_a_group_that_takes_over_a_deleted_groups_slug_gets_live_messages(
    make_group, make_user, chat
):
    """bench_setup replaces groups under the same slugs while servers run (CONTRACT.md)."""
    ada, ben = await database_sync_to_async(lambda: (make_user("Ada"), make_user("Ben")))()

    def group_with_both() -> Group:
        group = make_group(Group.Privacy.APPROVAL, slug="bench-0")
        add_membership(ada, group, "approved")
        add_membership(ben, group, "approved")
        return group

    first = await database_sync_to_async(group_with_both)()
    old, _ = await chat.join(ada, "bench-0")
    await old.disconnect()
    await database_sync_to_async(Group.objects.filter(pk=first.pk).delete)()
    second = await database_sync_to_async(group_with_both)()
    assert second.pk != first.pk

    theirs, _ = await chat.join(ben, "bench-0")
    mine, _ = await chat.join(ada, "bench-0")
    sent = await mine.post("Hello again")
    assert sent["type"] == "message.ack"
    assert new_ids([await theirs.next("message.new")]) == [sent["id"]]


# --- catching up ------------------------------------------------------------------------


async def test_reconnect_with_after_replays_what_was_missed_once_then_continues_live(
    room, chat
):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    seen = await ada.post("Going offline for a bit")
    await ada.disconnect()

    missed = [await ben.post(f"While you were away {i}") for i in range(5)]
    assert {a["type"] for a in missed} == {"message.ack"}

    back, history = await chat.join(room.ada, room.slug, after=seen["id"])
    assert ids_of(history["messages"]) == [a["id"] for a in missed]
    assert [m["body"] for m in history["messages"]] == [
        f"While you were away {i}" for i in range(5)
    ]
    assert history["more"] is False
    live = await ben.post("Welcome back")
    assert new_ids([await back.next("message.new")]) == [live["id"]]
    assert await back.quiet() == [], "nothing is delivered twice"


async def test_more_than_a_page_missed_gives_the_newest_page_then_paging_back_fills_the_gap(
    room, chat
):
    old = await database_sync_to_async(seed_messages)(room.group, room.ben, 5, prefix="Old")
    after = old[-1].pk
    missed = await database_sync_to_async(seed_messages)(room.group, room.ben, 130)
    ben, _ = await chat.join(room.ben, room.slug)

    ada, history = await chat.join(room.ada, room.slug, after=after)

    assert history["more"] is True
    assert ids_of(history["messages"]) == [m.pk for m in missed[-100:]], "the newest page"
    live = await ben.post("Still here")
    assert new_ids([await ada.next("message.new")]) == [live["id"]], "live continues"

    pages = [history["messages"]]
    before = history["messages"][0]["id"]
    for _ in range(5):  # the gap is 30 messages: two pages of 20 reach it
        await ada.send({"type": "history", "before": before, "limit": 20})
        page = await ada.next("history")
        assert len(page["messages"]) <= 20
        pages.insert(0, page["messages"])
        if not page["messages"] or page["messages"][0]["id"] <= after:
            break
        before = page["messages"][0]["id"]
    else:
        pytest.fail("paging back never reached the last message seen before the gap")
    got = [m for page in pages for m in ids_of(page) if m > after]
    assert got == [m.pk for m in missed], "every missed message exactly once, in order"
    assert await ada.quiet() == []


async def test_after_that_is_not_a_message_of_this_group_gets_a_clear_error(room, chat):
    mine = await database_sync_to_async(seed_messages)(room.group, room.ben, 3)
    theirs = await database_sync_to_async(seed_messages)(room.elsewhere, room.eve, 1)

    latest = [m.pk for m in mine]
    for after in ["abc", "-1", "1.5", "", theirs[0].pk, 999_999_999]:
        sock = await chat.open(room.ada, room.slug, after=after)
        history = await sock.next("history")
        assert ids_of(history["messages"]) == latest, "the latest instead"
        if after == "":
            assert all(f["type"] != "error" for f in sock.frames), "empty means none"
        else:
            error = await sock.next("error")
            assert error["code"] == "invalid_after" and error["detail"], after
            assert sock.frames.index(error) < sock.frames.index(history), after
        ack = await sock.post(f"Still connected {after}")
        assert ack["type"] == "message.ack"
        latest.append(ack["id"])
        await sock.disconnect()


# --- history ----------------------------------------------------------------------------


async def test_history_before_pages_back_with_the_newest_last(room, chat):
    rows = await database_sync_to_async(seed_messages)(room.group, room.ben, 30)
    ada, _ = await chat.join(room.ada, room.slug)

    await ada.send({"type": "history", "before": rows[20].pk, "limit": 5})
    page = await ada.next("history")
    assert ids_of(page["messages"]) == [r.pk for r in rows[15:20]]
    assert page["more"] is True
    assert page["messages"][0]["body"] == rows[15].body

    await ada.send({"type": "history", "before": rows[3].pk, "limit": 10})
    first = await ada.next("history")
    assert ids_of(first["messages"]) == [r.pk for r in rows[:3]] and first["more"] is False

    await ada.send({"type": "history", "before": rows[-1].pk + 1})
    default = await ada.next("history")
    assert ids_of(default["messages"]) == [r.pk for r in rows], "limit defaults to a page"


BAD_HISTORY = [
    ("no-before", {"type": "history"}, "invalid_before"),
    ("before-text", {"type": "history", "before": "abc"}, "invalid_before"),
    ("before-0", {"type": "history", "before": 0}, "invalid_before"),
    ("before-negative", {"type": "history", "before": -5}, "invalid_before"),
    ("before-bool", {"type": "history", "before": True}, "invalid_before"),
    ("before-float", {"type": "history", "before": 1.5}, "invalid_before"),
    ("before-list", {"type": "history", "before": [1]}, "invalid_before"),
    ("limit-0", {"type": "history", "before": 10, "limit": 0}, "invalid_limit"),
    ("limit-101", {"type": "history", "before": 10, "limit": 101}, "invalid_limit"),
    ("limit-text", {"type": "history", "before": 10, "limit": "ten"}, "invalid_limit"),
    ("limit-negative", {"type": "history", "before": 10, "limit": -1}, "invalid_limit"),
]


async def test_history_with_bad_before_or_limit_gets_an_error_and_the_socket_stays_open(
    room, chat
):
    ada, _ = await chat.join(room.ada, room.slug)
    for case, frame, code in BAD_HISTORY:
        await ada.send(frame)
        error = await ada.next("error", "history")
        assert (error["type"], error.get("code")) == ("error", code), case
        assert error["detail"], case
    assert (await ada.post("Still connected"))["type"] == "message.ack"


# --- moderation -------------------------------------------------------------------------


async def test_removed_message_is_withdrawn_live_and_never_replayed(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    acks = [await ben.post(f"Message {i}") for i in range(3)]
    first, removed, last = (a["id"] for a in acks)
    await ada.collect("message.new", 3)

    message = await database_sync_to_async(ChatMessage.objects.get)(pk=removed)
    await database_sync_to_async(services.remove_chat_message)(
        actor=room.moderator, message=message, reason="Shares someone's phone number"
    )

    for sock in (ada, ben):
        assert await sock.next("message.removed") == {"type": "message.removed", "id": removed}
    await ada.disconnect()
    _, history = await chat.join(room.ada, room.slug, after=first)
    assert ids_of(history["messages"]) == [last]
    again, history = await chat.join(room.ada, room.slug)
    assert ids_of(history["messages"]) == [first, last]
    await again.send({"type": "history", "before": last + 1})
    assert ids_of((await again.next("history"))["messages"]) == [first, last]

    later = await ben.post("After the removal")  # ben stayed connected throughout
    assert new_ids(await ben.collect("message.new", 4)) == [first, removed, last, later["id"]]
    assert await ben.quiet() == []


async def test_ban_closes_4404_and_removal_closes_4403_within_a_second(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    cal, _ = await chat.join(room.cal, room.slug)
    elsewhere, _ = await chat.join(room.eve, room.elsewhere.slug)

    await database_sync_to_async(services.ban_member)(
        actor=room.owner, membership=await membership(room.ada, room.group),
        reason="Repeated abuse",
    )
    assert await ada.close_code(timeout=1.0) == 4404

    await database_sync_to_async(services.remove_member)(
        actor=room.moderator, membership=await membership(room.ben, room.group),
        reason="Asked to leave",
    )
    assert await ben.close_code(timeout=1.0) == 4403

    assert await cal.quiet() == [] and cal.closed is None, "others stay connected"
    assert (await cal.post("Still here"))["type"] == "message.ack"
    assert await elsewhere.quiet() == [] and elsewhere.closed is None


async def test_muted_member_keeps_reading_but_sends_get_a_muted_error(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)

    await database_sync_to_async(services.mute_member)(
        actor=room.moderator, membership=await membership(room.ada, room.group), hours=1,
        reason="Cooling off",
    )
    assert await ada.quiet() == [] and ada.closed is None

    refused = await ada.post("Let me talk", client_id="muted-1")
    assert refused["type"] == "error"
    assert refused["code"] == "muted" and refused["client_id"] == "muted-1"
    assert refused["detail"]
    assert await stored(room.group) == []
    await ada.send({"type": "typing"})
    assert await ben.quiet(ignore=("presence",)) == []

    heard = await ben.post("You can still read this")
    assert new_ids([await ada.next("message.new")]) == [heard["id"]]
    assert ada.closed is None


async def test_eleventh_message_in_ten_seconds_is_refused_and_repeated_abuse_closes_4429(
    room, chat, monkeypatch
):
    # One fixed window, so the test never straddles two of them.
    frozen = (int(timezone.now().timestamp()) // 10) * 10 + 5
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: float(frozen)))
    ada, _ = await chat.join(room.ada, room.slug)

    acks = [await ada.post(f"Quick {i}") for i in range(10)]
    assert {a["type"] for a in acks} == {"message.ack"}
    refused = await ada.post("One too many", client_id="eleven")
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    assert refused["client_id"] == "eleven" and refused["detail"]
    assert ada.closed is None
    resend = await ada.post("Quick 0", client_id=acks[0]["client_id"])
    assert resend == acks[0], "a resend of a stored message is not a new message"

    for i in range(3):
        again = await ada.post(f"Again {i}")
        assert again["code"] == "rate_limited"
    await ada.send({"type": "message.send", "body": "And again", "client_id": new_client_id()})
    assert await ada.close_code() == 4429
    assert len(await stored(room.group)) == 10


# --- bad input --------------------------------------------------------------------------

BAD_FRAMES = [
    ("not-json", "{nope", "bad_json"),
    ("json-list", "[1, 2]", "bad_frame"),
    ("json-string", '"hello"', "bad_frame"),
    ("missing-type", {"body": "hi", "client_id": "c"}, "bad_frame"),
    ("type-not-text", {"type": 7}, "bad_frame"),
    ("unknown-type", {"type": "message.edit", "id": 1}, "unknown_type"),
    ("body-number", {"type": "message.send", "body": 5, "client_id": "c"}, "invalid_body"),
    ("body-null", {"type": "message.send", "body": None, "client_id": "c"}, "invalid_body"),
    ("body-missing", {"type": "message.send", "client_id": "c"}, "invalid_body"),
    ("body-empty", {"type": "message.send", "body": "", "client_id": "c"}, "invalid_body"),
    ("body-blank", {"type": "message.send", "body": " \n\t ", "client_id": "c"},
     "invalid_body"),
    ("body-4001", {"type": "message.send", "body": "x" * 4001, "client_id": "c"},
     "invalid_body"),
    ("client-id-missing", {"type": "message.send", "body": "hi"}, "invalid_client_id"),
    ("client-id-empty", {"type": "message.send", "body": "hi", "client_id": ""},
     "invalid_client_id"),
    ("client-id-65", {"type": "message.send", "body": "hi", "client_id": "c" * 65},
     "invalid_client_id"),
    ("client-id-number", {"type": "message.send", "body": "hi", "client_id": 12},
     "invalid_client_id"),
    ("client-id-control", {"type": "message.send", "body": "hi", "client_id": "a\nb"},
     "invalid_client_id"),
]


async def test_bad_frames_get_clear_errors_nothing_is_stored_and_the_socket_stays_open(
    room, chat
):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)

    for case, frame, code in BAD_FRAMES:
        await ada.send_text(frame if isinstance(frame, str) else json.dumps(frame))
        error = await ada.next("error", "message.ack")
        assert (error["type"], error.get("code")) == ("error", code), case
        assert isinstance(error["detail"], str) and error["detail"], case
        assert ada.closed is None, case

    await ada.communicator.send_to(bytes_data=b'{"type": "typing"}')
    binary = await ada.next("error", "message.ack")
    assert (binary["type"], binary.get("code")) == ("error", "bad_frame"), "binary frame"

    assert await stored(room.group) == []
    assert await ben.quiet() == []
    ok = await ada.post("\n  " + "y" * 4000 + "  \n")  # the longest, once trimmed
    assert ok["type"] == "message.ack" and ada.closed is None
    [row] = await stored(room.group)
    assert (row.pk, row.body) == (ok["id"], "y" * 4000)


async def test_frame_over_32kb_closes_with_too_big_and_stores_nothing(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    under = json.dumps({"type": "message.send", "body": "x" * 30_000, "client_id": "big"})
    await ada.send_text(under)
    assert (await ada.next("error"))["code"] == "invalid_body", "under 32 KB: a plain error"

    await ada.send_text(json.dumps({"type": "message.send", "body": "x" * 33 * 1024,
                                    "client_id": "huge"}))

    assert await ada.close_code() == 4413
    assert await stored(room.group) == []
    assert (await ben.post("Others carry on"))["type"] == "message.ack"


# --- presence and typing ----------------------------------------------------------------


def online_ids(frame: dict) -> list[int]:
    return [person["id"] for person in frame["online"]]


async def test_presence_lists_connected_members_but_never_one_who_appears_offline(room, chat):
    await database_sync_to_async(User.objects.filter(pk=room.ben.pk).update)(
        appear_offline=True
    )
    ada, _ = await chat.join(room.ada, room.slug)
    assert (await ada.next("presence"))["online"] == [{"id": room.ada.pk, "name": "Ada"}]

    ben, _ = await chat.join(room.ben, room.slug)
    assert online_ids(await ben.next("presence")) == [room.ada.pk]
    assert await ada.quiet(ignore=()) == [], "an offline-looking member joins silently"

    cal, _ = await chat.join(room.cal, room.slug)
    both = sorted([room.ada.pk, room.cal.pk])
    for sock in (ada, ben, cal):
        assert online_ids(await sock.next("presence")) == both

    await cal.disconnect()
    for sock in (ada, ben):
        assert online_ids(await sock.next("presence")) == [room.ada.pk]
    await ben.disconnect()
    assert await ada.quiet(ignore=()) == []

    every = [f for s in (ada, ben, cal) for f in s.frames if f["type"] == "presence"]
    assert every and all(room.ben.pk not in online_ids(f) for f in every)


async def test_typing_reaches_other_members_only_and_is_throttled(room, chat):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    eve, _ = await chat.join(room.eve, room.elsewhere.slug)
    await eve.next("presence")  # her own arrival; after this she must hear nothing

    await ada.send({"type": "typing"})

    assert await ben.next("typing") == {"type": "typing",
                                        "user": {"id": room.ada.pk, "name": "Ada"}}
    assert await ada.quiet(ignore=("presence",)) == [], "the typist hears nothing"
    assert await eve.communicator.receive_nothing(timeout=QUIET)
    await ada.send({"type": "typing"})
    await ada.send({"type": "typing"})
    assert await ben.quiet(ignore=("presence",)) == [], "typing is throttled"
    await ben.send({"type": "typing"})
    assert (await ada.next("typing"))["user"]["id"] == room.ben.pk


# --- the channel layer fails ------------------------------------------------------------


async def test_channel_layer_outage_while_sending_still_stores_acks_and_catches_up(
    room, chat, monkeypatch
):
    ada, _ = await chat.join(room.ada, room.slug)
    ben, _ = await chat.join(room.ben, room.slug)
    cal, _ = await chat.join(room.cal, room.slug)
    before = await ada.post("Before the outage")
    for sock in (ben, cal):
        await sock.next("message.new")
    layer = get_channel_layer()

    async def down(*args, **kwargs):
        raise ConnectionError("the channel layer is down")

    monkeypatch.setattr(layer, "group_send", down)
    during = await ada.post("During the outage", client_id="during")
    assert during["type"] == "message.ack" and during["client_id"] == "during"
    assert [r.pk for r in await stored(room.group)] == [before["id"], during["id"]]
    assert await ben.quiet() == [] and ben.closed is None
    monkeypatch.undo()

    await ben.disconnect()
    _, history = await chat.join(room.ben, room.slug, after=before["id"])
    assert ids_of(history["messages"]) == [during["id"]], "others get it on reconnect"
    after = await ada.post("After the outage")
    frames = await cal.collect("message.new", 2)
    assert new_ids(frames) == [during["id"], after["id"]], "a live socket fills the gap"
