"""Bad input at scale: generated chat frames against a real daphne in the production shape.

    .venv/bin/python bench/fuzz.py [--frames 100000] [--sockets 8] [--over-limit 1000]
        [--seed 1] [--max-seconds 900]

What it starts (127.0.0.1 only; all stopped on exit, Ctrl-C or error): its own
`redis-server` on a spare port, one daphne process (production shape: DEBUG off,
PostgreSQL database `kindred_h4_fuzz`, channels-redis, backlog 1024) with the chat rate
limit raised (bench/fuzz_settings.py) so that frames are not refused for their number
before they are looked at, and `manage.py bench_setup` members, one per socket.

Each socket sends bursts of generated frames and then a sentinel `history` frame; frames
are handled in order, so every answer to the burst has arrived when the sentinel's does.
The frame families mirror tests/security/test_fuzz_frames.py (hypothesis, a few hundred
frames per run there; here a seeded generator, because hypothesis draws these shapes at
about 50 a second on this machine): valid and odd `message.send` (bodies of every kind
and size, odd client_ids and confirm values), odd `history`, `typing`, unknown types,
JSON that is not an object, text that is not JSON, deep nesting, binary frames and
frames just under the size limit. Counted: frames, answers by type and error code, close
codes, reconnects, tracebacks and ERROR lines in the server's log, the stored rows
checked afterwards. Then a burst of over-limit frames (text and binary, 32 KB + 1 up to
past daphne's own 1 MB limit), one per fresh socket, with the server's RSS before,
after and after a pause: frames over the limit must be refused without memory growth.
Results are appended to bench/results/<date>-fuzz.md with the machine description.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import random
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import faultkit as fk  # noqa: E402
from bench import harness as h  # noqa: E402
from bench.faults import env_for, manage  # noqa: E402

DATABASE = "kindred_h4_fuzz"
SENTINEL = 9_007_199_254_740_991
MAX_FRAME_CHARS = 32 * 1024
BURST = 100


# --- the frame generator ----------------------------------------------------------------------

class Frames:
    """Seeded generator of the frame families of tests/security/test_fuzz_frames.py."""

    RANGES = [(0x20, 0x7E), (0x00, 0x1F), (0x80, 0xFF), (0x0100, 0x024F), (0x0400, 0x04FF),
              (0x0590, 0x06FF), (0x200B, 0x202E), (0x3040, 0x30FF), (0x4E00, 0x4FFF),
              (0x1F600, 0x1F64F), (0x0300, 0x036F), (0xFFF0, 0xFFFF)]
    FAMILIES = [("send_valid", 5), ("send_odd", 25), ("history_odd", 15), ("typing", 10),
                ("unknown_type", 10), ("not_object", 8), ("not_json", 12), ("deep", 5),
                ("binary", 5), ("near_limit", 5)]

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.names = [name for name, _ in self.FAMILIES]
        self.weights = [weight for _, weight in self.FAMILIES]
        # Every range equally likely, whatever its size (a few hundred of each).
        self.alphabet = [chr(self.rng.randint(low, high)) for low, high in self.RANGES
                         for _ in range(300)]

    def text(self, size: int, *, surrogates: bool = False) -> str:
        rng = self.rng
        text = "".join(rng.choices(self.alphabet, k=size))
        if surrogates and size and rng.random() < 0.3:  # a lone surrogate (JSON-escaped)
            at = rng.randrange(size)
            text = text[:at] + chr(rng.randint(0xD800, 0xDFFF)) + text[at + 1:]
        return text

    def value(self, depth: int = 0):
        """Any JSON value (NaN included: Python's JSON reads it), nested a little."""
        rng = self.rng
        kind = rng.randrange(9 if depth < 3 else 7)
        if kind == 7:
            return [self.value(depth + 1) for _ in range(rng.randint(0, 3))]
        if kind == 8:
            return {self.text(3): self.value(depth + 1) for _ in range(rng.randint(0, 3))}
        return [lambda: None, lambda: True, lambda: rng.randint(-(2**70), 2**70),
                lambda: rng.random() * 10 ** rng.randint(-5, 300),
                lambda: self.text(rng.randint(0, 20), surrogates=True), lambda: "",
                lambda: float("nan")][kind]()

    def body(self):
        rng = self.rng
        return rng.choice([
            lambda: self.text(rng.randint(0, 80), surrogates=True),
            lambda: self.text(rng.randint(3990, 4100)),
            lambda: " \t\n" * rng.randint(0, 5),
            lambda: "\x00" * rng.randint(1, 5),
            lambda: rng.choice(["<script>alert(1)</script>", "[x](javascript:alert(1))",
                                "@Member hi", "I want to end it all", "call 07700 900123",
                                "www.example.org", "```\ncode\n```"]),
            self.value,
        ])()

    def client_id(self):
        rng = self.rng
        return rng.choice([
            lambda: uuid.uuid4().hex,
            lambda: "",
            lambda: "x" * 65,
            lambda: self.text(rng.randint(1, 64), surrogates=True),
            lambda: rng.choice(["dup-1", "dup-2"]),
            self.value,
        ])()

    def number_ish(self):
        rng = self.rng
        return rng.choice([lambda: rng.randint(-5, 5), lambda: 10 ** rng.randint(15, 40),
                           lambda: str(rng.randint(0, 10**30)), lambda: self.text(5),
                           lambda: rng.random() * 100, self.value])()

    def frame(self) -> tuple[str, str | bytes]:
        rng = self.rng
        family = rng.choices(self.names, self.weights)[0]
        if family == "send_valid":
            frame = {"type": "message.send", "client_id": uuid.uuid4().hex,
                     "body": f"Fuzz bench hello {rng.randint(0, 10**6)}"}
        elif family == "send_odd":
            frame = {"type": "message.send"}
            if rng.random() < 0.9:
                frame["body"] = self.body()
            if rng.random() < 0.9:
                frame["client_id"] = self.client_id()
            if rng.random() < 0.3:
                frame["confirm"] = rng.choice([True, False, self.value()])
        elif family == "history_odd":
            frame = {"type": "history"}
            if rng.random() < 0.85:
                frame["before"] = self.number_ish()
            if rng.random() < 0.5:
                frame["limit"] = self.number_ish()
        elif family == "typing":
            frame = {"type": "typing", **{self.text(3): self.value() for _ in range(
                rng.randint(0, 2))}}
        elif family == "unknown_type":
            frame = {"type": rng.choice([self.text(rng.randint(0, 50), surrogates=True),
                                         self.value()])}
        elif family == "not_object":
            value = self.value()
            while isinstance(value, dict):
                value = self.value()
            return family, json.dumps(value)
        elif family == "not_json":
            return family, rng.choice([
                lambda: self.text(rng.randint(0, 200)),
                lambda: '{"type":', lambda: "{", lambda: "\ufeff{}", lambda: "",
                lambda: json.dumps({"type": "history", "before": 1})[:rng.randint(1, 20)],
            ])()
        elif family == "deep":
            n = rng.randint(1, 15_000)
            return family, ("[" * n + "]" * n) if rng.random() < 0.6 else (
                '{"a":' * (n // 3) + "1" + "}" * (n // 3))
        elif family == "binary":
            return family, rng.randbytes(rng.randint(0, 1024))
        else:  # near_limit: valid JSON just under the size limit
            size = MAX_FRAME_CHARS - rng.randint(60, 2000)
            frame = {"type": rng.choice(["message.send", "history", "typing"]),
                     "client_id": uuid.uuid4().hex, "body": "y" * size}
            return family, json.dumps(frame)[:MAX_FRAME_CHARS]
        return family, json.dumps(frame)


# --- sockets --------------------------------------------------------------------------------

class Tally:
    def __init__(self) -> None:
        self.sent: Counter = Counter()  # family -> frames
        self.answers: Counter = Counter()  # frame type -> count
        self.errors: Counter = Counter()  # error code -> count
        self.closes: Counter = Counter()
        self.connect_failures: Counter = Counter()
        self.connects = 0
        self.bursts = 0
        self.unanswered_bursts = 0

    @property
    def frames(self) -> int:
        return sum(self.sent.values())


async def connect(url: str, origin: str, cookie: str):
    return await websockets.connect(url, origin=origin, additional_headers={"Cookie": cookie},
                                    open_timeout=20, close_timeout=1, ping_interval=None,
                                    max_size=None, max_queue=None, compression=None,
                                    proxy=None)


async def fuzz_socket(user: dict, server: fk.Daphne, frames: Frames, tally: Tally,
                      quota: list[int], deadline: float) -> None:
    url = f"ws://127.0.0.1:{server.port}/ws/groups/{user['group']}/chat/"
    while quota[0] > 0 and time.monotonic() < deadline:
        try:
            ws = await connect(url, server.base_url, user["cookie"])
        except InvalidStatus as error:
            tally.connect_failures[f"HTTP {error.response.status_code}"] += 1
            await asyncio.sleep(0.5)
            continue
        except (OSError, TimeoutError) as error:
            tally.connect_failures[type(error).__name__] += 1
            await asyncio.sleep(0.5)
            continue
        tally.connects += 1
        try:
            async with ws:
                first = json.loads(await asyncio.wait_for(ws.recv(), 20))
                tally.answers[first.get("type")] += 1
                while quota[0] > 0 and time.monotonic() < deadline:
                    burst = min(BURST, quota[0])
                    quota[0] -= burst
                    for _ in range(burst):
                        family, frame = frames.frame()
                        tally.sent[family] += 1
                        await ws.send(frame)
                    await ws.send(json.dumps({"type": "history", "before": SENTINEL,
                                              "limit": 1}))
                    tally.bursts += 1
                    try:
                        async with asyncio.timeout(60):
                            while True:
                                answer = json.loads(await ws.recv())
                                kind = answer.get("type")
                                if kind == "history" and answer.get("before") == SENTINEL:
                                    break
                                tally.answers[kind] += 1
                                if kind == "error":
                                    tally.errors[answer.get("code")] += 1
                    except TimeoutError:
                        tally.unanswered_bursts += 1
                        break
        except ConnectionClosed as closed:
            tally.closes[closed.rcvd.code if closed.rcvd else "none"] += 1
        except TimeoutError:
            tally.closes["timeout"] += 1


async def over_limit(users: list[dict], server: fk.Daphne, count: int,
                     rss_series: list[int]) -> dict:
    """One over-limit frame per fresh socket, `count` times, ten sockets at a time, in
    rounds of 100; the server's RSS (KB) after each round goes to `rss_series`."""
    sizes = [("text", MAX_FRAME_CHARS + 1), ("text", 100_000), ("text", 500_000),
             ("text", 1_000_000), ("binary", MAX_FRAME_CHARS + 1), ("binary", 300_000),
             ("text", 2_000_000)]
    codes: Counter = Counter()
    gate = asyncio.Semaphore(10)
    payloads = {size: "z" * size for kind, size in sizes if kind == "text"}

    async def one(i: int) -> None:
        user = users[i % len(users)]
        kind, size = sizes[i % len(sizes)]
        url = f"ws://127.0.0.1:{server.port}/ws/groups/{user['group']}/chat/"
        async with gate:
            try:
                ws = await connect(url, server.base_url, user["cookie"])
            except Exception as error:  # noqa: BLE001 - counted
                codes[f"connect {type(error).__name__}"] += 1
                return
            try:
                async with ws:
                    await asyncio.wait_for(ws.recv(), 20)  # history
                    await ws.send(payloads[size] if kind == "text" else b"b" * size)
                    async with asyncio.timeout(20):
                        while True:
                            await ws.recv()
            except ConnectionClosed as closed:
                codes[f"{kind} {size:,} -> {closed.rcvd.code if closed.rcvd else 'none'}"] += 1
            except TimeoutError:
                codes[f"{kind} {size:,} -> still open"] += 1

    for start in range(0, count, 100):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + 100))))
        rss_series.append(h.memory_kb(server.pid).get("VmRSS", 0))
    return dict(sorted(codes.items()))


