"""A member's email choice for one group, and one-click unsubscribe links from emails."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from community import policy
from community.emails import read_unsubscribe_token
from community.forms_email import GroupEmailForm
from community.models import Group
from community.services import email_prefs
from community.views.groups import add_errors, group_content, group_page_context


@require_http_methods(["GET", "POST"])
@group_content
def group_email(request, group: Group):
    """`/groups/<slug>/email/`: off, each one, a daily summary, or as in my account."""
    membership = policy.membership_of(request.user, group)
    form = GroupEmailForm(
        request.POST or None,
        initial={"email_notifications": membership.email_notifications},
        account_choice_label=request.user.get_email_notifications_display(),
    )
    if request.method == "POST" and form.is_valid():
        try:
            email_prefs.set_group_email_choice(
                actor=request.user, group=group,
                choice=form.cleaned_data["email_notifications"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Saved. We'll email you about {group.name} as you chose.")
            return redirect(group)
    return render(request, "community/group_email.html",
                  group_page_context(request, group, form=form, membership=membership),
                  status=400 if form.errors else 200)


def _bad_link(request):
    return render(request, "community/unsubscribe_bad.html", status=404)


@csrf_exempt  # RFC 8058 one-click: mail providers POST here without a CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET asks to confirm (link checkers and previews must not unsubscribe anyone);
    POST, from our button or a mail provider's one-click, turns the emails off at once.
    The signed token is the only key: it can only ever turn emails off."""
    target = read_unsubscribe_token(token)
    if target is None:
        return _bad_link(request)
    context = {"target": target, "group": target.group}
    if request.method == "POST":
        email_prefs.unsubscribe(user=target.user, group=target.group)
        return render(request, "community/unsubscribe_done.html", context)
    return render(request, "community/unsubscribe_confirm.html", context)
