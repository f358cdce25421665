"""Start a group: a short guided form in steps, with the draft kept in the session.

Every step is an ordinary page with an ordinary form, so it works without JavaScript.
Next checks the step and keeps it; Back keeps what was typed (checked or not) and goes
back; a step with a problem shows it beside the field and keeps every word. The last
page shows everything to check, then "Start the group" creates it through the services.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from community.forms_wizard import (
    FIRST_QUESTION,
    FORMAT_CHOICES,
    KIND_CHOICES,
    PEER_SUPPORT_RULES,
    PRIVACY_CHOICES,
    WELCOME_MESSAGE,
    AboutForm,
    JoiningForm,
    PlaceForm,
    PrivacyForm,
    PurposeForm,
    SupportForm,
)
from community.models import Group
from community.services.group_start import PlaceRef, start_group

SESSION_KEY = "kindred_group_draft"
STARTED_KEY = "kindred_group_started"
CHECK = "check"


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    form_class: type[forms.Form]
    defaults: tuple[tuple[str, str], ...] = ()


STEPS: tuple[Step, ...] = (
    Step("purpose", "What is the group for?", PurposeForm),
    Step("place", "Online or local?", PlaceForm),
    Step("privacy", "Who can join?", PrivacyForm,
         (("privacy", Group.Privacy.APPROVAL),)),
    Step("about", "Name, description and rules", AboutForm,
         (("rules", PEER_SUPPORT_RULES),)),
    Step("joining", "Joining questions and welcome", JoiningForm,
         (("question_0", FIRST_QUESTION), ("welcome_message", WELCOME_MESSAGE))),
    Step("support", "Helplines and useful links", SupportForm),
)
BY_SLUG = {step.slug: step for step in STEPS}

# Which step a service error about a field belongs to, to send the founder back there.
FIELD_STEPS = {
    "kind": "purpose", "condition": "purpose", "format": "place", "town": "place",
    "privacy": "privacy", "name": "about", "description": "about", "rules": "about",
    "questions": "joining", "welcome_message": "joining", "phone": "support",
    "hours": "support", "title": "support", "url": "support",
}


def step_url(slug: str) -> str:
    if slug == STEPS[0].slug:
        return reverse("groups:new")
    return reverse("groups:new_step", kwargs={"step": slug})


def _draft(request) -> dict:
    return request.session.setdefault(SESSION_KEY, {})


def _keep(request, slug: str, values: dict, *, done: bool) -> None:
    _draft(request)[slug] = {"values": values, "done": done}
    request.session.modified = True


def _values(request, step: Step) -> dict:
    saved = _draft(request).get(step.slug)
    return dict(saved["values"]) if saved else dict(step.defaults)


def _is_done(request, slug: str) -> bool:
    return bool(_draft(request).get(slug, {}).get("done"))


def _typed(step: Step, form: forms.Form, post) -> dict:
    """Exactly what was typed on this step, to show again later."""
    return {name: post.get(name, "") for name in form.fields}


@login_required
@require_http_methods(["GET", "POST"])
def wizard(request, step: str = ""):
    """`/groups/new/` is the first step; `/groups/new/<step>/` the others and the check."""
    slug = step or STEPS[0].slug
    if slug == CHECK:
        return _check(request)
    current = BY_SLUG.get(slug)
    if current is None or (step and slug == STEPS[0].slug):
        raise Http404("Not found")
    index = STEPS.index(current)
    then = "check" if (request.POST.get("then") or request.GET.get("then")) == CHECK else ""
    if request.method == "POST":
        action = request.POST.get("action", "next")
        form = current.form_class(request.POST)
        if action == "back":
            _keep(request, slug, _typed(current, form, request.POST), done=False)
            return redirect(step_url(STEPS[max(index - 1, 0)].slug))
        if form.is_valid():
            values = form.draft() if hasattr(form, "draft") else dict(form.cleaned_data)
            _keep(request, slug, values, done=True)
            if then or index == len(STEPS) - 1:
                return redirect(step_url(CHECK))
            return redirect(step_url(STEPS[index + 1].slug))
        _keep(request, slug, _typed(current, form, request.POST), done=False)
    else:
        form = current.form_class(initial=_values(request, current))
    return render(request, "community/wizard/step.html", {
        "form": form, "step": current, "number": index + 1, "total": len(STEPS),
        "previous": STEPS[index - 1] if index else None, "then": then,
        "is_last": index == len(STEPS) - 1, "draft": _summary_values(request),
    })


def _summary_values(request) -> dict:
    return {step.slug: _values(request, step) for step in STEPS}


def _labels(choices) -> dict:
    return {str(value): label for value, label in choices}


def _summary(request) -> list[dict]:
    """What the check page shows: each step's answers in words, with a Change link."""
    v = _summary_values(request)
    purpose, place, privacy = v["purpose"], v["place"], v["privacy"]
    about, joining, support = v["about"], v["joining"], v["support"]
    kind = _labels(KIND_CHOICES).get(purpose.get("kind", ""), "")
    where = _labels(FORMAT_CHOICES).get(place.get("format", ""), "")
    questions = [joining.get(f"question_{i}", "") for i in range(10)]
    helpline = " · ".join(x for x in (support.get("helpline_name"), support.get("helpline_phone"),
                                      support.get("helpline_hours")) if x)
    link = " · ".join(x for x in (support.get("link_title"), support.get("link_url")) if x)
    rows = [
        ("purpose", [("Who it is for", kind),
                     ("Condition", purpose.get("condition", "") if purpose.get("kind")
                      == Group.Kind.CONDITION else "")]),
        ("place", [("Online or local", where),
                   ("Town", place.get("place_label") or place.get("town", ""))]),
        ("privacy", [("Who can join", _labels(PRIVACY_CHOICES).get(privacy.get("privacy", ""),
                                                                   ""))]),
        ("about", [("Name", about.get("name", "")), ("What it is for",
                                                     about.get("description", "")),
                   ("Rules", about.get("rules", ""))]),
        ("joining", [("Join questions", "\n".join(q for q in questions if q)),
                     ("Welcome message", joining.get("welcome_message", ""))]),
        ("support", [("Helpline", helpline), ("Useful link", link)]),
    ]
    return [{"step": BY_SLUG[slug], "done": _is_done(request, slug),
             "url": step_url(slug) + "?then=check",
             "answers": [(label, value) for label, value in answers if value]}
            for slug, answers in rows]


