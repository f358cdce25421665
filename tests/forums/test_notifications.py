"""Who hears about a forum post, how, and how often.

Replies to your post, replies in threads you follow and @mentions make a notification:
stored in-app, pushed to the person's own socket after commit, and emailed according to
their choice (each time, never, or in one daily summary). Each person is told once per
post, never about their own post, and never once they are no longer a member.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from community import realtime
from community.models import Group, Membership, Notification, User
from community.services.notifications import mark_notifications_read, send_daily_digests
from forums import services
from forums.models import Category, Post, Thread
from tests.conftest import add_membership

K = Notification.Kind
FORUM_KINDS = (K.FORUM_REPLY, K.FORUM_MENTION)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def published(monkeypatch):
    """Every (channel group, event) published, recorded instead of sent."""
    events: list[tuple[str, dict]] = []
    monkeypatch.setattr(realtime, "publish", lambda group, event: events.append((group, event)))
    return events


class Circle:
    """One group with named members (mentionable by their display names)."""

    owner: User
    group: Group
    alice: User
    bob: User
    carol: User
    category: Category

    def thread(self, author: User, body: str = "How was everyone's week?",
               title: str = "Weekly check-in") -> Thread:
        return services.start_thread(actor=author, group=self.group, category=self.category,
                                     title=title, body=body)

    def reply(self, author: User, thread: Thread, body: str = "Hanging in there.",
              parent: Post | None = None) -> Post:
        if parent is not None:  # as the view does: the parent comes from the database
            parent = Post.objects.get(pk=parent.pk)
        return services.reply(actor=author, thread=thread, body=body, parent=parent)


@pytest.fixture
def circle(make_user, make_group) -> Circle:
    c = Circle()
    c.owner = make_user("Olive Owner")
    c.group = make_group(Group.Privacy.APPROVAL, owner=c.owner, name="Kidney Friends")
    c.alice, c.bob, c.carol = (make_user(name) for name in
                               ("Alice Moss", "Bob Reyes", "Carol Singh"))
    for person in (c.alice, c.bob, c.carol):
        add_membership(person, c.group, "approved")
    services.create_default_categories(c.group)
    c.category = Category.objects.filter(group=c.group).first()
    return c


def opening(thread: Thread) -> Post:
    return Post.objects.get(thread=thread, parent__isnull=True)


def notices(user: User, kinds=FORUM_KINDS) -> list[Notification]:
    return list(Notification.objects.filter(user=user, kind__in=kinds).order_by("id"))


def set_email(user: User, choice: str) -> User:
    User.objects.filter(pk=user.pk).update(email_notifications=choice)
    return User.objects.get(pk=user.pk)


def leave(user: User, group: Group, status: str = Membership.Status.LEFT) -> None:
    Membership.objects.filter(user=user, group=group).update(status=status)


# --- who is told ----------------------------------------------------------------------------


def test_a_reply_to_your_post_tells_you(circle):
    thread = circle.thread(circle.alice)
    circle.reply(circle.bob, thread, "I hear you.")

    [notice] = notices(circle.alice)
    assert notice.kind == K.FORUM_REPLY and notice.group == circle.group
    assert notice.text == "Bob Reyes replied to your post in “Weekly check-in”."
    post = Post.objects.get(thread=thread, author=circle.bob)
    assert notice.url.endswith(f"?post={post.pk}#post-{post.pk}")
    assert f"/{thread.pk}" in notice.url
    assert notice.read_at is None


def test_a_reply_to_a_reply_tells_the_parent_author_and_the_followers(circle):
    thread = circle.thread(circle.alice)
    bobs = circle.reply(circle.bob, thread, "Same here.")
    circle.reply(circle.carol, thread, "Bob, how did the appointment go?", parent=bobs)

    [to_bob] = notices(circle.bob)
    assert to_bob.kind == K.FORUM_REPLY
    assert to_bob.text == "Carol Singh replied to your post in “Weekly check-in”."
    alices = notices(circle.alice)
    assert [n.text for n in alices] == [
        "Bob Reyes replied to your post in “Weekly check-in”.",
        "Carol Singh replied in “Weekly check-in”.",  # a follower, not the parent author
    ]


def test_followers_who_never_posted_are_told_and_unfollowing_stops_it(circle):
    thread = circle.thread(circle.alice)
    services.set_following(actor=circle.carol, thread=thread, following=True)
    circle.reply(circle.bob, thread, "First reply.")
    [notice] = notices(circle.carol)
    assert notice.kind == K.FORUM_REPLY
    assert notice.text == "Bob Reyes replied in “Weekly check-in”."

    services.set_following(actor=circle.carol, thread=thread, following=False)
    circle.reply(circle.bob, thread, "Second reply.")
    assert len(notices(circle.carol)) == 1


def test_a_parent_author_who_unfollowed_still_hears_of_replies_to_their_post(circle):
    thread = circle.thread(circle.alice)
    services.set_following(actor=circle.alice, thread=thread, following=False)
    circle.reply(circle.bob, thread)
    assert [n.kind for n in notices(circle.alice)] == [K.FORUM_REPLY]


def test_members_not_following_and_not_answered_are_not_told(circle):
    thread = circle.thread(circle.alice)
    circle.reply(circle.bob, thread)
    assert notices(circle.carol) == [] and notices(circle.owner) == []


def test_a_mention_tells_the_person_mentioned(circle):
    thread = circle.thread(circle.alice)
    circle.reply(circle.bob, thread, "@Carol Singh you had this too, didn't you?")
    [notice] = notices(circle.carol)
    assert notice.kind == K.FORUM_MENTION
    assert notice.text == "Bob Reyes mentioned you in “Weekly check-in”."


def test_mentions_in_an_opening_post_tell_people_too(circle):
    circle.thread(circle.alice, "Welcome @Carol Singh and @bob reyes!")
    assert [n.kind for n in notices(circle.carol)] == [K.FORUM_MENTION]
    assert [n.kind for n in notices(circle.bob)] == [K.FORUM_MENTION]


def test_each_person_is_told_once_per_post(circle):
    thread = circle.thread(circle.alice)
    bobs = circle.reply(circle.bob, thread, "Thanks Alice.")
    services.set_following(actor=circle.carol, thread=thread, following=True)
    before = {u.pk: len(notices(u)) for u in (circle.alice, circle.bob, circle.carol)}

    # Bob is the parent author, a follower and mentioned twice; Carol follows and is
    # mentioned; Alice follows.
    circle.reply(circle.owner, thread, "@Bob Reyes and @Carol Singh: @Bob Reyes again.",
                 parent=bobs)

    after = {u.pk: len(notices(u)) for u in (circle.alice, circle.bob, circle.carol)}
    assert {pk: after[pk] - before[pk] for pk in after} == {
        circle.alice.pk: 1, circle.bob.pk: 1, circle.carol.pk: 1}
    assert notices(circle.bob)[-1].kind == K.FORUM_MENTION
    assert notices(circle.carol)[-1].kind == K.FORUM_MENTION
    assert notices(circle.alice)[-1].kind == K.FORUM_REPLY


def test_the_author_is_never_told_about_their_own_post(circle):
    thread = circle.thread(circle.alice, "Note to self @Alice Moss")
    first = opening(thread)
    circle.reply(circle.alice, thread, "Replying to myself, @Alice Moss.", parent=first)
    assert notices(circle.alice) == []


@pytest.mark.parametrize("status", [Membership.Status.LEFT, Membership.Status.REMOVED,
                                    Membership.Status.BANNED])
def test_people_no_longer_in_the_group_are_never_told(circle, status):
    thread = circle.thread(circle.alice)
    bobs = circle.reply(circle.bob, thread, "Following along.")  # Bob follows now
    assert notices(circle.bob) == []
    leave(circle.bob, circle.group, status)

    # a reply to Bob's post that also mentions him, and a reply in a thread he follows
    circle.reply(circle.carol, thread, "@Bob Reyes what do you think?", parent=bobs)
    circle.reply(circle.alice, thread, "Anyone?")

    assert notices(circle.bob) == []
    assert len(notices(circle.alice)) == 2  # the others are still told


def test_people_who_were_never_members_are_not_told_when_mentioned(circle, make_user):
    outsider = make_user("Dana Out")
    thread = circle.thread(circle.alice, "Has anyone heard from @Dana Out?")
    circle.reply(circle.bob, thread, "@Dana Out come and join us")
    assert notices(outsider) == []


# --- email -----------------------------------------------------------------------------------


def test_immediate_email_is_sent_after_commit(circle, mailoutbox,
                                              django_capture_on_commit_callbacks):
    alice = set_email(circle.alice, User.EmailChoice.IMMEDIATE)
    carol = set_email(circle.carol, User.EmailChoice.IMMEDIATE)
    thread = circle.thread(alice)
    assert mailoutbox == []

    with django_capture_on_commit_callbacks(execute=False) as pending:
        circle.reply(circle.bob, thread, "@Carol Singh, see Alice's question.")
    assert mailoutbox == [], "no email before the transaction commits"
    for callback in pending:
        callback()

    by_address = {m.to[0]: m for m in mailoutbox}
    assert set(by_address) == {alice.email, carol.email}
    assert by_address[alice.email].subject == "[Kindred] New reply in Kidney Friends"
    assert "Bob Reyes replied to your post in “Weekly check-in”." in by_address[
        alice.email].body
    assert by_address[carol.email].subject == "[Kindred] You were mentioned in Kidney Friends"
    assert "Bob Reyes mentioned you" in by_address[carol.email].body


def test_immediate_email_with_callbacks_executed(circle, mailoutbox,
                                                 django_capture_on_commit_callbacks):
    alice = set_email(circle.alice, User.EmailChoice.IMMEDIATE)
    thread = circle.thread(alice)
    with django_capture_on_commit_callbacks(execute=True):
        circle.reply(circle.bob, thread)
    assert [m.to for m in mailoutbox] == [[alice.email]]


@pytest.mark.parametrize("choice", [User.EmailChoice.OFF, User.EmailChoice.DAILY])
def test_no_email_now_when_off_or_daily(circle, mailoutbox, choice,
                                        django_capture_on_commit_callbacks):
    alice = set_email(circle.alice, choice)
    carol = set_email(circle.carol, choice)
    thread = circle.thread(alice)
    with django_capture_on_commit_callbacks(execute=True):
        circle.reply(circle.bob, thread, "@Carol Singh look")
    assert mailoutbox == []
    assert len(notices(alice)) == 1 and len(notices(carol)) == 1  # still told in-app


def test_the_daily_summary_lists_unread_activity_once_a_day(circle, mailoutbox,
                                                            django_capture_on_commit_callbacks):
    alice = set_email(circle.alice, User.EmailChoice.DAILY)
    set_email(circle.bob, User.EmailChoice.OFF)
    set_email(circle.carol, User.EmailChoice.IMMEDIATE)
    thread = circle.thread(alice)
    with django_capture_on_commit_callbacks(execute=True):
        circle.reply(circle.bob, thread, "First")
        circle.reply(circle.carol, thread, "Second")
    assert mailoutbox == []

    first_run = timezone.now()
    assert send_daily_digests(first_run) == 1
    [summary] = mailoutbox
    assert summary.to == [alice.email]
    assert summary.subject == "[Kindred] Your daily summary"
    assert "Bob Reyes replied to your post in “Weekly check-in”." in summary.body
    assert "Carol Singh replied to your post in “Weekly check-in”." in summary.body
    assert User.objects.get(pk=alice.pk).digest_sent_at == first_run

    # Not again within 23 hours, even with something new to say.
    circle.reply(circle.owner, thread, "Third")
    for hours in (1, 12, 22.9):
        assert send_daily_digests(first_run + timezone.timedelta(hours=hours)) == 0
    assert len(mailoutbox) == 1

    # A day later: one more summary, with only what is new since the last one.
    assert send_daily_digests(first_run + timezone.timedelta(hours=24)) == 1
    assert len(mailoutbox) == 2
    second = mailoutbox[1].body
    assert "Olive Owner replied to your post" in second
    assert "Bob Reyes" not in second and "Carol Singh" not in second


def test_the_daily_summary_skips_read_notifications(circle, mailoutbox):
    alice = set_email(circle.alice, User.EmailChoice.DAILY)
    thread = circle.thread(alice)
    circle.reply(circle.bob, thread)
    assert mark_notifications_read(actor=alice) == 1
    assert send_daily_digests(timezone.now()) == 0
    assert mailoutbox == []


def test_the_daily_summary_is_only_for_people_who_chose_it(circle, mailoutbox):
    for person in (circle.alice, circle.bob):
        set_email(person, User.EmailChoice.OFF)
    set_email(circle.carol, User.EmailChoice.IMMEDIATE)
    thread = circle.thread(circle.alice, "@Carol Singh hello")
    circle.reply(circle.bob, thread)
    assert send_daily_digests(timezone.now()) == 0
    assert mailoutbox == []


def test_the_daily_summary_mentions_mentions(circle, mailoutbox):
    carol = set_email(circle.carol, User.EmailChoice.DAILY)
    circle.thread(circle.alice, "@Carol Singh are you around?")
    assert send_daily_digests(timezone.now()) == 1
    assert "Alice Moss mentioned you in “Weekly check-in”." in mailoutbox[0].body
    assert mailoutbox[0].to == [carol.email]


# --- the personal socket -----------------------------------------------------------------------


def test_notifications_are_pushed_to_each_persons_own_socket_after_commit(
    circle, published, django_capture_on_commit_callbacks,
):
    thread = circle.thread(circle.alice)
    published.clear()
    with django_capture_on_commit_callbacks(execute=False) as pending:
        circle.reply(circle.bob, thread, "@Carol Singh over to you")
    assert published == [], "nothing is pushed before commit"
    for callback in pending:
        callback()

    pushed = {channel: event for channel, event in published
              if event["type"] == realtime.NOTIFICATION}
    assert set(pushed) == {realtime.user_group(circle.alice.pk),
                           realtime.user_group(circle.carol.pk)}
    to_alice = pushed[realtime.user_group(circle.alice.pk)]["notification"]
    stored = notices(circle.alice)[-1]
    assert to_alice["id"] == stored.pk and to_alice["kind"] == "forum_reply"
    assert to_alice["text"] == stored.text and to_alice["url"] == stored.url
    assert to_alice["group"] == circle.group.slug
    assert pushed[realtime.user_group(circle.carol.pk)]["notification"]["kind"] == (
        "forum_mention")
    assert realtime.user_group(circle.bob.pk) not in pushed  # never the author


def test_a_refused_reply_tells_nobody(circle, published, django_capture_on_commit_callbacks):
    thread = circle.thread(circle.alice)
    services.set_locked(actor=circle.owner, thread=thread, locked=True)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError):
        circle.reply(circle.bob, Thread.objects.get(pk=thread.pk), "@Carol Singh hi")
    assert published == []
    assert not Notification.objects.filter(kind__in=FORUM_KINDS).exists()
