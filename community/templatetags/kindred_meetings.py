"""`{% next_meeting group %}`: the group's next meeting, for the group home page (so the
home view itself needs no change)."""

from __future__ import annotations

from django import template
from django.utils import timezone

from community import policy
from community.selectors_meetings import next_entry

register = template.Library()


@register.inclusion_tag("community/meetings/_next.html", takes_context=True)
def next_meeting(context, group):
    request = context.get("request")
    user = getattr(request, "user", None)
    entry = next_entry(group, timezone.now()) if policy.can_read_content(user, group) else None
    return {"group": group, "next_entry": entry, "readable": entry is not None}
