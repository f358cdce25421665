"""Greeting a new member, the first-visit welcome panel and the monthly check-in."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from community import policy
from community.forms_welcome import CheckInForm, GreetForm
from community.models import Group
from community.services import health as checkins
from community.services import welcome
from community.services.chat import ChatError
from community.views.groups import add_errors, group_content, group_page_context
from moderation.signposting import ScreeningBlocked, ScreeningPrompt, remember_panel


def _greeting_group(request, slug: str) -> Group:
    """404 unless the person may greet people in this group (missing and hidden alike)."""
    group = Group.objects.filter(slug=slug).first()
    if group is None or not policy.can_welcome(request.user, group):
        raise Http404("Not found")
    return group


@require_http_methods(["GET", "POST"])
def greet(request, slug: str, user_id: int):
    group = _greeting_group(request, slug)
    newcomer = welcome.newcomer_membership(group, user_id)
    policy.require(policy.can_greet(request.user, group, newcomer))
    form = GreetForm(request.POST or None, initial={
        "message": welcome.default_greeting(group, newcomer.user)})
    prompt = None
    if request.method == "POST" and form.is_valid():
        try:
            greeting = welcome.greet_member(
                actor=request.user, group=group, newcomer=newcomer,
                choice=form.cleaned_data["choice"], message=form.cleaned_data["message"],
                confirm=request.POST.get("confirm") == "1",
            )
        except ValidationError as error:
            add_errors(form, error)
        except ScreeningBlocked as blocked:
            add_errors(form, ValidationError(blocked.detail))
        except ScreeningPrompt as asked:
            prompt = asked
        except ChatError as error:
            add_errors(form, ValidationError(error.detail))
        else:
            if greeting.held:
                messages.info(request, "Thank you. Your welcome is waiting for a moderator to "
                              "look at it before others see it.")
            else:
                messages.success(request, f"You said hello to {newcomer.user.display_name}. "
                                 "Thank you for making them feel welcome.")
            remember_panel(request, getattr(greeting.outcome, "panel", None))
            return redirect(greeting.url)
    status = 400 if request.method == "POST" and (form.errors or prompt) else 200
    return render(request, "community/greet.html", group_page_context(
        request, group, form=form, newcomer=newcomer, prompt=prompt,
        has_forum=welcome.introductions_category(group) is not None,
    ), status=status)


@require_POST
@group_content
def welcome_seen(request, group: Group):
    """ "Got it": the welcome panel has been read and need not show again."""
    welcome.dismiss_welcome(actor=request.user, group=group)
    return redirect(group)


@require_POST
@group_content
def checkin(request, group: Group):
    if not group.checkins_enabled:
        messages.info(request, "This group is not asking the monthly question at the moment.")
        return redirect(group)
    dismiss = "dismiss" in request.POST
    form = CheckInForm(request.POST)
    if not dismiss and not form.is_valid():
        messages.error(request, "Please choose a number from 1 to 5, then press "
                       "“Send my answer”.")
        return redirect(f"{group.get_absolute_url()}#checkin")
    try:
        checkins.record_checkin(actor=request.user, group=group,
                                score=None if dismiss else form.cleaned_data["score"])
    except checkins.AlreadyAnswered as error:
        messages.info(request, " ".join(error.messages))
    else:
        if dismiss:
            messages.info(request, "No problem. We'll ask again next month.")
        else:
            messages.success(request, "Thank you for your answer. Nobody can see who gave it.")
    return redirect(group)
