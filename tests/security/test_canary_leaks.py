"""Canary leak test: private words never reach anyone who may not read them.

An approval group and an invite-only group each hold a distinct, unique canary string in
every kind of private content: a chat message, a held one, a removed one and the reason,
a thread title, a post and its edit history, a pending person's join answer, a flag
note, a case decision's reason, an audit reason, a member's "about me" (seen by people
who share a group) and their home town (private to them), a meeting's title, venue,
address and description, a resource and a signpost of the group, an invite's note, the
moderators' guidelines and the welcome message; the invite-only group's name and
description are canaries too (nobody outside it may learn it exists). A monthly
check-in holds no words (a score only), so it has no canary.

Then, as each person who is not entitled (anonymous, an outsider, pending, declined,
banned and ex-members, a member of a different group, and for moderators' things the
group's plain members and welcomers), the test crawls every GET route of Django's
resolver with the world's real slugs and ids (plus the links on the pages it reaches),
every JSON answer, site, forum, directory and place search, the calendar files and the
person's own calendar feed and unsubscribe links, their own data export, opens both
sockets and asks for history; it makes replies, mentions, approvals and declines happen
with everyone's notification socket open and every email captured, sends the daily
summaries and the meeting reminders, and reads every log record (all loggers, DEBUG).
A canary may appear only where the person is entitled to it. So the test cannot pass by
seeing nothing, entitled people are shown to see the canaries where they should.
"""

from __future__ import annotations

import asyncio
import html
import io
import json
import logging
import re
import secrets
import uuid
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import pytest
from channels.db import database_sync_to_async
from django.core import mail
from django.core.management import call_command
from django.test import Client, TestCase
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from community import emails
from community.models import (
    ChatMessage,
    Group,
    Invite,
    Meeting,
    MeetingReply,
    Membership,
    Notification,
    Resource,
    Signpost,
    User,
)
from community.services import chat as chat_services
from community.services import meetings as meeting_services
from community.services import membership as membership_services
from forums import services as forum_services
from forums.models import TREE_KEY_WIDTH, Category, Post, Thread, ThreadFollow
from forums.search import refresh_documents
from moderation import rulebook
from moderation.models import Case, ScreeningRule
from moderation.services import cases as case_services
from tests.community.chat_helpers import ChatSocket, new_client_id
from tests.community.conftest import World, _person, build_world
from tests.conftest import add_membership
from tests.security.worlds import (
    _module_client,
    build_in,
    established,
    live_sockets,
    open_socket,
    rolled_back,
    web,
)

pytestmark = pytest.mark.django_db

__all__ = ["_module_client", "live_sockets", "web"]  # fixtures, used by name

# Starts with a letter: PostgreSQL's text search reads a hex run such as "471e554d09" as a
# number in scientific notation plus a word, so a search for the whole token would miss.
TOKEN = "k" + uuid.uuid4().hex[:10]
PREFIX = f"CANARY-{TOKEN}"
PRIVATE = ("approval", "invite")

# Who may read a canary, besides the people it belongs to (its `owners`).
MEMBERS = "members"  # approved members of its group
MODERATORS = "moderators"  # the group's moderators and owners
KNOWN = "known"  # anyone with a membership row in the group (they know it exists)
NOBODY = "nobody"  # only its owners


@dataclass(frozen=True)
class Canary:
    group: str
    surface: str
    level: str
    owners: frozenset[int] = frozenset()

    @property
    def text(self) -> str:
        return f"{PREFIX}-{self.group}-{self.surface}"


@dataclass
class Bits:
    """What one private group holds, for building URLs and checking who may see what."""

    writer: User  # a member whose words the moderators deal with
    asker: User  # waits for an answer to their request, with a canary in it
    asking: Membership
    thread: Thread
    opening: Post
    old_posts: list[Post]  # by the banned person and the ex-member, from when they belonged
    chat: ChatMessage
    held: ChatMessage
    removed: ChatMessage
    case: Case
    held_case: Case
    meeting: Meeting
    invite: Invite
    rule: ScreeningRule
    signpost: Signpost
    resource: Resource


@dataclass
class CanaryWorld:
    world: World
    canaries: dict[str, Canary] = field(default_factory=dict)  # text -> canary
    bits: dict[str, Bits] = field(default_factory=dict)
    calendar_tokens: dict[int, list[str]] = field(default_factory=dict)  # user pk -> tokens

    def plant(self, group: str, surface: str, level: str, *owners: User) -> str:
        canary = Canary(group, surface, level, frozenset(o.pk for o in owners))
        assert canary.text not in self.canaries
        self.canaries[canary.text] = canary
        return canary.text

    def of(self, group: str, surface: str) -> str:
        return f"{PREFIX}-{group}-{surface}"


# --- building the world ---------------------------------------------------------------------


def _old_post(thread: Thread, author: User, parent: Post, body: str) -> Post:
    """A post written when its author still belonged (stored as the service stores it)."""
    post = Post.objects.create(
        thread=thread, group=thread.group, author=author, parent=parent,
        depth=parent.depth + 1, body=body, body_html=f"<p>{body}</p>", tree_key="",
    )
    post.tree_key = parent.tree_key + str(post.pk).zfill(TREE_KEY_WIDTH)
    Post.objects.filter(pk=post.pk).update(tree_key=post.tree_key)
    refresh_documents(Post.objects.filter(pk=post.pk))  # searchable, as the service makes it
    return post


