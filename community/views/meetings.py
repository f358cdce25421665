"""Meetings pages: the group's diary, one meeting, scheduling and changing, cancelling,
answering for a date, and calendar files (one meeting, or a member's private feed).

Everything works without JavaScript: answers and calendar buttons are plain forms.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from community import calendar_feed, meeting_text, policy, recurrence
from community import selectors_meetings as diary
from community.forms_meetings import CancelMeetingForm, MeetingForm, ReplyForm, initial_for
from community.models import Group, Meeting
from community.services import meetings as service
from community.views.groups import add_errors, group_content, group_page_context

PER_PAGE = 20


def _managed_group(request, slug: str) -> Group:
    """The group, if this person schedules its meetings; 404 for everyone else."""
    group = Group.objects.filter(slug=slug).first()
    if group is None or not service.may_manage_meetings(request.user, group):
        raise Http404("Not found")
    return group


def _meeting(group: Group, meeting_id: int) -> Meeting:
    return get_object_or_404(Meeting.objects.select_related("group", "created_by"),
                             pk=meeting_id, group=group)


def _context(request, group: Group, **extra) -> dict:
    return group_page_context(request, group,
                              can_manage=service.may_manage_meetings(request.user, group),
                              **extra)


def _calendar_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow, noarchive"
    return response


# --- reading ------------------------------------------------------------------------------


@require_GET
@group_content
def meeting_list(request, group: Group):
    now = timezone.now()
    page = Paginator(diary.upcoming_entries(group, now), PER_PAGE).get_page(
        request.GET.get("page"))
    diary.annotate(list(page.object_list), request.user)
    membership = policy.membership_of(request.user, group)
    token = membership.calendar_token if membership else None
    feed = request.build_absolute_uri(reverse("calendar_feed", kwargs={"token": token})
                                      ) if token else ""
    return render(request, "community/meetings/list.html", _context(
        request, group, page=page, weeks=diary.LIST_WEEKS, feed_url=feed,
        webcal_url=feed.replace("https://", "webcal://", 1).replace("http://", "webcal://", 1),
    ))


def _chosen_entry(request, meeting: Meeting, dates: list[diary.Entry]) -> diary.Entry | None:
    wanted = request.GET.get("date", "")
    if wanted:
        try:
            when = recurrence.occurrence_on(meeting, date.fromisoformat(wanted[:10]))
        except ValueError:
            when = None
        if when is not None:
            return diary.Entry(meeting, when)
    return diary.Entry(meeting, dates[0].occurrence) if dates else None


@require_GET
@group_content
def meeting_detail(request, group: Group, meeting_id: int):
    meeting = _meeting(group, meeting_id)
    now = timezone.now()
    dates = [] if meeting.is_cancelled else diary.meeting_dates(meeting, now)
    chosen = None if meeting.is_cancelled else _chosen_entry(request, meeting, dates)
    if chosen is not None:
        diary.annotate([chosen, *dates], request.user)
        diary.names_for(chosen)
    return render(request, "community/meetings/detail.html", _context(
        request, group, meeting=meeting, dates=dates, chosen=chosen,
        how_often=recurrence.describe(meeting),
        access=meeting_text.access_lines(meeting),
        can_reply=service.may_reply(request.user, group),
        is_past=chosen is not None and chosen.occurrence < now,
    ))


@require_GET
def meeting_ics(request, slug: str, meeting_id: int):
    """One meeting as a calendar file: for the group's members only, 404 for anyone else
    (a calendar app following the link has no way to log in anyway)."""
    group = Group.objects.filter(slug=slug).first()
    if group is None or not policy.can_read_content(request.user, group):
        raise Http404("Not found")
    meeting = _meeting(group, meeting_id)
    link = request.build_absolute_uri(service.meeting_url(meeting))
    body = calendar_feed.calendar([(meeting, link)], name=group.name)
    return _calendar_response(body, f"{slugify(meeting.title) or 'meeting'}.ics")


@require_GET
def calendar_feed_view(request, token: str):
    """A member's private feed of the group's meetings, for calendar apps to subscribe to.

    No login (calendar apps can't); the long random address is the secret. A wrong,
    replaced or switched-off address, or a person no longer in the group: 404.
    """
    membership = service.membership_for_token(token)
    if membership is None:
        raise Http404("Not found")
    group = membership.group
    now = timezone.now()
    # Read through the group's related manager, each meeting already knows its group.
    pairs = [(meeting, request.build_absolute_uri(service.meeting_url(meeting)))
             for meeting in calendar_feed.feed_meetings(group, now)]
    body = calendar_feed.calendar(pairs, name=f"{group.name} meetings")
    return _calendar_response(body, f"{group.slug}-meetings.ics")


# --- scheduling (moderators and owners) -------------------------------------------------------


def _form_page(request, group, form, meeting=None):
    status = 400 if request.method == "POST" else 200
    return render(request, "community/meetings/form.html", _context(
        request, group, form=form, meeting=meeting), status=status)


@require_http_methods(["GET", "POST"])
def meeting_new(request, slug: str):
    group = _managed_group(request, slug)
    form = MeetingForm(request.POST or None, initial={"time_zone": "Europe/London",
                                                      "recurrence": "none"})
    if request.method == "POST" and form.is_valid():
        try:
            meeting = service.schedule_meeting(actor=request.user, group=group,
                                               **form.for_service())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"“{meeting.title}” is in the group's diary. Members "
                             "have been told.")
            return redirect(service.meeting_url(meeting))
    return _form_page(request, group, form)


@require_http_methods(["GET", "POST"])
def meeting_edit(request, slug: str, meeting_id: int):
    group = _managed_group(request, slug)
    meeting = _meeting(group, meeting_id)
    if meeting.is_cancelled:
        messages.info(request, "This meeting has been cancelled, so it can't be changed.")
        return redirect(service.meeting_url(meeting))
    form = MeetingForm(request.POST or None, initial=initial_for(meeting))
    if request.method == "POST" and form.is_valid():
        try:
            service.edit_meeting(actor=request.user, meeting=meeting, **form.for_service())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "The meeting is saved.")
            return redirect(service.meeting_url(meeting))
    return _form_page(request, group, form, meeting)


@require_http_methods(["GET", "POST"])
def meeting_cancel(request, slug: str, meeting_id: int):
    group = _managed_group(request, slug)
    meeting = _meeting(group, meeting_id)
    if meeting.is_cancelled:
        messages.info(request, "This meeting is already cancelled.")
        return redirect(service.meeting_url(meeting))
    form = CancelMeetingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            service.cancel_meeting(actor=request.user, meeting=meeting,
                                   reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"“{meeting.title}” is cancelled. Everyone who said "
                             "they would go has been told.")
            return redirect("groups:meetings", slug=group.slug)
    status = 400 if request.method == "POST" else 200
    return render(request, "community/meetings/cancel.html", _context(
        request, group, meeting=meeting, form=form, how_often=recurrence.describe(meeting),
    ), status=status)


# --- answering and subscribing (members) -----------------------------------------------------


@require_POST
@group_content
def meeting_reply(request, group: Group, meeting_id: int):
    meeting = _meeting(group, meeting_id)
    form = ReplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Please choose going, maybe or can't make it for one of the "
                       "dates listed.")
        return redirect(service.meeting_url(meeting))
    chosen = form.cleaned_data.get("date")
    if chosen is not None:
        when = recurrence.occurrence_on(meeting, chosen)
    else:  # no date given: the next one
        when = recurrence.next_occurrence(meeting, timezone.now())
    if when is None:
        messages.error(request, "The meeting doesn't happen on that date. Please choose one "
                       "of the dates listed.")
        return redirect(service.meeting_url(meeting))
    try:
        row = service.reply(actor=request.user, meeting=meeting, occurrence=when,
                            answer=form.cleaned_data["answer"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        said = {"going": "you're going", "maybe": "you might go",
                "not_going": "you can't make it"}[row.answer]
        messages.success(request, f"Thank you. We've noted that {said} on "
                         f"{meeting_text.day(meeting_text.local(meeting, when))}.")
    return redirect(service.meeting_url(meeting, when))


@require_POST
@group_content
def meeting_calendar(request, group: Group):
    """Subscribe: make (or remake) the member's private feed address, or switch it off."""
    action = request.POST.get("action", "subscribe")
    if action == "stop":
        service.stop_calendar_token(actor=request.user, group=group)
        messages.success(request, "Your calendar address is switched off. Calendars using it "
                         "will stop getting this group's meetings.")
    else:
        service.issue_calendar_token(actor=request.user, group=group)
        if action == "renew":
            messages.success(request, "You have a new calendar address. The old one no longer "
                             "works: add the new one to your calendar.")
        else:
            messages.success(request, "Your private calendar address is ready below.")
    return redirect("groups:meetings", slug=group.slug)
