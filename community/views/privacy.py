"""Privacy rights: download my data, delete my account, end one of my sessions.

Everything here is about the signed-in person only: no id in a URL picks whose data is
read (the one id, a session's, must be one of theirs, else 404).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from allauth.usersessions.models import UserSession
from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, StreamingHttpResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import escape, format_html
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from community.forms_privacy import DeleteAccountForm
from community.security_log import security_event
from community.selectors_export import (
    ABOUT,
    FORMAT_VERSION,
    NOT_INCLUDED,
    Section,
    export_sections,
)
from community.services import erasure
from community.services import sessions as session_services
from community.views.groups import add_errors

ROWS_PER_CHUNK = 100  # rows encoded per piece of the download


# --- download my data ----------------------------------------------------------------------

@login_required
def export_page(request):
    return render(request, "community/account_export.html")


def _json_pieces(user) -> Iterator[str]:
    meta = {
        "format": "Kindred personal data export",
        "version": FORMAT_VERSION,
        "made": timezone.localtime().isoformat(),
        "about": ABOUT,
        "not_included": NOT_INCLUDED,
    }
    yield '{\n"about_this_file": ' + json.dumps(meta, indent=1)
    for section in export_sections(user):
        yield f',\n"{section.key}": ['
        pending: list[str] = []
        first = True
        for row in section.rows():
            pending.append(("\n" if first else ",\n") + json.dumps(row, cls=DjangoJSONEncoder))
            first = False
            if len(pending) >= ROWS_PER_CHUNK:
                yield "".join(pending)
                pending = []
        yield "".join(pending) + "\n]"
    yield "\n}\n"


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _html_value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "<span>(none)</span>"
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, list):
        items = "".join(f"<li>{_html_value(item)}</li>" for item in value)
        return f"<ul>{items}</ul>"
    if isinstance(value, dict):
        return _html_fields(value)
    text = escape(str(value))
    return text.replace("\n", "<br>")


def _html_fields(row: dict) -> str:
    parts = "".join(
        format_html("<dt>{}</dt><dd>", _label(key)) + _html_value(value) + "</dd>"
        for key, value in row.items()
    )
    return f"<dl>{parts}</dl>"


def _html_section_start(section: Section) -> str:
    about = format_html("<p>{}</p>", section.about) if section.about else ""
    return format_html('<section id="{}"><h2>{}</h2>', section.key, section.title) + about


def _html_pieces(user) -> Iterator[str]:
    sections = export_sections(user)
    yield render_to_string("community/account_export_file_head.html", {
        "made": timezone.localtime(), "about": ABOUT, "not_included": NOT_INCLUDED,
        "sections": sections,
    })
    for section in sections:
        yield _html_section_start(section)
        pending: list[str] = []
        count = 0
        for row in section.rows():
            count += 1
            pending.append(f"<article>{_html_fields(row)}</article>")
            if len(pending) >= ROWS_PER_CHUNK:
                yield "".join(pending)
                pending = []
        if count == 0:
            pending.append("<p>Nothing here.</p>")
        yield "".join(pending) + "</section>"
    yield "</main></body></html>\n"


async def _in_steps(pieces: Iterator[str]) -> AsyncIterator[str]:
    """Under daphne: each piece (and the queries for it) is made on the ORM thread, so the
    event loop never waits on the database and the download starts at once."""
    done = object()
    step = sync_to_async(lambda: next(pieces, done), thread_sensitive=True)
    while (piece := await step()) is not done:
        yield piece


def _download(request, pieces: Iterator[str], *, content_type: str, extension: str):
    security_event("data_exported", user=request.user, format=extension)
    content = _in_steps(pieces) if isinstance(request, ASGIRequest) else pieces
    response = StreamingHttpResponse(content, content_type=content_type)
    filename = f"kindred-my-data-{timezone.localdate():%Y-%m-%d}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@never_cache
def export_json(request):
    return _download(request, _json_pieces(request.user),
                     content_type="application/json; charset=utf-8", extension="json")


@login_required
@never_cache
def export_html(request):
    return _download(request, _html_pieces(request.user),
                     content_type="text/html; charset=utf-8", extension="html")


# --- delete my account ---------------------------------------------------------------------

@login_required
@never_cache
def delete_account(request):
    user = request.user
    form = DeleteAccountForm(request.POST or None, user=user)
    if request.method == "POST":
        if form.is_valid():
            try:
                erasure.delete_account(actor=user, remove_posts=form.remove_posts,
                                       current_session_key=request.session.session_key)
            except ValidationError as error:
                add_errors(form, error)
            else:
                # The account and its sessions are gone already: start this browser afresh
                # (a plain logout would announce the ended session a second time).
                request.session.flush()
                request.user = AnonymousUser()
                rotate_token(request)
                messages.success(request, "Your account has been deleted. Thank you for "
                                 "being part of Kindred. Take care.")
                return redirect("home")
        else:
            security_event("account_delete_refused", user=user,
                           fields=",".join(sorted(form.errors)))
    return render(request, "community/account_delete.html", {
        "form": form,
        "must_hand_over": erasure.groups_needing_a_new_owner(user),
        "will_close": erasure.groups_only_they_are_in(user),
    }, status=400 if form.errors else 200)


# --- sessions ------------------------------------------------------------------------------

@login_required
@require_POST
def end_session(request, session_id: int):
    """End one of my sessions from the sessions page (allauth's page ends all others)."""
    session = UserSession.objects.filter(pk=session_id, user_id=request.user.pk).first()
    if session is None:
        raise Http404("Not found")
    if session.session_key == request.session.session_key:
        logout(request)  # this browser: a normal logout (closes this browser's sockets)
        messages.success(request, "You are logged out.")
        return redirect("home")
    session_services.end_sessions(user_id=request.user.pk, sessions=[session],
                                  reason="sessions_page")
    messages.success(request, "That session is logged out. Anyone using it will need to "
                     "log in again.")
    return redirect("usersessions_list")
