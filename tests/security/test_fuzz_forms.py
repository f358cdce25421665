"""Property-based fuzzing of every form-posting view (hypothesis).

The endpoints come from Django's URL resolver: every route of a group, addressed the way
tests/community/test_views_access.py addresses it (its world of groups, people, posts,
cases, meetings, signposts and resources), plus every site route, allauth's included,
and each step of the group wizard. For a drawn endpoint and person (owner, moderator,
member, outsider or nobody), the page's own form is read (field names and the values it
offers) and then mutated: fields dropped, replaced with odd values (control characters,
huge, other scripts, numbers that overflow, dates that don't exist, markup, several
values for one name) or added. Each POST runs in a savepoint that is rolled back, so
every example starts from the same world. For every example:

* no 500 (the test client re-raises any exception a view lets out);
* a refused or failed POST (4xx, or the form shown again with its errors) leaves every
  table exactly as it was: nothing half-written;
* a POST that did write left rows that pass their own model validation.
"""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver, reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from community import ratelimit
from community.models import Group, User
from tests.community import test_views_access as access
from tests.community.conftest import FAST_HASHERS, build_world

EXAMPLES = 250
ROLES = ("owner", "moderator", "member", "outsider", "anonymous")
PRIVACY = "approval"
# Tables a request may always touch: its session, and allauth's record of it.
SESSION_TABLES = {"django_session", "usersessions_usersession"}
# Views that do their work and then show a page instead of redirecting.
WRITES_ON_200 = {"email_unsubscribe"}


