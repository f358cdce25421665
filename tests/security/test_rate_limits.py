"""Abuse controls: per-person rate limits (KINDRED_RATE_LIMITS) and the first-day rules
for new accounts, through the services and the pages people use.

Each limit trips at its number, says so plainly (a 429 with the person's words still in
the form, the plain 429 page, or a chat `error` frame), and is written to the security
log. The counts live in the shared cache: with REDIS_URL set, one test counts in another
process and this one is refused.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from datetime import timedelta
from html import unescape
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from community import abuse, ratelimit
from community.models import ChatMessage, Group, Invite, Membership
from community.security_log import pseudonym
from community.security_middleware import RefusalMiddleware
from community.services.chat import ChatError, post_chat_message
from community.services.invites import create_invite
from forums import services as forums
from forums.models import Category, Post, Thread
from moderation.models import Flag
from moderation.services.cases import flag_content
from tests.conftest import add_membership, need_service

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def frozen_clock(monkeypatch):
    """Every count in one fixed window, so no test straddles two of them."""
    frozen = float(int(timezone.now().timestamp()) // 86400 * 86400 + 3600 * 5 + 7)
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: frozen))
    return frozen


@pytest.fixture
def security_log(caplog):
    caplog.set_level(logging.INFO, logger="kindred.security")

    def events(name: str | None = None) -> list[dict]:
        found = [r.security_event for r in caplog.records if hasattr(r, "security_event")]
        return [e for e in found if name is None or e["event"] == name]

    return events


def limit_of(scope: str) -> int:
    """The first (tightest-window) count of a scope's rate, as configured."""
    return abuse.parse_rates(django_settings.KINDRED_RATE_LIMITS[scope])[0][0]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_text(response) -> str:
    return unescape(response.content.decode())


@pytest.fixture
def room(make_user, make_group):
    """An approval group with a forum, a thread, and members of every age."""
    group = make_group(Group.Privacy.APPROVAL, name="Kidney Friends")
    owner = group.memberships.get(role="owner").user
    forums.create_default_categories(group)
    category = Category.objects.filter(group=group).first()
    ada = make_user("Ada")  # established (joined weeks ago)
    newcomer = make_user("Nell", new=True)  # joined just now
    for person in (ada, newcomer):
        add_membership(person, group, "approved")
    thread = forums.start_thread(actor=owner, group=group, category=category,
                                 title="Hello everyone", body="Say hello here.")
    return SimpleNamespace(group=group, owner=owner, category=category, ada=ada,
                           newcomer=newcomer, thread=thread)


def reply_url(room) -> str:
    return reverse("forums:reply", kwargs={"slug": room.group.slug, "thread_id": room.thread.pk})


# --- the numbers -----------------------------------------------------------------------------


def test_limits_are_one_dict_in_settings_with_lower_ones_for_new_accounts():
    limits = django_settings.KINDRED_RATE_LIMITS
    for scope in ("chat", "post", "thread", "join", "flag", "invite"):
        assert abuse.parse_rates(limits[scope]), f"{scope} has no limit"
    for scope in ("chat", "post", "thread"):
        base, new = abuse.parse_rates(limits[scope]), abuse.parse_rates(limits[f"{scope}_new"])
        per_window = {window: count for count, window in base}
        assert all(count < per_window.get(window, count + 1) for count, window in new), scope
    # Normal heavy use never meets them (numbers from the issue).
    assert abuse.parse_rates(limits["post"]) == ((20, 600),)
    assert abuse.parse_rates(limits["join"]) == ((10, 3600),)
    assert abuse.parse_rates(limits["flag"]) == ((20, 3600),)
    assert abuse.parse_rates(limits["invite"]) == ((30, 86400),)


def test_rates_are_read_as_operators_write_them():
    assert abuse.parse_rates("5/10s, 120/h") == ((5, 10), (120, 3600))
    assert abuse.parse_rates("3/2d") == ((3, 172800),)
    assert abuse.parse_rates("") == ()
    with pytest.raises(ValueError, match="Not a rate"):
        abuse.parse_rates("twenty a minute")


