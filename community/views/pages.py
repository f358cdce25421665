"""The front page and "Get help now"."""

from __future__ import annotations

from django.shortcuts import render

from community import policy, selectors
from community.models import Group


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
