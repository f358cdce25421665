"""`python manage.py screen_text [--group <slug>]`: screen lines from stdin, one JSON
verdict per line on stdout (CONTRACT.md). For checking rules against a corpus, and for
anyone who wants to see what Kindred would do with a message before it is sent."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from community.models import Group
from moderation.screening import screen


class Command(BaseCommand):
    help = "Screen text lines from stdin; write one JSON verdict per line."

    def add_arguments(self, parser):
        parser.add_argument("--group", help="Also apply this group's own watched words.")

    def handle(self, *args, **options):
        group = None
        if options.get("group"):
            group = Group.objects.filter(slug=options["group"]).first()
            if group is None:
                raise CommandError(f"No group with the slug {options['group']!r}.")
        stdin = sys.stdin
        if hasattr(stdin, "reconfigure"):
            stdin.reconfigure(encoding="utf-8", errors="replace")
        out = self.stdout
        for raw in stdin:
            text = raw.rstrip("\r\n")
            verdict = screen(text, group)
            out.write(json.dumps(verdict.as_dict(text), ensure_ascii=False))
