"""A person's own profile and notifications, and other members' profiles."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from community import policy, selectors, services
from community.forms import ProfileForm
from community.views.groups import add_errors


def home_town_label(user) -> str:
    """The person's own town as they picked it ("Newport, Wales"), for their form only."""
    from community import gazetteer

    place = gazetteer.get(user.home_place_id) if user.home_place_id else None
    return place.label if place else user.home_town


@login_required
def edit_profile(request):
    user = request.user
    initial = {
        "display_name": user.display_name,
        "about": user.about,
        "home_town": home_town_label(user),
        "appear_offline": user.appear_offline,
        "email_notifications": user.email_notifications,
    }
    form = ProfileForm(request.POST or None, initial=initial, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_profile(actor=user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Your profile has been saved.")
            return redirect("profile")
    groups = policy.member_groups(user).order_by("name")
    return render(request, "community/profile_edit.html", {"form": form, "groups": groups})


@login_required
def person(request, user_id: int):
    person = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if person is None or not policy.can_view_profile(request.user, person):
        raise Http404("Not found")
    shared = policy.member_groups(request.user).filter(
        memberships__user=person, memberships__status="approved"
    ).order_by("name")
    return render(request, "community/person.html", {"person": person, "shared": shared})


@login_required
def notifications(request):
    page = Paginator(selectors.notifications_for(request.user), 30).get_page(
        request.GET.get("page")
    )
    return render(request, "community/notifications.html", {"page": page})


@login_required
@require_POST
def notifications_read(request):
    services.mark_notifications_read(actor=request.user)
    messages.success(request, "All notifications are marked as read.")
    return redirect("notifications")
