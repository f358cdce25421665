"""Moderation pages: the review queue, a case, flagging, appeals and being on duty.

Every page asks the policy first: moderator pages are 404 to everyone but the group's
moderators, owners and site staff; the flag form is 404 for things you can't see.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from community import policy
from community.abuse import RateLimited
from community.models import Group
from community.signposts import crisis_signposts
from community.views.groups import add_errors
from moderation import items as item_kinds
from moderation import selectors
from moderation.forms import AppealForm, DecisionForm, FlagForm, GuidelinesForm
from moderation.models import Appeal, Case, ScreeningRule
from moderation.services.appeals import appeal_decision, can_appeal, decide_appeal
from moderation.services.cases import (
    claim_case,
    flag_content,
    resolve_case,
    save_guidelines,
    set_duty,
)


@login_required
def queue(request):
    filters = {key: request.GET.get(key, "") for key in ("group", "status", "reason", "urgent")}
    cases = selectors.queue_cases(request.user, **filters)
    page = Paginator(cases, 25).get_page(request.GET.get("page"))
    groups = list(selectors.moderated_groups_with_counts(request.user))
    duty = selectors.duty_by_group(request.user, groups)
    on_duty = selectors.on_duty_names(groups)
    return render(request, "moderation/queue.html", {
        "page": page, "groups": groups, "filters": filters,
        "duty_rows": [(g, duty.get(g.pk), on_duty[g.pk]) for g in groups],
        "wellbeing": selectors.wellbeing(request.user, timezone.now()),
        "reasons": selectors.REASON_CHOICES, "statuses": Case.Status.choices,
    })


def _case_for(request, case_id: int) -> Case:
    case = Case.objects.select_related(
        "group", "author", "claimed_by", "resolved_by", "chat_message", "post__thread",
        "thread", "profile").filter(pk=case_id).first()
    if case is None or not policy.can_moderate(request.user, case.group):
        raise Http404("Not found")
    if case.author_id == request.user.pk:
        # A case about your own words is for other moderators: you never learn who
        # flagged you, and you can't decide it yourself.
        raise Http404("Not found")
    return case


SCREEN_LABELS = dict(ScreeningRule.Category.choices)


def case_detail(request, case_id: int, form=None, appeal_form=None):
    case = _case_for(request, case_id)
    appeal = Appeal.objects.filter(case=case).select_related("author", "assigned_to").first()
    return render(request, "moderation/case.html", {
        "case": case, "item": item_kinds.from_case(case),
        "flags": case.flags.select_related("flagger").order_by("created_at"),
        "context": selectors.case_context(case),
        "history": selectors.author_history(case),
        "form": form or DecisionForm(initial={"version": case.version}),
        "appeal": appeal, "appeal_form": appeal_form or DecisionForm(appeal=True),
        "can_review_appeal": appeal is not None and appeal.status == Appeal.Status.OPEN
        and request.user.pk != case.resolved_by_id,
        "signposts": crisis_signposts() if case.urgent else [],
        "screened": [{**m, "category_label": SCREEN_LABELS.get(m.get("category"), "")}
                     for m in case.screening],
    }, status=400 if (form is not None or appeal_form is not None) else 200)


@require_POST
def claim(request, case_id: int):
    case = _case_for(request, case_id)
    try:
        claim_case(actor=request.user, case=case)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "This case is yours for now.")
    return redirect("moderation:case", case_id=case.pk)


@require_POST
def decide(request, case_id: int):
    case = _case_for(request, case_id)
    form = DecisionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            resolve_case(actor=request.user, case=case, decision=data["decision"],
                         reason=data["reason"], version=data["version"],
                         mute_hours=int(data["mute_hours"] or 24))
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Done. Thank you for looking after the group.")
            return redirect("moderation:queue")
    return case_detail(request, case_id, form=form)


@require_POST
def decide_appeal_view(request, case_id: int):
    case = _case_for(request, case_id)
    appeal = Appeal.objects.filter(case=case).first()
    if appeal is None:
        raise Http404("Not found")
    form = DecisionForm(request.POST, appeal=True)
    if form.is_valid():
        try:
            decide_appeal(actor=request.user, appeal=appeal,
                          uphold=form.cleaned_data["outcome"] == "uphold",
                          reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "The appeal is decided and the author has been told.")
            return redirect("moderation:case", case_id=case.pk)
    return case_detail(request, case_id, appeal_form=form)


@login_required
def appeal(request, case_id: int):
    """The author's view of a decision about their words, and their one appeal."""
    case = Case.objects.select_related("group").filter(pk=case_id,
                                                        author=request.user).first()
    if case is None or case.status != Case.Status.RESOLVED:
        raise Http404("Not found")
    existing = Appeal.objects.filter(case=case).first()
    form = AppealForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            appeal_decision(actor=request.user, case=case, note=form.cleaned_data["note"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Thank you. Another moderator will look at it and "
                             "we'll let you know.")
            return redirect("moderation:appeal", case_id=case.pk)
    return render(request, "moderation/appeal.html", {
        "case": case, "appeal": existing, "form": form,
        "can_appeal": can_appeal(request.user, case),
    }, status=400 if form.errors else 200)


@require_POST
def duty(request, slug: str):
    group = policy.get_moderated_group(request.user, slug)
    on_duty = request.POST.get("on_duty") == "1"
    set_duty(actor=request.user, group=group, on_duty=on_duty)
    messages.success(request, "You're on duty. Thank you." if on_duty else
                     "You're off duty. Take care of yourself.")
    return redirect("moderation:queue")


@login_required
def flag(request, kind: str, item_id: int):
    group = None
    if kind == Case.Kind.PROFILE:
        group = Group.objects.filter(slug=request.GET.get("group") or request.POST.get(
            "group", "")).first()
    if kind not in Case.Kind.values:
        raise Http404("Not found")
    item = item_kinds.load(kind, item_id, group=group)
    item_kinds.require_visible(request.user, item)
    form = FlagForm(request.POST if request.method == "POST" else None)
    refused = None
    if request.method == "POST" and form.is_valid():
        try:
            flag_content(actor=request.user, kind=kind, item_id=item_id, group=group,
                         reason=form.cleaned_data["reason"], note=form.cleaned_data["note"])
        except RateLimited as error:  # the form comes back with the note still in it
            add_errors(form, error)
            refused = error
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "Thank you for telling us. A moderator will take a "
                             "look. If someone is in danger right now, call 999.")
            return redirect(item.group.get_absolute_url())
    response = render(request, "moderation/flag.html", {
        "form": form, "item": item, "kind": kind, "group": item.group,
    }, status=429 if refused else 400 if form.errors else 200)
    if refused:
        response["Retry-After"] = str(refused.retry_after)
    return response


@login_required
def dashboard(request):
    """How moderation is going in the groups this person looks after (last four weeks)."""
    groups = list(policy.moderated_groups(request.user).order_by("name"))
    return render(request, "moderation/dashboard.html",
                  {"rows": selectors.health(groups, timezone.now())})


def guidelines(request, slug: str):
    """Moderators-only guidance for a group: the site's defaults plus the owners' own."""
    group = policy.get_moderated_group(request.user, slug)
    can_edit = policy.can_manage_roles(request.user, group)
    form = GuidelinesForm(request.POST or None, initial={"text": group.moderator_guidelines})
    if request.method == "POST":
        policy.require(can_edit)
        if form.is_valid():
            save_guidelines(actor=request.user, group=group, text=form.cleaned_data["text"])
            messages.success(request, "The guidelines are saved.")
            return redirect("moderation:guidelines", slug=group.slug)
    return render(request, "moderation/guidelines.html", {
        "group": group, "form": form, "can_edit": can_edit,
        "signposts": crisis_signposts(),
    }, status=400 if form.errors else 200)
