"""The front page and "Get help now"."""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from django.shortcuts import render

from community import policy, selectors
from community.models import Group
from community.security_log import security_event
from community.security_middleware import rate_limited_page

ACCOUNT_LIMIT = ("That has been tried a lot from here in a short time. To keep accounts "
                 "safe, please wait a few minutes and try again.")


def home(request):
    my_groups = []
    if policy.is_authenticated(request.user):
        my_groups = list(policy.member_groups(request.user).order_by("name")[:20])
    return render(request, "community/home.html", {"my_groups": my_groups})


def _readable_group(request) -> Group | None:
    """The group named by `?group=`, only if this person may read its content. Anything
    else is ignored without a word, so the page never reveals a private group."""
    slug = (request.GET.get("group") or "").strip()
    if not slug or len(slug) > 60:
        return None
    group = Group.objects.filter(slug=slug).first()
    if group is None or not policy.can_read_content(request.user, group):
        return None
    return group


def help_now(request):
    """Crisis and support signposts from the database (crisis first), and with
    `?group=<slug>` the group's own, for people who may read that group. No login needed."""
    group = _readable_group(request)
    group_topics = selectors.by_topic(list(selectors.group_signposts(group))) if group else []
    response = render(request, "community/help.html", {
        "topics": selectors.by_topic(selectors.site_signposts()),
        "help_group": group,
        "group_topics": group_topics,
    })
    if group is not None:  # a group's own page of help is not for search engines
        response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    return response


def too_many_requests(request, exception=None):
    """allauth's own rate limits (sign-up, log-in, password reset, ACCOUNT_RATE_LIMITS)
    answer with this page (it looks for `handler429` in the root URLconf)."""
    match = getattr(request, "resolver_match", None)
    security_event("rate_limited", user=getattr(request, "user", None),
                   scope=f"account:{getattr(match, 'url_name', '') or 'unknown'}",
                   ip=get_adapter().get_client_ip(request))
    return rate_limited_page(request, ACCOUNT_LIMIT, retry_after=60)
