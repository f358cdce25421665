"""`python manage.py load_rule_packs`: load the shipped site screening pack and the
shipped signposts into the database. New rules are added and unedited ones updated;
anything site staff have changed in the admin is left alone. Safe to run again."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from community.models import Signpost
from community.signposts import sync_shipped
from moderation import rulebook
from moderation.models import ScreeningRule


class Command(BaseCommand):
    help = "Load the shipped screening rules and signposts (keeps staff edits)."

    def handle(self, *args, **options):
        added, updated = rulebook.sync_site_pack(ScreeningRule)
        signposts = sync_shipped(Signpost)
        rulebook.changed()
        self.stdout.write(f"Screening rules: {added} added, {updated} updated. "
                          f"Signposts: {signposts} added.")
