"""Run Kindred's timed jobs (see community/scheduler.py) until stopped."""

from __future__ import annotations

import logging
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from community.scheduler import JOBS

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run timed jobs: daily email summaries (and more as Kindred grows)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every job once and exit")
        parser.add_argument("--tick", type=float, default=30.0, help="seconds between checks")

    def handle(self, *args, once: bool, tick: float, **options):
        last_run: dict[str, float] = {}
        while True:
            for job in JOBS:
                # Every job runs once at start: the monotonic clock may be younger than a
                # daily job's interval, so "never run" must not be read as "ran at zero".
                last = last_run.get(job.name)
                due = last is None or last + job.every_seconds <= time.monotonic()
                if once or due:
                    last_run[job.name] = time.monotonic()
                    try:
                        done = job.run(timezone.now())
                    except Exception:  # one failing job must not stop the others
                        log.exception("scheduler: %s failed", job.name)
                        continue
                    self.stdout.write(f"{job.name}: {done}")
            if once:
                return
            close_old_connections()  # between rounds, like Django does between requests
            time.sleep(tick)