def test_a_new_account_is_one_that_joined_in_the_last_day(make_user):
    assert abuse.is_new_account(make_user(new=True))
    assert not abuse.is_new_account(make_user())
    staff = make_user(new=True, staff=True)
    assert not abuse.is_new_account(staff), "site staff are never held back as newcomers"
    old_enough = make_user(new=True)
    later = timezone.now() + timedelta(hours=24, minutes=1)
    assert not abuse.is_new_account(old_enough, now=later)


# --- forum replies and threads ---------------------------------------------------------------


def test_reply_past_the_limit_is_refused_with_the_words_kept(room, frozen_clock,
                                                              security_log):
    limit = limit_of("post")
    for i in range(limit):
        forums.reply(actor=room.ada, thread=room.thread, body=f"Reply {i}")
    before = Post.objects.count()

    words = "I had a really hard day and wanted to tell someone."
    response = client_for(room.ada).post(reply_url(room), {"body": words})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    text = page_text(response)
    assert words in text, "the reply is still in the box"
    assert "You have posted a lot in a short time" in text
    assert "Your words are still here." in text
    assert Post.objects.count() == before
    [event] = security_log("rate_limited")
    assert event["scope"] == "post" and event["user"] == pseudonym(room.ada.pk)
    assert event["new_account"] is False
    assert words not in str(event), "never the words in the log"


def test_the_reply_limit_is_per_person(room, make_user, frozen_clock):
    for i in range(limit_of("post")):
        forums.reply(actor=room.ada, thread=room.thread, body=f"Reply {i}")
    with pytest.raises(abuse.RateLimited):
        forums.reply(actor=room.ada, thread=room.thread, body="One more")
    ben = make_user("Ben")
    add_membership(ben, room.group, "approved")
    forums.reply(actor=ben, thread=room.thread, body="I'm here too")


def test_a_new_thread_past_the_limit_comes_back_with_its_title_and_words(
    room, frozen_clock, security_log
):
    limit = limit_of("thread")
    for i in range(limit):
        forums.start_thread(actor=room.ada, group=room.group, category=room.category,
                            title=f"Thread {i}", body="Words")
    url = reverse("forums:new_thread", kwargs={"slug": room.group.slug})

    response = client_for(room.ada).post(url, {
        "title": "Tired all the time", "category": room.category.pk,
        "body": "Does anyone else find mornings the worst?",
    })

    assert response.status_code == 429
    text = page_text(response)
    assert "Tired all the time" in text and "Does anyone else find mornings the worst?" in text
    assert "started a lot of threads" in text
    assert Thread.objects.filter(author=room.ada).count() == limit
    assert [e["scope"] for e in security_log("rate_limited")] == ["thread"]


# --- new accounts ------------------------------------------------------------------------------


def test_new_accounts_may_post_less_in_their_first_day(room, frozen_clock, security_log):
    new_limit = limit_of("post_new")
    assert new_limit < limit_of("post")
    for i in range(new_limit):
        forums.reply(actor=room.newcomer, thread=room.thread, body=f"Hello {i}")
    with pytest.raises(abuse.RateLimited) as refused:
        forums.reply(actor=room.newcomer, thread=room.thread, body="One more")
    assert "new accounts" in refused.value.messages[0]
    assert "spam" in refused.value.messages[0]
    assert security_log("rate_limited")[0]["new_account"] is True
    # An established member posting as much is not held back.
    for i in range(new_limit + 1):
        forums.reply(actor=room.ada, thread=room.thread, body=f"Me too {i}")


def test_new_accounts_have_fewer_new_threads_and_chat_messages(room, frozen_clock):
    for i in range(limit_of("thread_new")):
        forums.start_thread(actor=room.newcomer, group=room.group, category=room.category,
                            title=f"Question {i}", body="Words")
    with pytest.raises(abuse.RateLimited):
        forums.start_thread(actor=room.newcomer, group=room.group, category=room.category,
                            title="One more", body="Words")
    chat_new = limit_of("chat_new")
    assert chat_new < limit_of("chat")
    for i in range(chat_new):
        post_chat_message(actor=room.newcomer, group=room.group, body=f"Hi {i}",
                          client_id=f"n{i}")
    with pytest.raises(ChatError) as refused:
        post_chat_message(actor=room.newcomer, group=room.group, body="Hi again",
                          client_id="n-more")
    assert refused.value.code == "rate_limited" and refused.value.retry_after > 0
    for i in range(chat_new + 1):
        post_chat_message(actor=room.ada, group=room.group, body=f"Hey {i}", client_id=f"a{i}")


