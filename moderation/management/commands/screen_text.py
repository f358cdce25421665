"""`python manage.py screen_text [--group <slug>]`: screen lines from stdin, one JSON
verdict per line on stdout (CONTRACT.md). For checking rules against a corpus, and for
anyone who wants to see what Kindred would do with a message before it is sent.

Lines typed one at a time are answered one at a time. When many arrive at once (a file
piped in), they are screened in batches by a pool of worker processes, one per CPU,
forked after the rules are compiled, and written back in their original order.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import sys
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from community.models import Group
from moderation.screening import screen

BATCH = 400  # lines handed to a worker at a time
POOL_FROM = 2 * BATCH  # lines waiting before the pool is worth starting
_group = None  # set before the pool forks, read by the workers


def _verdicts(lines: list[str]) -> list[str]:
    return [json.dumps(screen(text, _group).as_dict(text), ensure_ascii=False)
            for text in lines]


class Command(BaseCommand):
    help = "Screen text lines from stdin; write one JSON verdict per line."

    def add_arguments(self, parser):
        parser.add_argument("--group", help="Also apply this group's own watched words.")
        parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                            help="Worker processes for large inputs (default: one per CPU).")

    def handle(self, *args, **options):
        global _group
        if options.get("group"):
            _group = Group.objects.filter(slug=options["group"]).first()
            if _group is None:
                raise CommandError(f"No group with the slug {options['group']!r}.")
        stdin = sys.stdin
        if hasattr(stdin, "reconfigure"):
            stdin.reconfigure(encoding="utf-8", errors="replace")
        # Compile the rules and fill the signpost caches once, before any fork.
        for warm in ("warming up", "I want to end it all", "just stop your insulin"):
            screen(warm, _group)

        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            for raw in stdin:
                lines.put(raw.rstrip("\r\n"))
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        pool = None
        try:
            done = False
            while not done:
                batch = [lines.get()]
                while len(batch) < 16 * BATCH:
                    try:
                        batch.append(lines.get(timeout=0.05 if len(batch) < POOL_FROM else 0))
                    except queue.Empty:
                        break
                if batch[-1] is None:
                    batch.pop()
                    done = True
                if len(batch) >= POOL_FROM and options["jobs"] > 1:
                    if pool is None:
                        connections.close_all()  # never share a database socket with a child
                        pool = multiprocessing.get_context("fork").Pool(options["jobs"])
                    chunks = [batch[i:i + BATCH] for i in range(0, len(batch), BATCH)]
                    out = [line for part in pool.map(_verdicts, chunks) for line in part]
                else:
                    out = _verdicts(batch)
                if out:
                    self.stdout.write("\n".join(out))
                    self.stdout.flush()
        finally:
            if pool is not None:
                pool.close()
                pool.join()
