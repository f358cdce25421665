"""Response headers and the deployment checks.

CSP (no inline script or style, nothing framed, no <base>, the chat socket allowed), HSTS,
`Cache-Control: private, no-store` for signed-in people and everything inside a group
(static files stay cacheable), `X-Robots-Tag: noindex` on everything inside a group, and
`check --deploy --fail-level WARNING` clean with production settings.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from community.models import Group
from config.settings import websocket_sources
from forums import services as forums
from forums.models import Category, Thread
from tests.conftest import add_membership

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "kindred.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://kindred.example.org",
    "DJANGO_SSL_REDIRECT": "1",
    "DJANGO_HSTS_SECONDS": "31536000",
    "REDIS_URL": "redis://127.0.0.1:6379/3",  # read, never contacted, by the checks
}


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def csp_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def place(make_user, make_group):
    """An open and an approval group, each with a forum thread, and a member of both."""
    open_group = make_group(Group.Privacy.OPEN, name="Open Hearts")
    private = make_group(Group.Privacy.APPROVAL, name="Quiet Room")
    member = make_user("Mia")
    for group in (open_group, private):
        add_membership(member, group, "approved")
        forums.create_default_categories(group)
        forums.start_thread(actor=member, group=group,
                            category=Category.objects.filter(group=group).first(),
                            title="Hello", body="Hello all")
    return open_group, private, member


def group_urls(group: Group) -> list[str]:
    thread = Thread.objects.filter(group=group).first()
    return [
        reverse("groups:home", kwargs={"slug": group.slug}),
        reverse("groups:chat", kwargs={"slug": group.slug}),
        reverse("groups:members", kwargs={"slug": group.slug}),
        reverse("groups:meetings", kwargs={"slug": group.slug}),
        reverse("forums:index", kwargs={"slug": group.slug}),
        reverse("forums:thread", kwargs={"slug": group.slug, "thread_id": thread.pk}),
        f"/groups/{group.slug}/no-such-page/",
    ]


# --- CSP ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_csp_allows_no_inline_script_or_style_no_framing_and_no_base(client):
    csp = csp_of(client.get("/"))
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    for directive, sources in csp.items():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(sources), directive


@pytest.mark.django_db
def test_csp_lets_the_chat_page_open_its_websocket(place):
    _, private, member = place
    response = logged_in(member).get(reverse("groups:chat", kwargs={"slug": private.slug}))
    connect = csp_of(response)["connect-src"]
    assert "'self'" in connect
    # Safari and other CSP Level 2 browsers don't count ws: as 'self': spelled out too.
    assert "ws://127.0.0.1:*" in connect and "wss://127.0.0.1:*" in connect


def test_websocket_sources_follow_the_allowed_hosts():
    assert websocket_sources(["kindred.example.org"], secure=True) == [
        "wss://kindred.example.org"]
    assert websocket_sources([".example.org", "*", "[::1]"], secure=True) == [
        "wss://*.example.org"]
    assert websocket_sources(["localhost"], secure=False) == [
        "ws://localhost:*", "wss://localhost:*"]


def test_no_template_uses_inline_script_inline_style_handlers_or_base():
    """The CSP would block them; pages must work without. (Emails are not web pages.)"""
    offending = []
    for path in TEMPLATES.rglob("*.html"):
        if path.relative_to(TEMPLATES).parts[0] == "email":
            continue
        text = path.read_text(encoding="utf-8")
        for script in re.findall(r"<script\b[^>]*>", text, re.I):
            if "src=" not in script and 'type="application/json"' not in script:
                offending.append(f"{path.name}: inline {script}")
        for pattern, what in ((r"<style\b", "<style>"), (r"\sstyle\s*=", "style="),
                              (r"<base\b", "<base>"), (r"\son[a-z]+\s*=", "on…= handler"),
                              (r"javascript:", "javascript: URL")):
            if re.search(pattern, text, re.I):
                offending.append(f"{path.relative_to(TEMPLATES)}: {what}")
    assert offending == []


# --- HSTS -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_hsts_is_sent_over_https_for_a_year_with_subdomains_and_preload(client):
    response = client.get("/help/", secure=True)
    hsts = response["Strict-Transport-Security"]
    assert "max-age=31536000" in hsts
    assert "includeSubDomains" in hsts and "preload" in hsts


# --- Cache-Control ------------------------------------------------------------------------------


def no_store(response) -> bool:
    value = response.get("Cache-Control", "")
    return "no-store" in value and "private" in value


@pytest.mark.django_db
def test_every_page_a_signed_in_person_sees_is_no_store(place):
    open_group, private, member = place
    web = logged_in(member)
    for url in ["/", "/help/", "/groups/", reverse("notifications"), reverse("profile"),
                "/places/?q=Leeds&format=json", *group_urls(private)]:
        response = web.get(url)
        assert no_store(response), f"{url}: {response.get('Cache-Control')}"
        assert "Expires" not in response


@pytest.mark.django_db
def test_every_page_inside_a_group_is_no_store_for_everyone(client, place):
    open_group, private, _ = place
    for url in group_urls(open_group) + group_urls(private):
        response = client.get(url)
        assert no_store(response), f"{url} ({response.status_code})"


@pytest.mark.django_db
def test_public_pages_and_static_files_stay_cacheable(client, place):
    _, _, member = place
    assert not no_store(client.get("/"))
    assert not no_store(client.get("/help/"))
    for web in (client, logged_in(member)):
        response = web.get("/static/css/kindred.css")
        assert response.status_code == 200
        assert "no-store" not in response.get("Cache-Control", "")


# --- X-Robots-Tag -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_everything_inside_a_group_says_noindex_to_everyone(client, place):
    open_group, private, member = place
    for web in (client, logged_in(member)):
        for url in group_urls(open_group) + group_urls(private):
            response = web.get(url)
            assert "noindex" in response.get("X-Robots-Tag", ""), (
                f"{url} ({response.status_code})")


@pytest.mark.django_db
def test_the_front_and_help_pages_may_be_indexed(client):
    for url in ("/", "/help/"):
        assert "X-Robots-Tag" not in client.get(url)


# --- deployment checks --------------------------------------------------------------------------


def run_with_production_settings(args: list[str], **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST") and k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(PRODUCTION_ENV, DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
               DJANGO_SETTINGS_MODULE="config.settings")
    env.update(extra)
    env = {k: v for k, v in env.items() if v != ""}
    return subprocess.run(  # noqa: S603
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=False)


def test_check_deploy_passes_with_production_settings():
    result = run_with_production_settings(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_when_rate_limits_would_not_be_shared():
    result = run_with_production_settings(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], REDIS_URL="")
    assert result.returncode != 0
    assert "kindred.W001" in result.stdout + result.stderr


def test_production_csp_allows_only_the_sites_own_secure_websocket():
    result = run_with_production_settings(["-c", (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.CONTENT_SECURITY_POLICY, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE]))")])
    assert result.returncode == 0, result.stderr
    csp, ssl_redirect, hsts, secure_cookie = json.loads(result.stdout)
    assert csp["DIRECTIVES"]["connect-src"] == ["'self'", "wss://kindred.example.org"]
    assert csp["DIRECTIVES"]["base-uri"] == ["'none'"]
    assert ssl_redirect and secure_cookie and hsts >= 31536000
