"""`{% local_panel %}`: on an online group's home page, its members see the nearby count,
the "let people near me know I'm here" choice and the way to start a local group."""

from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("community/_local_online.html", takes_context=True)
def local_panel(context) -> dict:
    from community.views.local_groups import home_context

    request, group = context.get("request"), context.get("group")
    if request is None or group is None:
        return {}
    return {"group": group, "csrf_token": context.get("csrf_token"),
            **home_context(request, group)}
