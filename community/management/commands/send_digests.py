"""Send the daily summary emails (run once a day from cron; safe to run again)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from community.services.digests import send_digests


class Command(BaseCommand):
    help = (
        "Email each member who chose a daily summary their unread notifications since "
        "their last one, grouped by group. Safe to run twice: one summary a day at most."
    )

    def handle(self, *args, **options):
        sent = send_digests(timezone.now())
        self.stdout.write(f"Daily summaries sent: {sent}")
