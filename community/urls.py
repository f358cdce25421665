from django.urls import path

from community.views import (
    chat,
    email_prefs,
    group_wizard,
    groups,
    invites,
    library,
    moderator,
    screening,
)
from community.views import group_health as health_pages
from community.views import local_groups as local_pages
from community.views import meetings as meeting_pages
from community.views import welcome as welcome_pages

app_name = "groups"

urlpatterns = [
    path("", groups.group_directory, name="list"),
    path("new/", groups.group_new, name="new"),
    path("new/<slug:step>/", group_wizard.wizard, name="new_step"),
    path("invite/<str:token>/", invites.accept_invite, name="invite"),
    path("<slug:slug>/", groups.group_home, name="home"),
    path("<slug:slug>/join/", groups.group_join, name="join"),
    path("<slug:slug>/leave/", groups.group_leave, name="leave"),
    path("<slug:slug>/email/", email_prefs.group_email, name="email"),
    path("<slug:slug>/members/", groups.group_members, name="members"),
    path("<slug:slug>/nearby/", local_pages.share_nearby, name="share_nearby"),
    path("<slug:slug>/local/new/", local_pages.start_local, name="start_local"),
    path("<slug:slug>/chat/", chat.chat, name="chat"),
    path(
        "<slug:slug>/chat/<int:message_id>/remove/", chat.remove_message, name="remove_message"
    ),
    path("<slug:slug>/requests/", moderator.join_requests, name="requests"),
    path(
        "<slug:slug>/requests/<int:membership_id>/<str:decision>/",
        moderator.decide_request,
        name="decide",
    ),
    # Before member_action, whose <str:action> would otherwise swallow "greet".
    path("<slug:slug>/members/<int:user_id>/greet/", welcome_pages.greet, name="greet"),
    path("<slug:slug>/welcome/seen/", welcome_pages.welcome_seen, name="welcome_seen"),
    path("<slug:slug>/checkin/", welcome_pages.checkin, name="checkin"),
    path("<slug:slug>/health/", health_pages.health, name="health"),
    path("<slug:slug>/health.csv", health_pages.health_csv, name="health_csv"),
    path("<slug:slug>/health/checkins/", health_pages.health_checkins, name="health_checkins"),
    path(
        "<slug:slug>/members/<int:membership_id>/<str:action>/",
        moderator.member_action,
        name="member_action",
    ),
    path("<slug:slug>/banned/", moderator.banned_list, name="banned"),
    path("<slug:slug>/invites/", moderator.invites, name="invites"),
    path(
        "<slug:slug>/invites/<int:invite_id>/revoke/",
        moderator.revoke_invite,
        name="revoke_invite",
    ),
    path("<slug:slug>/log/", moderator.audit_log, name="audit_log"),
    path("<slug:slug>/screening/", screening.screening, name="screening"),
    path("<slug:slug>/screening/site/", screening.site_rules, name="screening_site"),
    path(
        "<slug:slug>/screening/<int:rule_id>/delete/",
        screening.delete_rule,
        name="screening_delete",
    ),
    path("<slug:slug>/signposts/", library.signposts, name="signposts"),
    path(
        "<slug:slug>/signposts/<int:signpost_id>/", library.signpost_edit, name="signpost_edit"
    ),
    path(
        "<slug:slug>/signposts/<int:signpost_id>/delete/",
        library.signpost_delete,
        name="signpost_delete",
    ),
    path("<slug:slug>/resources/", library.resources, name="resources"),
    path("<slug:slug>/resources/new/", library.resource_new, name="resource_new"),
    path(
        "<slug:slug>/resources/<int:resource_id>/edit/",
        library.resource_edit,
        name="resource_edit",
    ),
    path(
        "<slug:slug>/resources/<int:resource_id>/delete/",
        library.resource_delete,
        name="resource_delete",
    ),
    path("<slug:slug>/meetings/", meeting_pages.meeting_list, name="meetings"),
    path("<slug:slug>/meetings/new/", meeting_pages.meeting_new, name="meeting_new"),
    path("<slug:slug>/meetings/calendar/", meeting_pages.meeting_calendar,
         name="meeting_calendar"),
    path("<slug:slug>/meetings/<int:meeting_id>/", meeting_pages.meeting_detail,
         name="meeting"),
    path("<slug:slug>/meetings/<int:meeting_id>.ics", meeting_pages.meeting_ics,
         name="meeting_ics"),
    path("<slug:slug>/meetings/<int:meeting_id>/edit/", meeting_pages.meeting_edit,
         name="meeting_edit"),
    path("<slug:slug>/meetings/<int:meeting_id>/cancel/", meeting_pages.meeting_cancel,
         name="meeting_cancel"),
    path("<slug:slug>/meetings/<int:meeting_id>/reply/", meeting_pages.meeting_reply,
         name="meeting_reply"),
]
