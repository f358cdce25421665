"""Abuse controls shared by every way in: per-person rate limits and the rules for new
accounts, with the words a person sees when one of them says "not now".

The numbers live in settings (`KINDRED_RATE_LIMITS`, one dict operators can tune); the
counts live in the shared store (`community.ratelimit`: Redis in production), so a person
gets the same allowance whichever web process serves them. Services call `check_rate`
and `check_links` before they write; views show the refusal beside the form (the
person's words stay in it) with status 429, and the chat socket sends an `error` frame.
Every refusal is written to the security log.

A person in distress may write a lot: the limits are set so that normal use, even heavy
use, never meets them, and the messages are plain and kind.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from community import ratelimit
from community.security_log import security_event

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
# What counts as a link: a web address with its scheme, or one starting "www.".
LINK = re.compile(r"(?i)\bhttps?://|\bwww\.")

STILL_HERE = "Your words are still here."

# What a person is told, by scope; {wait} is "in about 20 minutes" and the like.
MESSAGES = {
    "chat": "You're sending messages very quickly. Please wait {wait} and try again.",
    "post": "You have posted a lot in a short time. Please take a short break: you can "
            "post again {wait}. " + STILL_HERE,
    "thread": "You have started a lot of threads in a short time. You can reply in one of "
              "them now, or start a new thread {wait}. " + STILL_HERE,
    "join": "You have asked to join a lot of groups in a short time. Please try again "
            "{wait}.",
    "flag": "Thank you for looking out for people. You have flagged a lot in a short time, "
            "so please try again {wait}. If someone is in danger right now, call 999.",
    "invite": "You have made a lot of invite links today. You can share one you already "
              "have, or make a new one {wait}.",
}
GENERIC = "You have done that a lot in a short time. Please try again {wait}."
NEW_ACCOUNT = ("Welcome to Kindred. In their first day, new accounts can post a little "
               "less often, to help keep groups free of spam. You can post again {wait}.")
NEW_ACCOUNT_LINKS = ("Links can be shared once you have written a few posts or messages, "
                     "to help keep groups free of spam. Please take the link out for now "
                     "(you could say where to find it instead) and send it again. "
                     + STILL_HERE)


class RateLimited(ValidationError):
    """A person has done this too often for now: shown beside the form, status 429."""

    status_code = 429

    def __init__(self, message: str, *, scope: str, retry_after: int):
        super().__init__(message, code="rate_limited")
        self.scope = scope
        self.retry_after = retry_after


class LinksNotYet(ValidationError):
    """A new account's first few posts and messages may not carry links."""

    status_code = 400

    def __init__(self, message: str = NEW_ACCOUNT_LINKS):
        super().__init__(message, code="links_not_yet")


@cache
def parse_rates(spec: str) -> tuple[tuple[int, int], ...]:
    """ "20/10m" or "5/10s,120/h" -> ((20, 600),) or ((5, 10), (120, 3600))."""
    rates = []
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        match = _RATE.match(part)
        if match is None:
            raise ValueError(f"Not a rate: {part!r} (write it like '20/10m' or '10/h').")
        count, number, unit = match.groups()
        rates.append((int(count), int(number or 1) * UNITS[unit]))
    return tuple(rates)


def is_new_account(user: Any, *, now=None) -> bool:
    """Joined less than KINDRED_NEW_ACCOUNT_HOURS ago (site staff never count as new)."""
    joined = getattr(user, "date_joined", None)
    if joined is None or getattr(user, "is_staff", False):
        return False
    now = now or timezone.now()
    return joined > now - timedelta(hours=settings.KINDRED_NEW_ACCOUNT_HOURS)


def rates_for(scope: str, user: Any) -> tuple[tuple[int, int], ...]:
    """The rates that apply to this person: `<scope>_new` for a new account, if set."""
    limits = settings.KINDRED_RATE_LIMITS
    if is_new_account(user) and f"{scope}_new" in limits:
        return parse_rates(limits[f"{scope}_new"])
    return parse_rates(limits.get(scope, ""))


def wait_words(seconds: int) -> str:
    if seconds <= 15:
        return "in a few seconds"
    if seconds < 60:
        return f"in about {seconds} seconds"
    if seconds < 90:
        return "in about a minute"
    if seconds < 55 * 60:
        return f"in about {round(seconds / 60)} minutes"
    if seconds < 90 * 60:
        return "in about an hour"
    return f"in about {round(seconds / 3600)} hours"


def check_rate(scope: str, *, user: Any, key: str | None = None) -> None:
    """Count one `scope` event for this person; raise RateLimited once over the limit.

    `key` narrows the count (chat counts per member per group); it defaults to the
    person. New accounts use the `<scope>_new` rates and hear why in the message.
    """
    rates = rates_for(scope, user)
    exceeded = ratelimit.hit(scope, key or str(user.pk), rates)
    if exceeded is None:
        return
    limit, window, retry_after = exceeded
    new = is_new_account(user) and f"{scope}_new" in settings.KINDRED_RATE_LIMITS
    security_event("rate_limited", user=user, scope=scope, limit=limit, window=window,
                   new_account=new)
    template = NEW_ACCOUNT if new and scope in {"chat", "post", "thread"} else (
        MESSAGES.get(scope, GENERIC))
    message = template.format(wait=wait_words(retry_after))
    if new and scope in {"post", "thread"}:
        message = f"{message} {STILL_HERE}"
    raise RateLimited(message, scope=scope, retry_after=retry_after)


def has_link(text: str) -> bool:
    return bool(LINK.search(text or ""))


def _written(user: Any, enough: int) -> int:
    """How many posts and chat messages this person has written, counted up to `enough`."""
    chat_message = apps.get_model("community", "ChatMessage")
    post = apps.get_model("forums", "Post")
    written = chat_message.objects.filter(author=user)[:enough].count()
    if written < enough:
        written += post.objects.filter(author=user)[: enough - written].count()
    return written


def check_links(*, user: Any, text: str, scope: str) -> None:
    """A new account's first few posts and messages (together) may not carry links.

    Costs nothing for established members and for text without a link; otherwise one
    or two small counts."""
    if not has_link(text) or not is_new_account(user):
        return
    free = settings.KINDRED_NEW_ACCOUNT_LINK_FREE_POSTS
    if _written(user, free) >= free:
        return
    security_event("link_refused", user=user, scope=scope, new_account=True)
    raise LinksNotYet()
