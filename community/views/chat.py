"""The group chat page: recent history rendered on the server (it reads without
JavaScript), a plain form that sends without JavaScript, and live updates with it."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from community import policy, selectors
from community.models import ChatMessage
from community.services.chat import ChatError, post_chat_message, remove_chat_message
from community.views.groups import group_content, group_page_context
from moderation.signposting import ScreeningBlocked, ScreeningPrompt, remember_panel


def _page(request, group, *, draft: str = "", error: str = "", status: int = 200,
          prompt: ScreeningPrompt | None = None, client_id: str = ""):
    rows, more = selectors.chat_page_messages(group.pk, viewer=request.user)
    context = group_page_context(
        request,
        group,
        chat_messages=rows,
        more=more,
        last_id=rows[-1].pk if rows else 0,
        can_post=policy.can_post(request.user, group),
        draft=draft,
        error=error,
        client_id=client_id or str(uuid.uuid4()),
        prompt=prompt,
    )
    return render(request, "community/chat.html", context, status=status)


@group_content
def chat(request, group):
    if request.method != "POST":
        return _page(request, group)
    body = request.POST.get("body", "")
    client_id = request.POST.get("client_id") or str(uuid.uuid4())
    try:
        result = post_chat_message(actor=request.user, group=group, body=body,
                                   client_id=client_id,
                                   confirm=request.POST.get("confirm") == "1")
    except ChatError as error:
        if error.code == "rate_limited":  # the words stay in the box, with when to retry
            response = _page(request, group, draft=body, error=error.detail, status=429)
            response["Retry-After"] = str(error.retry_after or 10)
            return response
        return _page(request, group, draft=body, error=error.detail, status=400)
    except ScreeningBlocked as blocked:
        return _page(request, group, draft=body, error=blocked.detail, status=400)
    except ScreeningPrompt as prompt:
        # Nothing is stored: the words stay in the box with "send anyway" beside them.
        return _page(request, group, draft=body, prompt=prompt, client_id=client_id)
    if result.status == ChatMessage.Status.HELD:
        messages.info(request, "Thank you. Your message is waiting for a moderator to look "
                      "at it before others see it.")
    remember_panel(request, result.panel)
    return redirect("groups:chat", slug=group.slug)


@require_POST
def remove_message(request, slug: str, message_id: int):
    group = policy.get_moderated_group(request.user, slug)
    message = get_object_or_404(ChatMessage, pk=message_id, group=group)
    try:
        remove_chat_message(actor=request.user, message=message,
                            reason=request.POST.get("reason", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The message has been removed.")
    return redirect("groups:chat", slug=group.slug)
