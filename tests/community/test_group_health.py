"""Group health: aggregated figures from fixed data, privacy (never names, nothing under 5
people), the CSV for commissioners, flat query counts and who may look."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from community.models import ChatMessage, CheckIn, Group, Meeting, MeetingReply
from community.selectors_health import FEWER, group_health
from forums.models import Category, Post, Thread
from moderation.models import AuditEntry
from tests.conftest import add_membership

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2025, 6, 18, 12, 0, tzinfo=LONDON)  # a Wednesday
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=LONDON)


def joined(group, user, when, action=AuditEntry.Action.MEMBER_JOINED):
    AuditEntry.objects.create(action=action, group=group, target_user=user, created_at=when,
                              target_name=user.display_name)


def chat(group, author, when, body="Hello there"):
    return ChatMessage.objects.create(group=group, seq=next(_seq), author=author,
                                      client_id=f"c{next(_seq)}", body=body,
                                      body_html=f"<p>{body}</p>", created_at=when)


def thread(group, author, when, replies=(), title="How do you cope?"):
    """A thread opened at `when`, with (author, hours later) replies."""
    category = Category.objects.get_or_create(group=group, name="General")[0]
    t = Thread.objects.create(group=group, category=category, title=title, author=author,
                              created_at=when)
    opening = Post.objects.create(thread=t, group=group, author=author, body="Opening words",
                                  body_html="<p>Opening words</p>", created_at=when,
                                  tree_key=f"{next(_seq):010d}")
    for person, hours in replies:
        Post.objects.create(thread=t, group=group, author=person, parent=opening, depth=1,
                            body="A reply", body_html="<p>A reply</p>",
                            created_at=when + timedelta(hours=hours),
                            tree_key=opening.tree_key + f"{next(_seq):010d}")
    return t


@pytest.fixture
def group(make_group):
    return make_group(Group.Privacy.APPROVAL)


@pytest.fixture
def crowd(group, make_user):
    people = [make_user(f"Secret Name {i}") for i in range(8)]
    for person in people:
        add_membership(person, group, "approved")
    return people


@pytest.fixture
def figures(group, crowd):
    """Fixed data around NOW, and the figures worked out from it."""
    a, b, c, d, e, f, g, h = crowd
    # May: six people joined (one of them twice), one was approved; June: two joined, one left.
    for person in (a, b, c, d, e):
        joined(group, person, at(2025, 5, 3, 10))
    joined(group, a, at(2025, 5, 20, 10))
    joined(group, f, at(2025, 5, 21, 10), AuditEntry.Action.MEMBER_APPROVED)
    joined(group, g, at(2025, 6, 2, 10), AuditEntry.Action.INVITE_USED)
    joined(group, h, at(2025, 6, 3, 10))
    joined(group, b, at(2025, 6, 4, 10), AuditEntry.Action.MEMBER_LEFT)
    joined(group, c, at(2024, 5, 4, 10))  # more than 12 months ago: not shown
    # Week of 9 June: five chat authors and one forum-only author (six active people).
    for person in (a, b, c, d, e):
        chat(group, person, at(2025, 6, 10, 9))
    chat(group, a, at(2025, 6, 11, 9))
    # Week of 2 June: two active people (one in both the chat and the forum).
    chat(group, g, at(2025, 6, 3, 9))
    # Threads in the last three months (replies: (author, hours after opening)).
    thread(group, f, at(2025, 6, 10, 10), [(g, 2)])  # answered in 2h (week of 9 June)
    thread(group, g, at(2025, 6, 2, 10), [(h, 72)])  # answered late: 72h
    thread(group, h, at(2025, 6, 3, 10))  # never answered
    thread(group, a, at(2025, 6, 4, 10), [(a, 1)])  # only the author replied
    thread(group, b, at(2025, 6, 5, 10), [(c, 10)])  # answered in 10h
    thread(group, c, at(2025, 6, 17, 20))  # too new to count as unanswered
    thread(group, d, at(2025, 2, 1, 10))  # too old
    # Meetings: a one-off in May, weekly on Tuesdays through May, one cancelled, one ahead.
    Meeting.objects.create(group=group, title="Coffee", starts_at=at(2025, 5, 10, 11))
    weekly = Meeting.objects.create(group=group, title="Tuesday group",
                                    starts_at=at(2025, 5, 6, 19), recurrence="weekly",
                                    repeat_until=at(2025, 5, 27, 0).date())
    Meeting.objects.create(group=group, title="Called off", starts_at=at(2025, 4, 8, 19),
                           cancelled_at=at(2025, 4, 1, 9))
    Meeting.objects.create(group=group, title="Later", starts_at=at(2025, 6, 25, 19))
    for person in (a, b, c, d, e):
        MeetingReply.objects.create(meeting=weekly, user=person, occurrence=at(2025, 5, 6, 19),
                                    answer="going")
    MeetingReply.objects.create(meeting=weekly, user=f, occurrence=at(2025, 5, 6, 19),
                                answer="maybe")
    MeetingReply.objects.create(meeting=weekly, user=a, occurrence=at(2025, 6, 3, 19),
                                answer="going")
    return group_health(group, now=NOW)


def month(figures, year, number):
    return next(m for m in figures.months if (m.period.start.year, m.period.start.month) == (
        year, number))


def week(figures, year, number, day):
    return next(w for w in figures.weeks if w.period.start == at(year, number, day))


def test_periods_are_the_last_12_months_and_12_weeks(figures):
    assert [m.label for m in figures.months][:1] == ["July 2024"]
    assert figures.months[-1].label == "June 2025"
    assert len(figures.weeks) == 12
    assert figures.weeks[-1].period.start == at(2025, 6, 16)
    assert figures.weeks[0].period.start == at(2025, 3, 31)


def test_members_joined_and_left_per_month(figures):
    may, june, april = month(figures, 2025, 5), month(figures, 2025, 6), month(figures, 2025, 4)
    assert (may.joined, may.left) == (6, 0)  # a joined twice: one person
    assert (june.joined, june.left) == (2, 1)
    assert (april.joined, april.left) == (0, 0)
    assert (may.joined_shown, june.joined_shown, june.left_shown) == (6, FEWER, FEWER)


def test_active_members_and_chat_messages_per_week(figures):
    busy, other, latest = (week(figures, 2025, 6, 9), week(figures, 2025, 6, 2),
                           week(figures, 2025, 6, 16))
    assert (busy.active, busy.messages) == (7, 6)  # five chatting, f and g in the forum
    assert (other.active, other.messages) == (5, 1)  # g chatted; g, h, a, b, c in the forum
    assert (latest.active, latest.messages) == (1, 0)
    assert (busy.active_shown, other.active_shown, latest.active_shown) == (7, 5, FEWER)
    assert week(figures, 2025, 4, 7).active_shown == 0


def test_threads_without_a_reply_after_48_hours_and_median_first_reply(figures):
    assert figures.unanswered == 3  # late, never, and only the author
    assert figures.threads_counted == 5
    assert figures.median_first_reply_hours == 10.0  # of 2, 10 and 72 hours


def test_meetings_held_and_people_going_per_month(figures):
    may, june, april = month(figures, 2025, 5), month(figures, 2025, 6), month(figures, 2025, 4)
    assert may.meetings == 5  # the one-off and four Tuesdays
    assert (june.meetings, april.meetings) == (0, 0)  # ahead, and called off
    assert (may.going, may.going_shown) == (5, 5)
    assert (june.going, june.going_shown) == (1, FEWER)


# --- the page and the CSV ----------------------------------------------------------------------


def health_url(group, csv_file=False):
    return reverse("groups:health_csv" if csv_file else "groups:health",
                   kwargs={"slug": group.slug})


def recent_data(group, crowd, n):
    """Activity in the current week and month, for page tests (the view uses real time)."""
    now = timezone.now()
    for i, person in enumerate(crowd[:n]):
        joined(group, person, now - timedelta(minutes=5))
        chat(group, person, now - timedelta(minutes=5), body=f"Private words {i}")
        thread(group, person, now - timedelta(minutes=5), title=f"Private title {i}")


@pytest.mark.parametrize("n", [3, 6])
def test_page_shows_tables_with_captions_and_never_names_or_words(client, group, crowd, n):
    recent_data(group, crowd, n)
    client.force_login(group.created_by)
    response = client.get(health_url(group))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("<caption>") >= 2 and 'scope="col"' in body
    assert "Secret Name" not in body and "Private words" not in body
    assert "Private title" not in body
    if n < 5:
        assert FEWER in body
    assert f"<td>{n}</td>" in body or n < 5
    assert reverse("groups:health_csv", kwargs={"slug": group.slug}) in body


@pytest.mark.parametrize("n", [3, 6])
def test_csv_for_commissioners_parses_back_with_the_same_figures(client, group, crowd, n):
    recent_data(group, crowd, n)
    client.force_login(group.created_by)
    response = client.get(health_url(group, csv_file=True))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    text = response.content.decode()
    assert "Secret Name" not in text and "Private" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["figure", "period", "value"]
    this_month = timezone.localdate().isoformat()[:7]
    table = {(r[0], r[1]): r[2] for r in rows[1:]}
    expected = str(n) if n >= 5 else FEWER
    assert table[("members joined", this_month)] == expected
    weeks = [r for r in rows if r[0].startswith("active members")]
    assert len(weeks) == 12 and weeks[-1][2] == expected
    assert [r[2] for r in rows if r[0] == "chat messages"][-1] == str(n)
    # every people-count cell is 0, 5 or more, or "fewer than 5"
    people_rows = [r for r in rows[1:] if r[0] in (
        "members joined", "members left or removed", "meeting replies: going")
        or r[0].startswith("active members")]
    assert all(r[2] == FEWER or r[2] == "0" or int(r[2]) >= 5 for r in people_rows)


# Session, user and header queries, then one query per figure (seven): the same for a
# group of three people or three thousand.
QUERY_BUDGET = 20


def test_page_query_count_stays_flat_as_the_group_grows(
    client, group, crowd, make_user, django_assert_max_num_queries
):
    client.force_login(group.created_by)
    client.get(health_url(group))  # warm the session
    recent_data(group, crowd, 2)
    with django_assert_max_num_queries(QUERY_BUDGET):
        assert client.get(health_url(group)).status_code == 200
    more = [make_user() for _ in range(12)]
    for person in more:
        add_membership(person, group, "approved")
    recent_data(group, more, 12)
    for i in range(6):
        CheckIn.objects.create(group=group, month=timezone.localdate().replace(day=1),
                               score=1 + i % 5)
        Meeting.objects.create(group=group, title=f"M{i}", starts_at=timezone.now()
                               - timedelta(days=i + 1))
    with django_assert_max_num_queries(QUERY_BUDGET):
        assert client.get(health_url(group)).status_code == 200
    with django_assert_max_num_queries(QUERY_BUDGET):
        assert client.get(health_url(group, csv_file=True)).status_code == 200


def test_figures_take_the_same_queries_for_a_small_and_a_big_group(group, crowd, make_user):
    recent_data(group, crowd, 1)
    with CaptureQueriesContext(connection) as small:
        group_health(group)
    more = [make_user() for _ in range(10)]
    for person in more:
        add_membership(person, group, "approved")
    recent_data(group, more, 10)
    with CaptureQueriesContext(connection) as big:
        group_health(group)
    assert len(small) == len(big) == 7  # one per figure


MAY_404 = ["anonymous", "outsider", "member", "welcomer", "pending", "banned"]


@pytest.mark.parametrize("role", MAY_404)
@pytest.mark.parametrize("csv_file", [False, True])
def test_health_is_404_to_everyone_but_moderators_owners_and_staff(
    client, group, make_user, role, csv_file
):
    if role != "anonymous":
        person = make_user()
        if role in ("member", "welcomer"):
            add_membership(person, group, "approved", role)
        elif role in ("pending", "banned"):
            add_membership(person, group, role)
        client.force_login(person)
    assert client.get(health_url(group, csv_file)).status_code == 404


@pytest.mark.parametrize("role", ["moderator", "owner", "staff"])
@pytest.mark.parametrize("csv_file", [False, True])
def test_moderators_owners_and_staff_see_group_health(client, group, make_user, role,
                                                      csv_file):
    person = group.created_by if role == "owner" else make_user(staff=role == "staff")
    if role == "moderator":
        add_membership(person, group, "approved", "moderator")
    client.force_login(person)
    assert client.get(health_url(group, csv_file)).status_code == 200


def test_group_health_link_is_in_the_group_navigation_for_moderators_only(
    client, group, make_user
):
    link = reverse("groups:health", kwargs={"slug": group.slug})
    client.force_login(group.created_by)
    assert link in client.get(group.get_absolute_url()).content.decode()
    member = make_user()
    add_membership(member, group, "approved")
    client.force_login(member)
    assert link not in client.get(group.get_absolute_url()).content.decode()


def test_unknown_group_health_is_404(client, make_user):
    client.force_login(make_user(staff=True))
    assert client.get("/groups/no-such-group/health/").status_code == 404
    assert client.get("/groups/no-such-group/health.csv").status_code == 404