@pytest.mark.parametrize("link", ["https://cheap-pills.example/buy", "http://x.example",
                                  "see www.example.org for more", "[a](https://a.example)"])
def test_a_new_accounts_first_posts_carry_no_links(room, link, security_log):
    words = f"This helped me a lot: {link}"
    response = client_for(room.newcomer).post(reply_url(room), {"body": words})

    assert response.status_code == 400
    text = page_text(response)
    assert words in text, "the words stay in the form"
    assert "Links can be shared once you have written a few posts" in text
    assert not Post.objects.filter(author=room.newcomer).exists()
    [event] = security_log("link_refused")
    assert event["scope"] == "post" and event["user"] == pseudonym(room.newcomer.pk)
    # The same words from an established member go straight up.
    assert client_for(room.ada).post(reply_url(room), {"body": words}).status_code == 302


def test_links_are_fine_after_three_posts_or_messages_together(room):
    with pytest.raises(ChatError) as refused:
        post_chat_message(actor=room.newcomer, group=room.group,
                          body="Try https://kidney.example", client_id="l0")
    assert refused.value.code == "links_not_yet"
    assert "Links can be shared" in refused.value.detail
    assert not ChatMessage.objects.filter(author=room.newcomer).exists()
    with pytest.raises(abuse.LinksNotYet):
        forums.start_thread(actor=room.newcomer, group=room.group, category=room.category,
                            title="See www.example.org", body="No link in the body")
    # Three plain posts and messages, in any mix, and links are fine.
    post_chat_message(actor=room.newcomer, group=room.group, body="Hello", client_id="p1")
    forums.reply(actor=room.newcomer, thread=room.thread, body="Hello from me")
    with pytest.raises(abuse.LinksNotYet):
        forums.reply(actor=room.newcomer, thread=room.thread, body="http://a.example")
    post_chat_message(actor=room.newcomer, group=room.group, body="Hi again", client_id="p2")
    post_chat_message(actor=room.newcomer, group=room.group,
                      body="Try https://kidney.example", client_id="l1")
    forums.reply(actor=room.newcomer, thread=room.thread, body="And http://a.example")


def test_an_edit_cannot_add_a_link_to_a_new_accounts_first_post(room):
    post = forums.reply(actor=room.newcomer, thread=room.thread, body="Hello")
    with pytest.raises(abuse.LinksNotYet):
        forums.edit_post(actor=room.newcomer, post=post, body="Hello https://spam.example")
    post.refresh_from_db()
    assert post.body == "Hello"


def test_chat_page_without_javascript_keeps_the_words_when_rate_limited(room, frozen_clock):
    for i in range(limit_of("chat")):
        post_chat_message(actor=room.ada, group=room.group, body=f"Hi {i}", client_id=f"c{i}")
    url = reverse("groups:chat", kwargs={"slug": room.group.slug})
    words = "Is anyone around tonight?"
    response = client_for(room.ada).post(url, {"body": words, "client_id": "late"})
    assert response.status_code == 429
    assert words in page_text(response)
    assert "sending messages very quickly" in page_text(response)
    assert int(response["Retry-After"]) > 0


def test_chat_refusals_are_logged(room, frozen_clock, security_log):
    for i in range(limit_of("chat")):
        post_chat_message(actor=room.ada, group=room.group, body=f"Hi {i}", client_id=f"c{i}")
    with pytest.raises(ChatError):
        post_chat_message(actor=room.ada, group=room.group, body="More", client_id="more")
    [event] = security_log("rate_limited")
    assert event["scope"] == "chat" and event["user"] == pseudonym(room.ada.pk)


# --- joining, flags, invites -------------------------------------------------------------------


def test_joining_past_the_limit_shows_the_plain_429_page(make_user, make_group, frozen_clock,
                                                         security_log):
    person = make_user("Jo")
    limit = limit_of("join")
    groups = [make_group(Group.Privacy.OPEN, questions=()) for _ in range(limit + 1)]
    web = client_for(person)
    for group in groups[:limit]:
        assert web.post(reverse("groups:join", kwargs={"slug": group.slug})).status_code == 302

    response = web.post(reverse("groups:join", kwargs={"slug": groups[-1].slug}))

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    text = page_text(response)
    assert "asked to join a lot of groups" in text and "Please wait a little" in text
    assert groups[-1].get_absolute_url() in text, "a way back to the group"
    assert not Membership.objects.filter(user=person, group=groups[-1]).exists()
    [event] = security_log("rate_limited")
    assert event["scope"] == "join" and event["user"] == pseudonym(person.pk)