# --- the world and its endpoints -------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_world(django_db_setup, django_db_blocker):
    """test_views_access's world, built once for this module and rolled back at its end."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
                world = build_world("fz")
                world.forums = access.build_forums(world)
                world.cases = access.build_cases(world)
                world.library = access.build_library(world)
                world.meetings = access.build_meetings(world)
                # People here have been members for weeks: the first-day rules for new
                # accounts (no links yet) have tests of their own.
                User.objects.update(date_joined=timezone.now() - timedelta(weeks=6))
                # The access tests write chat rows straight to the table: give each group
                # the place in its sequence that the service would have.
                for group in world.groups.values():
                    top = group.chat_messages.aggregate(top=Max("seq"))["top"] or 0
                    Group.objects.filter(pk=group.pk).update(chat_seq=top)
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield world
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def site_endpoints(world) -> dict[str, str]:
    """Every named route outside the groups that can be addressed: without arguments, or
    with the arguments it needs from the world."""
    from community import emails
    from community.views.group_wizard import STEPS

    found = {}
    for key in access._route_keys(get_resolver().url_patterns):
        if key.startswith("/") or key in access.GROUP_ROUTES:
            continue
        with contextlib.suppress(Exception):
            found[key] = reverse(key)
    for key in ("account_login", "account_signup", "account_reset_password",
                "account_change_password", "account_set_password", "account_email",
                "account_logout", "account_reauthenticate", "usersessions_list"):
        with contextlib.suppress(Exception):
            found[key] = reverse(key)
    member = world.people[PRIVACY]["member"]
    found["email_unsubscribe"] = reverse("email_unsubscribe", kwargs={
        "token": emails.unsubscribe_token(member, world.groups[PRIVACY])})
    for step in STEPS:
        found[f"groups:new_step {step.slug}"] = reverse("groups:new_step", args=[step.slug])
    found["groups:new_step check"] = reverse("groups:new_step", args=["check"])
    found.pop("/readyz", None)
    return {name: url for name, url in found.items() if not name.startswith("admin:")}


def endpoint_url(world, name: str, role: str, site: dict[str, str]) -> str:
    if name in site:
        return site[name]
    return access.group_url(name, world, PRIVACY, role=role if role != "anonymous" else "member")


# --- reading a page's form -------------------------------------------------------------------

class _Forms(HTMLParser):
    """Fields of the POST forms on a page that post back to `path`: name -> values offered."""

    def __init__(self, path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.path = path
        self.inside = False
        self.fields: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def _add(self, name: str | None, value: str) -> None:
        if name:
            self.fields.setdefault(name, [])
            if value not in self.fields[name]:
                self.fields[name].append(value)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = urlsplit(a.get("action", "")).path
            self.inside = a.get("method", "").lower() == "post" and action in ("", self.path)
        elif not self.inside:
            return
        elif tag == "input" and a.get("type") not in {"submit", "file", "image", "reset"}:
            if a.get("name") != "csrfmiddlewaretoken":
                default = "on" if a.get("type") in {"checkbox", "radio"} else ""
                self._add(a.get("name"), a.get("value", default))
        elif tag == "button" and a.get("name"):
            self._add(a["name"], a.get("value", ""))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self._add(self._textarea, "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            self._add(self._select, a.get("value", ""))

    def handle_data(self, data):
        if self._textarea and data.strip():
            self.fields[self._textarea].append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_fields(client: Client, url: str, name: str) -> dict[str, list[str]]:
    response = client.get(url)
    fields: dict[str, list[str]] = {}
    if response.status_code == 200 and "html" in response.get("Content-Type", "") \
            and not response.streaming:
        parser = _Forms(urlsplit(url).path)
        parser.feed(response.content.decode())
        fields = parser.fields
    for key, value in access.POST_DATA.get(name, {}).items():
        fields.setdefault(key, []).append(str(value))
    return fields


# --- the database's state --------------------------------------------------------------------

def _models():
    return [m for m in apps.get_models()
            if m._meta.managed and not m._meta.proxy
            and m._meta.db_table not in SESSION_TABLES]


def snapshot() -> dict[str, dict]:
    """Every row of every table (but sessions), by primary key, as plain values."""
    return {model._meta.label: {row[0]: row for row in
                                model._base_manager.order_by().values_list("pk", *[
                                    f.attname for f in model._meta.concrete_fields])}
            for model in _models()}


def changes(before: dict, after: dict) -> list[str]:
    found = []
    for label, rows in after.items():
        old = before.get(label, {})
        added = rows.keys() - old.keys()
        gone = old.keys() - rows.keys()
        changed = [pk for pk in rows.keys() & old.keys() if rows[pk] != old[pk]]
        if added or gone or changed:
            found.append(f"{label}: +{sorted(added)[:5]} -{sorted(gone)[:5]} "
                         f"~{sorted(changed)[:5]}")
    return found


def invalid_rows(before: dict, after: dict) -> list[str]:
    """New or changed rows that fail their own model's validation (choices, lengths)."""
    found = []
    for model in _models():
        label = model._meta.label
        old, new = before.get(label, {}), after.get(label, {})
        touched = [pk for pk in new if new[pk] != old.get(pk)]
        for obj in model._base_manager.filter(pk__in=touched):
            try:
                obj.clean_fields()
            except ValidationError as error:
                found.append(f"{label} {obj.pk}: {error.message_dict}")
            for field in model._meta.concrete_fields:
                value = getattr(obj, field.attname)
                if isinstance(value, str) and "\x00" in value:
                    found.append(f"{label} {obj.pk}: NUL stored in {field.name}")
    return found


# --- strategies ------------------------------------------------------------------------------