def _plant_group(cw: CanaryWorld, key: str) -> None:
    world = cw.world
    group = world.groups[key]
    people = world.people[key]
    owner, moderator = people["owner"], people["moderator"]
    member, welcomer = people["member"], people["welcomer"]
    c = cw.plant

    writer = _person(f"Wcanary writer {key}")
    add_membership(writer, group, "approved")
    asker = _person(f"Wcanary asker {key}")
    established(writer, asker)
    answer = c(key, "join-answer", MODERATORS, asker)
    if group.is_invite_only:  # nobody can ask to join these; the row is there all the same
        asking = add_membership(asker, group, "pending",
                                answers=[{"question": "Why?", "answer": answer}])
    else:
        asking = membership_services.request_membership(actor=asker, group=group,
                                                        answers=[answer])

    # The group itself.
    Group.objects.filter(pk=group.pk).update(
        moderator_guidelines=c(key, "guidelines", MODERATORS),
        welcome_message=c(key, "welcome", MEMBERS),
    )
    if group.is_invite_only:
        Group.objects.filter(pk=group.pk).update(
            name=f"Hidden {c(key, 'group-name', KNOWN)} ",
            description=f"About us: {c(key, 'group-description', KNOWN)} .",
        )
    group.refresh_from_db()

    # Profiles: "about me" is for people who share a group; the home town is private.
    User.objects.filter(pk=writer.pk).update(
        about=f"About me: {c(key, 'about', MEMBERS, writer)} .",
        home_town=c(key, "home-town", NOBODY, writer),
    )
    writer.refresh_from_db()

    # Chat: a published message (flagged, and the case kept with a reason), a held one
    # and a removed one.
    rule = ScreeningRule.objects.create(
        group=group, kind="phrase", pattern="quarantined lantern", category="spam",
        action="hold", created_by=owner)
    rulebook.forget()
    chat = chat_services.post_chat_message(
        actor=member, group=group, body=f"Hello all {c(key, 'chat', MEMBERS)} .",
        client_id=new_client_id()).message
    held = chat_services.post_chat_message(
        actor=writer, group=group,
        body=f"quarantined lantern {c(key, 'held', MODERATORS, writer)} .",
        client_id=new_client_id()).message
    assert held.status == ChatMessage.Status.HELD
    removed = chat_services.post_chat_message(
        actor=writer, group=group, body=f"Oops {c(key, 'removed', MODERATORS, writer)} .",
        client_id=new_client_id()).message
    chat_services.remove_chat_message(
        actor=moderator, message=removed,
        reason=f"Because {c(key, 'removal-reason', MODERATORS, writer)} .")
    case = case_services.flag_content(
        actor=welcomer, kind="chat_message", item_id=chat.pk, reason="other",
        note=f"Worried {c(key, 'flag-note', MODERATORS, welcomer)} .")
    case.refresh_from_db()
    case = case_services.resolve_case(
        actor=moderator, case=case, decision="keep", version=case.version,
        reason=f"Kept {c(key, 'decision-reason', MODERATORS, member, welcomer)} .")

    # The forum: a thread whose opening post was edited (its first words are in the
    # history), pinned with a reason (the audit log), and posts by people who have since
    # been banned or left, who were following the thread.
    forum_services.create_default_categories(group)
    category = Category.objects.filter(group=group).first()
    thread = forum_services.start_thread(
        actor=writer, group=group, category=category,
        title=f"Thread {c(key, 'thread-title', MEMBERS)} ",
        body=f"First words {c(key, 'post-history', MODERATORS, writer)} .")
    opening = Post.objects.get(thread=thread, parent__isnull=True)
    forum_services.edit_post(actor=writer, post=opening,
                             body=f"Better words {c(key, 'post-body', MEMBERS)} .")
    forum_services.set_pinned(actor=moderator, thread=thread, pinned=True,
                              reason=f"Useful {c(key, 'audit-reason', MODERATORS)} .")
    old_posts = []
    for role in ("banned", "ex_member"):
        old_posts.append(_old_post(thread, people[role], opening, f"Thanks from {role}"))
        ThreadFollow.objects.create(thread=thread, user=people[role], following=True)

    # Meetings, with answers from a member and from people who no longer belong.
    start = timezone.now().replace(microsecond=0) + timezone.timedelta(hours=30)
    meeting = Meeting.objects.create(
        group=group, title=f"Coffee {c(key, 'meeting-title', MEMBERS)} ", starts_at=start,
        recurrence="weekly", venue_name=f"Hall {c(key, 'meeting-venue', MEMBERS)} ",
        venue_address=f"1 Road {c(key, 'meeting-address', MEMBERS)} ",
        description=f"Come along {c(key, 'meeting-description', MEMBERS)} .",
        created_by=owner)
    for role in ("member", "banned", "ex_member"):
        MeetingReply.objects.create(meeting=meeting, user=people[role], occurrence=start,
                                    answer="going")
        token = secrets.token_urlsafe(32)
        Membership.objects.filter(user=people[role], group=group).update(calendar_token=token)
        cw.calendar_tokens.setdefault(people[role].pk, []).append(token)

    # The library, an invite link.
    signpost = Signpost.objects.create(
        group=group, topic="support", name=f"Helpline {c(key, 'signpost', MEMBERS)} ",
        phone="0800 000 000", updated_by=owner)
    resource = Resource.objects.create(
        group=group, title=f"Leaflet {c(key, 'resource', MEMBERS)} ",
        url="https://example.org/leaflet", added_by=owner)
    invite = Invite.objects.create(
        group=group, created_by=owner, note=f"For {c(key, 'invite-note', MODERATORS)}"[:100],
        expires_at=timezone.now() + timezone.timedelta(days=7))

    cw.bits[key] = Bits(writer=writer, asker=asker, asking=asking, thread=thread,
                        opening=opening, old_posts=old_posts, chat=chat, held=held,
                        removed=removed, case=case,
                        held_case=Case.objects.get(chat_message=held), meeting=meeting,
                        invite=invite, rule=rule, signpost=signpost, resource=resource)


