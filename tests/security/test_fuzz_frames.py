"""Property-based fuzzing of every WebSocket frame a client can send (hypothesis).

One member's chat socket (through the whole ASGI stack, on the in-memory channel layer)
receives generated frames of every kind: `message.send` with odd bodies, client_ids and
confirm values, `history` with odd before/limit, `typing`, unknown types, JSON that is
not an object, text that is not JSON, deep nesting, binary frames. After each one a
sentinel `history` frame is sent: frames are handled in order, so everything the server
says about the fuzzed frame arrives before the sentinel's answer. For every frame:

* the socket stays open and the consumer does not crash;
* every reply is a contract frame (CONTRACT.md), errors with a code and a detail;
* nothing is logged at ERROR.

At the end the stored rows are exactly the acknowledged sends (one per client_id, the
acked id), their places in the group are 1..n with no gaps, and every published one
reached the socket once. Frames over the size limit close the socket with 4413. The
notifications socket answers anything with its `read_only` error. The 100,000-frame run
against real daphne is bench/fuzz.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community import ratelimit
from community.consumers.chat import MAX_FRAME_CHARS
from community.models import ChatMessage, Group
from community.text import render_markdown
from config.asgi import application
from tests.community.chat_helpers import (
    FAST_HASHERS,
    ORIGIN,
    ChatSocket,
    SocketClosed,
    close_orm_thread_connections,
    fresh_cache_keys,
    open_chat,
    session_cookie,
)
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db(transaction=True)

SENTINEL_BEFORE = 9_007_199_254_740_991  # 2**53 - 1: no fuzzed history frame uses it
CONTRACT_TYPES = {"message.new", "message.ack", "message.prompt", "message.removed",
                  "history", "signpost", "typing", "presence", "error"}
IN_MEMORY = {"default": {"BACKEND": "community.layers.SweepingInMemoryChannelLayer"}}
EXAMPLES = 150

# --- strategies -----------------------------------------------------------------------------

# Any character, lone surrogates and controls included (JSON escapes can carry them all).
any_char = st.characters(codec=None, exclude_categories=())
odd_text = st.text(any_char, max_size=60) | st.text(any_char, min_size=3900, max_size=4200)
json_scalar = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2**62)
               | st.floats() | st.text(any_char, max_size=20))
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10,
)
markdownish = st.sampled_from([
    "Hello **all**", "[x](javascript:alert(1))", "<script>alert(1)</script>", "@Ada hi",
    "I want to end it all", "my number is 07700 900123", "   ", "\x00\x01\x02", "www.x.org",
    "```\ncode\n```", "> quote", "a" * 4000, "a" * 4001, "\u202e\u200b", "😀" * 100,
])
client_ids = (st.text(any_char, min_size=0, max_size=70) | st.uuids().map(str)
              | st.sampled_from(["dup-1", "dup-2", "x" * 64, "x" * 65]) | json_value)


@st.composite
def send_frames(draw) -> dict:
    frame = {"type": "message.send"}
    if draw(st.integers(0, 9)):
        frame["body"] = draw(markdownish | odd_text | json_value)
    if draw(st.integers(0, 9)):
        frame["client_id"] = draw(client_ids)
    if draw(st.booleans()):
        frame["confirm"] = draw(st.booleans() | json_value)
    if draw(st.integers(0, 4)) == 0:
        frame.update(draw(st.dictionaries(st.text(max_size=8), json_value, max_size=3)))
        frame["type"] = "message.send"
    return frame


number_ish = (st.integers() | st.integers(min_value=10**18) | st.integers(max_value=-1)
              | st.text(max_size=25) | st.from_regex(r"\d{1,30}", fullmatch=True) | json_value)


@st.composite
def history_frames(draw) -> dict:
    frame = {"type": "history"}
    if draw(st.integers(0, 5)):
        frame["before"] = draw(number_ish)
    if draw(st.booleans()):
        frame["limit"] = draw(number_ish)
    return frame


frames = st.one_of(
    send_frames().map(json.dumps),
    history_frames().map(json.dumps),
    st.just(json.dumps({"type": "typing"})),
    st.dictionaries(st.text(max_size=8), json_value, max_size=3).map(
        lambda extra: json.dumps({**extra, "type": "typing"})),
    st.builds(lambda t, extra: json.dumps({**extra, "type": t}),
              st.text(any_char, max_size=50) | json_value,
              st.dictionaries(st.text(max_size=8), json_value, max_size=3)),
    json_value.filter(lambda v: not isinstance(v, dict)).map(json.dumps),
    st.text(any_char, max_size=200),  # mostly not JSON at all
    st.integers(1, 15_000).map(lambda n: "[" * n + "]" * n),  # deep nesting
    st.integers(1, 5_000).map(lambda n: '{"a":' * n + "1" + "}" * n),  # under the limit
    st.binary(max_size=300),  # binary frames
    st.sampled_from(['{"type":', "{", "[", '"', "NaN", "Infinity", "-Infinity", "1e999",
                     '{"type":"message.send","body":"x","client_id":"\\ud800"}',
                     '{"type":"message.send","body":"\\udfff\\ud800","client_id":"s-1"}',
                     '{"type":"history","before":1e400}', '{"type":"history","before":-0}',
                     '{"type":"message.send","type":"history","before":1}', "\ufeff{}"]),
)


# --- the socket -----------------------------------------------------------------------------

@pytest.fixture
def fuzz_settings(settings, monkeypatch):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    settings.CHANNEL_LAYERS = IN_MEMORY
    fresh_cache_keys(settings)
    # The fuzzer sends far faster than a person: rate limits would (rightly) close the
    # socket with 4429 and end the run. They have tests of their own.
    monkeypatch.setattr(ratelimit, "allow", lambda *args, **kwargs: True)
    if hasattr(ratelimit, "hit"):
        monkeypatch.setattr(ratelimit, "hit", lambda *args, **kwargs: None)


@pytest.fixture
def member(make_user, make_group):
    group = make_group(Group.Privacy.APPROVAL, name="Fuzz Friends")
    person = make_user("Ada")
    add_membership(person, group, "approved")
    return person, group


async def exchange(sock: ChatSocket, frame: str | bytes) -> list[dict]:
    """Send one frame and a sentinel; every frame the server sent before the sentinel's
    answer (live `message.new`, presence and typing may come later: kept in `unread`)."""
    await send_raw(sock.communicator, frame)
    await sock.send({"type": "history", "before": SENTINEL_BEFORE, "limit": 1})
    replies = []
    while True:
        reply = await sock._read(5.0)  # every frame, whatever its type (kept in .frames)
        if reply.get("type") == "history" and reply.get("before") == SENTINEL_BEFORE:
            return replies
        replies.append(reply)


async def send_raw(communicator, frame: str | bytes) -> None:
    """Straight onto the ASGI queue: `send_to` refuses empty frames, which a real client
    can send."""
    key = "bytes" if isinstance(frame, bytes) else "text"
    await communicator.send_input({"type": "websocket.receive", key: frame})


def check_reply(reply: dict) -> None:
    assert isinstance(reply, dict) and reply.get("type") in CONTRACT_TYPES, reply
    if reply["type"] == "error":
        assert isinstance(reply["code"], str) and reply["code"], reply
        assert isinstance(reply["detail"], str) and reply["detail"], reply


def errors_logged(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


def test_chat_socket_answers_every_generated_frame_by_the_contract(
        fuzz_settings, member, caplog):
    person, group = member
    caplog.set_level(logging.WARNING)
    loop = asyncio.new_event_loop()
    acked: dict[str, int] = {}  # client_id -> message id
    published: set[int] = set()
    counts = {"frames": 0, "errors": 0}
    cookie = session_cookie(person)

    async def connect() -> ChatSocket:
        opened = await open_chat(application, None, group.slug,
                                 headers=[ORIGIN, (b"cookie", cookie.encode())])
        assert opened.accepted
        await opened.next("history")
        return opened

    socks = [loop.run_until_complete(connect())]
    try:

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(frame=frames)
        def one_frame(frame):
            counts["frames"] += 1
            sock = socks[-1]
            if sock.closed is not None or sock.communicator.future.done():
                # An earlier (failing) example ended it: a fresh socket keeps examples
                # independent, so hypothesis can replay and shrink the failure.
                sock = loop.run_until_complete(connect())
                socks.append(sock)
            try:
                replies = loop.run_until_complete(exchange(sock, frame))
            except SocketClosed as closed:
                pytest.fail(f"the socket closed ({closed.code}) on {frame[:200]!r}")
            for reply in replies:
                check_reply(reply)
                if reply["type"] == "error":
                    counts["errors"] += 1
                if reply["type"] == "message.ack":
                    sent = json.loads(frame)
                    assert reply["client_id"] == sent["client_id"]
                    assert acked.setdefault(reply["client_id"], reply["id"]) == reply["id"], \
                        "a resend got a different message"
                    if reply["status"] == "published":
                        published.add(reply["id"])
            assert errors_logged(caplog) == [], frame[:200]

        one_frame()
        # Live deliveries are published after commit: give the last ones a moment.
        loop.run_until_complete(asyncio.sleep(0.3))
        loop.run_until_complete(exchange(socks[-1], json.dumps({"type": "typing"})))
        assert len(socks) == 1
        delivered = [f["message"]["id"] for f in socks[0].frames if f["type"] == "message.new"]
    finally:
        for sock in socks:
            with contextlib.suppress(Exception):
                loop.run_until_complete(sock.disconnect())
        loop.run_until_complete(close_orm_thread_connections())
        loop.close()

    rows = list(ChatMessage.objects.filter(group=group).order_by("seq")
                .values_list("client_id", "pk", "seq", "author_id", "body", "body_html"))
    assert {client_id: pk for client_id, pk, *_ in rows} == acked, \
        "every stored row was acknowledged, and every acknowledgement is a row"
    assert len(rows) == len(acked), "one row per client_id"
    assert [seq for _, _, seq, *_ in rows] == list(range(1, len(rows) + 1))
    assert Group.objects.get(pk=group.pk).chat_seq == len(rows)
    for _, _, _, author_id, body, body_html in rows:
        assert author_id == person.pk
        assert 1 <= len(body) <= 4000 and body == body.strip()
        assert body_html == render_markdown(body)
    assert sorted(delivered) == sorted(published), "each published message arrived once"
    assert counts["frames"] >= EXAMPLES // 2


@pytest.mark.parametrize(("kind", "size"), [("text", MAX_FRAME_CHARS + 1), ("text", 200_000),
                                           ("binary", MAX_FRAME_CHARS + 1)])
async def test_a_frame_over_the_limit_closes_the_socket_with_4413(fuzz_settings, member, kind,
                                                                  size):
    person, group = member
    cookie = await database_sync_to_async(session_cookie)(person)
    sock = await open_chat(application, None, group.slug,
                           headers=[ORIGIN, (b"cookie", cookie.encode())])
    try:
        await sock.next("history")
        text = json.dumps({"type": "message.send", "client_id": "big", "body": "x" * size})
        await send_raw(sock.communicator, text[:size] if kind == "text" else b"x" * size)
        assert await sock.close_code() == 4413
    finally:
        await sock.disconnect()
        await close_orm_thread_connections()
    assert not await database_sync_to_async(ChatMessage.objects.exists)()


def test_notifications_socket_answers_anything_with_read_only(fuzz_settings, member):
    from channels.testing import WebsocketCommunicator

    person, _group = member
    cookie = session_cookie(person)
    loop = asyncio.new_event_loop()
    communicator = WebsocketCommunicator(application, "/ws/notifications/",
                                         headers=[ORIGIN, (b"cookie", cookie.encode())])
    try:
        connected, _ = loop.run_until_complete(communicator.connect(timeout=3))
        assert connected

        @settings(max_examples=40, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow])
        @given(frame=frames)
        def one_frame(frame):
            loop.run_until_complete(send_raw(communicator, frame))
            reply = loop.run_until_complete(communicator.receive_json_from(timeout=3))
            assert reply["type"] == "error" and reply["code"] == "read_only"

        one_frame()
    finally:
        loop.run_until_complete(communicator.disconnect(timeout=1))
        loop.run_until_complete(close_orm_thread_connections())
        loop.close()


async def test_found_by_fuzzing_deep_nesting_and_lone_surrogates(fuzz_settings, member, caplog):
    """Two frames the fuzzer found: JSON nested deeper than the decoder's recursion limit
    crashed the consumer (RecursionError is not a ValueError), and a body with a lone
    surrogate (legal in JSON) failed the INSERT and told the sender to retry forever."""
    person, group = member
    cookie = await database_sync_to_async(session_cookie)(person)
    sock = await open_chat(application, None, group.slug,
                           headers=[ORIGIN, (b"cookie", cookie.encode())])
    try:
        await sock.next("history")
        replies = await exchange(sock, "[" * 10_000 + "]" * 10_000)
        assert [(r["type"], r["code"]) for r in replies] == [("error", "bad_json")]
        await sock.send_text('{"type":"message.send","client_id":"half","body":"hi \\ud83d"}')
        ack = await sock.next("message.ack", "error")
        assert ack["type"] == "message.ack", ack
    finally:
        await sock.disconnect()
        await close_orm_thread_connections()
    body = await database_sync_to_async(
        lambda: ChatMessage.objects.values_list("body", flat=True).get())()
    assert body == "hi \ufffd"
    assert errors_logged(caplog) == []
