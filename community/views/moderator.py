"""Moderator pages of a group: join requests, member actions and invite links.

Every page here is 404 to everyone but the group's moderators, owners and site staff.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from community import policy, selectors, services
from community.abuse import RateLimited
from community.forms import DecisionForm, InviteForm, MuteForm, ReasonForm, RoleForm
from community.models import Invite, Membership
from community.views.groups import group_page_context
from moderation.selectors import audit_entries_for_group


def join_requests(request, slug: str):
    group = policy.get_moderated_group(request.user, slug)
    page = Paginator(selectors.pending_requests(group), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "community/join_requests.html",
        group_page_context(request, group, page=page, form=DecisionForm()),
    )


@require_POST
def decide_request(request, slug: str, membership_id: int, decision: str):
    group = policy.get_moderated_group(request.user, slug)
    membership = get_object_or_404(
        Membership.objects.select_related("user", "group"), pk=membership_id, group=group
    )
    form = DecisionForm(request.POST)
    message = form.cleaned_data["message"] if form.is_valid() else ""
    service = {
        "approve": services.approve_membership,
        "decline": services.decline_membership,
    }.get(decision)
    if service is None:
        raise Http404("Not found")
    try:
        service(actor=request.user, membership=membership, message=message)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        verb = "accepted" if decision == "approve" else "declined"
        messages.success(request, f"You {verb} {membership.user.display_name}'s request.")
    return redirect("groups:requests", slug=group.slug)


def _member_of(group, membership_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user", "group"), pk=membership_id, group=group
    )


@require_POST
def member_action(request, slug: str, membership_id: int, action: str):
    group = policy.get_moderated_group(request.user, slug)
    membership = _member_of(group, membership_id)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = reverse("groups:members", kwargs={"slug": group.slug})
    try:
        if action == "role":
            policy.require(policy.can_manage_roles(request.user, group))
            form = RoleForm(request.POST)
            if not form.is_valid():
                raise ValidationError("Please choose a role from the list.")
            services.set_role(actor=request.user, membership=membership,
                              role=form.cleaned_data["role"])
            done = f"{membership.user.display_name}'s role has been changed."
        elif action == "mute":
            form = MuteForm(request.POST)
            if not form.is_valid():
                raise ValidationError("Please give a reason and choose how long.")
            services.mute_member(actor=request.user, membership=membership,
                                 hours=int(form.cleaned_data["hours"]),
                                 reason=form.cleaned_data["reason"])
            done = f"{membership.user.display_name}'s messages are paused."
        elif action == "unmute":
            services.unmute_member(actor=request.user, membership=membership,
                                   reason=request.POST.get("reason", ""))
            done = f"{membership.user.display_name} can send messages again."
        elif action in {"remove", "ban", "unban"}:
            form = ReasonForm(request.POST)
            reason = form.cleaned_data["reason"] if form.is_valid() else ""
            service = {
                "remove": services.remove_member,
                "ban": services.ban_member,
                "unban": services.unban_member,
            }[action]
            service(actor=request.user, membership=membership, reason=reason)
            done = {
                "remove": f"{membership.user.display_name} has been removed from the group.",
                "ban": f"{membership.user.display_name} has been banned from the group.",
                "unban": f"{membership.user.display_name}'s ban has been lifted.",
            }[action]
        else:
            raise Http404("Not found")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect(back)


def banned_list(request, slug: str):
    group = policy.get_moderated_group(request.user, slug)
    page = Paginator(selectors.banned_people(group), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "community/banned_list.html",
        group_page_context(request, group, page=page),
    )


def invites(request, slug: str):
    group = policy.get_moderated_group(request.user, slug)
    form = InviteForm(request.POST or None)
    refused = None
    if request.method == "POST" and form.is_valid():
        try:
            invite = services.create_invite(
                actor=request.user,
                group=group,
                note=form.cleaned_data["note"],
                expires_in_days=form.cleaned_data["expires_in_days"],
                max_uses=form.cleaned_data["max_uses"],
            )
        except RateLimited as error:  # made a lot today: the page says when to try again
            form.add_error(None, error)
            refused = error
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, "Your invite link is ready to share.")
            return redirect(f"{reverse('groups:invites', kwargs={'slug': group.slug})}"
                            f"#invite-{invite.pk}")
    page = Paginator(selectors.group_invites(group), 25).get_page(request.GET.get("page"))
    status = 400 if request.method == "POST" else 200
    response = render(
        request,
        "community/invites.html",
        group_page_context(request, group, form=form, page=page),
        status=429 if refused else status,
    )
    if refused:
        response["Retry-After"] = str(refused.retry_after)
    return response


@require_POST
def revoke_invite(request, slug: str, invite_id: int):
    group = policy.get_moderated_group(request.user, slug)
    invite = get_object_or_404(Invite, pk=invite_id, group=group)
    services.revoke_invite(actor=request.user, invite=invite)
    messages.success(request, "That invite link no longer works.")
    return redirect("groups:invites", slug=group.slug)


def audit_log(request, slug: str):
    """The group's moderation record, for its moderators (read only, like everywhere)."""
    group = policy.get_moderated_group(request.user, slug)
    page = Paginator(audit_entries_for_group(group), 50).get_page(request.GET.get("page"))
    return render(
        request, "community/audit_log.html", group_page_context(request, group, page=page)
    )
