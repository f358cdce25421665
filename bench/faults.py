"""Faults without loss: group chat in the production shape while Redis, a daphne process
and PostgreSQL fail underneath it.

    .venv/bin/python bench/faults.py --clients 100 --groups 10 [--rate 10] [--outage 5]
        [--steady 8] [--recover 60] [--faults redis,daphne,postgres]

What it starts (all on 127.0.0.1, all stopped on exit, Ctrl-C or error): its own
`redis-server` on a spare port (no persistence), a TCP proxy in front of the shared
PostgreSQL (database `kindred_h4_faults`) that it can cut, and two daphne processes
(production shape: PostgreSQL through the proxy, channels-redis on the private Redis,
backlog 1024, DEBUG off). `manage.py bench_setup` makes the groups and members; every
member connects a client that behaves as CONTRACT.md asks (bench/faultkit.py): reconnect
with `?after=<last id seen>`, back off, resend unacknowledged sends with the same
`client_id`, count deliveries by message id.

Messages are typed at `--rate` per second by random members (connected or not: a person
types while their connection is down, the client keeps the text) through the whole run.
After `--steady` seconds of normal chat, each fault in turn lasts `--outage` seconds:

* redis: the private Redis is killed (SIGKILL) and started again, empty;
* daphne: one of the two daphne processes is killed (SIGKILL) and started again;
* postgres: the proxy refuses new connections and aborts open ones, then listens again.

During each outage /readyz is polled on every live process; after it, the recovery is
timed: every client connected again, every typed message acknowledged, every
acknowledged message delivered to every member of its group. At the end: acknowledged,
delivered / expected, lost, duplicated (by message id per receiver), and the stored rows
checked for anything half-written (bench/faultkit.rows_check). Results are appended to
bench/results/<date>-faults.md with the machine description.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import faultkit as fk  # noqa: E402
from bench import harness as h  # noqa: E402

DATABASE = "kindred_h4_faults"
PG_PORT = 5432


def direct_url() -> str:
    return f"postgres://postgres@127.0.0.1:{PG_PORT}/{DATABASE}"


def ensure_database() -> None:
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={PG_PORT} user=postgres dbname=postgres",
                         autocommit=True, connect_timeout=5) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            [DATABASE]).fetchone():
            conn.execute(f"CREATE DATABASE {DATABASE}")


def env_for(*, database_url: str, redis_url: str, secret: str, prefix: str) -> dict:
    env = h.server_env("kindred", secret=secret, prefix=prefix, layer="redis")
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url)
    return env


def manage(*args: str, env: dict, timeout: float = 600) -> str:
    result = subprocess.run([str(h.PYTHON), "manage.py", *args], cwd=h.ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def stored_rows(group_slugs: list[str]) -> tuple[list[tuple], dict[int, int]]:
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={PG_PORT} user=postgres dbname={DATABASE}",
                         connect_timeout=5) as conn:
        groups = dict(conn.execute(
            "SELECT id, chat_seq FROM community_group WHERE slug = ANY(%s)",
            [group_slugs]).fetchall())
        rows = conn.execute(
            "SELECT id, group_id, author_id, client_id, seq, status FROM "
            "community_chatmessage WHERE group_id = ANY(%s)", [list(groups)]).fetchall()
    return rows, groups


class Run:
    def __init__(self, args, log_dir: Path) -> None:
        self.args = args
        self.log_dir = log_dir
        self.secret = h.new_secret()
        self.prefix = f"faults{random.randrange(16**6):06x}"  # noqa: S311
        self.redis = fk.PrivateRedis(log_dir)
        self.proxy = fk.CuttableProxy(PG_PORT)
        self.servers: list[fk.Daphne] = []
        self.clients: list[fk.FaultClient] = []
        self.phases: list[dict] = []
        self.typing = True

    # --- set-up and tear-down ---------------------------------------------------------

    async def start(self) -> list[dict]:
        ensure_database()
        self.redis.start()
        setup_env = env_for(database_url=direct_url(), redis_url=self.redis.url,
                            secret=self.secret, prefix=self.prefix)
        await asyncio.to_thread(manage, "migrate", "-v0", env=setup_env)
        out = self.log_dir / "setup.json"
        await asyncio.to_thread(manage, "bench_setup", "--users", str(self.args.clients),
                                "--groups", str(self.args.groups), "--prefix", "faults-",
                                "--out", str(out), env=setup_env)
        await self.proxy.start()
        env = env_for(database_url=f"postgres://postgres@127.0.0.1:{self.proxy.port}/{DATABASE}",
                      redis_url=self.redis.url, secret=self.secret, prefix=self.prefix)
        self.servers = [fk.Daphne(name, env, self.log_dir) for name in ("a", "b")]
        for server in self.servers:
            server.start()
        for server in self.servers:
            await asyncio.to_thread(server.wait_healthy)
        return json.loads(out.read_text())["users"]

    async def stop(self) -> None:
        self.typing = False
        await asyncio.gather(*(c.stop() for c in self.clients), return_exceptions=True)
        await asyncio.to_thread(fk.stop_all, self.servers)
        self.redis.stop()
        await self.proxy.stop()

    # --- the run --------------------------------------------------------------------------

    async def type_messages(self) -> None:
        rng = random.Random(self.args.seed)
        interval = 1.0 / self.args.rate
        next_at = time.monotonic()
        n = 0
        while self.typing:
            client = rng.choice(self.clients)
            n += 1
            await client.say(f"Fault run message {n} from {client.user_id}")
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def poll_readyz(self, until: asyncio.Event, seen: list) -> None:
        while not until.is_set():
            for server in self.servers:
                if server.process and server.process.poll() is None:
                    status, body = await asyncio.to_thread(
                        fk.http_status, f"{server.base_url}/readyz", 4)
                    failed = body.get("failed") if isinstance(body, dict) else [body]
                    seen.append((server.name, status, tuple(failed or ())))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), 0.5)

    def snapshot(self) -> dict:
        ledger = fk.Ledger(self.clients)
        return {"errors": ledger.counters("errors"), "closes": ledger.counters("closes"),
                "connect_failures": ledger.counters("connect_failures"),
                "connects": sum(c.connects for c in self.clients)}

    async def watch(self, until: asyncio.Event, last: dict) -> None:
        """Note the last moment each promise was not yet kept (sampled every 0.1 s)."""
        ledger = fk.Ledger(self.clients)
        checks = {"connected": ledger.all_ready}
        while not until.is_set():
            now = time.monotonic()
            for key, check in checks.items():
                if not check():
                    last[key] = now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), 0.1)

    async def fault(self, name: str) -> dict:
        ledger = fk.Ledger(self.clients)
        before = self.snapshot()
        acked_before = len(ledger.acked_published())
        outage_over = asyncio.Event()
        readyz: list = []
        poller = asyncio.create_task(self.poll_readyz(outage_over, readyz))
        recovered = asyncio.Event()
        last: dict = {}
        watcher = asyncio.create_task(self.watch(recovered, last))
        started = time.monotonic()
        if name == "redis":
            self.redis.kill()
        elif name == "daphne":
            victim = self.servers[0]
            await asyncio.to_thread(victim.kill)
        elif name == "postgres":
            await self.proxy.cut()
            # People keep arriving while the database is away: a tenth reconnect now.
            for client in self.clients[::10]:
                if client.ws is not None:
                    with contextlib.suppress(Exception):
                        await client.ws.close()
        await asyncio.sleep(self.args.outage)
        acked_during = sum(1 for c in self.clients for t in c.acked_at.values() if t >= started)
        restored = time.monotonic()
        restart_s = None
        if name == "redis":
            self.redis.start()
        elif name == "daphne":
            victim.start()
            restart_s = round(await asyncio.to_thread(victim.wait_healthy), 2)
        elif name == "postgres":
            await self.proxy.restore()
        outage_over.set()
        await poller
        # Recovery: everyone connected again, every message typed until now acknowledged
        # and delivered to every member of its group.
        def recovered_now() -> bool:
            times = ledger.recovery(restored)
            return ledger.all_ready() and None not in (times["acked_s"], times["delivered_s"])

        await fk.wait_for(recovered_now, self.args.recover)
        recovered.set()
        await watcher
        times = ledger.recovery(restored)
        after = self.snapshot()
        readyz_after = {}
        for server in self.servers:
            status, _body = await asyncio.to_thread(fk.http_status, f"{server.base_url}/readyz")
            readyz_after[server.name] = status
        figures = ledger.figures()

        def delta(key: str) -> dict:
            return {k: v - before[key].get(k, 0) for k, v in after[key].items()
                    if v - before[key].get(k, 0)}

        late = f"not within {self.args.recover:g} s"

        def since(key: str, origin: float) -> float | str:
            if not ledger.all_ready():
                return late
            return round(max(0.0, last.get(key, origin) - origin), 2)

        result = {
            "fault": name,
            "outage_s": self.args.outage,
            "restart_s": restart_s,
            "acked_during_outage": acked_during,
            "acked_in_phase": len(ledger.acked_published()) - acked_before,
            "back_from_fault_start_s": since("connected", started),
            "reconnected_s": since("connected", restored),
            "all_acked_s": late if times["acked_s"] is None else times["acked_s"],
            "all_delivered_s": late if times["delivered_s"] is None else times["delivered_s"],
            "readyz_during": sorted(set(readyz)),
            "readyz_after": readyz_after,
            "errors": delta("errors"),
            "closes": delta("closes"),
            "connect_failures": delta("connect_failures"),
            "reconnects": after["connects"] - before["connects"],
            "lost_after_recovery": times["missing"],
            "slowest_deliveries": times["slowest"],
            "duplicated_so_far": figures["duplicated"],
        }
        print(f"  {name}: {json.dumps(result, default=str)}", flush=True)
        return result

    async def main(self) -> dict:
        users = await self.start()
        ports = [s.port for s in self.servers]
        self.clients = [fk.FaultClient(u["id"], u["group"], u["cookie"], ports, index=i)
                        for i, u in enumerate(users)]
        tasks = [asyncio.create_task(c.run()) for c in self.clients]
        connected = await fk.wait_for(fk.Ledger(self.clients).all_ready, 60)
        if connected is None:
            raise RuntimeError(f"clients did not all connect: "
                               f"{fk.Ledger(self.clients).counters('connect_failures')}")
        print(f"{len(self.clients)} clients connected in {connected:.1f}s", flush=True)
        typist = asyncio.create_task(self.type_messages())
        await asyncio.sleep(self.args.steady)
        for name in self.args.faults:
            self.phases.append(await self.fault(name))
            await asyncio.sleep(self.args.steady)
        self.typing = False
        await typist
        ledger = fk.Ledger(self.clients)
        drained = await fk.wait_for(lambda: ledger.nothing_pending() and ledger.all_delivered(),
                                    self.args.recover)
        final = ledger.figures()
        final["drain_s"] = None if drained is None else round(drained, 2)
        final["errors"] = ledger.counters("errors")
        final["closes"] = ledger.counters("closes")
        final["connect_failures"] = ledger.counters("connect_failures")
        rows, seqs = await asyncio.to_thread(stored_rows, sorted({c.group for c in self.clients}))
        final["store"] = fk.rows_check(rows, self.clients, seqs)
        await asyncio.gather(*(c.stop() for c in self.clients), return_exceptions=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        final["logs"] = {s.name: h.scan_log(s.log_path) for s in self.servers}
        return final


def report(args, mach: dict, started: str, phases: list[dict], final: dict) -> str:
    lines = [
        f"## Faults without loss, {started}",
        "",
        f"Command: `.venv/bin/python bench/faults.py --clients {args.clients} --groups "
        f"{args.groups} --rate {args.rate:g} --outage {args.outage:g} --steady {args.steady:g} "
        f"--recover {args.recover:g} --faults {','.join(args.faults)}`",
        "",
        h.machine_markdown(mach),
        "",
        "Two daphne processes (PostgreSQL `kindred_h4_faults` through a cuttable loopback "
        "proxy, channels-redis on a private `redis-server`), clients spread over both and "
        "reconnecting as CONTRACT.md asks; during the PostgreSQL outage a tenth of the "
        "clients also reconnect (people arriving). Recovery times are from the end of the "
        "outage (the restart or restore; 0 = already so by then): every client connected "
        "again / every message typed up to then acknowledged / each of those delivered to "
        "every member of its group.",
        "",
        "| fault | outage s | acked during outage | all connected again s (from fault start)"
        " | all acked s | all delivered s | /readyz during | /readyz after | error frames | "
        "close codes | failed connects | lost | dup |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in phases:
        during = ", ".join(f"{n}:{s}{'(' + '+'.join(f) + ')' if f else ''}"
                           for n, s, f in p["readyz_during"]) or "-"
        after = ", ".join(f"{n}:{s}" for n, s in p["readyz_after"].items())
        extra = f" (restart {p['restart_s']} s)" if p.get("restart_s") else ""
        lines.append(
            f"| {p['fault']}{extra} | {p['outage_s']:g} | {p['acked_during_outage']} | "
            f"{p['reconnected_s']} ({p['back_from_fault_start_s']}) | {p['all_acked_s']} | "
            f"{p['all_delivered_s']} | {during} | "
            f"{after} | {p['errors'] or '-'} | {p['closes'] or '-'} | "
            f"{p['connect_failures'] or '-'} | {p['lost_after_recovery']} | "
            f"{p['duplicated_so_far']} |")
    for p in phases:
        if p.get("slowest_deliveries"):
            after_s, mid, group, member, how, typed_to_ack, ack_to_got = \
                p["slowest_deliveries"][0]
            when = (f"{after_s} s after it" if after_s > 0
                    else "before it: every one had arrived by then")
            lines.append(
                f"\n{p['fault']}: the slowest delivery of a message typed before the restore "
                f"reached its member {when} (message {mid} in {group}, {how}; typed to "
                f"acknowledged {typed_to_ack} s, acknowledged to received {ack_to_got} s).")
    store = final["store"]
    lines += [
        "",
        f"Whole run: {final['typed']:,} messages typed, {final['acked']:,} acknowledged as "
        f"published, {final['unacked']} still unacknowledged at the end, {final['refused']} "
        f"refused; deliveries {final['delivered']:,} of {final['expected']:,} expected, "
        f"**lost {final['lost']}, duplicated {final['duplicated']}**, unexpected "
        f"{final['unexpected']}, acks naming two ids {final['ack_conflicts']}; drained in "
        f"{final['drain_s']} s.",
        "",
        f"Stored rows ({store['rows']:,}): not typed by anyone {store['rows_not_typed']}, "
        f"two rows for one client_id {store['rows_repeated']}, acked message not the stored "
        f"one {store['acked_not_stored_as_acked']}, stored but never acknowledged "
        f"{store['stored_not_acked']}, acked but not published {store['acked_not_published']}"
        f", groups whose places are not 1..n {len(store['seq_problems'])}"
        + (f" ({store['seq_problems']})" if store["seq_problems"] else "") + ".",
        "",
        f"Client-side totals: error frames {final['errors']}; close codes {final['closes']}; "
        f"failed connects {final['connect_failures']}.",
        "",
        "Server logs: " + "; ".join(
            f"{name}: {v['tracebacks']} tracebacks, {v['errors']} ERROR lines"
            for name, v in final["logs"].items()) + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second in all")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds each fault lasts")
    parser.add_argument("--steady", type=float, default=8.0,
                        help="seconds of normal chat before and between faults")
    parser.add_argument("--recover", type=float, default=60.0,
                        help="longest wait for each step of a recovery")
    parser.add_argument("--faults", default="redis,daphne,postgres")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    args.faults = [f for f in args.faults.split(",") if f]
    if not (1 <= args.clients <= 1000 and 1 <= args.groups <= args.clients
            and 0 < args.rate <= 100 and 0 < args.outage <= 60 and 0 <= args.steady <= 120
            and 0 < args.recover <= 300
            and set(args.faults) <= {"redis", "daphne", "postgres"}):
        parser.error("bounded runs only: clients <= 1000, rate <= 100/s, outage <= 60 s, "
                     "steady <= 120 s, recover <= 300 s; faults from redis,daphne,postgres")
    h.raise_nofile()
    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    log_dir = Path(tempfile.mkdtemp(prefix="kindred-faults-", dir="/tmp"))
    print(f"logs in {log_dir}", flush=True)
    mach = h.machine()
    run = Run(args, log_dir)
    budget = 240 + args.clients * 0.2 + len(args.faults) * (args.outage + args.steady
                                                            + 3 * args.recover)

    async def bounded() -> dict:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return await asyncio.wait_for(run.main(), budget)
        finally:
            await run.stop()

    final = asyncio.run(bounded())
    text = report(args, mach, started, run.phases, final)
    print()
    print(text)
    out = Path(args.out) if args.out else h.ROOT / "bench" / "results" / \
        f"{dt.date.today().isoformat()}-faults.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(text + "\n")
    (log_dir / "raw.json").write_text(json.dumps({"phases": run.phases, "final": final},
                                                 indent=1, default=str))
    print(f"appended to {out}; raw figures in {log_dir / 'raw.json'}")


if __name__ == "__main__":
    main()
