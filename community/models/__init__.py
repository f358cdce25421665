"""People, groups, who belongs where, notifications and group chat.

Writes go through `community.services`; reads shaped for pages live in
`community.selectors`; who may see or do what is decided only in `community.policy`.
"""

from community.models.chat import ChatMessage
from community.models.groups import Group, Invite, JoinQuestion, Membership, new_invite_token
from community.models.meetings import (
    CheckIn,
    CheckInReceipt,
    Meeting,
    MeetingReminder,
    MeetingReply,
)
from community.models.notifications import Notification
from community.models.people import User, UserManager
from community.models.signposts import Resource, Signpost

__all__ = [
    "ChatMessage",
    "CheckIn",
    "CheckInReceipt",
    "Group",
    "Invite",
    "JoinQuestion",
    "Meeting",
    "MeetingReminder",
    "MeetingReply",
    "Membership",
    "Notification",
    "Resource",
    "Signpost",
    "User",
    "UserManager",
    "new_invite_token",
]
