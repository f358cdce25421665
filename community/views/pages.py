"""The front page and "Get help now"."""

from __future__ import annotations

from django.shortcuts import render

from community import policy
from community.signposts import crisis_signposts


def home(request):
    my_groups = []
    if policy.is_authenticated(request.user):
        my_groups = list(policy.member_groups(request.user).order_by("name")[:20])
    return render(request, "community/home.html", {"my_groups": my_groups})


def help_now(request):
    return render(request, "community/help.html", {"signposts": crisis_signposts()})
