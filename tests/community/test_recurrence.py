"""When meetings happen: pure date arithmetic, on the meeting's own wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from community import recurrence
from community.models import Meeting

LONDON = ZoneInfo("Europe/London")


def meeting(start: datetime, kind: str = "none", until: date | None = None,
            zone: str = "Europe/London") -> Meeting:
    return Meeting(title="Coffee", starts_at=start, recurrence=kind, repeat_until=until,
                   time_zone=zone, duration_minutes=90)


def window(m: Meeting, days: int = 400, start: datetime | None = None, **kw) -> list[datetime]:
    start = start or m.starts_at
    return recurrence.occurrences(m, start, start + timedelta(days=days), **kw)


def test_one_off_meeting_has_one_date_and_only_inside_the_window():
    start = datetime(2026, 3, 3, 14, tzinfo=LONDON)
    m = meeting(start)
    assert window(m) == [start]
    assert recurrence.occurrences(m, start + timedelta(minutes=1), start + timedelta(days=9)) == []
    assert recurrence.next_occurrence(m, start - timedelta(days=1)) == start
    assert recurrence.next_occurrence(m, start + timedelta(hours=1)) is None


def test_weekly_meeting_every_seven_days():
    start = datetime(2026, 1, 6, 19, tzinfo=LONDON)  # a Tuesday
    dates = window(meeting(start, "weekly"), days=28)
    assert [d.date() for d in dates] == [date(2026, 1, 6), date(2026, 1, 13),
                                         date(2026, 1, 20), date(2026, 1, 27)]
    assert all(d.weekday() == 1 and d.hour == 19 for d in dates)


def test_fortnightly_meeting_every_fourteen_days():
    start = datetime(2026, 1, 8, 10, 30, tzinfo=LONDON)
    dates = window(meeting(start, "fortnightly"), days=43)
    assert [d.date() for d in dates] == [date(2026, 1, 8), date(2026, 1, 22),
                                         date(2026, 2, 5), date(2026, 2, 19)]


def test_monthly_meeting_on_the_first_tuesday():
    start = datetime(2026, 1, 6, 14, tzinfo=LONDON)  # first Tuesday of January 2026
    dates = window(meeting(start, "monthly"), days=150)
    assert [d.date() for d in dates] == [date(2026, 1, 6), date(2026, 2, 3), date(2026, 3, 3),
                                         date(2026, 4, 7), date(2026, 5, 5), date(2026, 6, 2)]
    assert all(d.day <= 7 and d.weekday() == 1 for d in dates)


def test_monthly_meeting_on_the_third_thursday():
    start = datetime(2026, 1, 15, 18, tzinfo=LONDON)  # third Thursday
    dates = window(meeting(start, "monthly"), days=70)
    assert [d.date() for d in dates] == [date(2026, 1, 15), date(2026, 2, 19),
                                         date(2026, 3, 19)]


def test_weekly_seven_pm_stays_seven_pm_across_the_clocks_going_back():
    # BST ends on Sunday 25 October 2026: before it 7pm is 18:00 UTC, after it 19:00 UTC.
    start = datetime(2026, 10, 13, 19, tzinfo=LONDON)
    dates = window(meeting(start, "weekly"), days=21)
    assert [(d.hour, d.minute) for d in dates] == [(19, 0)] * 3
    in_utc = [d.astimezone(UTC).hour for d in dates]
    assert in_utc == [18, 18, 19]
    assert [d.tzname() for d in dates] == ["BST", "BST", "GMT"]


def test_weekly_meeting_keeps_its_local_time_when_the_clocks_go_forward():
    start = datetime(2026, 3, 24, 19, tzinfo=LONDON)  # BST begins 29 March 2026
    dates = window(meeting(start, "weekly"), days=8)
    assert [d.astimezone(UTC).hour for d in dates] == [19, 18]
    assert [d.hour for d in dates] == [19, 19]


def test_meeting_in_another_zone_keeps_its_own_wall_clock():
    start = datetime(2026, 3, 3, 9, tzinfo=ZoneInfo("America/New_York"))
    m = meeting(start, "weekly", zone="America/New_York")
    # US clocks change on 8 March, UK clocks on 29 March: the New York time never moves.
    dates = window(m, days=35)
    assert {d.astimezone(ZoneInfo("America/New_York")).hour for d in dates} == {9}


def test_repeat_until_is_the_last_possible_date_and_is_included():
    start = datetime(2026, 1, 6, 14, tzinfo=LONDON)
    dates = window(meeting(start, "weekly", until=date(2026, 1, 27)))
    assert [d.date() for d in dates][-1] == date(2026, 1, 27)
    assert len(dates) == 4
    assert recurrence.next_occurrence(meeting(start, "weekly", until=date(2026, 1, 27)),
                                      datetime(2026, 1, 28, tzinfo=LONDON)) is None


def test_occurrences_are_bounded_whatever_is_asked():
    start = datetime(2026, 1, 6, 14, tzinfo=LONDON)
    m = meeting(start, "weekly")
    assert len(window(m, days=365 * 20)) == recurrence.MAX_OCCURRENCES
    assert len(window(m, days=365 * 20, limit=10_000)) == recurrence.MAX_OCCURRENCES
    assert len(window(m, days=365, limit=3)) == 3
    assert window(m, days=365, limit=0) == []


def test_window_far_into_a_series_starts_at_the_window():
    start = datetime(2020, 1, 7, 14, tzinfo=LONDON)
    m = meeting(start, "weekly")
    later = datetime(2026, 6, 1, tzinfo=LONDON)
    dates = recurrence.occurrences(m, later, later + timedelta(days=14))
    assert [d.date() for d in dates] == [date(2026, 6, 2), date(2026, 6, 9)]
    assert recurrence.next_occurrence(m, later).date() == date(2026, 6, 2)


def test_occurrence_on_a_day_and_is_occurrence():
    start = datetime(2026, 1, 6, 14, tzinfo=LONDON)
    m = meeting(start, "fortnightly")
    when = recurrence.occurrence_on(m, date(2026, 1, 20))
    assert when == datetime(2026, 1, 20, 14, tzinfo=LONDON)
    assert recurrence.occurrence_on(m, date(2026, 1, 13)) is None  # the off week
    assert recurrence.is_occurrence(m, when.astimezone(UTC))
    assert not recurrence.is_occurrence(m, when + timedelta(minutes=5))


def test_monthly_week_and_describe():
    assert [recurrence.monthly_week(date(2026, 1, d)) for d in (1, 7, 8, 28, 29)] == [
        1, 1, 2, 4, 5]
    start = datetime(2026, 1, 6, 14, tzinfo=LONDON)
    assert recurrence.describe(meeting(start, "monthly")) == (
        "Every month on the first Tuesday")
    assert recurrence.describe(meeting(start, "weekly", until=date(2026, 6, 30))) == (
        "Every week on Tuesday, until 30 June 2026")
    assert recurrence.describe(meeting(start)) == "Just once"


def test_unknown_stored_zone_falls_back_to_uk_time():
    m = meeting(datetime(2026, 1, 6, 14, tzinfo=LONDON), zone="Mars/Olympus_Mons")
    assert recurrence.zone_of(m).key == "Europe/London"
    assert recurrence.is_known_zone("Europe/London")
    assert not recurrence.is_known_zone("Mars/Olympus_Mons")
