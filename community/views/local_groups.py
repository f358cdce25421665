"""From online to local: "let people near me know I'm here", the nearby count, and
starting a local group from an online one. Members of the online group only."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from community import policy, selectors_near
from community.forms_local import StartLocalGroupForm
from community.models import Group
from community.services import local_groups as local_services
from community.views.groups import add_errors, group_page_context


def online_group_member(view):
    """Resolve `slug` to an online group the viewer belongs to. Anonymous people are asked
    to log in (where the group may be known to exist); everyone else gets 404."""

    @wraps(view)
    def wrapped(request, slug: str, *args, **kwargs):
        group = Group.objects.filter(slug=slug).first()
        if group is None:
            raise Http404("Not found")
        if not request.user.is_authenticated:
            if policy.content_access(request.user, group) == policy.ContentAccess.LOGIN:
                return redirect_to_login(request.get_full_path())
            raise Http404("Not found")
        if not policy.is_member(request.user, group) or group.format != Group.Format.ONLINE:
            raise Http404("Not found")
        return view(request, group, *args, **kwargs)

    return wrapped


def home_context(request, group: Group) -> dict:
    """Extras for an online group's home page: members only, nothing for anyone else."""
    user = request.user
    if group.format != Group.Format.ONLINE or not policy.is_member(user, group):
        return {}
    return {
        "local": {
            "nearby_count": selectors_near.nearby_count(
                group, user, miles=local_services.NEARBY_MILES),
            "nearby_miles": local_services.NEARBY_MILES,
            "has_home": user.home_latitude is not None,
            "sharing": bool(getattr(policy.membership_of(user, group), "share_nearby", False)),
            "groups": list(selectors_near.local_groups_of(user, group)[:20]),
        }
    }


@require_POST
@online_group_member
def share_nearby(request, group: Group):
    share = request.POST.get("share_nearby") == "1"
    local_services.set_share_nearby(actor=request.user, group=group, share=share)
    if share:
        messages.success(request, "Thank you. Members near you will see a count that "
                         "includes you, never your name or town.")
    else:
        messages.success(request, "You are no longer counted for members near you.")
    return redirect(group)


@require_http_methods(["GET", "POST"])
@online_group_member
def start_local(request, group: Group):
    form = StartLocalGroupForm(request.POST or None,
                               initial=StartLocalGroupForm.initial_from(group))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            local = local_services.start_local_group(
                actor=request.user, parent=group, name=data["name"],
                description=data["description"], town=data["town"], privacy=data["privacy"],
                rules=data["rules"], welcome_message=data["welcome_message"],
                questions=form.questions(),
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            if local.status == Group.Status.PENDING:
                messages.info(request, "Thank you! Your local group is waiting for a quick "
                              "check by the Kindred team. We'll let you know when it is open.")
            else:
                messages.success(request, "Your local group is ready. Welcome, founder!")
            return redirect(local)
    status = 400 if request.method == "POST" else 200
    context = group_page_context(
        request, group, form=form,
        town_suggestions=getattr(form, "town_suggestions", {}).get("town", []),
    )
    return render(request, "community/start_local.html", context, status=status)
