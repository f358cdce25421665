"""Forum pages at 10, 1,000 and 10,000 posts, and search over 100,000 posts.

    .venv/bin/python bench/forum.py [--database sqlite|postgres|both] [--rounds 5]
                                    [--requests 30] [--search-requests 5] [--no-search]

For each database it builds a fresh forum (PostgreSQL: the database `kindred_bench_forum`
on 127.0.0.1, dropped and created again; SQLite: a file under /tmp), runs the migrations,
and then asks Django's test client, signed in as a plain member, for:

- a thread page (first page, a middle page, the last page, a `?post=<id>` link into the
  middle of the thread) in threads of 10, 1,000 and 10,000 posts;
- the forum index (first and last page) of groups holding about 10, 1,000 and 10,000+
  posts (1, 40 and 201 threads);
- on PostgreSQL only, search (the group's forum search and the site search) over 100,000
  posts in 16 groups (13 the reader belongs to), for a common word, a rare word and a
  two-word phrase.

Each URL is asked `--requests` times per round after a warm-up; each round gives a p50 and
a p95, and the tables show the median of those over `--rounds` rounds (never single
times). The SQL query count of each page is captured (CaptureQueriesContext) on a separate,
untimed request in every round.

Settings are those of production where they matter: DEBUG off (cached templates, no query
log), persistent connections (CONN_MAX_AGE 60 with health checks), HTTPS as the proxy
reports it (X-Forwarded-Proto), database sessions and allauth's session tracking. The
cache is the in-memory one (no forum page uses the cache).

Posts are written with bulk_create in one transaction, each with the tree_key and depth
`forums.services.reply` would give it (a reply's key is its parent's, cut at
MAX_TREE_DEPTH levels, followed by its own zero-padded id); on PostgreSQL each batch's
search documents are then filled in with one joined UPDATE, as the services and the
backfill migration would (`forums.search.refresh_id_range`).

Results are printed as Markdown and appended, with the machine described, to
bench/results/<YYYY-MM-DD>-forum.md. Loopback only; every run is bounded and stops itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_DB = "kindred_bench_forum"
PG_URL = f"postgres://postgres@127.0.0.1:5432/{PG_DB}"
SQLITE_PATH = Path(tempfile.gettempdir()) / "kindred_bench_forum.sqlite3"

THREAD_SIZES = (10, 1_000, 10_000)
INDEX_THREADS = {10: 0, 1_000: 39, 10_000: 200}  # other threads beside the big one
SEARCH_TOTAL_POSTS = 100_000
SEARCH_GROUPS = 13  # the reader is a member of these ...
SEARCH_OTHER_GROUPS = 3  # ... and not of these
TARGET_P95_MS = 50.0
SEED = 20261128

# --- text -----------------------------------------------------------------------------

# A small vocabulary of the kind of thing people write in a support forum. Words earlier in
# the list are used more (Zipf-like weights). Some tokens are two words, so phrases occur.
VOCABULARY = """
i the and to a it was my of in that is for but have with me so not this on be just you
we had today feel really all about do at can what when out they like day one get how
been still know some time there think up if or would more back now no much going tired
feel better pain good bad week night sleep help thanks thank everyone here again too well
try trying things people because really doctor appointment family friends work hard days
morning evening myself support group side_effects blood_test new diagnosis
medication dose fatigue energy walk walking rest anxious worried calm hope hopeful
understand same feeling felt last first next month months year years since after before
small steps little bit long short while always never sometimes often hospital nurse
clinic waiting results scan test treatment plan routine diet water tea kitchen garden
partner husband wife children kids mum dad sister brother friend colleague manager
weather rain sun cold warm outside inside home house bed sofa book music film radio
telly phone call message talk listen share story remember forget worse easier harder
struggle struggling coping cope manage managed managing okay alright fine lovely kind
gentle patient honest brave proud grateful lucky glad sorry sad angry frustrated
lonely alone together welcome hello hugs breathe breathing relax relaxing stretch
exercise physio gp referral letter form benefits job office bus train car drive shop
shopping cook cooking meal lunch dinner breakfast coffee headache dizzy nausea flare
symptoms relief progress setback recovery journey learn learning advice experience
""".split()  # noqa: SIM905
VOCABULARY = [w.replace("_", " ") for w in VOCABULARY]
COMMON_WORD = "tired"
RARE_WORD = "hydrotherapy"  # planted in about 1 post in 2,000
PHRASE = '"side effects"'
SEARCH_QUERIES = (("common word", COMMON_WORD), ("rare word", RARE_WORD),
                  ("two-word phrase", PHRASE))


class Writer:
    """Post bodies of 50-400 words: sentences drawn from a pool, in 1-4 paragraphs."""

    def __init__(self, rng: random.Random, pool: int = 20_000):
        weights = [1 / (rank + 8) for rank in range(len(VOCABULARY))]
        sentences = []
        for _ in range(pool):
            words = rng.choices(VOCABULARY, weights=weights, k=rng.randint(5, 18))
            text = " ".join(words)
            sentences.append((text[0].upper() + text[1:] + rng.choice(".....?!"),
                              len(text.split())))
        self.sentences = sentences
        self.rng = rng

    def body(self, *, rare: bool = False) -> tuple[str, str]:
        rng = self.rng
        target = rng.randint(50, 400)
        chosen, count = [], 0
        while count < target:
            text, n = rng.choice(self.sentences)
            chosen.append(text)
            count += n
        if rare:
            chosen.insert(rng.randrange(len(chosen)),
                          f"Has anyone tried {RARE_WORD} for this?")
        paragraphs = max(1, min(4, len(chosen) // 4))
        size = math.ceil(len(chosen) / paragraphs)
        paras = [" ".join(chosen[i:i + size]) for i in range(0, len(chosen), size)]
        # Exactly what render_markdown gives for such text (checked at start-up).
        return "\n\n".join(paras), "\n".join(f"<p>{p}</p>" for p in paras)


# --- database lifecycle ---------------------------------------------------------------


def fresh_database(kind: str) -> str:
    if kind == "postgres":
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                             autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DB}")
        return PG_URL
    for suffix in ("", "-wal", "-shm"):
        Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)
    return f"sqlite:///{SQLITE_PATH}"


def setup_django(kind: str) -> None:
    os.environ["DATABASE_URL"] = fresh_database(kind)
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["DJANGO_SECRET_KEY"] = "bench-only-" + secrets.token_urlsafe(40)
    os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings

    if kind == "sqlite":
        # The options the settings give SQLite when no DATABASE_URL is set (production on
        # SQLite), which dj_database_url does not carry.
        settings.DATABASES["default"]["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- data -----------------------------------------------------------------------------


class Builder:
    """Writes users, groups, threads and posts with bulk_create and explicit ids."""

    def __init__(self, rng: random.Random):
        from django.db.models import Max

        from forums.models import Post, Thread

        self.rng = rng
        self.writer = Writer(rng)
        self.next_post_id = (Post.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        self.next_thread_id = (Thread.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        self.posts: list = []
        self.reactions: list = []
        self.post_count = 0

    def people(self, n: int, tag: str) -> list:
        from allauth.account.models import EmailAddress
        from django.contrib.auth.hashers import make_password

        from community.models import User

        users = User.objects.bulk_create(
            User(email=f"{tag}{i}@bench.example.org", display_name=f"{tag.title()} {i}",
                 password=make_password(None))
            for i in range(n)
        )
        EmailAddress.objects.bulk_create(
            EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users
        )
        return users

    def group(self, slug: str, owner, members: list, moderators: list = ()):
        from django.utils import timezone

        from community.models import Group, Membership
        from forums import services

        group = Group.objects.create(name=slug.replace("-", " ").title(), slug=slug,
                                     description="A benchmark group.", created_by=owner,
                                     privacy=Group.Privacy.APPROVAL,
                                     status=Group.Status.ACTIVE)
        now = timezone.now()
        rows = [Membership(user=owner, group=group, status="approved", role="owner",
                           requested_at=now, joined_at=now)]
        rows += [Membership(user=u, group=group, status="approved",
                            role="moderator" if u in moderators else "member",
                            requested_at=now, joined_at=now) for u in members if u != owner]
        Membership.objects.bulk_create(rows)
        services.create_default_categories(group)
        return group

    def thread(self, group, categories: list, authors: list, size: int, title: str,
               start, reactors: list = ()):
        """One thread of `size` posts in the reply-tree shape services.reply makes:
        about a third answer the opening post, half continue the post just before (so
        conversations run several levels deep), the rest answer a recent post."""
        from django.utils import timezone

        from forums.models import TREE_KEY_WIDTH, Post, Reaction, Thread
        from forums.services import MAX_TREE_DEPTH

        rng = self.rng
        tid = self.next_thread_id
        self.next_thread_id += 1
        first = self.next_post_id
        self.next_post_id += size
        keys, depths, created = [], [], start
        times = []
        for i in range(size):
            pid = first + i
            own = str(pid).zfill(TREE_KEY_WIDTH)
            if i == 0:
                parent, key, depth = None, own, 0
            else:
                r = rng.random()
                if r < 0.35:
                    parent = 0
                elif r < 0.85:
                    parent = i - 1
                else:
                    parent = rng.randrange(max(0, i - 50), i)
                key = keys[parent][: MAX_TREE_DEPTH * TREE_KEY_WIDTH] + own
                depth = min(depths[parent] + 1, MAX_TREE_DEPTH)
            keys.append(key)
            depths.append(depth)
            created += timezone.timedelta(seconds=rng.randint(30, 3600))
            times.append(created)
            body, html = self.writer.body(rare=rng.random() < 1 / 2000)
            status = Post.Status.HIDDEN if i and i % 61 == 17 else Post.Status.PUBLISHED
            deleted = created if i and i % 149 == 23 else None
            self.posts.append(Post(
                id=pid, thread_id=tid, group=group, author=authors[i % len(authors)],
                parent_id=None if parent is None else first + parent, depth=depth,
                tree_key=key, body="" if deleted else body, body_html="" if deleted else html,
                content_warning="mentions a hard day" if i % 23 == 7 else "",
                created_at=created, status=status, deleted_at=deleted,
            ))
            if reactors and status == Post.Status.PUBLISHED and not deleted \
                    and rng.random() < 0.3:
                for person in rng.sample(reactors, rng.randint(1, min(3, len(reactors)))):
                    self.reactions.append(Reaction(post_id=pid, user=person,
                                                   kind=rng.choice(Reaction.Kind.values),
                                                   created_at=created))
        Thread.objects.bulk_create([Thread(
            id=tid, group=group, category=categories[tid % len(categories)], title=title,
            author=authors[0], created_at=start, last_post_at=times[-1],
            reply_count=size - 1,
        )])
        self.post_count += size
        if len(self.posts) >= 5000:
            self.flush()
        return tid, first

    def flush(self) -> None:
        from forums.models import Post, Reaction
        from forums.search import refresh_id_range

        Post.objects.bulk_create(self.posts, batch_size=1000)
        if self.posts:  # the search documents the services would have written (PostgreSQL)
            refresh_id_range(self.posts[0].id, self.posts[-1].id)
        Reaction.objects.bulk_create(self.reactions, batch_size=2000)
        self.posts.clear()
        self.reactions.clear()

    def finish(self) -> None:
        from django.core.management.color import no_style
        from django.db import connection

        from forums.models import Post, Thread

        self.flush()
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Post, Thread]):
                cursor.execute(sql)


def check_writer() -> None:
    """The stored HTML is what the app would store for the same text."""
    from community.text import render_markdown

    writer = Writer(random.Random(1), pool=200)
    for _ in range(20):
        body, html = writer.body(rare=True)
        assert render_markdown(body) == html, (body[:200], html[:200])


def build(with_search: bool) -> dict:
    """Create the forum; returns what the measurements need to find in it."""
    from django.db import connection, transaction
    from django.utils import timezone

    from community.models import User
    from forums.models import Category, Post, Thread, ThreadFollow

    rng = random.Random(SEED)
    started = time.perf_counter()
    check_writer()
    with transaction.atomic():
        reader = User.objects.create_user(email="reader@bench.example.org", password=None,
                                          display_name="Quinn Reader")
        from allauth.account.models import EmailAddress

        EmailAddress.objects.create(user=reader, email=reader.email, verified=True,
                                    primary=True)
        b = Builder(rng)
        people = b.people(40, "member")
        authors = [reader] + people[:19]  # the reader wrote some posts in every thread
        now = timezone.now()
        info = {"threads": {}, "groups": {}}
        for size in THREAD_SIZES:
            group = b.group(f"forum-{size}", people[0], [reader] + people,
                            moderators=[people[1]])
            cats = list(Category.objects.filter(group=group))
            start = now - timezone.timedelta(days=400)
            tid, first = b.thread(group, cats, authors, size, f"A thread of {size} posts",
                                  start, reactors=[reader] + people[:8])
            for n in range(INDEX_THREADS[size]):
                b.thread(group, cats, authors[n % 7:] + authors[:n % 7], rng.randint(1, 60),
                         f"Conversation {n} in the {size} forum",
                         start + timezone.timedelta(days=rng.randint(0, 390)),
                         reactors=[reader] + people[:8])
            info["threads"][size] = {"slug": group.slug, "id": tid}
            info["groups"][size] = {"slug": group.slug, "threads": INDEX_THREADS[size] + 1}
        if with_search:
            slugs = []
            for g in range(SEARCH_GROUPS + SEARCH_OTHER_GROUPS):
                member = g < SEARCH_GROUPS
                crowd = people[(g * 3) % 30:(g * 3) % 30 + 10]
                group = b.group(f"search-{g}", crowd[0], ([reader] if member else []) + crowd)
                slugs.append((group, member))
            remaining = SEARCH_TOTAL_POSTS - b.post_count
            per_group = remaining // len(slugs)
            for k, (group, _) in enumerate(slugs):
                if k == len(slugs) - 1:
                    per_group = SEARCH_TOTAL_POSTS - b.post_count
                cats = list(Category.objects.filter(group=group))
                crowd = list(User.objects.filter(memberships__group=group))
                written = 0
                n = 0
                while written < per_group:
                    size = min(per_group - written, rng.choice((1, 2, 3, 5, 8, 12, 20, 40,
                                                                 80, 150)))
                    b.thread(group, cats, crowd, size, f"Search thread {n} in {group.slug}",
                             now - timezone.timedelta(days=rng.randint(1, 700)))
                    written += size
                    n += 1
        b.finish()
        # The reader follows the big threads and has read them up to now.
        for size in THREAD_SIZES:
            ThreadFollow.objects.create(thread_id=info["threads"][size]["id"], user=reader,
                                        following=True, last_read_at=now)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    info["reader_id"] = reader.pk
    info["posts_total"] = Post.objects.count()
    info["threads_total"] = Thread.objects.count()
    info["build_seconds"] = round(time.perf_counter() - started, 1)
    if with_search:
        readable = Post.objects.filter(group__memberships__user=reader,
                                       group__memberships__status="approved").count()
        info["posts_readable"] = readable
        info["search_group"] = "forum-10000"  # the largest forum
        info["search_group_posts"] = Post.objects.filter(
            group__slug=info["search_group"]).count()
    for size in THREAD_SIZES:
        g = info["groups"][size]
        g["posts"] = Post.objects.filter(group__slug=g["slug"]).count()
        t = info["threads"][size]
        visible = list(Post.objects.filter(thread_id=t["id"]).exclude(status="removed")
                       .order_by("tree_key").values_list("id", "status"))
        t["posts"] = len(visible)
        t["pages"] = max(1, math.ceil(len(visible) / 20))
        published = [pid for pid, status in visible if status == "published"]
        t["jump_post"] = published[len(published) * 3 // 5]
    return info


# --- measuring ------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class Probe:
    def __init__(self, reader_id: int):
        from django.test import Client

        from community.models import User

        self.client = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https",
                             HTTP_USER_AGENT="kindred-bench/forum")
        self.client.force_login(User.objects.get(pk=reader_id))
        self.get("/help/", expect="")  # allauth's first-request session row

    def get(self, url: str, *, expect: str):
        response = self.client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        if expect and expect not in response.content.decode():
            raise SystemExit(f"{url}: {expect!r} is not on the page")
        return response

    def count(self, url: str, expect: str) -> tuple[int, list]:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            self.get(url, expect=expect)
        return len(captured), [(float(q["time"]), q["sql"]) for q in captured.captured_queries]

    def timed(self, url: str, expect: str, n: int) -> tuple[list[float], list[float]]:
        """Wall time of each request, and this process's CPU time (the client, Django and,
        for SQLite, the database engine; PostgreSQL works in its own processes)."""
        wall, cpu = [], []
        for _ in range(n):
            started, cpu_started = time.perf_counter(), time.process_time()
            self.get(url, expect=expect)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        return wall, cpu


def page_urls(info: dict) -> list[dict]:
    # The floor: a static page through the same middleware, session and user lookups.
    rows = [{"page": "baseline: /help/ (no forum)", "size": 0, "url": "/help/",
             "expect": "", "baseline": True}]
    for size in THREAD_SIZES:
        t = info["threads"][size]
        base = f"/groups/{t['slug']}/forum/t/{t['id']}/"
        pages = t["pages"]
        middle = (pages + 1) // 2
        rows += [
            {"page": "thread: first page", "size": size, "url": base,
             "expect": f"A thread of {size} posts"},
            {"page": "thread: middle page", "size": size, "url": f"{base}?page={middle}",
             "expect": f"Page {middle} of {pages}" if pages > 1 else "post card"},
            {"page": "thread: last page", "size": size, "url": f"{base}?page={pages}",
             "expect": f"Page {pages} of {pages}" if pages > 1 else "post card"},
            {"page": "thread: ?post= link", "size": size,
             "url": f"{base}?post={t['jump_post']}", "expect": f'id="post-{t["jump_post"]}"'},
        ]
    for size in THREAD_SIZES:
        g = info["groups"][size]
        base = f"/groups/{g['slug']}/forum/"
        last = math.ceil(g["threads"] / 25)
        rows += [
            {"page": "forum index: first page", "size": size, "url": base,
             "expect": "Forum", "threads": g["threads"], "group_posts": g["posts"]},
            {"page": "forum index: last page", "size": size, "url": f"{base}?page={last}",
             "expect": f"Page {last} of {last}" if last > 1 else "Forum",
             "threads": g["threads"], "group_posts": g["posts"]},
        ]
    return rows


def search_urls(info: dict) -> list[dict]:
    from urllib.parse import quote_plus

    rows = []
    for label, q in SEARCH_QUERIES:
        rows.append({"page": "forum search (one group)", "size": label,
                     "url": f"/groups/{info['search_group']}/forum/search/?q={quote_plus(q)}",
                     "expect": "Search"})
        rows.append({"page": "site search (all groups)", "size": label,
                     "url": f"/search/?q={quote_plus(q)}", "expect": "Search"})
    return rows


def measure(probe: Probe, rows: list[dict], rounds: int, n: int, warmup: int,
            slow_ms: float | None = None, slow_samples: int = 2) -> None:
    """Per round and URL: one request with its queries captured, then `n` timed ones.

    A URL whose first request takes over `slow_ms` (search without an index can take a
    minute) is asked only `slow_samples` times in all, each request timed and captured,
    so the run stays bounded; its p50 and p95 are then the median and maximum of those."""
    for row in rows:
        row.update(p50s=[], p95s=[], counts=[], cpu=[], slowest=None, slow=False)
        for i in range(warmup):
            started = time.perf_counter()
            if slow_ms is not None and i == 0:
                count, queries = probe.count(row["url"], row["expect"])
                first = (time.perf_counter() - started) * 1000
                if first > slow_ms:
                    row["slow"] = True
                    row["samples"] = [first]
                    row["counts"].append(count)
                    row["slowest"] = max(queries, key=lambda q: q[0])
                    break
            else:
                probe.get(row["url"], expect=row["expect"])
    deadline = time.monotonic() + 1200  # a bound: never more than 20 minutes of requests
    for r in range(rounds):
        order = list(rows)
        random.Random(r).shuffle(order)  # no page always runs right after another
        for row in order:
            if row["slow"]:
                if len(row["samples"]) < slow_samples:
                    started = time.perf_counter()
                    count, queries = probe.count(row["url"], row["expect"])
                    row["samples"].append((time.perf_counter() - started) * 1000)
                    row["counts"].append(count)
                    top = max(queries, key=lambda q: q[0])
                    if top[0] > row["slowest"][0]:
                        row["slowest"] = top
                continue
            count, queries = probe.count(row["url"], row["expect"])
            row["counts"].append(count)
            top = max(queries, key=lambda q: q[0]) if queries else (0.0, "")
            if row["slowest"] is None or top[0] > row["slowest"][0]:
                row["slowest"] = top
            times, cpu = probe.timed(row["url"], row["expect"], n)
            row["p50s"].append(statistics.median(times))
            row["p95s"].append(percentile(times, 0.95))
            row["cpu"].append(statistics.median(cpu))
        if time.monotonic() > deadline:
            print(f"  stopping after {r + 1} rounds (time bound)", file=sys.stderr)
            break
    for row in rows:
        if row["slow"]:
            row["p50"] = statistics.median(row["samples"])
            row["p95"] = max(row["samples"])
            row["cpu_ms"] = None
            row["rounds"] = 0
            continue
        row["p50"] = statistics.median(row["p50s"])
        row["p95"] = statistics.median(row["p95s"])
        row["cpu_ms"] = statistics.median(row["cpu"])
        row["rounds"] = len(row["p50s"])


def child(kind: str, args) -> dict:
    setup_django(kind)
    from django.db import connection

    with_search = kind == "postgres" and not args.no_search
    print(f"[{kind}] building the forum ...", file=sys.stderr, flush=True)
    info = build(with_search)
    print(f"[{kind}] {info['posts_total']:,} posts in {info['threads_total']:,} threads, "
          f"built in {info['build_seconds']} s; measuring ...", file=sys.stderr, flush=True)
    probe = Probe(info["reader_id"])
    info["load_before"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    pages = page_urls(info)
    measure(probe, pages, args.rounds, args.requests, warmup=3)
    searches = []
    if with_search:
        searches = search_urls(info)
        measure(probe, searches, args.rounds, args.search_requests, warmup=1, slow_ms=2000)
    info["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            version = "PostgreSQL " + cursor.fetchone()[0]
        else:
            import sqlite3

            version = f"SQLite {sqlite3.sqlite_version} (WAL)"
    for row in pages + searches:
        row["slowest"] = [round(row["slowest"][0] * 1000, 2), row["slowest"][1][:600]]
    return {"database": kind, "version": version, "info": info, "pages": pages,
            "searches": searches, "rounds": args.rounds, "requests": args.requests,
            "search_requests": args.search_requests}


# --- reporting ------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                  .splitlines() if line.startswith("MemTotal"))
    import django

    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        commit, dirty = "unknown", ""
    return (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, "
            f"{mem_kb / 1024 / 1024:.1f} GiB RAM; {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}, Django "
            f"{django.get_version()}; commit {commit}{' (with local changes)' if dirty else ''}")


def fmt_counts(counts: list[int]) -> str:
    lo, hi = min(counts), max(counts)
    return str(lo) if lo == hi else f"{lo}–{hi}"


def report(result: dict) -> str:
    info = result["info"]
    lines = [
        f"### {result['version']}",
        "",
        f"{info['posts_total']:,} posts in {info['threads_total']:,} threads "
        f"(built in {info['build_seconds']} s). Median over {result['rounds']} rounds of "
        f"{result['requests']} requests each, after warm-up; signed in as a plain member; "
        f"20 posts and 25 threads a page.",
        "",
        "| page | posts | p50 ms | p95 ms | CPU ms (p50) | SQL queries | slowest SQL ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["pages"]:
        size = row["size"]
        shown = (f"{row['group_posts']:,} in {row['threads']} threads" if "threads" in row
                 else "–" if row.get("baseline") else f"{size:,}")
        lines.append(f"| {row['page']} | {shown} | {row['p50']:.1f} | {row['p95']:.1f} | "
                     f"{row['cpu_ms']:.1f} | {fmt_counts(row['counts'])} | "
                     f"{row['slowest'][0]:.0f} |")
    verdicts = []
    for name in dict.fromkeys(r["page"] for r in result["pages"] if not r.get("baseline")):
        counts = {r["size"]: fmt_counts(r["counts"]) for r in result["pages"]
                  if r["page"] == name}
        if len(set(counts.values())) > 1:
            verdicts.append(f"{name}: query count grows ({counts})")
    worst = max((r for r in result["pages"] if r["size"] == 10_000), key=lambda r: r["p95"])
    lines += ["",
              f"Targets at 10,000 posts: p95 under {TARGET_P95_MS:.0f} ms — "
              f"{'met' if worst['p95'] < TARGET_P95_MS else 'MISSED'} (worst: {worst['page']}, "
              f"{worst['p95']:.1f} ms); constant query count — "
              f"{'met' if not verdicts else 'MISSED: ' + '; '.join(verdicts)}.",
              "",
              f"Load average (1, 5, 15 min) before measuring: {info['load_before']}; after: "
              f"{info['load_after']} (other work on the machine inflates wall times; CPU ms "
              f"is this process's CPU time per request: client, Django and, on SQLite, the "
              f"database engine)."]
    if result["searches"]:
        lines += [
            "",
            f"Search over {info['posts_total']:,} posts ({info.get('posts_readable', 0):,} "
            f"readable by the reader; the one-group search covers "
            f"{info.get('search_group_posts', 0):,}). Median over {result['rounds']} rounds "
            f"of {result['search_requests']} requests each; a search whose first request "
            f"took over 2 s was asked only twice (p50 = median, p95 = max of those).",
            "",
            "| search | query | p50 ms | p95 ms | SQL queries | slowest SQL ms |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for label, q in SEARCH_QUERIES:
            for row in result["searches"]:
                if row["size"] == label:
                    lines.append(f"| {row['page']} | {label}: `{q}` | {row['p50']:,.0f} | "
                                 f"{row['p95']:,.0f} | {fmt_counts(row['counts'])} | "
                                 f"{row['slowest'][0]:,.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page "
                        "per round")
    parser.add_argument("--search-requests", type=int, default=5)
    parser.add_argument("--no-search", action="store_true")
    parser.add_argument("--json", help=argparse.SUPPRESS)  # internal: one database, to a file
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    args.rounds = max(1, min(args.rounds, 20))
    args.requests = max(5, min(args.requests, 200))
    args.search_requests = max(1, min(args.search_requests, 50))

    if args.json:  # a child: one database per process (Django is set up once)
        Path(args.json).write_text(json.dumps(child(args.database, args), default=str))
        return

    kinds = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    results = []
    for kind in kinds:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = handle.name
        cmd = [sys.executable, __file__, "--database", kind, "--json", out,
               "--rounds", str(args.rounds), "--requests", str(args.requests),
               "--search-requests", str(args.search_requests)]
        if args.no_search:
            cmd.append("--no-search")
        subprocess.run(cmd, check=True, timeout=3600, cwd=ROOT)
        results.append(json.loads(Path(out).read_text()))
        Path(out).unlink()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    stamp = dt.datetime.now().astimezone()
    text = "\n".join([
        f"## Forum pages and search — {stamp:%Y-%m-%d %H:%M %Z}",
        "",
        f"Machine: {machine()}.",
        "Command: `.venv/bin/python bench/forum.py --database "
        f"{args.database} --rounds {args.rounds} --requests {args.requests} "
        f"--search-requests {args.search_requests}`",
        "",
        *("\n".join([report(r), ""]) for r in results),
    ])
    print(text)
    if not args.no_write:
        folder = ROOT / "bench" / "results"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{stamp:%Y-%m-%d}-forum.md"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
        print(f"(appended to {path.relative_to(ROOT)})", file=sys.stderr)
        # The raw rows (every round's figures, the slowest SQL of each page) beside it.
        raw = folder / f"{stamp:%Y-%m-%d}-forum.json"
        raw.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