# Form posts are UTF-8 bytes: any character but lone surrogates (which cannot be sent).
any_char = st.characters(codec="utf-8")
odd = st.one_of(
    st.text(any_char, max_size=40),
    st.integers(200, 30_000).map(lambda n: "é" * n),
    st.sampled_from([
        "", " ", "\x00", "a\x00b", "\r\n", "\t", "\u202e", "\u200b", "😀" * 30, "0", "-1",
        "1", "99999999999999999999999", "-99999999999999999999", "1e400", "NaN", "on",
        "off", "true", "None", "null", "[]", "{}", "2026-02-30", "2026-13-01", "0000-00-00",
        "9999-12-31", "25:61", "24:00", "00:00", "1.5", "0x10", "<script>alert(1)</script>",
        "javascript:alert(1)", "https://example.org/", "http://", "../../etc/passwd",
        "'; DROP TABLE community_user; --", "%00", "a" * 64, "a" * 201, "@everyone",
    ]),
    st.integers().map(str),
    st.floats().map(str),
    st.dates().map(str),
    st.datetimes().map(lambda d: d.isoformat()),
)
# What a person might really type, so that some posts get past validation to the writes.
PLAUSIBLE = st.sampled_from([
    "Hello, this is a test.", "Thank you all", "2027-03-04", "2027-03-18", "18:30", "19:30",
    "60", "3", "1", "https://example.org/", "Inverness", "test@example.org", "0800 000 000",
    "weekly", "going", "approve", "hide", "spam", "Please keep it kind.",
])
NAME_POOL = sorted({key for data in access.POST_DATA.values() for key in data}
                   | {"body", "title", "reason", "note", "text", "name", "description",
                      "url", "decision", "action", "confirm", "preview", "to", "page",
                      "date", "version", "category", "email", "password", "q"})


@st.composite
def mutated(draw, fields: dict[str, list[str]]) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for name, offered in fields.items():
        choice = draw(st.integers(0, 9))
        if choice <= 4:  # one of the values the form offers, or a plausible one
            useful = [value for value in offered if value.strip()]
            data[name] = [draw(st.sampled_from(useful) if useful and choice <= 2
                               else PLAUSIBLE)]
        elif choice <= 7:  # something odd instead
            data[name] = draw(st.lists(odd, min_size=1, max_size=3))
        # else: left out
    for _ in range(draw(st.integers(0, 2))):
        data[draw(st.sampled_from(NAME_POOL) | st.text(max_size=12))] = [draw(odd)]
    return data


# --- the property ----------------------------------------------------------------------------

_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([\w.]+)"?', re.I)


def tables_written(queries) -> set[str]:
    return {m.group(1) for q in queries
            if (m := _WRITE.match(q["sql"] or ""))} - SESSION_TABLES


def table_label(table: str) -> str | None:
    return next((m._meta.label for m in _models() if m._meta.db_table == table), None)


@pytest.fixture
def settings_override(settings, monkeypatch):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    # Rate limits have their own tests; here they would turn most posts into 429s.
    monkeypatch.setattr(ratelimit, "allow", lambda *args, **kwargs: True)
    if hasattr(ratelimit, "hit"):
        monkeypatch.setattr(ratelimit, "hit", lambda *args, **kwargs: None)