def build_canary_world() -> CanaryWorld:
    cw = CanaryWorld(world=build_world("canary"))
    established()
    for key in PRIVATE:
        _plant_group(cw, key)
    for bits in cw.bits.values():
        for person in (bits.writer, bits.asker):
            client = Client()
            client.force_login(person)
            cw.world.sessions[person.pk] = client.session.session_key
    # Everyone hears of activity at once, so anything that would go to the wrong person
    # is in the outbox straight away (the daily summary test changes this).
    User.objects.update(email_notifications=User.EmailChoice.IMMEDIATE)
    texts = list(cw.canaries)
    assert not [a for a in texts for b in texts if a != b and b.startswith(a)], (
        "no canary may be the start of another")
    return cw


@pytest.fixture(scope="module")
def cw(django_db_setup, django_db_blocker) -> CanaryWorld:
    with rolled_back(django_db_blocker):
        yield build_in(django_db_blocker, build_canary_world)
    rulebook.forget()  # rule ids are reused after the rollback


# --- finding canaries -------------------------------------------------------------------------

FOUND = re.compile(re.escape(PREFIX.lower()) + r"[a-z0-9-]*")


MARKS = re.compile(r"</?mark>|\[\[/?mark\]\]", re.IGNORECASE)


def _unfold(text: str) -> str:
    """Undo iCalendar's line folding and search's highlighting, so a canary cut in two by
    either is still found whole."""
    text = text.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "")
    return MARKS.sub("", text)


class Entitlements:
    """Who may read which canary, by the database as it stands when asked."""

    def __init__(self, cw: CanaryWorld):
        self.cw = cw
        self._rows: dict[tuple[int, str], Membership | None] = {}

    def forget(self) -> None:
        self._rows.clear()

    def _row(self, person: User, group_key: str) -> Membership | None:
        key = (person.pk, group_key)
        if key not in self._rows:
            self._rows[key] = Membership.objects.filter(
                user=person, group=self.cw.world.groups[group_key]).first()
        return self._rows[key]

    def may_read(self, person: User | None, canary: Canary) -> bool:
        if person is None:
            return False
        if person.pk in canary.owners:
            return True
        row = self._row(person, canary.group)
        if canary.level == KNOWN:
            return row is not None
        if row is None or row.status != Membership.Status.APPROVED:
            return False
        if canary.level == MEMBERS:
            return True
        return canary.level == MODERATORS and row.role in ("moderator", "owner")

    def canaries_in(self, text: str) -> list[list[Canary]]:
        """Each canary (or cut-off piece of one) in the text: the canaries it could be."""
        found = []
        for piece in FOUND.findall(_unfold(text).lower()):
            exact = [c for t, c in self.cw.canaries.items() if t.lower() == piece]
            found.append(exact or [c for t, c in self.cw.canaries.items()
                                   if t.lower().startswith(piece) or piece.startswith(t.lower())]
                         or [Canary("?", piece, NOBODY)])
        return found

    def leaks(self, person: User | None, text: str, where: str) -> list[str]:
        """Canaries in `text` that `person` may not read, described for the failure."""
        return [f"{where}: {options[0].text if len(options) == 1 else options}"
                for options in self.canaries_in(text)
                if not any(self.may_read(person, c) for c in options)]

    def seen(self, text: str) -> set[str]:
        return {options[0].text for options in self.canaries_in(text) if len(options) == 1}


@pytest.fixture
def rights(cw) -> Entitlements:
    return Entitlements(cw)


def body_of(response) -> bytes:
    """The whole body (read once: a streaming body can't be read again)."""
    if not hasattr(response, "_canary_body"):
        response._canary_body = (b"".join(response.streaming_content)
                                 if getattr(response, "streaming", False) else response.content)
    return response._canary_body


def response_text(response) -> str:
    parts = [f"{name}: {value}" for name, value in response.items()]
    parts.append(body_of(response).decode("utf-8", "replace"))
    return "\n".join(parts)


