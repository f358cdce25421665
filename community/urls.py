from django.urls import path

from community.views import chat, groups, invites, moderator

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
]