class Poster:
    """Posts to the world's endpoints as its people, each post in a savepoint that is
    rolled back, and says what (if anything) went wrong."""

    def __init__(self, world, *, raise_errors: bool = True) -> None:
        self.world = world
        self.raise_errors = raise_errors  # False: a view's exception becomes a 500
        self.site = site_endpoints(world)
        self.names = sorted(access.GROUP_ROUTES) + sorted(self.site)
        self.clients: dict[str, Client] = {}
        self.fields_of: dict[str, dict] = {}
        self.side_effects: dict[tuple[str, str], set[str]] = {}
        self.seen = {"posts": 0, "redirects": 0, "refused": 0, "shown": 0, "wrote": 0}
        self.base = snapshot()  # every post is rolled back to this

    def client(self, role: str) -> Client:
        if role not in self.clients:
            client = self.clients[role] = Client(raise_request_exception=self.raise_errors)
            self.world.login(client, self.world.people[PRIVACY][role]
                             if role != "anonymous" else None)
        return self.clients[role]

    def url(self, name: str, role: str) -> str:
        return endpoint_url(self.world, name, role, self.site)

    def fields(self, name: str) -> dict:
        """The form as its fullest viewer (the group's owner) sees it, read once."""
        if name not in self.fields_of:
            with transaction.atomic():  # a GET that writes something is undone too
                self.fields_of[name] = form_fields(self.client("owner"),
                                                   self.url(name, "owner"), name)
                transaction.set_rollback(True)
        return self.fields_of[name]

    def viewing_writes(self, name: str, role: str) -> set[str]:
        """Tables a plain GET of the page writes (a thread remembers what was read)."""
        if (name, role) not in self.side_effects:
            with transaction.atomic(), CaptureQueriesContext(connection) as queries:
                self.client(role).get(self.url(name, role))
                transaction.set_rollback(True)
            self.side_effects[(name, role)] = tables_written(queries)
        return self.side_effects[(name, role)]

    def post(self, name: str, role: str, body: dict) -> list[str]:
        """POST once; the problems found (empty when all is well)."""
        where = f"{name} as {role}"
        with transaction.atomic():
            with CaptureQueriesContext(connection) as queries:
                response = self.client(role).post(self.url(name, role), body)
            written = tables_written(queries)
            # After a 500 the transaction may be aborted: only the rollback can run.
            after = snapshot() if written and response.status_code < 500 else self.base
            transaction.set_rollback(True)
        self.seen["posts"] += 1
        self.seen["wrote"] += bool(written)
        status = response.status_code
        if status >= 500:
            return [f"{where}: {status} for {body!r}"[:300]]
        if status in (301, 302, 303):
            self.seen["redirects"] += 1
            bad = invalid_rows(self.base, after)
            return [f"{where} stored invalid rows {bad} from {body!r}"[:3000]] if bad else []
        self.seen["refused" if status >= 400 else "shown"] += 1
        if status < 400 and name in WRITES_ON_200:
            bad = invalid_rows(self.base, after)
            return [f"{where} stored invalid rows {bad} from {body!r}"[:3000]] if bad else []
        allowed = self.viewing_writes(name, role) if status < 400 else set()
        allowed_labels = {table_label(t) for t in allowed}
        changed = [c for c in changes(self.base, after) if c.split(":")[0] not in allowed_labels]
        if changed:
            return [f"{where} answered {status} but changed {changed} for {body!r}"[:3000]]
        return []


@pytest.mark.django_db
def test_no_form_post_fails_or_half_writes(fuzz_world, settings_override):
    poster = Poster(fuzz_world)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(data=st.data())
    def one_post(data):
        name = data.draw(st.sampled_from(poster.names), label="endpoint")
        role = data.draw(st.sampled_from(ROLES), label="role")
        body = data.draw(mutated(poster.fields(name)), label="post")
        assert poster.post(name, role, body) == []

    one_post()
    seen = poster.seen
    assert seen["posts"] >= EXAMPLES // 2
    assert seen["redirects"] and seen["refused"] and seen["shown"], seen


@pytest.mark.django_db
def test_every_form_with_nul_and_control_characters_in_every_field(fuzz_world,
                                                                    settings_override):
    """Not random: every form's fields, each with a NUL and other control characters in
    it, as the people most likely to get through (the owner and a plain member; nobody,
    for the account pages).
    PostgreSQL refuses NUL in text outright, so a view that passes one through is a 500
    there; on SQLite the row would keep it. Either way: no 500 and no stored NUL."""
    poster = Poster(fuzz_world, raise_errors=False)  # every failure, not just the first
    problems = []
    for name in poster.names:
        fields = poster.fields(name)
        if not fields:
            continue
        body = {}
        for field, offered in fields.items():
            useful = [value for value in offered if value.strip()]
            value = useful[0] if useful else "Hello there"
            body[field] = value if len(useful) > 1 else f"{value}\x00\x01\x1b[31m\x7f"
        roles = ("owner", "member", "anonymous") if name.startswith("account_") else (
            "owner", "member")
        for role in roles:
            problems += poster.post(name, role, body)
    assert poster.seen["posts"] >= 40
    assert not problems, "\n".join(problems)
