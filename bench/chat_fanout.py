"""Chat fan-out: Kindred in the production shape against a bare Channels group chat.

    .venv/bin/python bench/chat_fanout.py --clients 500 --groups 50 --rate 50 --duration 20 \
        [--processes 1|2|both] [--layer redis|pubsub] [--runs 3]

For each run and each process count it starts Kindred (PostgreSQL `kindred_bench`, Redis
db 9, daphne with backlog 1024, DEBUG off) after `manage.py bench_setup`, opens N
authenticated WebSockets across G groups (spread over the processes as a proxy would),
waits until each has its `history` frame, sends `message.send` frames at the given total
rate from random clients, and checks every `message.new` every member receives:
delivered / expected (acked messages x members of that group connected), lost,
duplicated (by message id per receiver), send-to-receipt latency, and CPU seconds and
peak RSS per server process. Then the same load on the bare Channels baseline
(bench/bare_channels, same daphne, same Redis layer config). Medians over --runs are
printed as a Markdown table and appended to bench/results/<date>-chat.md.
Loopback only, bounded, and every server is stopped on exit, Ctrl-C or error.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import resource
import secrets
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness as h  # noqa: E402

SETTLE = 3.0  # seconds after the last connect (presence and history traffic) before sending
DRAIN_MAX = 10.0  # at most this long after the last send for stragglers


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def load(kind: str, servers: list[h.Server], users: list[dict], args) -> dict:
    clients = h.make_clients(kind, servers, users)
    connect_s = await h.connect_all(clients, concurrency=args.connect_concurrency)
    ready = [c for c in clients if c.failure is None]
    try:
        await asyncio.sleep(SETTLE)
        for server in servers:
            server.mark()
        cpu0, wall0 = client_cpu(), time.monotonic()
        sent: dict[str, tuple[float, str]] = {}
        send_failures = 0
        interval = 1.0 / args.rate
        rng = random.Random(args.seed)
        deadline = time.monotonic() + args.duration
        next_at = time.monotonic()
        while time.monotonic() < deadline and ready:
            sender = rng.choice(ready)
            client_id = uuid.uuid4().hex
            frame = {"type": "message.send", "client_id": client_id,
                     "body": f"fan-out bench {client_id[:8]} at {time.time():.6f}"}
            at = time.time()
            try:
                await sender.ws.send(json.dumps(frame))
                sent[client_id] = (at, sender.group)
            except Exception:  # noqa: BLE001 - counted
                send_failures += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        send_wall = time.monotonic() - wall0

        members: dict[str, list[h.Client]] = defaultdict(list)
        for c in ready:
            members[c.group].append(c)

        def acked() -> set[str]:
            if kind == "bare":
                return set(sent)
            got: set[str] = set()
            for c in ready:
                got.update(cid for cid, status in c.acks.items() if status == "published")
            return got

        def expected_total() -> int:
            return sum(len(members[sent[cid][1]]) for cid in acked() if cid in sent)

        drain_until = time.monotonic() + DRAIN_MAX
        while time.monotonic() < drain_until:
            if (kind == "bare" or sum(len(c.acks) for c in ready) >= len(sent)) and \
                    sum(len(c.received) for c in ready) >= expected_total():
                break
            await asyncio.sleep(0.25)
        window = time.monotonic() - wall0
        client_cpu_s = client_cpu() - cpu0
        server_figures = [{
            "pid": s.pid,
            "cpu_s": round(s.cpu_since_mark(), 2),
            "peak_rss_mb": round(h.memory_kb(s.pid).get("VmHWM", 0) / 1024, 1),
            "rss_mb": round(h.memory_kb(s.pid).get("VmRSS", 0) / 1024, 1),
        } for s in servers]

        # Per delivery: every acked message, every connected member of its group.
        ok = acked()
        latencies: list[float] = []
        expected = delivered = 0
        last_receipt = wall_first = None
        for c in ready:
            got = {cid: t for (t, cid) in c.received.values()}
            for cid, (at, group) in sent.items():
                if group != c.group or cid not in ok:
                    continue
                expected += 1
                t = got.get(cid)
                if t is not None:
                    delivered += 1
                    latencies.append((t - at) * 1000)
                    last_receipt = t if last_receipt is None else max(last_receipt, t)
        if sent:
            wall_first = min(at for at, _ in sent.values())
        span = (last_receipt - wall_first) if last_receipt and wall_first else args.duration
        unexpected = sum(1 for c in ready for (_, cid) in c.received.values() if cid not in sent)
        ack_lat = []
        errors: dict[str, int] = defaultdict(int)
        for c in ready:
            for code, n in c.errors.items():
                errors[code] += n
        return {
            "clients": len(clients),
            "connected": len(ready),
            "connect_failures": h.failure_summary(clients),
            "connect_s": round(connect_s, 2),
            "closed_during_run": sum(1 for c in ready if c.close_code is not None),
            "sent": len(sent),
            "send_failures": send_failures,
            "acked": len(ok),
            "not_acked": len(sent) - len(ok),
            "error_frames": dict(errors),
            "resyncs": sum(c.resyncs for c in ready),
            "expected": expected,
            "delivered": delivered,
            "lost": expected - delivered,
            "duplicated": sum(c.duplicates for c in ready),
            "unexpected": unexpected,
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99),
            "max": round(max(latencies), 1) if latencies else float("nan"),
            "deliveries_per_s": round(delivered / span, 1) if span > 0 else 0.0,
            "send_s": round(send_wall, 2),
            "window_s": round(window, 2),
            "servers": server_figures,
            "server_cpu_s": round(sum(f["cpu_s"] for f in server_figures), 2),
            "client_cpu_s": round(client_cpu_s, 2),
            "ack_latency": ack_lat,
        }
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def percentile(values: list[float], p: float) -> float:
    return round(h.percentile(values, p), 1)


def one_leg(kind: str, procs: int, users: list[dict], args, log_dir: Path, secret: str,
            run: int) -> dict:
    prefix = f"bench{secrets.token_hex(4)}"
    servers: list[h.Server] = []
    try:
        if kind == "kindred":
            setup_path = log_dir / f"setup-run{run}-{procs}p.json"
            h.manage("bench_setup", "--users", str(args.clients), "--groups", str(args.groups),
                     "--out", str(setup_path), secret=secret, prefix=prefix)
            users = json.loads(setup_path.read_text())["users"]
        servers = h.start_servers(kind, procs, log_dir=log_dir, secret=secret, prefix=prefix,
                                  layer=args.layer)
        result = asyncio.run(asyncio.wait_for(load(kind, servers, users, args),
                                              timeout=args.duration + 180))
    finally:
        h.stop_all(servers)
        h.flush_prefix(prefix)
    result["logs"] = {s.log_path.name: h.scan_log(s.log_path) for s in servers}
    result["log_errors"] = sum(v["errors"] + v["tracebacks"] for v in result["logs"].values())
    result["log_over_capacity"] = sum(v["over_capacity"] for v in result["logs"].values())
    return result


def bare_users(clients: int, groups: int) -> list[dict]:
    """Same spread as bench_setup: evenly, earlier groups first, listed group by group."""
    base, extra = divmod(clients, groups)
    users = []
    for g in range(groups):
        users += [{"group": f"bench-{g}"}] * (base + (1 if g < extra else 0))
    return users


COLUMNS = [
    ("connected", "connected"), ("connect_s", "connect s"), ("acked", "acked msgs"),
    ("delivered", "delivered"), ("expected", "expected"), ("lost", "lost"),
    ("duplicated", "dup"), ("p50", "p50 ms"), ("p95", "p95 ms"), ("p99", "p99 ms"),
    ("max", "max ms"), ("deliveries_per_s", "deliveries/s"),
    ("server_cpu_s", "server CPU s"), ("client_cpu_s", "client CPU s"),
]


def fmt(value) -> str:
    if isinstance(value, float):
        if value != value:
            return "n/a"
        return f"{value:,.1f}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def report(results: dict, args, mach: dict, started: str) -> str:
    lines = [
        f"## Chat fan-out, {started}",
        "",
        f"Command: `.venv/bin/python bench/chat_fanout.py --clients {args.clients} --groups "
        f"{args.groups} --rate {args.rate:g} --duration {args.duration:g} --processes "
        f"{args.processes} --layer {args.layer} --runs {args.runs}`",
        "",
        h.machine_markdown(mach),
        "",
        f"Each cell: median of {args.runs} runs, then the runs themselves in brackets. "
        "Latency is send to receipt for every delivery (sender and receiver clocks are the "
        "same machine); expected = acked messages x connected members of the group "
        "(the sender included); server CPU = all server processes over the send+drain window.",
        "",
    ]
    head = "| target | procs | " + " | ".join(name for _, name in COLUMNS) + \
        " | peak RSS MB per proc | log errors |"
    lines += [head, "|" + "---|" * (len(COLUMNS) + 4)]
    for (kind, procs), runs in results.items():
        cells = []
        for key, _ in COLUMNS:
            values = [r[key] for r in runs]
            med = h.median([float(v) for v in values])
            each = "/".join(fmt(v) for v in values)
            whole = key in {"connected", "acked", "delivered", "expected", "lost", "duplicated"}
            shown = fmt(int(med) if whole else med)
            cells.append(f"{shown} ({each})" if len(runs) > 1 else fmt(values[0]))
        rss = []
        for i in range(procs):
            peaks = [r["servers"][i]["peak_rss_mb"] for r in runs if len(r["servers"]) > i]
            rss.append(fmt(h.median(peaks)))
        errs = "/".join(str(r["log_errors"]) for r in runs)
        lines.append(f"| {'Kindred' if kind == 'kindred' else 'bare Channels'} | {procs} | "
                     + " | ".join(cells) + f" | {', '.join(rss)} | {errs} |")
    lines += ["", "| procs | Kindred p99 / bare p99 | Kindred deliveries/s / bare | "
              "Kindred server CPU / bare | Kindred lost, dup (all runs) |", "|---|---|---|---|---|"]
    for procs in sorted({p for _, p in results}):
        k, b = results.get(("kindred", procs)), results.get(("bare", procs))
        if not k or not b:
            continue
        p99 = [kr["p99"] / br["p99"] for kr, br in zip(k, b, strict=False) if br["p99"]]
        thr = [kr["deliveries_per_s"] / br["deliveries_per_s"] for kr, br in zip(k, b, strict=False)
               if br["deliveries_per_s"]]
        cpu = [kr["server_cpu_s"] / br["server_cpu_s"] for kr, br in zip(k, b, strict=False)
               if br["server_cpu_s"]]
        lost = sum(r["lost"] for r in k)
        dup = sum(r["duplicated"] for r in k)
        lines.append(
            f"| {procs} | {h.median(p99):.2f} ({'/'.join(f'{x:.2f}' for x in p99)}) | "
            f"{h.median(thr):.3f} ({'/'.join(f'{x:.3f}' for x in thr)}) | "
            f"{h.median(cpu):.2f} ({'/'.join(f'{x:.2f}' for x in cpu)}) | {lost}, {dup} |")
    notes = []
    for (kind, procs), runs in results.items():
        for i, r in enumerate(runs, 1):
            odd = {k: r[k] for k in ("connect_failures", "not_acked", "error_frames", "resyncs",
                                     "closed_during_run", "send_failures", "unexpected",
                                     "log_over_capacity") if r[k]}
            if odd or r["log_errors"]:
                firsts = [ln for v in r["logs"].values() for ln in v["first_lines"]][:2]
                notes.append(f"- {kind} {procs}p run {i}: {odd} log errors {r['log_errors']}"
                             + (f"; first: `{firsts[0][:200]}`" if firsts else ""))
    if notes:
        lines += ["", "Anomalies:", *notes]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second in all")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of sending")
    parser.add_argument("--processes", choices=["1", "2", "both"], default="both")
    parser.add_argument("--layer", choices=["redis", "pubsub"], default="redis")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["kindred", "bare", "both"], default="both")
    parser.add_argument("--connect-concurrency", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", default="",
                        help="results file (default bench/results/<date>-chat.md)")
    args = parser.parse_args()
    if not (1 <= args.clients <= 5000 and 1 <= args.groups <= args.clients
            and 0 < args.rate <= 1000 and 0 < args.duration <= 300 and 1 <= args.runs <= 10):
        parser.error("bounded runs only: clients <= 5000, rate <= 1000/s, duration <= 300 s, "
                     "runs <= 10")
    h.raise_nofile()
    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    log_dir = Path(tempfile.mkdtemp(prefix="kindred-chat-fanout-", dir="/tmp"))
    print(f"server logs and setup files in {log_dir}", flush=True)
    mach = h.machine()
    secret = h.new_secret()
    h.manage("migrate", "-v0", secret=secret, prefix="benchmigrate")
    procs_list = [1, 2] if args.processes == "both" else [int(args.processes)]
    kinds = ["kindred", "bare"] if args.only == "both" else [args.only]
    results: dict[tuple[str, int], list[dict]] = {}
    bare = bare_users(args.clients, args.groups)
    for run in range(1, args.runs + 1):
        for procs in procs_list:
            order = kinds if run % 2 else list(reversed(kinds))  # alternate who goes first
            for kind in order:
                t0 = time.monotonic()
                r = one_leg(kind, procs, bare, args, log_dir, secret, run)
                results.setdefault((kind, procs), []).append(r)
                print(f"run {run} {kind} {procs}p: connected {r['connected']}/{r['clients']} "
                      f"in {r['connect_s']}s; acked {r['acked']}/{r['sent']}; delivered "
                      f"{r['delivered']}/{r['expected']} lost {r['lost']} dup {r['duplicated']}; "
                      f"p50/p95/p99/max {r['p50']}/{r['p95']}/{r['p99']}/{r['max']} ms; "
                      f"{r['deliveries_per_s']}/s; server CPU {r['server_cpu_s']}s "
                      f"{[(s['cpu_s'], s['peak_rss_mb']) for s in r['servers']]}; client CPU "
                      f"{r['client_cpu_s']}s; log errors {r['log_errors']}; "
                      f"failures {r['connect_failures']} ({time.monotonic() - t0:.0f}s)",
                      flush=True)
    # keep the ordering stable in the table: Kindred then bare, by process count
    ordered = {key: results[key]
               for key in sorted(results, key=lambda k: (k[1], k[0] != "kindred"))}
    text = report(ordered, args, mach, started)
    print()
    print(text)
    out = Path(args.out) if args.out else h.ROOT / "bench" / "results" / \
        f"{dt.date.today().isoformat()}-chat.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(text + "\n")
    (log_dir / "raw.json").write_text(json.dumps(
        {f"{k}-{p}": v for (k, p), v in ordered.items()}, indent=1, default=str))
    print(f"appended to {out}; raw figures in {log_dir / 'raw.json'}")


if __name__ == "__main__":
    main()