def stored_rows(slugs: list[str]) -> dict:
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={DATABASE}",
                         connect_timeout=5) as conn:
        groups = dict(conn.execute("SELECT id, chat_seq FROM community_group WHERE slug = "
                                   "ANY(%s)", [slugs]).fetchall())
        rows = conn.execute("SELECT group_id, seq, client_id, body, body_html FROM "
                            "community_chatmessage WHERE group_id = ANY(%s)",
                            [list(groups)]).fetchall()
    seqs: dict[int, list[int]] = {}
    bad = Counter()
    for group_id, seq, client_id, body, _html in rows:
        seqs.setdefault(group_id, []).append(seq)
        if not 1 <= len(body) <= 4000 or body != body.strip():
            bad["body length or spaces"] += 1
        if "\x00" in body:
            bad["NUL"] += 1
        if not 1 <= len(client_id) <= 64:
            bad["client_id"] += 1
    gaps = {g: len(s) for g, s in seqs.items() if sorted(s) != list(range(1, groups[g] + 1))}
    return {"rows": len(rows), "invalid": dict(bad), "groups_with_gaps": gaps}


# --- the run ----------------------------------------------------------------------------------

async def run(args, log_dir: Path) -> dict:
    secret = h.new_secret()
    prefix = f"fuzz{random.randrange(16**6):06x}"  # noqa: S311
    redis = fk.PrivateRedis(log_dir)
    server: fk.Daphne | None = None
    try:
        await asyncio.to_thread(ensure_database)
        redis.start()
        env = env_for(database_url=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
                      redis_url=redis.url, secret=secret, prefix=prefix)
        await asyncio.to_thread(manage, "migrate", "-v0", env=env)
        out = log_dir / "setup.json"
        await asyncio.to_thread(manage, "bench_setup", "--users", str(args.sockets * 2),
                                "--groups", "2", "--prefix", "fuzz-", "--out", str(out),
                                env=env)
        users = json.loads(out.read_text())["users"]
        env["DJANGO_SETTINGS_MODULE"] = "bench.fuzz_settings"
        server = fk.Daphne("fuzz", env, log_dir)
        server.start()
        await asyncio.to_thread(server.wait_healthy)
        rss = {"start": h.memory_kb(server.pid).get("VmRSS", 0)}

        frames = Frames(args.seed)
        tally = Tally()
        quota = [args.frames]
        started = time.monotonic()
        deadline = started + args.max_seconds
        cpu0 = h.cpu_seconds(server.pid)
        await asyncio.gather(*(fuzz_socket(users[i], server, frames, tally, quota, deadline)
                               for i in range(args.sockets)))
        elapsed = time.monotonic() - started
        cpu = h.cpu_seconds(server.pid) - cpu0
        rss["after_fuzz"] = h.memory_kb(server.pid).get("VmRSS", 0)
        alive_after_fuzz = fk.http_status(f"{server.base_url}/healthz")[0]

        await asyncio.sleep(2)
        rss["before_over_limit"] = h.memory_kb(server.pid).get("VmRSS", 0)
        burst_started = time.monotonic()
        series: list[int] = []
        codes = await over_limit(users, server, args.over_limit, series)
        rss["series_per_100"] = series
        burst_s = time.monotonic() - burst_started
        rss["after_over_limit"] = h.memory_kb(server.pid).get("VmRSS", 0)
        await asyncio.sleep(5)
        rss["after_pause"] = h.memory_kb(server.pid).get("VmRSS", 0)
        rss["peak"] = h.memory_kb(server.pid).get("VmHWM", 0)
        alive = fk.http_status(f"{server.base_url}/readyz")
        store = await asyncio.to_thread(stored_rows, sorted({u["group"] for u in users}))
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
        redis.stop()
    return {
        "frames": tally.frames, "by_family": dict(tally.sent), "seconds": round(elapsed, 1),
        "frames_per_s": round(tally.frames / elapsed, 1) if elapsed else 0,
        "server_cpu_s": round(cpu, 1), "answers": dict(tally.answers),
        "errors": dict(sorted(tally.errors.items(), key=lambda kv: -kv[1])),
        "closes": {str(k): v for k, v in tally.closes.items()},
        "connect_failures": dict(tally.connect_failures), "connects": tally.connects,
        "bursts": tally.bursts, "unanswered_bursts": tally.unanswered_bursts,
        "healthz_after_fuzz": alive_after_fuzz, "readyz_at_end": alive[0],
        "over_limit": codes, "over_limit_s": round(burst_s, 1), "rss_kb": rss,
        "log": h.scan_log(server.log_path) if server else {}, "store": store,
    }


