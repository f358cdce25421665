"""run_scheduler: every job takes the current time; the command runs them once or forever."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from community.models import Notification, User
from community.scheduler import JOBS
from community.services.notifications import send_daily_digests


def test_every_job_is_a_function_of_the_time():
    assert JOBS
    for job in JOBS:
        assert callable(job.run) and job.every_seconds > 0


@pytest.mark.django_db
def test_run_once_sends_due_daily_summaries_and_only_once(make_user):
    person = make_user("Dana")
    User.objects.filter(pk=person.pk).update(email_notifications="daily")
    Notification.objects.create(user=person, kind=Notification.Kind.FORUM_REPLY,
                                text="Priya replied in “First month”.",
                                created_at=timezone.now() - timedelta(hours=2))
    call_command("run_scheduler", "--once")
    assert len(mail.outbox) == 1
    assert "Priya replied" in mail.outbox[0].body
    call_command("run_scheduler", "--once")
    assert len(mail.outbox) == 1  # not again within the day


@pytest.mark.django_db
def test_no_summary_for_people_who_chose_none_or_immediate(make_user):
    now = timezone.now()
    for choice in ("off", "immediate"):
        person = make_user(f"Person {choice}")
        User.objects.filter(pk=person.pk).update(email_notifications=choice)
        Notification.objects.create(user=person, kind=Notification.Kind.FORUM_MENTION,
                                    text="You were mentioned", created_at=now)
    assert send_daily_digests(now + timedelta(minutes=1)) == 0
    assert mail.outbox == []
