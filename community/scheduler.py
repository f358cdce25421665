"""Timed work, run by `manage.py run_scheduler` (the one long-running worker).

Each job is a function of the current time, so tests drive it with a fixed clock. Jobs
are idempotent: running one twice in a row does nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from community.services.health import invite_checkins
from community.services.meetings import remind_meetings
from community.services.notifications import send_daily_digests
from community.services.signposts import remind_signpost_checks
from moderation.services.cases import escalate_unclaimed_urgent, expire_claims


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[datetime], int]
    every_seconds: int


JOBS: tuple[Job, ...] = (
    Job("urgent cases to site staff", escalate_unclaimed_urgent, 60),
    Job("idle claims let go", expire_claims, 5 * 60),
    Job("daily email summaries", send_daily_digests, 15 * 60),
    Job("signpost re-check reminders", remind_signpost_checks, 24 * 60 * 60),
    Job("monthly check-in invitations", invite_checkins, 60 * 60),
    Job("meeting reminders the day before", remind_meetings, 15 * 60),
)