def test_asking_to_join_past_the_limit_keeps_the_answers(make_user, make_group, frozen_clock):
    person = make_user("Jo")
    for _ in range(limit_of("join")):
        group = make_group(Group.Privacy.OPEN, questions=())
        client_for(person).post(reverse("groups:join", kwargs={"slug": group.slug}))
    asked = make_group(Group.Privacy.APPROVAL, questions=("Why would you like to join?",))

    answer = "My daughter was diagnosed last month."
    response = client_for(person).post(reverse("groups:join", kwargs={"slug": asked.slug}),
                                       {"answer_0": answer})

    assert response.status_code == 429
    assert answer in page_text(response)
    assert "asked to join a lot of groups" in page_text(response)
    assert not Membership.objects.filter(user=person, group=asked).exists()


def test_flagging_past_the_limit_keeps_the_note(room, frozen_clock, security_log):
    post = forums.reply(actor=room.ada, thread=room.thread, body="Buy my miracle cure")
    flagger = room.newcomer
    for _ in range(limit_of("flag")):
        flag_content(actor=flagger, kind="post", item_id=post.pk, reason="unsafe_advice")
    url = reverse("moderation:flag", kwargs={"kind": "post", "item_id": post.pk})
    note = "This could really hurt someone."

    response = client_for(flagger).post(url, {"reason": "unsafe_advice", "note": note})

    assert response.status_code == 429
    assert note in page_text(response)
    assert "flagged a lot in a short time" in page_text(response)
    assert "999" in page_text(response), "the way to real help is still there"
    assert Flag.objects.get(flagger=flagger).note == ""
    assert [e["scope"] for e in security_log("rate_limited")] == ["flag"]


def test_making_invites_past_the_limit_keeps_the_form(room, frozen_clock, security_log):
    for i in range(limit_of("invite")):
        create_invite(actor=room.owner, group=room.group, note=f"for {i}")
    url = reverse("groups:invites", kwargs={"slug": room.group.slug})

    response = client_for(room.owner).post(url, {"note": "For my neighbour",
                                                 "expires_in_days": 14})

    assert response.status_code == 429
    assert "For my neighbour" in page_text(response)
    assert "made a lot of invite links today" in page_text(response)
    assert Invite.objects.filter(group=room.group).count() == limit_of("invite")
    assert [e["scope"] for e in security_log("rate_limited")] == ["invite"]


# --- the 429 page and allauth's limits ----------------------------------------------------------


def test_a_rate_limit_no_view_caught_becomes_the_plain_429_page(make_user):
    request = RequestFactory().post("/somewhere/")
    request.user = make_user()
    request.session = {}
    refused = abuse.RateLimited("Please try again in about a minute.", scope="x",
                                retry_after=42)
    response = RefusalMiddleware(lambda r: None).process_exception(request, refused)
    assert response.status_code == 429
    assert response["Retry-After"] == "42"
    assert "Please try again in about a minute." in page_text(response)


def test_allauth_signup_limit_answers_with_our_429_page(client, settings, security_log):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "2/m/ip"}
    url = reverse("account_signup")
    for i in range(2):
        client.post(url, {"email": f"s{i}@example.org", "password1": "x", "password2": "y"})
    response = client.post(url, {"email": "s3@example.org", "password1": "x",
                                 "password2": "y"})
    assert response.status_code == 429
    assert "Please wait a little" in page_text(response)
    [event] = security_log("rate_limited")
    assert event["scope"] == "account:account_signup"
    assert "127.0.0.1" not in str(event), "the address is hashed, never written"