def ensure_database() -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                         autocommit=True, connect_timeout=5) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            [DATABASE]).fetchone():
            conn.execute(f"CREATE DATABASE {DATABASE}")


def report(args, mach: dict, started: str, r: dict) -> str:
    rss = r["rss_kb"]
    growth = rss["after_pause"] - rss["before_over_limit"]
    log = r["log"]
    lines = [
        f"## Fuzzing the chat socket, {started}",
        "",
        f"Command: `.venv/bin/python bench/fuzz.py --frames {args.frames} --sockets "
        f"{args.sockets} --over-limit {args.over_limit} --seed {args.seed}`",
        "",
        h.machine_markdown(mach),
        "",
        "One daphne process in the production shape (PostgreSQL `kindred_h4_fuzz`, "
        "channels-redis on a private `redis-server`, DEBUG off), chat rate limit raised "
        "(bench/fuzz_settings.py) so frames are judged on their content, one member per "
        f"socket; bursts of {BURST} generated frames, then a sentinel `history` frame.",
        "",
        "| frames | seconds | frames/s | server CPU s | bursts answered | reconnects | close "
        "codes | failed connects | tracebacks in server log | ERROR lines | /healthz after | "
        "/readyz at end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {r['frames']:,} | {r['seconds']} | {r['frames_per_s']} | {r['server_cpu_s']} | "
        f"{r['bursts'] - r['unanswered_bursts']:,} of {r['bursts']:,} | "
        f"{r['connects'] - args.sockets} | {r['closes'] or '-'} | "
        f"{r['connect_failures'] or '-'} | {log.get('tracebacks')} | {log.get('errors')} | "
        f"{r['healthz_after_fuzz']} | {r['readyz_at_end']} |",
        "",
        f"Frames by family: {r['by_family']}.",
        "",
        f"Answers by type: {r['answers']}.",
        "",
        f"Error frames by code: {r['errors']}.",
        "",
        f"Stored rows afterwards: {r['store']['rows']:,}; invalid {r['store']['invalid'] or 0}"
        f"; groups whose places are not 1..n: {r['store']['groups_with_gaps'] or 0}.",
        "",
        f"Over the size limit ({MAX_FRAME_CHARS:,} characters), {args.over_limit:,} frames, "
        f"one per fresh socket, in {r['over_limit_s']} s: close codes {r['over_limit']}. "
        f"Server RSS (KB): at start {rss['start']:,}, after the fuzzing "
        f"{rss['after_fuzz']:,}, before the burst {rss['before_over_limit']:,}, after it "
        f"{rss['after_over_limit']:,}, 5 s later {rss['after_pause']:,} (growth across the "
        f"burst {growth:+,} KB, {growth / max(args.over_limit, 1):+.1f} KB per frame); peak "
        f"{rss['peak']:,}. RSS after each 100 of them (KB): "
        f"{', '.join(f'{v:,}' for v in rss['series_per_100'])}.",
    ]
    if log.get("first_lines"):
        lines += ["", "First log lines of note: " + "; ".join(
            f"`{line[:160]}`" for line in log["first_lines"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--sockets", type=int, default=8)
    parser.add_argument("--over-limit", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if not (1 <= args.frames <= 1_000_000 and 1 <= args.sockets <= 64
            and 0 <= args.over_limit <= 10_000 and 0 < args.max_seconds <= 3600):
        parser.error("bounded runs only: frames <= 1,000,000, sockets <= 64, "
                     "over-limit <= 10,000, max-seconds <= 3600")
    h.raise_nofile()
    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    log_dir = Path(tempfile.mkdtemp(prefix="kindred-fuzz-", dir="/tmp"))
    print(f"logs in {log_dir}", flush=True)
    mach = h.machine()

    async def bounded() -> dict:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        return await asyncio.wait_for(run(args, log_dir), args.max_seconds + 300)

    result = asyncio.run(bounded())
    text = report(args, mach, started, result)
    print()
    print(text)
    out = Path(args.out) if args.out else h.ROOT / "bench" / "results" / \
        f"{dt.date.today().isoformat()}-fuzz.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(text + "\n")
    (log_dir / "raw.json").write_text(json.dumps(result, indent=1, default=str))
    print(f"appended to {out}; raw figures in {log_dir / 'raw.json'}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
