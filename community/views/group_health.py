"""Group health for owners and moderators: aggregated figures, a CSV, the check-in switch.

Every page here is 404 to everyone but the group's moderators, owners and site staff.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from community import policy
from community.forms_welcome import CheckInSettingForm
from community.models import Group
from community.selectors_health import (
    FEWER,
    K_ANONYMITY,
    NOT_ENOUGH,
    UNANSWERED_MONTHS,
    csv_rows,
    group_health,
)
from community.services import health as checkins
from community.views.groups import group_page_context


def _health_group(request, slug: str) -> Group:
    group = Group.objects.filter(slug=slug).first()
    if group is None or not policy.can_view_group_health(request.user, group):
        raise Http404("Not found")
    return group


@require_GET
def health(request, slug: str):
    group = _health_group(request, slug)
    figures = group_health(group)
    return render(request, "community/health.html", group_page_context(
        request, group, health=figures, fewer=FEWER, k=K_ANONYMITY, not_enough=NOT_ENOUGH,
        unanswered_months=UNANSWERED_MONTHS,
        can_change_checkins=policy.can_change_checkins(request.user, group),
        checkin_form=CheckInSettingForm(initial={"checkins_enabled": group.checkins_enabled}),
    ))


@require_GET
def health_csv(request, slug: str):
    """The same aggregated figures for commissioners: no names and no words."""
    group = _health_group(request, slug)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = (
        f'attachment; filename="{group.slug}-health-{stamp}.csv"'
    )
    writer = csv.writer(response)
    writer.writerows(csv_rows(group_health(group)))
    return response


@require_POST
def health_checkins(request, slug: str):
    group = Group.objects.filter(slug=slug).first()
    if group is None or not policy.can_change_checkins(request.user, group):
        raise Http404("Not found")
    form = CheckInSettingForm(request.POST)
    enabled = form.is_valid() and form.cleaned_data["checkins_enabled"]
    checkins.set_checkins(actor=request.user, group=group, enabled=enabled)
    if enabled:
        messages.success(request, "The monthly check-in is on. Members will see the question "
                         "on the group's page once a month.")
    else:
        messages.success(request, "The monthly check-in is off.")
    return redirect("groups:health", slug=group.slug)