def test_failed_logins_are_limited_and_logged(client, make_user, security_log):
    person = make_user("Lou")
    url = reverse("account_login")
    for _ in range(5):  # "login_failed": 5 per five minutes for one address (email)
        client.post(url, {"login": person.email, "password": "wrong"})
    response = client.post(url, {"login": person.email, "password": "pw-Kindred-123!"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in page_text(response)
    assert [e["scope"] for e in security_log("rate_limited")] == ["login_failed"]
    assert person.email not in str(security_log())


# --- denied access ------------------------------------------------------------------------------


def test_a_refusal_inside_a_group_is_logged_with_the_path_only(room, make_user,
                                                               security_log):
    outsider = make_user("Olly")
    url = reverse("groups:chat", kwargs={"slug": room.group.slug})
    response = client_for(outsider).get(f"{url}?after=12345")
    assert response.status_code == 404
    [event] = security_log("access_denied")
    assert event["path"] == url, "the path, never the query string"
    assert event["user"] == pseudonym(outsider.pk)
    moderation = reverse("groups:requests", kwargs={"slug": room.group.slug})
    assert client_for(room.ada).get(moderation).status_code == 404
    assert security_log("access_denied")[-1]["path"] == moderation


def test_missing_pages_and_allowed_visits_are_not_logged_as_refusals(room, client,
                                                                     security_log):
    assert client_for(room.ada).get("/groups/no-such-group/chat/").status_code == 404
    chat = reverse("groups:chat", kwargs={"slug": room.group.slug})
    assert client_for(room.ada).get(chat).status_code == 200
    assert client.get(chat).status_code == 302  # anonymous: the login page, not a refusal
    assert security_log("access_denied") == []


# --- across processes ---------------------------------------------------------------------------

COUNT_IN_ANOTHER_PROCESS = """
import django
django.setup()
import sys
from community import ratelimit
for _ in range(int(sys.argv[3])):
    assert ratelimit.hit(sys.argv[1], sys.argv[2], [(int(sys.argv[3]), 86400)]) is None
from django.test import RequestFactory
from django.test.utils import setup_test_environment
setup_test_environment()
from allauth.core.internal import ratelimit as allauth_limits
request = RequestFactory().post("/accounts/login/")
for _ in range(5):
    assert allauth_limits.consume(request, app="allauth.account", action="login_failed",
                                  key="testserver:" + sys.argv[4])
print("counted")
"""


@pytest.fixture
def shared_redis(settings):
    url = os.environ.get("REDIS_URL", "").strip()
    need_service("Redis", bool(url), "set REDIS_URL to a Redis the tests may use")
    prefix = f"{settings.CACHES['default'].get('KEY_PREFIX', 'test')}-2p"
    settings.REDIS_URL = url
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": url, "KEY_PREFIX": prefix}}
    return SimpleNamespace(url=url, prefix=prefix)


def count_in_another_process(shared_redis, scope: str, key: str, limit: int, email: str):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "REDIS_URL": shared_redis.url, "KINDRED_CACHE_PREFIX": shared_redis.prefix}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", COUNT_IN_ANOTHER_PROCESS, scope, key, str(limit), email],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "counted" in result.stdout, result.stderr


@pytest.mark.redis
def test_limits_count_across_processes_through_redis(shared_redis, settings, make_user,
                                                     client, security_log):
    settings.KINDRED_RATE_LIMITS = {**settings.KINDRED_RATE_LIMITS, "join": "3/d"}
    person = make_user("Pat")
    count_in_another_process(shared_redis, "join", str(person.pk), 3, person.email)

    # This process is refused: the other one used the whole allowance.
    with pytest.raises(abuse.RateLimited):
        abuse.check_rate("join", user=person)
    # allauth's limits share the same cache: five failed logins elsewhere lock this one.
    response = client.post(reverse("account_login"),
                           {"login": person.email, "password": "pw-Kindred-123!"})
    assert "Too many failed login attempts" in page_text(response)
    assert "_auth_user_id" not in client.session
    assert {e["scope"] for e in security_log("rate_limited")} == {"join", "login_failed"}


def test_production_settings_keep_the_cache_in_redis_when_redis_url_is_set():
    # Only the settings are read: nothing connects to Redis here.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "REDIS_URL": "redis://127.0.0.1:6379/3"}
    env.pop("PYTEST_VERSION", None)
    env.update(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 60)
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import django; django.setup(); from django.conf import "
         "settings as s; print(s.CACHES['default']['BACKEND'])"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"django\.core\.cache\.backends\.redis\.RedisCache\s*", result.stdout)
