"""An XSS corpus (xss_payloads.txt) through every place a person's text is shown.

Two kinds of place. Markup we build from their text (markdown rendered and sanitised
once, stored beside the source, shown with `|safe` by templates and with `innerHTML` by
the chat client): every payload goes through `render_markdown` and through
`sanitize_html` (as if a later caller skipped markdown), and the output must hold only
allow-listed, inert markup, read by a browser's tree builder and by a plain tokenizer,
before and after a parse-and-serialise round trip (mutation XSS); and cleaning it again
must change nothing. Everything else is plain text that templates escape: the payloads
are stored in every such field (batched, many per row) and the real pages are rendered
and read as a browser would, as are the emails.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from community.models import ChatMessage, Group, Meeting, Notification, Resource, Signpost
from community.text import ALLOWED_PROTOCOLS, ALLOWED_TAGS, render_markdown, sanitize_html
from forums.models import Category, Post, Thread
from forums.search import refresh_documents
from moderation.models import Case, Flag
from tests.conftest import add_membership
from tests.security.html_checks import fragment_problems, page_problems, style_values

CORPUS_FILE = Path(__file__).with_name("xss_payloads.txt")


def load_corpus() -> list[tuple[int, str]]:
    """(line number, payload): backslash escapes read as in Python strings."""
    payloads = []
    for number, line in enumerate(CORPUS_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        raw = line.encode("latin-1", "backslashreplace")
        payloads.append((number, codecs.decode(raw, "unicode_escape")))
    return payloads


CORPUS = load_corpus()
ALLOWED = frozenset(ALLOWED_TAGS)
SAFE_SCHEMES = frozenset(ALLOWED_PROTOCOLS)


def test_the_corpus_is_big_enough_and_has_no_repeats():
    texts = [payload for _, payload in CORPUS]
    assert len(texts) >= 300
    assert len(set(texts)) == len(texts)


# --- markup built from a person's text: one payload at a time -----------------------------

def test_every_payload_renders_to_inert_allow_listed_markup():
    failures = {}
    for number, payload in CORPUS:
        for name, output in (("render_markdown", render_markdown(payload)),
                             ("sanitize_html", sanitize_html(payload))):
            found = fragment_problems(output, allowed_tags=ALLOWED, safe_schemes=SAFE_SCHEMES)
            if found:
                failures[f"line {number} {name}: {payload[:80]!r} -> {output[:160]!r}"] = found
    assert not failures, "\n".join(f"{k}\n    {v}" for k, v in failures.items())


def test_sanitising_is_idempotent_for_every_payload():
    failures = []
    for number, payload in CORPUS:
        once = sanitize_html(payload)
        if sanitize_html(once) != once:
            failures.append(f"line {number} sanitize_html: {once!r} -> {sanitize_html(once)!r}")
        stored = render_markdown(payload)
        if sanitize_html(stored) != stored:
            failures.append(f"line {number} render_markdown: {stored!r} is not a fixed point")
        if render_markdown(payload) != stored:
            failures.append(f"line {number}: render_markdown is not deterministic")
    assert not failures, "\n".join(failures)


def test_the_whole_corpus_at_once_renders_inert():
    """Payloads interact (an unclosed tag in one swallowing the next): all in one text."""
    joined = "\n\n".join(payload for _, payload in CORPUS)
    for output in (render_markdown(joined), sanitize_html(joined)):
        assert fragment_problems(output, allowed_tags=ALLOWED, safe_schemes=SAFE_SCHEMES) == []
        assert sanitize_html(output) == output


def test_the_checks_can_fail():
    """The same checks on the raw payloads find something in nearly every one (so a pass
    above means the renderer made them inert, not that the checks look the other way)."""
    caught = sum(1 for _, payload in CORPUS
                 if fragment_problems(payload, allowed_tags=ALLOWED, safe_schemes=SAFE_SCHEMES))
    assert caught >= 0.8 * len(CORPUS)
    assert page_problems("<p>x</p><script>alert(1)</script>")
    assert page_problems('<a href=" java&#x09;script:alert(1)">x</a>')
    assert page_problems('<p style="color:red">x</p>')
    assert page_problems("<math><mi>x</mi></math>")


# --- plain text fields, on the real pages ---------------------------------------------------

# PostgreSQL cannot store NUL at all (every way in strips or refuses it), so the payloads
# that carry one are stored without it.
STORED = [payload.replace("\x00", "") for _, payload in CORPUS]
TEXT = "\n".join(STORED)  # for unlimited text fields


def fit(limit: int, start: int, tag: str) -> str:
    """Payloads from `start` on, joined, within `limit` characters (for varchar fields),
    after a canary that shows the field really was on the page."""
    out = f"CANARY-{tag} "
    for payload in STORED[start:] + STORED[:start]:
        payload = payload.replace("\n", " ")
        if len(out) + len(payload) + 1 > limit:
            continue
        out += payload + " "
    return out[:limit]


def chunks(size: int) -> list[str]:
    return ["\n\n".join(STORED[i:i + size]) for i in range(0, len(STORED), size)]


def _person(name: str, **fields):
    from allauth.account.models import EmailAddress

    from community.models import User

    n = _person.count = getattr(_person, "count", 0) + 1
    email = f"xss{n}@example.org"
    user = User.objects.create_user(email=email, password="pw-Kindred-123!", display_name=name,
                                    **fields)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _post(thread, author, body: str, parent=None, **fields):
    from forums.models import TREE_KEY_WIDTH

    post = Post.objects.create(
        thread=thread, group=thread.group, author=author, parent=parent,
        depth=parent.depth + 1 if parent else 0, body=body, body_html=render_markdown(body),
        tree_key="", **fields)
    post.tree_key = (parent.tree_key if parent else "") + str(post.pk).zfill(TREE_KEY_WIDTH)
    Post.objects.filter(pk=post.pk).update(tree_key=post.tree_key)
    refresh_documents(Post.objects.filter(pk=post.pk))  # searchable, as the service makes it
    return post


def build_hostile_world():
    """One group where every field a person can write holds the corpus."""
    from moderation.models import AuditEntry
    from moderation.services import record_audit

    hostile = [_person(fit(40, i * 37, f"name{i}"), about=TEXT) for i in range(8)]
    reader, outsider = _person("Reader"), _person("Outsider")
    group = Group.objects.create(
        name=fit(80, 5, "group"), slug="xss-corpus", description=TEXT, rules=TEXT,
        welcome_message=TEXT, moderator_guidelines=TEXT, town=fit(100, 9, "town"),
        privacy=Group.Privacy.APPROVAL, created_by=hostile[0])
    add_membership(hostile[0], group, "approved", "owner")
    add_membership(reader, group, "approved")
    for person in hostile[1:6]:
        add_membership(person, group, "approved")
    for i in range(3):
        group.questions.create(position=i, text=fit(300, 50 + i * 60, f"question{i}"))
    add_membership(hostile[6], group, "pending",
                   answers=[{"question": fit(300, 3, "q"), "answer": TEXT}])
    messages = []
    for i, body in enumerate(chunks(40)):
        messages.append(ChatMessage.objects.create(
            group=group, seq=i + 1, author=hostile[i % 6], client_id=f"xss-{i}", body=body,
            body_html=render_markdown(body)))
    Group.objects.filter(pk=group.pk).update(chat_seq=len(messages))
    category = Category.objects.create(group=group, name=fit(60, 11, "category"),
                                       description=fit(200, 13, "categorydesc"))
    thread = Thread.objects.create(group=group, category=category, title=fit(150, 17, "title"),
                                   author=hostile[1])
    opening = _post(thread, hostile[1], "CANARY-post " + TEXT[:5000])
    for i, body in enumerate(chunks(70)):
        _post(thread, hostile[i % 6], body, opening,
              content_warning=fit(100, 19, "warning") if i == 3 else "")
    meeting = Meeting.objects.create(
        group=group, title=fit(120, 23, "meeting"), description=TEXT,
        starts_at=timezone.now() + timezone.timedelta(days=2), venue_name=fit(120, 29, "venue"),
        venue_address=fit(300, 31, "address"), parking=fit(200, 37, "parking"),
        accessibility_notes=TEXT, online_url='https://example.org/"><script>alert(1)</script>',
        created_by=hostile[0])
    Resource.objects.create(group=group, title=fit(150, 41, "resource"),
                            url="https://example.org/'onmouseover='alert(1)", body=TEXT,
                            body_html=render_markdown(TEXT), added_by=hostile[0])
    Signpost.objects.create(group=group, topic="support", name=fit(100, 43, "signpost"),
                            phone=fit(40, 47, "p"), text_number=fit(40, 53, "t"),
                            hours=fit(100, 59, "hours"), who_for=fit(200, 61, "whofor"),
                            description=fit(300, 67, "spdesc"), url="https://example.org/x",
                            updated_by=hostile[0])
    for i in range(5):
        Notification.objects.create(user=reader, kind="mention", group=group,
                                    text=fit(300, 71 + i * 50, f"note{i}"), url="/notifications/")
    case = Case.objects.create(group=group, kind="chat_message", chat_message=messages[3],
                               author=messages[3].author, score=25, flag_count=1)
    Flag.objects.create(case=case, flagger=hostile[2], reason="spam", note=TEXT)
    record_audit(action=AuditEntry.Action.MEMBER_WARNED, actor=hostile[0], group=group,
                 target_user=hostile[1], reason="CANARY-reason " + TEXT)
    return {"group": group, "reader": reader, "outsider": outsider, "owner": hostile[0],
            "author": hostile[1], "thread": thread, "opening": opening, "meeting": meeting,
            "case": case}


@pytest.fixture(scope="module")
def hostile(django_db_setup, django_db_blocker):
    """The hostile world, built once for this module and rolled back at its end."""
    from django.db import transaction
    from django.test import override_settings

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(
                    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
                built = build_hostile_world()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield built
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _pages(w) -> dict[str, tuple[str, str, str, str]]:
    """name -> (who, method, url, a canary the page must show)."""
    slug = w["group"].slug
    g = {"slug": slug}
    thread = {"slug": slug, "thread_id": w["thread"].pk}
    return {
        "group home (member)": ("reader", "get", reverse("groups:home", kwargs=g), "group"),
        "group home (outsider)": ("outsider", "get", reverse("groups:home", kwargs=g),
                                  "question1"),
        "group home (anonymous)": ("anonymous", "get", reverse("groups:home", kwargs=g),
                                   "group"),
        "group directory": ("reader", "get", reverse("groups:list") + "?q=CANARY", "group"),
        "chat": ("reader", "get", reverse("groups:chat", kwargs=g), "name1"),
        "members": ("reader", "get", reverse("groups:members", kwargs=g), "name2"),
        "person": ("reader", "get", reverse("person", kwargs={"user_id": w["author"].pk}),
                   "name1"),
        "forum index": ("reader", "get", reverse("forums:index", kwargs=g), "title"),
        "thread": ("reader", "get", reverse("forums:thread", kwargs=thread), "post"),
        "reply (quoting)": ("reader", "get", reverse("forums:reply", kwargs=thread)
                            + f"?to={w['opening'].pk}&quote=1", "post"),
        "reply preview": ("reader", "post", reverse("forums:reply", kwargs=thread), "post"),
        "forum search": ("reader", "get", reverse("forums:search", kwargs=g) + "?q=alert",
                         "alert"),
        "meetings": ("reader", "get", reverse("groups:meetings", kwargs=g), "meeting"),
        "meeting": ("reader", "get", reverse("groups:meeting", kwargs={
            **g, "meeting_id": w["meeting"].pk}), "venue"),
        "resources": ("reader", "get", reverse("groups:resources", kwargs=g), "resource"),
        "notifications": ("reader", "get", reverse("notifications"), "note0"),
        "join requests": ("owner", "get", reverse("groups:requests", kwargs=g), "name6"),
        "signposts": ("owner", "get", reverse("groups:signposts", kwargs=g), "signpost"),
        "guidelines": ("owner", "get", reverse("moderation:guidelines", kwargs=g), "CANARY"),
        "case": ("owner", "get", reverse("moderation:case", kwargs={"case_id": w["case"].pk}),
                 "name0"),
        "queue": ("owner", "get", reverse("moderation:queue"), "group"),
        "audit log": ("owner", "get", reverse("groups:audit_log", kwargs=g), "reason"),
    }


PAGE_NAMES = list(_pages({"group": Group(slug="x"), "thread": Thread(pk=1), "author":
                          Group(pk=1), "opening": Post(pk=1), "meeting": Meeting(pk=1),
                          "case": Case(pk=1)}))


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGE_NAMES)
def test_pages_show_the_corpus_as_text(hostile, page, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    who, method, url, canary = _pages(hostile)[page]
    client = Client()
    if who != "anonymous":
        client.force_login(hostile[who])
    if method == "post":
        response = client.post(url, {"to": hostile["opening"].pk, "preview": "1",
                                     "body": "CANARY-post " + TEXT[:3800]})
    else:
        response = client.get(url)
    assert response.status_code == 200, response.get("Location")
    html = response.content.decode()
    assert f"CANARY-{canary}" in html or canary in html, f"{page} did not show the text"
    assert page_problems(html) == []


@pytest.mark.django_db
def test_emails_show_the_corpus_as_text(hostile):
    from community import emails

    person = hostile["owner"]  # a display name full of payloads
    sent = [emails.notification_email(user=person, subject=fit(200, 7, "subject"), body=TEXT,
                                      url="/notifications/", group=hostile["group"],
                                      activity=True)]
    sections = [{"title": fit(80, 5, "section"), "items": [{"text": fit(300, i, "item")}
                                                           for i in range(0, 600, 60)]}]
    sent.append(emails.build_email(user=person, subject="Summary", template="digest",
                                   context={"sections": sections, "more": 3,
                                            "link": "https://kindred.example/"}))
    for message in sent:
        html = message.alternatives[0][0]
        plain = render_to_string("email/notification.html", {"body": "plain", "name": "x"})
        allowed = style_values(plain) | style_values(render_to_string(
            "email/digest.html", {"sections": [{"title": "t", "items": [{"text": "x"}]}],
                                  "more": 1, "name": "x"}))
        assert "CANARY-" in html
        assert page_problems(html, allowed_styles=allowed) == []
        assert message.content_subtype == "plain"  # the text part is never read as HTML
