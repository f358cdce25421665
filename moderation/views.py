"""The moderation home: what needs a moderator's attention in the groups they look after."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from moderation.selectors import moderated_groups_with_counts


@login_required
def queue(request):
    page = Paginator(moderated_groups_with_counts(request.user), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "moderation/queue.html", {"page": page})
