"""Timed work, run by `manage.py run_scheduler` (the one long-running worker).

Each job is a function of the current time, so tests drive it with a fixed clock. Jobs
are idempotent: running one twice in a row does nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from community.services.notifications import send_daily_digests


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[datetime], int]
    every_seconds: int


JOBS: tuple[Job, ...] = (
    Job("daily email summaries", send_daily_digests, 15 * 60),
)
