"""Group health: aggregated figures for a group's owners and moderators (and a CSV).

Only counts, never names or words. Each figure is one query that aggregates in the
database over fixed month or week boundaries worked out here (in the site's time zone),
so the page costs the same number of queries however big the group grows. Any count of
people from 1 to 4 is shown as "fewer than 5", so nobody can be picked out.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Avg, Count, F, Min, Q
from django.utils import timezone

from community.models import ChatMessage, CheckIn, Group, Meeting, MeetingReply, Membership
from moderation.models import AuditEntry

K_ANONYMITY = 5
FEWER = f"fewer than {K_ANONYMITY}"
NOT_ENOUGH = "Not enough answers yet to show without identifying anyone"
MONTHS = 12
WEEKS = 12
UNANSWERED_MONTHS = 3
UNANSWERED_AFTER = timedelta(hours=48)

JOINED = (AuditEntry.Action.MEMBER_JOINED, AuditEntry.Action.MEMBER_APPROVED,
          AuditEntry.Action.INVITE_USED)
LEFT = (AuditEntry.Action.MEMBER_LEFT, AuditEntry.Action.MEMBER_REMOVED,
        AuditEntry.Action.MEMBER_BANNED)


def people(count: int) -> int | str:
    """A count of people, made safe to show: 1 to 4 become "fewer than 5"."""
    return FEWER if 0 < count < K_ANONYMITY else count


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @property
    def month_label(self) -> str:
        return f"{self.start:%B %Y}"

    @property
    def week_label(self) -> str:
        return f"Week starting {self.start.day} {self.start:%b %Y}"

    @property
    def iso(self) -> str:
        return self.start.date().isoformat()


def _aware(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.get_current_timezone())


def last_months(now: datetime, count: int = MONTHS) -> list[Period]:
    """The last `count` calendar months, oldest first, the current one included."""
    first = timezone.localtime(now).date().replace(day=1)
    starts = []
    year, month = first.year, first.month
    for _ in range(count):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    starts.reverse()
    periods = []
    for start in starts:
        nxt = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        periods.append(Period(_aware(start), _aware(nxt)))
    return periods


def last_weeks(now: datetime, count: int = WEEKS) -> list[Period]:
    """The last `count` weeks (Monday to Sunday), oldest first, this week included."""
    today = timezone.localtime(now).date()
    monday = today - timedelta(days=today.weekday())
    return [Period(_aware(monday - timedelta(weeks=i)), _aware(monday - timedelta(weeks=i - 1)))
            for i in range(count - 1, -1, -1)]


def _in(period: Period, field_name: str = "created_at") -> Q:
    return Q(**{f"{field_name}__gte": period.start, f"{field_name}__lt": period.end})


@dataclass
class MonthRow:
    period: Period
    joined: int = 0
    left: int = 0
    meetings: int = 0
    going: int = 0
    checkins: int = 0
    checkin_average: float | None = None
    checkin_scores: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.period.month_label

    @property
    def joined_shown(self):
        return people(self.joined)

    @property
    def left_shown(self):
        return people(self.left)

    @property
    def going_shown(self):
        return people(self.going)

    @property
    def checkins_shown(self) -> bool:
        return self.checkins >= K_ANONYMITY


@dataclass
class WeekRow:
    period: Period
    active: int = 0
    messages: int = 0

    @property
    def label(self) -> str:
        return self.period.week_label

    @property
    def active_shown(self):
        return people(self.active)


@dataclass
class GroupHealth:
    group: Group
    now: datetime
    months: list[MonthRow]
    weeks: list[WeekRow]
    unanswered: int
    threads_counted: int
    median_first_reply_hours: float | None
    checkins_enabled: bool

    @property
    def any_checkins(self) -> bool:
        return any(row.checkins for row in self.months)


def _joined_and_left(group: Group, months: list[MonthRow]) -> None:
    """Distinct people who joined and who left (or were removed) each month."""
    aggregates = {}
    for i, row in enumerate(months):
        aggregates[f"j{i}"] = Count("target_user", distinct=True,
                                    filter=_in(row.period) & Q(action__in=JOINED))
        aggregates[f"l{i}"] = Count("target_user", distinct=True,
                                    filter=_in(row.period) & Q(action__in=LEFT))
    totals = AuditEntry.objects.filter(
        group=group, action__in=JOINED + LEFT, created_at__gte=months[0].period.start,
        created_at__lt=months[-1].period.end,
    ).aggregate(**aggregates)
    for i, row in enumerate(months):
        row.joined = totals[f"j{i}"]
        row.left = totals[f"l{i}"]


def _active_members(group: Group, weeks: list[WeekRow]) -> None:
    """Distinct people who wrote in the chat or the forum, week by week."""
    from forums.models import Post  # forums build on community

    start, end = weeks[0].period.start, weeks[-1].period.end
    aggregates = {}
    for i, row in enumerate(weeks):
        chat = ChatMessage.objects.filter(_in(row.period), group=group).values("author_id")
        posts = Post.objects.filter(_in(row.period), group=group).values("author_id")
        aggregates[f"a{i}"] = Count("user_id", distinct=True,
                                    filter=Q(user_id__in=chat) | Q(user_id__in=posts))
    # Everyone who ever wrote here has (or had) a membership row: leavers keep theirs.
    writers = Q(user_id__in=ChatMessage.objects.filter(
        group=group, created_at__gte=start, created_at__lt=end).values("author_id")) | Q(
        user_id__in=Post.objects.filter(
            group=group, created_at__gte=start, created_at__lt=end).values("author_id"))
    totals = Membership.objects.filter(writers, group=group).aggregate(**aggregates)
    for i, row in enumerate(weeks):
        row.active = totals[f"a{i}"]


def _chat_messages(group: Group, weeks: list[WeekRow]) -> None:
    aggregates = {f"m{i}": Count("pk", filter=_in(row.period)) for i, row in enumerate(weeks)}
    totals = ChatMessage.objects.filter(
        group=group, created_at__gte=weeks[0].period.start, created_at__lt=weeks[-1].period.end,
    ).exclude(status=ChatMessage.Status.REMOVED).aggregate(**aggregates)
    for i, row in enumerate(weeks):
        row.messages = totals[f"m{i}"]


def _threads(group: Group, now: datetime) -> tuple[int, int, float | None]:
    """Threads started in the last 3 months: how many had no reply from someone else
    within 48 hours (counting only those at least 48 hours old), and the median hours to
    a first reply."""
    from forums.models import Post, Thread  # forums build on community

    since = last_months(now, UNANSWERED_MONTHS)[0].start
    first_reply = Min(
        "posts__created_at",
        filter=Q(posts__parent__isnull=False, posts__status=Post.Status.PUBLISHED,
                 posts__deleted_at__isnull=True)
        & ~Q(posts__author_id=F("author_id")),
    )
    threads = list(
        Thread.objects.filter(group=group, status=Thread.Status.VISIBLE, created_at__gte=since,
                              created_at__lte=now)
        .annotate(first_reply=first_reply)
        .values_list("created_at", "first_reply")
    )
    old_enough = [(c, r) for c, r in threads if now - c >= UNANSWERED_AFTER]
    unanswered = sum(1 for c, r in old_enough if r is None or r - c > UNANSWERED_AFTER)
    waits = [(r - c).total_seconds() / 3600 for c, r in threads if r is not None]
    median = round(statistics.median(waits), 1) if waits else None
    return unanswered, len(old_enough), median


def _meetings(group: Group, months: list[MonthRow], now: datetime) -> None:
    """Meeting dates that have taken place, and "going" replies, month by month."""
    start, end = months[0].period.start, min(months[-1].period.end, now)
    meetings = list(Meeting.objects.filter(group=group, starts_at__lt=end))
    for meeting in meetings:
        for held in dates_held(meeting, start=start, end=end):
            for row in months:
                if row.period.start <= held < row.period.end:
                    row.meetings += 1
    aggregates = {f"g{i}": Count("pk", filter=_in(row.period, "occurrence"))
                  for i, row in enumerate(months)}
    totals = MeetingReply.objects.filter(
        meeting__group=group, answer=MeetingReply.Answer.GOING,
        occurrence__gte=start, occurrence__lt=months[-1].period.end,
    ).aggregate(**aggregates)
    for i, row in enumerate(months):
        row.going = totals[f"g{i}"]


def dates_held(meeting: Meeting, *, start: datetime, end: datetime) -> list[datetime]:
    """The dates of a meeting between start and end, stopping when it was cancelled
    (the dates themselves come from the meeting's rule, in `community/recurrence.py`)."""
    from community import recurrence

    stop = end if meeting.cancelled_at is None else min(end, meeting.cancelled_at)
    return recurrence.occurrences(meeting, start, stop)


def _checkins(group: Group, months: list[MonthRow]) -> None:
    """Answers per month: how many, the average and how many gave each score."""
    by_score = {f"s{s}": Count("pk", filter=Q(score=s)) for s in range(1, 6)}
    rows = (
        CheckIn.objects.filter(group=group, month__gte=months[0].period.start.date())
        .values("month").annotate(n=Count("pk"), average=Avg("score"), **by_score)
    )
    by_month = {row["month"]: row for row in rows}
    for row in months:
        found = by_month.get(row.period.start.date())
        if found:
            row.checkins = found["n"]
            row.checkin_average = round(float(found["average"]), 1)
            row.checkin_scores = [found[f"s{s}"] for s in range(1, 6)]


def group_health(group: Group, *, now: datetime | None = None) -> GroupHealth:
    """Every figure of the health page and the CSV, in a fixed number of queries."""
    now = now or timezone.now()
    months = [MonthRow(period) for period in last_months(now)]
    weeks = [WeekRow(period) for period in last_weeks(now)]
    _joined_and_left(group, months)
    _active_members(group, weeks)
    _chat_messages(group, weeks)
    unanswered, counted, median = _threads(group, now)
    _meetings(group, months, now)
    _checkins(group, months)
    return GroupHealth(group=group, now=now, months=months, weeks=weeks,
                       unanswered=unanswered, threads_counted=counted,
                       median_first_reply_hours=median,
                       checkins_enabled=group.checkins_enabled)


def csv_rows(health: GroupHealth) -> list[list[str | int | float]]:
    """The same figures as the page, one per line: figure, period, value."""
    rows: list[list] = [["figure", "period", "value"]]
    for m in health.months:
        rows.append(["members joined", m.period.iso[:7], m.joined_shown])
    for m in health.months:
        rows.append(["members left or removed", m.period.iso[:7], m.left_shown])
    for w in health.weeks:
        rows.append(["active members (wrote in chat or forum)", f"week of {w.period.iso}",
                     w.active_shown])
    for w in health.weeks:
        rows.append(["chat messages", f"week of {w.period.iso}", w.messages])
    period = f"threads started in the last {UNANSWERED_MONTHS} months"
    rows.append(["threads without a reply after 48 hours", period, health.unanswered])
    rows.append(["median hours to first reply", period,
                 "" if health.median_first_reply_hours is None
                 else health.median_first_reply_hours])
    for m in health.months:
        rows.append(["meeting dates held", m.period.iso[:7], m.meetings])
    for m in health.months:
        rows.append(["meeting replies: going", m.period.iso[:7], m.going_shown])
    for m in health.months:
        if not m.checkins:
            continue
        month = m.period.iso[:7]
        if not m.checkins_shown:
            rows.append(["check-in answers", month, FEWER])
            continue
        rows.append(["check-in answers", month, m.checkins])
        rows.append(["check-in average (1 to 5)", month, m.checkin_average])
        for score, n in enumerate(m.checkin_scores, start=1):
            rows.append([f"check-in answers scoring {score}", month, n])
    return rows
