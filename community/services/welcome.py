"""Welcoming newcomers: telling the welcomers, greeting, and the first-visit panel.

A greeting is an ordinary chat message or forum reply written by the welcomer through
the usual services (so it is screened and broadcast like any other), plus a note that the
newcomer has been greeted and a notification to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from community import policy
from community.models import Group, Membership, Notification, User
from community.services.chat import post_chat_message
from community.services.notifications import notify

CHAT = "chat"
INTRO = "intro"
INTRODUCTIONS = "Introductions"


def greet_url(group: Group, newcomer: User) -> str:
    return reverse("groups:greet", kwargs={"slug": group.slug, "user_id": newcomer.pk})


def default_greeting(group: Group, newcomer: User) -> str:
    return (
        f"Welcome, {newcomer.display_name}! We're really glad you found {group.name}. "
        "Take your time to settle in, read along, and say hello whenever you feel ready."
    )


def welcomers_of(group: Group, *, exclude: User | None = None):
    """The group's welcomers; if it has none, its moderators and owners say hello instead."""
    rows = Membership.objects.filter(group=group, status=Membership.Status.APPROVED)
    if exclude is not None:
        rows = rows.exclude(user_id=exclude.pk)
    welcomers = rows.filter(role=Membership.Role.WELCOMER)
    if not welcomers.exists():
        welcomers = rows.filter(role__in=[Membership.Role.MODERATOR, Membership.Role.OWNER])
    return User.objects.filter(pk__in=welcomers.values("user_id"), is_active=True)


def notify_welcomers(*, group: Group, newcomer: User) -> int:
    """Tell the welcomers someone new arrived, with a link to greet them in one click.

    Runs inside the caller's transaction (approval, joining, an invite), so nobody hears
    of a membership that was rolled back. Returns how many people were told.
    """
    url = greet_url(group, newcomer)
    told = 0
    for welcomer in welcomers_of(group, exclude=newcomer):
        notify(
            user=welcomer,
            kind=Notification.Kind.NEW_MEMBER,
            text=f"{newcomer.display_name} has joined {group.name}. Say hello!",
            url=url,
            group=group,
        )
        told += 1
    return told


def newcomer_membership(group: Group, user_id: int) -> Membership | None:
    return (
        Membership.objects.select_related("user")
        .filter(group=group, user_id=user_id, status=Membership.Status.APPROVED)
        .first()
    )


@dataclass(frozen=True)
class Greeting:
    url: str  # where the greeting can be read
    created: bool  # False when a double click found the first one already there
    held: bool = False  # screening held it for a moderator
    outcome: object | None = None


def _chat_client_id(row: Membership) -> str:
    """The same for every click on one greeting, new for each time someone joins."""
    joined = int(row.joined_at.timestamp()) if row.joined_at else 0
    return f"greet:{row.user_id}:{joined}"


def _greet_in_chat(actor: User, group: Group, row: Membership, message: str,
                   confirm: bool) -> Greeting:
    result = post_chat_message(actor=actor, group=group, body=message,
                               client_id=_chat_client_id(row), confirm=confirm)
    chat = reverse("groups:chat", kwargs={"slug": group.slug})
    return Greeting(url=f"{chat}#message-{result.message.pk}", created=result.created,
                    held=result.status != "published", outcome=result.outcome)


def introductions_category(group: Group):
    from forums.models import Category  # forums build on community

    return Category.objects.filter(group=group).order_by("position", "id").first()


def _greet_in_introductions(actor: User, group: Group, row: Membership, message: str,
                            confirm: bool) -> Greeting:
    from forums import services as forums  # forums build on community
    from forums.models import Post, Thread

    category = introductions_category(group)
    if category is None:
        raise ValidationError("This group's forum has no categories yet, so please say "
                              "hello in the chat instead.")
    thread = (
        Thread.objects.filter(group=group, category=category, title__iexact=INTRODUCTIONS,
                              status=Thread.Status.VISIBLE)
        .order_by("created_at", "id").first()
    )
    if thread is not None:
        # A double click finds the first copy (same words, same welcomer, since joining).
        since = row.joined_at or row.updated_at
        earlier = Post.objects.filter(thread=thread, author=actor, body=message.strip(),
                                      created_at__gte=since).first()
        if earlier is not None:
            return Greeting(url=forums.thread_url(thread, earlier), created=False)
        post = forums.reply(actor=actor, thread=thread, body=message, confirm=confirm)
        return Greeting(url=forums.thread_url(thread, post), created=True,
                        held=post.status != Post.Status.PUBLISHED, outcome=post.outcome)
    thread = forums.start_thread(actor=actor, group=group, category=category,
                                 title=INTRODUCTIONS, body=message, confirm=confirm)
    return Greeting(url=forums.thread_url(thread), created=True,
                    held=thread.status != Thread.Status.VISIBLE, outcome=thread.outcome)


def greet_member(*, actor: User, group: Group, newcomer: Membership, choice: str,
                 message: str, confirm: bool = False) -> Greeting:
    """Say hello to a new member in the chat or the Introductions thread, as the actor.

    The newcomer's row is locked for the whole greeting, so a double click waits for the
    first and then finds its greeting instead of posting a second one. Screening may ask
    the welcomer to think again (`ScreeningPrompt`) or refuse (`ScreeningBlocked`).
    """
    if choice not in (CHAT, INTRO):
        raise ValidationError({"choice": "Please choose where to say hello."})
    if not (message or "").strip():
        raise ValidationError({"message": "Please write a few words of welcome."})
    with transaction.atomic():
        row = Membership.objects.select_for_update().filter(pk=newcomer.pk).first()
        policy.require(policy.can_greet(actor, group, row))
        if choice == CHAT:
            greeting = _greet_in_chat(actor, group, row, message, confirm)
        else:
            greeting = _greet_in_introductions(actor, group, row, message, confirm)
        if greeting.created:
            if row.greeted_at is None:
                row.greeted_at = timezone.now()
                row.save(update_fields=["greeted_at", "updated_at"])
            if not greeting.held:
                where = "in the group chat" if choice == CHAT else "in the Introductions thread"
                notify(user=row.user, kind=Notification.Kind.GREETING, group=group,
                       text=f"{actor.display_name} said hello to you {where} of {group.name}.",
                       url=greeting.url)
    return greeting


def dismiss_welcome(*, actor: User, group: Group) -> Membership:
    """The member has read the welcome panel ("Got it"): stop showing it."""
    policy.require_member(actor, group)
    with transaction.atomic():
        row = Membership.objects.select_for_update().get(user=actor, group=group)
        if row.welcome_seen_at is None:
            row.welcome_seen_at = timezone.now()
            row.save(update_fields=["welcome_seen_at", "updated_at"])
    policy.forget_memberships(actor)
    return row
