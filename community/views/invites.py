"""Following an invite link."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from community import policy, services
from community.services.invites import InviteUnusable, usable_invite
from community.services.membership import BannedError


def _unusable(request):
    return render(request, "community/invite_unusable.html", status=404)


def accept_invite(request, token: str):
    try:
        invite = usable_invite(token)
    except InviteUnusable:
        return _unusable(request)
    group = invite.group
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if policy.standing(request.user, group) == policy.Standing.BANNED:
        if group.is_invite_only:
            return _unusable(request)
        return render(request, "community/invite_unusable.html",
                      {"message": "You can't rejoin this group because its moderators have "
                       "removed you."}, status=403)
    if request.method == "POST":
        try:
            services.join_with_invite(actor=request.user, token=token)
        except InviteUnusable:
            return _unusable(request)
        except BannedError as error:
            return render(request, "community/invite_unusable.html",
                          {"message": " ".join(error.messages)}, status=403)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"You have joined {group.name}. Welcome!")
            return redirect(group)
    if policy.is_member(request.user, group):
        return redirect(group)
    return render(request, "community/invite_accept.html", {"group": group, "invite": invite})