def email_text(message) -> str:
    parts = [message.subject, message.body, *(str(v) for v in message.extra_headers.values())]
    parts += [content for content, _type in getattr(message, "alternatives", [])]
    return "\n".join(parts)


# --- the logs ---------------------------------------------------------------------------------

OUR_LOGGERS = ("community", "forums", "moderation", "kindred", "config")


class Collect(logging.Handler):
    """Keeps every record as it is (nothing is formatted unless it holds a canary)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.acting: tuple[User | None] | None = None  # (person,) while one person acts

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


STANDARD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime"}


def record_text(record: logging.LogRecord) -> str:
    """The message, its arguments, any extra fields and the exception's own words (a
    template's failed lookup puts the whole context there)."""
    parts = [str(record.msg), repr(record.args)]
    error = record.exc_info[1] if record.exc_info else None
    while error is not None:
        parts.append(repr(error))
        error = error.__cause__ or error.__context__
    parts += [f"{k}={v!r}" for k, v in record.__dict__.items() if k not in STANDARD_FIELDS]
    return "\n".join(parts)


@pytest.fixture(autouse=True)
def every_log_record(cw, rights):
    """Every record of every logger at DEBUG (kindred.security included), caught where it
    is made: each logger gets the handler and stops passing records up for the test, so
    nothing is missed (caplog sees only what reaches the root) and nothing is formatted
    for the console. At the end: no canary at INFO or above, nor from Kindred's own
    loggers at any level (production logs INFO; our code never logs people's words);
    Django's own DEBUG records (a template's failed lookup shows its whole context) are
    held to the entitlements of the one person acting, where a test says who that is."""
    handler = Collect()
    root = logging.getLogger()
    loggers = [root] + [lg for lg in list(logging.root.manager.loggerDict.values())
                        if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
        if lg is not root:
            lg.propagate = False
    try:
        yield handler
    finally:
        for lg, level, propagate in saved:
            lg.setLevel(level)
            lg.propagate = propagate
            lg.removeHandler(handler)
    rights.forget()
    found = []
    for record in handler.records:
        text = record_text(record)
        if PREFIX.lower() not in text.lower():
            continue
        ours = record.name.split(".")[0] in OUR_LOGGERS
        if record.levelno >= logging.INFO or ours:
            found.append(f"{record.name} {record.levelname}: {FOUND.findall(text.lower())}")
        elif handler.acting is not None:
            found += rights.leaks(handler.acting[0], text, f"{record.name} {record.levelname}")
    assert not found, f"canaries in the logs: {found[:10]}"


# --- the people -------------------------------------------------------------------------------

# Crawlers: (group key, role) of the world, or (group key, "asker").
CRAWLERS = {
    "anonymous": ("approval", "anonymous"),
    "outsider": ("approval", "outsider"),
    "approval-pending": ("approval", "pending"),
    "approval-declined": ("approval", "declined"),
    "approval-banned": ("approval", "banned"),
    "approval-ex-member": ("approval", "ex_member"),
    "approval-asker": ("approval", "asker"),
    "invite-pending": ("invite", "pending"),
    "invite-banned": ("invite", "banned"),
    "invite-ex-member": ("invite", "ex_member"),
    "member-of-another-group": ("open", "member"),
    # Members see their group's content, never its moderators' things (nor the other
    # private group's anything).
    "approval-member": ("approval", "member"),
    "approval-welcomer": ("approval", "welcomer"),
    "approval-muted": ("approval", "muted"),
    "invite-member": ("invite", "member"),
    "invite-welcomer": ("invite", "welcomer"),
}


def person_of(cw: CanaryWorld, key: str, role: str) -> User | None:
    if role in ("asker", "writer"):
        return getattr(cw.bits[key], role)
    return cw.world.people[key][role]


def session_of(cw: CanaryWorld, person: User | None) -> str | None:
    return None if person is None else cw.world.sessions[person.pk]


# --- the crawl --------------------------------------------------------------------------------

ARG = re.compile(r"<(?:(\w+):)?(\w+)>")
# Routes the crawl does not fill in, and why.
NOT_CRAWLED = {
    "admin:": "site staff only (tests/community/test_views_access.py); non-staff are sent "
              "to the admin login, which the crawl reaches through /admin/",
    "account_confirm_email": "a key only its email holds",
    "account_reset_password_from_key": "a key only its email holds",
    "groups:invite": "an invite token makes its holder an invited person",
    "account_session_end": "POST only, and only the person's own sessions",
}


def _walk(patterns, names=(), prefix=""):
    """(name, route with its placeholders) for every pattern of the resolver."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = (*names, pattern.namespace) if pattern.namespace else names
            yield from _walk(pattern.url_patterns, ns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            name = ":".join((*names, pattern.name)) if pattern.name else None
            yield name, prefix + str(pattern.pattern)


def _skipped(name: str | None, route: str) -> bool:
    if route.startswith("admin/"):  # the admin's unnamed routes too
        return True
    return bool(name) and any(name == k or (k.endswith(":") and name.startswith(k))
                              for k in NOT_CRAWLED)


def _values(cw: CanaryWorld, key: str, person: User | None) -> dict[str, list]:
    """Real values for every URL argument, from one private group of the world."""
    bits = cw.bits[key]
    own_tokens = cw.calendar_tokens.get(getattr(person, "pk", None), [])
    unsubscribe = []
    if person is not None:
        unsubscribe = [emails.unsubscribe_token(person), emails.unsubscribe_token(
            person, cw.world.groups[key])]
    return {
        "slug": [cw.world.groups[key].slug],
        "thread_id": [bits.thread.pk],
        # the opening post, and the person's own (from when they belonged), if any
        "post_id": [bits.opening.pk, *(p.pk for p in bits.old_posts
                                        if p.author_id == getattr(person, "pk", None))],
        "message_id": [bits.chat.pk],
        "meeting_id": [bits.meeting.pk],
        "membership_id": [bits.asking.pk],
        "decision": ["approve"],
        "action": ["pin"],
        "invite_id": [bits.invite.pk],
        "rule_id": [bits.rule.pk],
        "signpost_id": [bits.signpost.pk],
        "resource_id": [bits.resource.pk],
        "user_id": [bits.writer.pk, bits.asker.pk],
        "case_id": [bits.case.pk, bits.held_case.pk],
        "step": ["place"],
        "token": own_tokens + unsubscribe,
        "kind": ["chat_message", "post", "thread", "profile"],
        "item_id": [bits.chat.pk, bits.opening.pk, bits.thread.pk, bits.writer.pk],
    }


def _fill(route: str, values: dict[str, list]) -> list[str] | None:
    """Every URL for the route with the given values (None: an argument we can't fill)."""
    names = [m.group(2) for m in ARG.finditer(route)]
    if route.startswith("^") or "(?P<" in route:
        return None
    urls = ["/" + route]
    for name in dict.fromkeys(names):
        if name not in values:
            return None
        if name == "item_id":
            continue  # paired with `kind` below
        urls = [u.replace(m, str(v)) for u in urls for v in values[name]
                for m in {mm.group(0) for mm in ARG.finditer(u) if mm.group(2) == name}]
    if "item_id" in names:  # moderation:flag: each kind with an item of that kind
        urls = [u.replace("<int:item_id>", str(item))
                for u in urls for kind, item in zip(values["kind"], values["item_id"],
                                                    strict=True)
                if f"/{kind}/" in u]
        urls = [u + ("?group=" + values["slug"][0] if "/profile/" in u else "")
                for u in urls]
    return urls


def seed_urls(cw: CanaryWorld, person: User | None) -> list[str]:
    seeds: list[str] = []
    for name, route in _walk(get_resolver().url_patterns):
        if _skipped(name, route):
            continue
        for key in PRIVATE:
            filled = _fill(route, _values(cw, key, person))
            assert filled is not None, f"the crawl can't fill in {name or route}"
            seeds += filled
    # Searches, by the canaries' words (a search page repeats what was asked, so the
    # question itself is never a whole canary): all of them, and each searchable one.
    words = [TOKEN] + [f"{TOKEN} {k} {s.replace('-', ' ')}" for k in PRIVATE
                       for s in ("thread-title", "post-body", "post-history", "chat")]
    for word in words:
        seeds.append("/search/?" + urlencode({"q": word}))
        seeds += [f"/groups/{cw.world.groups[k].slug}/forum/search/?" + urlencode({"q": word})
                  for k in PRIVATE]
    seeds += ["/groups/?" + urlencode({"q": q}) for q in
              (TOKEN, f"{TOKEN} invite group name", "Hidden", "World")]
    seeds += ["/places/?" + urlencode({"q": TOKEN}),
              "/places/?" + urlencode({"q": TOKEN, "format": "json"}), "/admin/"]
    return list(dict.fromkeys(seeds))


HREF = re.compile(r"""(?:href|action|src)\s*=\s*["']([^"'#]+)""")
NEVER_FOLLOW = ("/static/", "/accounts/logout/", "/admin/")
MAX_FOLLOWED = 80


@dataclass
class CrawlResult:
    pages: dict[str, int] = field(default_factory=dict)  # url -> status
    leaks: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    json_urls: list[str] = field(default_factory=list)


def crawl(web, rights: Entitlements, person: User | None, seeds: list[str]) -> CrawlResult:
    result = CrawlResult()
    queue = deque(seeds)
    followed = 0
    while queue:
        url = queue.popleft()
        if url in result.pages:
            continue
        response = web.get(url)
        result.pages[url] = response.status_code
        text = response_text(response)
        result.leaks += rights.leaks(person, text, f"GET {url} ({response.status_code})")
        result.seen |= rights.seen(text)
        if "json" in response.get("Content-Type", ""):
            result.json_urls.append(url)
            json.loads(body_of(response))
        links = []
        if response.status_code in (301, 302, 303):
            links.append(response["Location"])
        if "html" in response.get("Content-Type", "") and response.status_code == 200:
            links += [html.unescape(h) for h in HREF.findall(text)]
        for link in links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if link in result.pages or link.startswith(NEVER_FOLLOW):
                continue
            if followed < MAX_FOLLOWED and link not in queue:
                followed += 1
                queue.append(link)
    return result


# --- sockets ----------------------------------------------------------------------------------


async def _read_all(sock: ChatSocket, quiet: float = 0.3) -> None:
    """Read whatever arrives within `quiet` seconds (or until the server closes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + quiet
    while (remaining := deadline - loop.time()) > 0 and sock.closed is None:
        try:
            sock.unread.append(await sock._read(remaining))
        except TimeoutError:
            break
        except AssertionError:  # closed by the server: the code is on the socket
            break


async def socket_frames(cw: CanaryWorld, person: User | None) -> list[tuple[str, str]]:
    """Open both private groups' chats and the notifications socket, ask each for history
    and read everything they say: [(where, frame text)]."""
    session = session_of(cw, person)
    said = []
    paths = [f"/ws/groups/{cw.world.groups[k].slug}/chat/" for k in PRIVATE]
    paths += ["/ws/notifications/"]
    for path in paths:
        sock = await open_socket(path, session)
        try:
            if sock.accepted:
                for k in PRIVATE:
                    await sock.send({"type": "history",
                                     "before": cw.bits[k].removed.pk + 1000, "limit": 100})
                await _read_all(sock, quiet=0.15)
            said += [(f"socket {path}", json.dumps(f)) for f in sock.frames]
            said.append((f"socket {path} closed", str(sock.closed)))
        finally:
            await sock.disconnect()
    return said


# --- the tests --------------------------------------------------------------------------------


def test_every_get_route_is_crawled_or_has_a_reason(cw):
    """A new route joins the crawl by itself; one the crawl can't fill in fails here."""
    unfillable = []
    for name, route in _walk(get_resolver().url_patterns):
        if _skipped(name, route):
            continue
        if _fill(route, _values(cw, "approval", cw.world.people["approval"]["member"])) is None:
            unfillable.append(name or route)
    assert not unfillable, f"routes the canary crawl can't fill in: {unfillable}"
    names = {name for name, _route in _walk(get_resolver().url_patterns) if name}
    assert {"search", "places", "calendar_feed", "groups:meeting_ics", "forums:search",
            "account_export"} <= names


@pytest.mark.parametrize("crawler", list(CRAWLERS))
def test_crawling_as_a_person_not_entitled_finds_no_canary(
    web, cw, rights, live_sockets, every_log_record, crawler
):
    key, role = CRAWLERS[crawler]
    person = person_of(cw, key, role)
    every_log_record.acting = (person,)
    cw.world.login(web, person)
    result = crawl(web, rights, person, seed_urls(cw, person))
    frames = live_sockets(socket_frames, cw, person)
    for where, text in frames:
        result.leaks += rights.leaks(person, text, where)
    assert not result.leaks, "\n".join(result.leaks[:40])
    # The crawl went where it should: pages, JSON, calendars, the person's own export.
    statuses = set(result.pages.values())
    assert 200 in statuses and 404 in statuses
    assert any(u.startswith("/places/") for u in result.json_urls)
    exports = [u for u in result.pages if "/export" in u]
    if person is not None:
        assert exports and all(result.pages[u] == 200 for u in exports), exports
        for token in cw.calendar_tokens.get(person.pk, []):
            assert f"/calendar/{token}.ics" in result.pages
    assert len(result.pages) > 200


# Where the entitled see each canary: (person, GET url or socket) -> canaries there.
def _sightings(cw: CanaryWorld) -> list[tuple[str, str, str, list[str]]]:
    out = []
    for key in PRIVATE:
        group = cw.world.groups[key]
        bits = cw.bits[key]
        slug = group.slug
        of = lambda s, k=key: cw.of(k, s)  # noqa: E731
        forum = f"/groups/{slug}/forum/"
        out += [
            (key, "member", f"/groups/{slug}/chat/", [of("chat")]),
            (key, "member", f"{forum}t/{bits.thread.pk}/",
             [of("thread-title"), of("post-body")]),
            (key, "member", forum, [of("thread-title")]),
            (key, "member", "/search/?" + urlencode({"q": TOKEN}), [of("post-body")]),
            (key, "member", f"{forum}search/?" + urlencode({"q": f"{TOKEN} {key} post body"}),
             [of("post-body")]),
            (key, "member", f"/groups/{slug}/meetings/{bits.meeting.pk}/",
             [of("meeting-title"), of("meeting-venue"), of("meeting-description")]),
            (key, "member", f"/groups/{slug}/meetings/{bits.meeting.pk}.ics",
             [of("meeting-title"), of("meeting-description")]),
            (key, "member", f"/calendar/{cw.calendar_tokens[cw.world.people[key]['member'].pk][0]}"
             ".ics", [of("meeting-title")]),
            (key, "member", f"/groups/{slug}/resources/", [of("resource")]),
            (key, "member", f"/people/{bits.writer.pk}/", [of("about")]),
            (key, "moderator", f"/groups/{slug}/requests/", [of("join-answer")]),
            (key, "moderator", f"/moderation/cases/{bits.case.pk}/",
             [of("flag-note"), of("decision-reason")]),
            (key, "moderator", f"/groups/{slug}/log/",
             [of("audit-reason"), of("removal-reason")]),
            (key, "moderator", f"{forum}p/{bits.opening.pk}/history/", [of("post-history")]),
            (key, "moderator", f"/groups/{slug}/invites/", [of("invite-note")]),
            (key, "moderator", f"/moderation/guidelines/{slug}/", [of("guidelines")]),
            (key, "moderator", f"/groups/{slug}/signposts/", [of("signpost")]),
            (key, "moderator", f"/moderation/cases/{bits.held_case.pk}/", [of("held")]),
            (key, "writer", "/accounts/profile/", [of("home-town"), of("about")]),
            (key, "writer", "/accounts/export.json", [of("home-town"), of("held")]),
            (key, "asker", "/accounts/export.json", [of("join-answer")]),
        ]
        if key == "invite":
            out.append((key, "member", f"/groups/{slug}/", [of("group-name"),
                                                           of("group-description")]))
    return out


def test_entitled_people_do_see_the_canaries(web, cw, rights, live_sockets):
    """So the leak test cannot pass by seeing nothing: members, moderators and the people
    the words belong to see them where they should."""
    missing = []
    for key, role, url, wanted in _sightings(cw):
        person = person_of(cw, key, role)
        web.cookies.clear()
        cw.world.login(web, person)
        response = web.get(url)
        text = response_text(response)
        missing += [f"{role} of {key} at {url} ({response.status_code}): {w}"
                    for w in wanted if w not in rights.seen(text)]
        assert not rights.leaks(person, text, url)
    for key in PRIVATE:  # a member's chat socket carries the chat canary in its history
        member = cw.world.people[key]["member"]
        frames = live_sockets(socket_frames, cw, member)
        if not any(cw.of(key, "chat") in rights.seen(text) for _w, text in frames):
            missing.append(f"member of {key}: chat socket history")
        assert not [leak for w, t in frames for leak in rights.leaks(member, t, w)]
    assert not missing, "\n".join(missing)
    planted = set(cw.canaries)
    witnessed = {w for _k, _r, _u, wanted in _sightings(cw) for w in wanted}
    witnessed |= {cw.of(k, "chat") for k in PRIVATE}
    # Removed words stay in the record for moderators and their author, but no page has to
    # show them again; the welcome message shows once, when someone is let in (below).
    unshown = {cw.of(k, s) for k in PRIVATE for s in ("removed", "welcome", "meeting-address")}
    assert planted - witnessed - unshown == set(), sorted(planted - witnessed - unshown)


def _captured(func, *args, **kwargs):
    """Run a service and then what it left for after the commit (broadcasts, emails)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return func(*args, **kwargs)


async def _listen_while(cw: CanaryWorld, people: dict[str, User | None], act) -> dict:
    """Everyone's notifications socket (and members' chat) open while `act` runs."""
    socks: dict[str, list[ChatSocket]] = {}
    for label, person in people.items():
        opened = [await open_socket("/ws/notifications/", session_of(cw, person))]
        for key in PRIVATE:
            opened.append(await open_socket(f"/ws/groups/{cw.world.groups[key].slug}/chat/",
                                            session_of(cw, person)))
        socks[label] = opened
    for opened in socks.values():
        for sock in opened:
            await _read_all(sock, quiet=0.05)
    await database_sync_to_async(act)()
    for opened in socks.values():
        for sock in opened:
            await _read_all(sock, quiet=0.05)
    await asyncio.sleep(0.3)
    heard = {}
    for label, opened in socks.items():
        for sock in opened:
            await _read_all(sock, quiet=0.05)
            await sock.disconnect()
        heard[label] = [json.dumps(f) for sock in opened for f in sock.frames]
    return heard


def _everyone(cw: CanaryWorld) -> dict[str, User | None]:
    people = {name: person_of(cw, *spec) for name, spec in CRAWLERS.items()}
    for key in PRIVATE:
        for role in ("moderator", "owner", "writer", "asker", "member", "pending"):
            people.setdefault(f"{key}-{role}", person_of(cw, key, role))
    return people


def test_notifications_and_emails_reach_only_the_entitled(cw, rights, live_sockets):
    """Replies, mentions (naming people who may not read), approvals and declines."""
    people = _everyone(cw)
    mail.outbox.clear()

    def act() -> None:
        for key in PRIVATE:
            bits = cw.bits[key]
            p = cw.world.people[key]
            named = " ".join(f"@{p[r].display_name}" for r in ("ex_member", "banned",
                                                                  "outsider", "pending"))
            named += f" @{bits.writer.display_name}"
            cw.plant(key, "reply", MEMBERS)
            cw.plant(key, "mention-chat", MEMBERS)
            cw.plant(key, "approval-note", MODERATORS, bits.asker)
            cw.plant(key, "decline-note", MODERATORS, p["pending"])
            _captured(forum_services.reply, actor=p["member"], thread=bits.thread,
                      parent=bits.old_posts[1],
                      body=f"{named} {cw.of(key, 'reply')} .")
            _captured(chat_services.post_chat_message, actor=p["member"],
                      group=cw.world.groups[key], client_id=new_client_id(),
                      body=f"{named} {cw.of(key, 'mention-chat')} .")
            _captured(membership_services.approve_membership, actor=p["moderator"],
                      membership=bits.asking, message=f"Hi {cw.of(key, 'approval-note')} .")
            _captured(membership_services.decline_membership, actor=p["moderator"],
                      membership=cw.world.memberships[key]["pending"],
                      message=f"Sorry {cw.of(key, 'decline-note')} .")

    try:
        heard = live_sockets(_listen_while, cw, people, act)
        rights.forget()
        leaks, seen = [], set()
        for label, frames in heard.items():
            for frame in frames:
                leaks += rights.leaks(people[label], frame, f"{label} socket")
                seen |= {(label, t) for t in rights.seen(frame)}
        by_address = {p.email: (label, p) for label, p in people.items() if p is not None}
        for message in mail.outbox:
            for address in message.to:
                label, person = by_address.get(address, (address, None))
                leaks += rights.leaks(person, email_text(message), f"email to {label}")
                seen |= {(label, t) for t in rights.seen(email_text(message))}
        assert not leaks, "\n".join(leaks[:40])
        for key in PRIVATE:  # the entitled did hear
            assert (f"{key}-writer", cw.of(key, "thread-title")) in seen  # a reply, by email
            assert (f"{key}-member", cw.of(key, "mention-chat")) in seen  # chat, live
            assert (f"{key}-asker", cw.of(key, "approval-note")) in seen  # let in, by email
            assert (f"{key}-asker", cw.of(key, "welcome")) in seen
            assert (f"{key}-pending", cw.of(key, "decline-note")) in seen
    finally:
        for key in PRIVATE:
            for surface in ("reply", "mention-chat", "approval-note", "decline-note"):
                cw.canaries.pop(cw.of(key, surface), None)


def test_daily_summaries_carry_only_what_each_person_may_still_read(cw, rights):
    """Unread replies wait for the summary; people who have since left or been banned get
    nothing of the group in theirs."""
    people = _everyone(cw)
    mail.outbox.clear()
    User.objects.update(email_notifications=User.EmailChoice.DAILY, digest_sent_at=None)
    for key in PRIVATE:
        bits = cw.bits[key]
        p = cw.world.people[key]
        for role in ("member", "ex_member", "banned"):  # told while they still belonged
            Notification.objects.create(
                user=p[role], kind=Notification.Kind.FORUM_REPLY, group=cw.world.groups[key],
                text=f"Someone replied in “{bits.thread.title}”.", url="/",
                created_at=timezone.now() - timezone.timedelta(hours=2))
    call_command("send_digests", stdout=io.StringIO())
    by_address = {p.email: (label, p) for label, p in people.items() if p is not None}
    leaks, got = [], set()
    for message in mail.outbox:
        label, person = by_address.get(message.to[0], (message.to[0], None))
        leaks += rights.leaks(person, email_text(message), f"summary to {label}")
        got |= {(label, t) for t in rights.seen(email_text(message))}
    assert not leaks, "\n".join(leaks)
    for key in PRIVATE:
        assert (f"{key}-member", cw.of(key, "thread-title")) in got


def test_meeting_reminders_go_only_to_members(cw, rights):
    people = _everyone(cw)
    mail.outbox.clear()
    start = min(cw.bits[k].meeting.starts_at for k in PRIVATE)
    sent = _captured(meeting_services.remind_meetings, start - timezone.timedelta(hours=30))
    by_address = {p.email: (label, p) for label, p in people.items() if p is not None}
    leaks, got = [], set()
    for message in mail.outbox:
        label, person = by_address.get(message.to[0], (message.to[0], None))
        leaks += rights.leaks(person, email_text(message), f"reminder to {label}")
        got |= {(label, t) for t in rights.seen(email_text(message))}
    for note in Notification.objects.filter(kind=Notification.Kind.MEETING_REMINDER):
        leaks += rights.leaks(note.user, note.text, f"reminder notification to {note.user}")
    assert not leaks, "\n".join(leaks)
    assert sent == 2
    for key in PRIVATE:
        assert (f"{key}-member", cw.of(key, "meeting-venue")) in got


def test_export_of_someone_who_left_keeps_their_words_but_not_the_groups(web, cw):
    """The leak this module found: a banned person's or ex-member's own data export
    carried the current titles of threads and meetings of the group they are out of.
    Their own words stay in it; someone else's words from that group do not."""
    for key in PRIVATE:
        for role in ("banned", "ex_member"):
            web.cookies.clear()
            cw.world.login(web, cw.world.people[key][role])
            data = json.loads(body_of(web.get("/accounts/export.json")))
            assert [(p["text"], p["thread"]) for p in data["forum_posts"]] == [
                (f"Thanks from {role}", "")]
            assert [f["thread"] for f in data["thread_follows"]] == [""]
            assert [r["meeting"] for r in data["meeting_replies"]] == [""]
        web.cookies.clear()
        cw.world.login(web, cw.world.people[key]["member"])  # still in: the title is there
        data = json.loads(body_of(web.get("/accounts/export.json")))
        assert [r["meeting"] for r in data["meeting_replies"]] == [
            cw.bits[key].meeting.title]
