"""The welcome panel and the monthly check-in on a group's home page.

Both ask the policy and the check-in service, so the group page needs no more than
`{% welcome_panel %}` and `{% checkin_prompt %}` (each costs at most one query).
"""

from __future__ import annotations

from django import template

from community import policy
from community.forms_welcome import CheckInForm
from community.models import Membership
from community.services import health as checkins

register = template.Library()


@register.inclusion_tag("community/_welcome_panel.html", takes_context=True)
def welcome_panel(context) -> dict:
    group = context.get("group")
    user = context.get("user")
    membership = context.get("membership")
    show = (
        group is not None
        and membership is not None
        and membership.status == Membership.Status.APPROVED
        and membership.role != Membership.Role.OWNER  # founders wrote the welcome
        and membership.welcome_seen_at is None
        and policy.is_member(user, group)
    )
    return {"show": show, "group": group, "csrf_token": context.get("csrf_token"),
            "request": context.get("request")}


@register.inclusion_tag("community/_checkin.html", takes_context=True)
def checkin_prompt(context) -> dict:
    group = context.get("group")
    user = context.get("user")
    show = (
        group is not None
        and policy.can_check_in(user, group)
        and not checkins.has_answered(user=user, group=group)
    )
    return {"show": show, "group": group, "checkin_form": CheckInForm() if show else None,
            "csrf_token": context.get("csrf_token"), "request": context.get("request")}
