"""Idle chat sockets: how many authenticated chat WebSockets one daphne process holds.

    .venv/bin/python bench/idle_sockets.py [--max 3000] [--step 500] [--room 20] [--hold 10]

Starts one Kindred daphne (production shape: PostgreSQL `kindred_bench`, Redis db 9,
DEBUG off, backlog 1024, RLIMIT_NOFILE raised to the hard limit), makes --max members
with `manage.py bench_setup` (rooms of --room), and opens sockets in steps of --step,
waiting for each socket's `history` frame. After each step it records connect success,
sockets still open, RSS, open files and CPU; at the top it holds the sockets idle for
--hold seconds and measures the idle CPU (heartbeats, presence). Then the same ramp on
the bare Channels baseline (bench/bare_channels). Results go to
bench/results/<date>-idle.md. Loopback only, bounded; servers are stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness as h  # noqa: E402

SETTLE = 3.0
STEP_TIMEOUT = 120.0


async def ramp(kind: str, server: h.Server, users: list[dict], args) -> dict:
    clients_all = h.make_clients(kind, [server], users)
    opened: list[h.Client] = []
    steps = []
    rss0 = h.memory_kb(server.pid).get("VmRSS", 0)
    try:
        for start in range(0, len(clients_all), args.step):
            batch = clients_all[start:start + args.step]
            cpu0 = h.cpu_seconds(server.pid)
            try:
                seconds = await asyncio.wait_for(
                    h.connect_all(batch, concurrency=args.concurrency, timeout=60),
                    timeout=STEP_TIMEOUT)
            except TimeoutError:
                seconds = STEP_TIMEOUT
            opened += batch
            await asyncio.sleep(SETTLE)
            ok = sum(1 for c in batch if c.failure is None)
            alive = sum(1 for c in opened if c.failure is None and c.close_code is None)
            mem = h.memory_kb(server.pid)
            step = {
                "target": len(opened),
                "step_ok": ok,
                "step_tried": len(batch),
                "open": alive,
                "connect_s": round(seconds, 1),
                "connect_cpu_s": round(h.cpu_seconds(server.pid) - cpu0, 2),
                "rss_mb": round(mem.get("VmRSS", 0) / 1024, 1),
                "fds": h.open_fds(server.pid),
                "failures": h.failure_summary(batch),
            }
            steps.append(step)
            print(f"  {kind}: {step}", flush=True)
            if ok < len(batch) * 0.5 or server.process.poll() is not None:
                print(f"  {kind}: stopping the ramp (step success {ok}/{len(batch)})", flush=True)
                break
        cpu0 = h.cpu_seconds(server.pid)
        await asyncio.sleep(args.hold)
        idle_cpu = (h.cpu_seconds(server.pid) - cpu0) / args.hold
        alive = sum(1 for c in opened if c.failure is None and c.close_code is None)
        mem = h.memory_kb(server.pid)
        return {"rss0_mb": round(rss0 / 1024, 1), "steps": steps,
                "held_after_idle": alive, "idle_cpu_pct": round(idle_cpu * 100, 1),
                "final_rss_mb": round(mem.get("VmRSS", 0) / 1024, 1),
                "peak_rss_mb": round(mem.get("VmHWM", 0) / 1024, 1)}
    finally:
        await asyncio.gather(*(c.close() for c in opened), return_exceptions=True)


def leg(kind: str, args, log_dir: Path, secret: str) -> dict:
    prefix = f"benchidle{secrets.token_hex(4)}"
    server = None
    try:
        if kind == "kindred":
            path = log_dir / "setup.json"
            h.manage("bench_setup", "--users", str(args.max), "--groups",
                     str(max(1, args.max // args.room)), "--out", str(path),
                     "--prefix", "benchidle-", secret=secret, prefix=prefix, timeout=900)
            users = json.loads(path.read_text())["users"]
        else:
            users = [{"group": f"benchidle-{i // args.room}"} for i in range(args.max)]
        server = h.start_servers(kind, 1, log_dir=log_dir, secret=secret, prefix=prefix,
                                 layer=args.layer)[0]
        time.sleep(2)  # let start-up work (screening warm-up thread) finish before RSS0
        result = asyncio.run(ramp(kind, server, users, args))
    finally:
        if server is not None:
            h.stop_all([server])
        h.flush_prefix(prefix)
    result["log"] = h.scan_log(server.log_path) if server else {}
    return result


def table(kind: str, r: dict) -> list[str]:
    label = "Kindred" if kind == "kindred" else "bare Channels"
    rows = [f"### {label} (one daphne process; RSS with no sockets {r['rss0_mb']} MB)", "",
            "| sockets tried | connected this step | open now | step connect s | "
            "server CPU s for step | RSS MB | KB per socket (vs 0) | "
            "KB per socket (marginal) | open fds |",
            "|---|---|---|---|---|---|---|---|---|"]
    prev_rss, prev_open = r["rss0_mb"], 0
    for s in r["steps"]:
        per0 = (s["rss_mb"] - r["rss0_mb"]) * 1024 / s["open"] if s["open"] else float("nan")
        marg = ((s["rss_mb"] - prev_rss) * 1024 / (s["open"] - prev_open)
                if s["open"] > prev_open else float("nan"))
        fails = f" ({s['failures']})" if s["failures"] else ""
        rows.append(f"| {s['target']:,} | {s['step_ok']}/{s['step_tried']}{fails} | {s['open']:,} "
                    f"| {s['connect_s']} | {s['connect_cpu_s']} | {s['rss_mb']} | {per0:.1f} | "
                    f"{marg:.1f} | {s['fds']} |")
        prev_rss, prev_open = s["rss_mb"], s["open"]
    log = r.get("log", {})
    rows += ["", f"Held after {r['hold_s']} s idle: {r['held_after_idle']:,} sockets; idle "
             f"server CPU {r['idle_cpu_pct']}% of one core; peak RSS {r['peak_rss_mb']} MB; "
             f"server log: {log.get('errors', 0)} ERROR, {log.get('tracebacks', 0)} tracebacks, "
             f"{log.get('warnings', 0)} WARNING.", ""]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max", type=int, default=3000)
    parser.add_argument("--step", type=int, default=500)
    parser.add_argument("--room", type=int, default=20, help="members per group")
    parser.add_argument("--hold", type=float, default=10.0, help="idle seconds at the top")
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes at once")
    parser.add_argument("--layer", choices=["redis", "pubsub"], default="redis")
    parser.add_argument("--only", choices=["kindred", "bare", "both"], default="both")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if not (1 <= args.max <= 10000 and 1 <= args.step <= args.max and 0 < args.hold <= 120):
        parser.error("bounded runs only: --max <= 10000, --hold <= 120 s")
    limit = h.raise_nofile()
    if limit < args.max + 200:
        parser.error(f"RLIMIT_NOFILE is {limit}: too low for {args.max} sockets")
    log_dir = Path(tempfile.mkdtemp(prefix="kindred-idle-", dir="/tmp"))
    print(f"server logs in {log_dir}", flush=True)
    mach = h.machine()
    secret = h.new_secret()
    h.manage("migrate", "-v0", secret=secret, prefix="benchmigrate")
    kinds = ["kindred", "bare"] if args.only == "both" else [args.only]
    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"## Idle chat sockets, {started}", "",
             f"Command: `.venv/bin/python bench/idle_sockets.py --max {args.max} --step "
             f"{args.step} --room {args.room} --hold {args.hold:g} --layer {args.layer}`", "",
             h.machine_markdown(mach), "",
             "Kindred sockets are authenticated members (session cookie from bench_setup) and "
             "count as connected once their `history` frame arrives; bare sockets once the "
             "handshake completes. RSS per socket = (RSS - RSS with no sockets) / open "
             "sockets, and marginal = the step's RSS growth / the step's new sockets.", ""]
    for kind in kinds:
        print(f"{kind}: ramp to {args.max}", flush=True)
        r = leg(kind, args, log_dir, secret)
        r["hold_s"] = args.hold
        lines += table(kind, r)
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    out = Path(args.out) if args.out else h.ROOT / "bench" / "results" / \
        f"{dt.date.today().isoformat()}-idle.md"
    with out.open("a") as f:
        f.write(text + "\n")
    print(f"appended to {out}")


if __name__ == "__main__":
    main()
