"""Finding, starting, joining and leaving groups."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from community import policy, selectors, services
from community.abuse import RateLimited
from community.forms import GroupSearchForm, JoinRequestForm
from community.models import Group
from community.security_middleware import rate_limited_page
from community.services.membership import BannedError
from community.views.places import near_context


def add_errors(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form so the page shows it by the field."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def group_directory(request):
    form = GroupSearchForm(request.GET or None)
    q = kind = ""
    if form.is_valid():
        q = form.cleaned_data["q"].strip()
        kind = form.cleaned_data["kind"]
    page = Paginator(selectors.group_directory(request.user, q=q, kind=kind), 20).get_page(
        request.GET.get("page")
    )
    selectors.prime_memberships(request.user, list(page.object_list))
    entries = [(group, policy.standing(request.user, group)) for group in page.object_list]
    return render(
        request,
        "community/group_list.html",
        {"form": form, "page": page, "entries": entries, "q": q, "kind": kind,
         **near_context(request, form)},
    )


def group_new(request):
    """`/groups/new/`: the first step of the guided "Start a group" form (group_wizard)."""
    from community.views.group_wizard import wizard

    return wizard(request)


def group_page_context(request, group: Group, **extra) -> dict:
    """What every page of a group needs for its header: the viewer's view and powers."""
    user = request.user
    context = {
        "group": group,
        "view": policy.home_view(user, group),
        "can_moderate": policy.can_moderate(user, group),
        "can_manage_roles": policy.can_manage_roles(user, group),
    }
    if context["can_moderate"]:
        context["pending_count"] = selectors.pending_request_count(group)
    context.update(extra)
    return context


def _home_context(request, group: Group, join_form=None) -> dict:
    user = request.user
    context = group_page_context(
        request,
        group,
        standing=policy.standing(user, group),
        membership=policy.membership_of(user, group),
        questions=list(group.questions.all()),
        can_join=policy.can_request_to_join(user, group),
    )
    if context["can_join"] and not group.is_open:
        context["join_form"] = join_form or JoinRequestForm(questions=context["questions"])
    return context


def group_home(request, slug: str):
    group = policy.get_group_for(request.user, slug)
    context = _home_context(request, group)
    status = 403 if context["view"] == policy.HomeView.REFUSED else 200
    return render(request, "community/group_home.html", context, status=status)


@require_POST
def group_join(request, slug: str):
    group = policy.get_group_for(request.user, slug)
    if not request.user.is_authenticated:
        return redirect_to_login(group.get_absolute_url())
    where = policy.standing(request.user, group)
    if where == policy.Standing.BANNED:
        context = _home_context(request, group)
        return render(request, "community/group_home.html", context, status=403)
    if where in policy.MEMBER_STANDINGS or where == policy.Standing.PENDING:
        return redirect(group)
    if group.is_invite_only:
        raise policy.NotAllowed("Not found")
    questions = list(group.questions.all())
    form = JoinRequestForm(request.POST, questions=questions)
    if group.is_open or form.is_valid():
        try:
            if group.is_open:
                services.join_open_group(actor=request.user, group=group)
            else:
                services.request_membership(
                    actor=request.user, group=group, answers=form.answers()
                )
        except BannedError:
            policy.forget_memberships(request.user)
            return render(
                request, "community/group_home.html", _home_context(request, group), status=403
            )
        except RateLimited as error:
            if group.is_open:  # a button, not a form: the plain 429 page
                return rate_limited_page(request, error.messages[0],
                                         retry_after=error.retry_after,
                                         back=group.get_absolute_url())
            add_errors(form, error)  # the answers stay in the form
            response = render(request, "community/group_home.html",
                              _home_context(request, group, join_form=form), status=429)
            response["Retry-After"] = str(error.retry_after)
            return response
        except ValidationError as error:
            add_errors(form, error)
        else:
            if group.is_open:
                messages.success(request, f"You have joined {group.name}. Welcome!")
            else:
                messages.success(
                    request,
                    "Thank you. Your request has been sent to the group's moderators. "
                    "We'll let you know when they have looked at it.",
                )
            return redirect(group)
    context = _home_context(request, group, join_form=form)
    return render(request, "community/group_home.html", context, status=400)


@require_POST
def group_leave(request, slug: str):
    group = policy.get_group_for(request.user, slug)
    if not request.user.is_authenticated:
        return redirect_to_login(group.get_absolute_url())
    policy.require_member(request.user, group)
    try:
        services.leave_group(actor=request.user, group=group)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(group)
    messages.success(request, f"You have left {group.name}. You are welcome back any time.")
    return redirect("groups:list")


def content_group(request, slug: str) -> Group:
    """The group whose content (members, chat, forum, meetings) the viewer wants to read.

    Anonymous people are sent to log in, signed-in non-members of an open group to its
    home page ("join to read"), everyone else who may not read gets 404.
    """
    group = Group.objects.filter(slug=slug).first()
    if group is None:
        raise Http404("Not found")
    access = policy.content_access(request.user, group)
    if access == policy.ContentAccess.ALLOW:
        return group
    if access == policy.ContentAccess.LOGIN:
        raise LoginRequired()
    if access == policy.ContentAccess.JOIN_FIRST:
        raise JoinFirst(group)
    raise policy.NotAllowed("Not found")


class LoginRequired(Exception):
    pass


class JoinFirst(Exception):
    def __init__(self, group: Group):
        self.group = group


def group_content(view):
    """Decorator: resolve `slug` to a readable group or answer as `content_group` says."""

    def wrapped(request, slug: str, *args, **kwargs):
        try:
            group = content_group(request, slug)
        except LoginRequired:
            return redirect_to_login(request.get_full_path())
        except JoinFirst as refusal:
            messages.info(request, "Join the group to read what members share.")
            return redirect(refusal.group)
        return view(request, group, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@group_content
def group_members(request, group: Group):
    page = Paginator(selectors.group_members(group), 50).get_page(request.GET.get("page"))
    return render(
        request, "community/group_members.html", group_page_context(request, group, page=page)
    )
