"""Every change to community state is one function here (see STYLE.md, rule 3)."""

from community.services.chat import post_chat_message, remove_chat_message
from community.services.groups import approve_group, create_group, decline_group
from community.services.invites import create_invite, join_with_invite, revoke_invite
from community.services.membership import (
    approve_membership,
    ban_member,
    decline_membership,
    join_open_group,
    leave_group,
    mute_member,
    remove_member,
    request_membership,
    set_role,
    unban_member,
    unmute_member,
)
from community.services.notifications import mark_notifications_read, notify
from community.services.profiles import update_profile

__all__ = [
    "approve_group",
    "approve_membership",
    "ban_member",
    "create_group",
    "create_invite",
    "decline_group",
    "decline_membership",
    "join_open_group",
    "join_with_invite",
    "leave_group",
    "mark_notifications_read",
    "mute_member",
    "notify",
    "post_chat_message",
    "remove_chat_message",
    "remove_member",
    "request_membership",
    "revoke_invite",
    "set_role",
    "unban_member",
    "unmute_member",
    "update_profile",
]
