"""What can be flagged, seen the same way whatever it is: a chat message, a forum post,
a thread or a member's profile. One place knows how to find each, who wrote it, whether
a person may see it, and how to hide, remove or restore it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.http import Http404

from community import policy, realtime
from community.models import ChatMessage, Group, User
from forums.models import Post, Thread
from moderation.models import Case

CHAT_REMOVED = "chat.removed"


@dataclass
class Item:
    kind: str
    obj: Any
    group: Group
    author: User | None

    @property
    def case_field(self) -> str:
        """The Case foreign key that points at this kind of item (named like the kind)."""
        return self.kind

    def summary(self) -> str:
        if self.kind == Case.Kind.CHAT_MESSAGE:
            return self.obj.body
        if self.kind == Case.Kind.POST:
            return self.obj.body or "(deleted by the author)"
        if self.kind == Case.Kind.THREAD:
            return self.obj.title
        return self.obj.about


def load(kind: str, item_id: int, *, group: Group | None = None) -> Item:
    """The item, or 404 if there is no such thing (callers check who may see it)."""
    if kind == Case.Kind.CHAT_MESSAGE:
        obj = ChatMessage.objects.select_related("group", "author").filter(pk=item_id).first()
        if obj:
            return Item(kind, obj, obj.group, obj.author)
    elif kind == Case.Kind.POST:
        obj = Post.objects.select_related("group", "author", "thread").filter(pk=item_id).first()
        if obj:
            return Item(kind, obj, obj.group, obj.author)
    elif kind == Case.Kind.THREAD:
        obj = Thread.objects.select_related("group", "author").filter(pk=item_id).first()
        if obj:
            return Item(kind, obj, obj.group, obj.author)
    elif kind == Case.Kind.PROFILE and group is not None:
        obj = User.objects.filter(pk=item_id, is_active=True).first()
        if obj:
            return Item(kind, obj, group, obj)
    raise Http404("Not found")


def from_case(case: Case) -> Item:
    return Item(case.kind, getattr(case, case.kind), case.group, case.author)


def can_see(user: User, item: Item) -> bool:
    """May this person see the item (and so flag it)? Same answer the pages give."""
    if item.kind == Case.Kind.CHAT_MESSAGE:
        return policy.can_read_content(user, item.group) and (
            item.obj.status == ChatMessage.Status.PUBLISHED or item.obj.author_id == user.pk
        )
    if item.kind == Case.Kind.POST:
        return policy.can_read_thread(user, item.obj.thread) and (
            item.obj.status == Post.Status.PUBLISHED or item.obj.author_id == user.pk
        ) and not item.obj.is_deleted
    if item.kind == Case.Kind.THREAD:
        return policy.can_read_thread(user, item.obj)
    return policy.can_read_content(user, item.group) and policy.is_member(item.obj, item.group)


def require_visible(user: User, item: Item) -> None:
    policy.require(can_see(user, item))


def set_visibility(item: Item, state: str, *, case: Case | None = None) -> None:
    """state: "published", "hidden" or "removed". Chat sockets drop what is not published.

    A profile has no status, so its "about" text is kept on the case while hidden and
    given back if the decision is undone.
    """
    obj = item.obj
    if item.kind == Case.Kind.PROFILE:
        if state != "published":
            if case is not None and obj.about:
                case.hidden_text = obj.about
                Case.objects.filter(pk=case.pk).update(hidden_text=obj.about)
            User.objects.filter(pk=obj.pk).update(about="")
        elif case is not None and case.hidden_text:
            User.objects.filter(pk=obj.pk).update(about=case.hidden_text)
        return
    if item.kind == Case.Kind.THREAD:
        value = {"published": Thread.Status.VISIBLE, "hidden": Thread.Status.HIDDEN,
                 "removed": Thread.Status.REMOVED}[state]
        Thread.objects.filter(pk=obj.pk).update(status=value)
        return
    if (item.kind == Case.Kind.CHAT_MESSAGE and state == "published"
            and ChatMessage.objects.filter(pk=obj.pk, status=ChatMessage.Status.HELD).exists()):
        from community.services.chat import release_held_message

        item.obj = release_held_message(obj, case=case)  # never seen: it arrives now
        return
    model = ChatMessage if item.kind == Case.Kind.CHAT_MESSAGE else Post
    model.objects.filter(pk=obj.pk).update(status=state)
    if item.kind == Case.Kind.CHAT_MESSAGE and state != "published":
        realtime.publish_on_commit(
            realtime.chat_group(item.group.pk),
            {"type": CHAT_REMOVED, "id": obj.pk,
             "frame": json.dumps({"type": "message.removed", "id": obj.pk})},
        )
