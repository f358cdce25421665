"""Create benchmark groups and members with ready session cookies (see CONTRACT.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from community.services.demo import make_bench_data


class Command(BaseCommand):
    help = "Make G approval groups and N verified members with sessions, and write them as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, required=True)
        parser.add_argument("--groups", type=int, required=True)
        parser.add_argument("--out", required=True)
        parser.add_argument("--prefix", default="bench-")
        parser.add_argument("--base-url", default="")

    def handle(self, *args, users: int, groups: int, out: str, prefix: str, base_url: str,
               **options):
        if users < 0 or groups < 1:
            raise CommandError("--users must be 0 or more and --groups 1 or more.")
        if not prefix or not all(c.isalnum() or c in "-_" for c in prefix):
            raise CommandError("--prefix may use letters, digits, '-' and '_' only.")
        if not base_url:
            host = os.environ.get("HOST", "127.0.0.1")
            port = os.environ.get("PORT", "8000")
            base_url = f"http://{host}:{port}"
        slugs, people = make_bench_data(users=users, groups=groups, prefix=prefix)
        document = {
            "base_url": base_url.rstrip("/"),
            "groups": slugs,
            "users": [{"id": p.id, "group": p.group, "cookie": p.cookie} for p in people],
        }
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=1))
        self.stdout.write(f"Wrote {len(people)} users in {len(slugs)} groups to {path}")