def _start_kwargs(request) -> dict:
    v = _summary_values(request)
    purpose, place, about, joining, support = (v["purpose"], v["place"], v["about"],
                                               v["joining"], v["support"])
    local = place.get("format") == Group.Format.LOCAL
    found = None
    if local and place.get("place_id"):
        found = PlaceRef(id=int(place["place_id"]), latitude=float(place["latitude"]),
                         longitude=float(place["longitude"]))
    return {
        "kind": purpose.get("kind", ""),
        "condition": purpose.get("condition", "") if purpose.get("kind")
        == Group.Kind.CONDITION else "",
        "format": place.get("format", ""),
        "town": place.get("town", "") if local else "",
        "place": found,
        "privacy": v["privacy"].get("privacy", ""),
        "name": about.get("name", ""),
        "description": about.get("description", ""),
        "rules": about.get("rules", ""),
        "welcome_message": joining.get("welcome_message", ""),
        "questions": [joining.get(f"question_{i}", "") for i in range(10)
                      if joining.get(f"question_{i}", "").strip()],
        "helpline": {"name": support.get("helpline_name", ""),
                     "phone": support.get("helpline_phone", ""),
                     "hours": support.get("helpline_hours", "")},
        "link": {"title": support.get("link_title", ""), "url": support.get("link_url", "")},
    }


def _check(request):
    """The summary: check everything, then start the group."""
    started = request.session.get(STARTED_KEY)
    if request.method == "POST" and request.POST.get("action") == "restart":
        request.session.pop(SESSION_KEY, None)
        messages.info(request, "We have cleared your answers. You can start again.")
        return redirect(step_url(STEPS[0].slug))
    if not _draft(request) and started:  # pressed twice: the group already exists
        return redirect(started)
    unfinished = next((s for s in STEPS if not _is_done(request, s.slug)), None)
    if unfinished is not None:
        messages.info(request, "Please finish this step first. Nothing you typed has been lost.")
        return redirect(step_url(unfinished.slug))
    errors: list[tuple[str, str]] = []
    if request.method == "POST":
        try:
            group = start_group(actor=request.user, **_start_kwargs(request))
        except ValidationError as error:
            errors = _error_list(error)
        else:
            request.session.pop(SESSION_KEY, None)
            request.session[STARTED_KEY] = group.get_absolute_url()
            if group.status == Group.Status.PENDING:
                messages.info(
                    request,
                    "Thank you! Your group is waiting for approval: a quick check by the "
                    "Kindred team. We'll let you know when it is open.",
                )
            else:
                messages.success(request, "Your group is ready. Welcome, founder!")
            return redirect(group)
    return render(request, "community/wizard/check.html", {
        "sections": _summary(request), "errors": errors, "total": len(STEPS),
    }, status=400 if errors else 200)


def _error_list(error: ValidationError) -> list[tuple[str, str]]:
    """(step slug, message) pairs, so the check page can link each problem to its step."""
    if hasattr(error, "error_dict"):
        return [(FIELD_STEPS.get(field, "about"), message)
                for field, items in error.message_dict.items() for message in items]
    return [("about", message) for message in error.messages]
