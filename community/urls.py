from django.urls import path

from community.views import chat, groups, invites, library, moderator, screening

app_name = "groups"

urlpatterns = [
    path("", groups.group_directory, name="list"),
    path("new/", groups.group_new, name="new"),
    path("invite/<str:token>/", invites.accept_invite, name="invite"),
    path("<slug:slug>/", groups.group_home, name="home"),
    path("<slug:slug>/join/", groups.group_join, name="join"),
    path("<slug:slug>/leave/", groups.group_leave, name="leave"),
    path("<slug:slug>/members/", groups.group_members, name="members"),
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
]
