"""A group's screening page: its own watched words, trying a phrase before saving, and the
setting for unsafe health advice. Moderators, owners and site staff only: 404 to everyone
else, as for the group's other moderator pages.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from community import policy
from community.views.groups import add_errors, group_page_context
from moderation import selectors
from moderation.forms import HoldSettingForm, WatchwordForm
from moderation.models import ScreeningRule
from moderation.screening import Verdict
from moderation.services import watchwords

CATEGORY_LABELS = dict(ScreeningRule.Category.choices)
ACTION_LABELS = dict(ScreeningRule.Action.choices)
WHAT_HAPPENS = {
    "allow": "Nothing: it would be sent as usual.",
    "prompt": "The writer would be asked to think again before it is sent. If they send it "
              "anyway, it would be published and the group's moderators would get a case.",
    "flag": "It would be published, and a case would open for the group's moderators.",
    "hold": "It would be held until a moderator has looked. Only the writer and moderators "
            "would see it.",
    "block": "It would not be sent, and the writer would be told why.",
}
HELD_IF_SENT = ("The writer would be asked to think again before it is sent. If they send "
                "it anyway, it would wait for a moderator (this group's setting below).")
CRISIS = ("It would be published (someone reaching out must be heard), the writer would be "
          "shown where to get help now, and moderators would get an urgent case.")
SOURCES = {"site": "Kindred's site rules", "group": "This group's watched words"}


def _result(verdict: Verdict, *, group, draft: ScreeningRule | None, tried: str) -> dict:
    """The verdict in words a volunteer can act on."""
    draft_key = None
    if draft is not None:
        draft_key = watchwords.DRAFT_KEY if draft.pk is None else f"group-{draft.pk}"
    # The same rule as the chat and forum services (`signposting.outcome_for`).
    held_if_sent = (verdict.action == "prompt" and "unsafe_advice" in verdict.categories
                    and group.hold_unsafe_advice)
    if verdict.is_crisis:
        what_happens = CRISIS
    else:
        what_happens = HELD_IF_SENT if held_if_sent else WHAT_HAPPENS[verdict.action]
    return {
        "tried": tried,
        "what_happens": what_happens,
        "categories": [CATEGORY_LABELS.get(c, c) for c in verdict.categories],
        "matches": [{
            "description": m.description,
            "category": CATEGORY_LABELS.get(m.category, m.category),
            "action": ACTION_LABELS.get(m.action, m.action),
            "source": "The word or phrase you are adding" if m.key == draft_key
            else SOURCES.get(m.source, m.source),
        } for m in verdict.matches],
        "signposts": list(verdict.signposts),
    }


def _page(request, group, *, form=None, result=None, status: int = 200):
    context = group_page_context(
        request, group,
        form=form or WatchwordForm(),
        hold_form=HoldSettingForm(initial={"hold_unsafe_advice": group.hold_unsafe_advice}),
        rules=list(selectors.group_rules(group)),
        limit=watchwords.MAX_GROUP_RULES,
        result=result,
    )
    return render(request, "community/screening.html", context, status=status)


@require_http_methods(["GET", "POST"])
def screening(request, slug: str):
    group = policy.get_moderated_group(request.user, slug)
    if request.method == "GET":
        return _page(request, group)
    if request.POST.get("do") == "settings":
        setting = HoldSettingForm(request.POST)
        hold = setting.is_valid() and setting.cleaned_data["hold_unsafe_advice"]
        watchwords.set_hold_unsafe_advice(actor=request.user, group=group, hold=hold)
        messages.success(request, "Saved. Unsafe health advice that is sent anyway will now "
                         + ("wait for a moderator." if hold else "be published with a case."))
        return redirect("groups:screening", slug=group.slug)
    saving = request.POST.get("do") == "save"
    form = WatchwordForm(request.POST, saving=saving)
    result = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            if saving:
                rule = watchwords.save_group_rule(actor=request.user, group=group,
                                                  test_phrase=data["test_phrase"],
                                                  **form.draft_fields())
                messages.success(request, f"Saved. Messages in {group.name} are checked for "
                                 f"\u201c{rule.pattern}\u201d from now on.")
                return redirect("groups:screening", slug=group.slug)
            draft = watchwords.draft_rule(group=group, **form.draft_fields())
            tried = data["phrase"].strip() or data["test_phrase"]
            verdict = watchwords.test_phrase(group, tried, draft=draft)
            result = _result(verdict, group=group, draft=draft, tried=tried)
        except ValidationError as error:
            add_errors(form, error)
    return _page(request, group, form=form, result=result, status=400 if form.errors else 200)


@require_POST
def delete_rule(request, slug: str, rule_id: int):
    group = policy.get_moderated_group(request.user, slug)
    rule = get_object_or_404(ScreeningRule.objects.select_related("group"), pk=rule_id,
                             group=group)
    watchwords.delete_group_rule(actor=request.user, rule=rule)
    messages.success(request, f"\u201c{rule.pattern}\u201d is no longer watched for.")
    return redirect("groups:screening", slug=group.slug)


def site_rules(request, slug: str):
    """What Kindred checks everywhere, in words (never the patterns themselves)."""
    group = policy.get_moderated_group(request.user, slug)
    return render(request, "community/screening_site_rules.html", group_page_context(
        request, group, categories=selectors.site_rules_by_category()))
