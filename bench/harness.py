"""Shared pieces of the chat benchmarks: start/stop daphne (Kindred or the bare baseline)
on loopback, read a server's CPU and memory from /proc, describe the machine, and a
WebSocket load client. Loopback only; every wait is bounded; servers are always stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
DAPHNE = ROOT / ".venv" / "bin" / "daphne"
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/kindred_bench"
REDIS_URL = "redis://127.0.0.1:6379/9"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- machine and process figures -------------------------------------------------------------

def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> dict:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError):
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])
    versions = subprocess.run(
        [str(PYTHON), "-c", "import django, channels, channels_redis, daphne, redis, "
         "websockets; print(django.__version__, channels.__version__, "
         "channels_redis.__version__, daphne.__version__, redis.__version__, "
         "websockets.__version__)"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    ).stdout.split()
    names = ["Django", "channels", "channels-redis", "daphne", "redis-py", "websockets"]
    load = os.getloadavg()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "versions": dict(zip(names, versions, strict=False)),
        "loadavg_at_start": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "kernel": platform.release(),
    }


def machine_markdown(m: dict) -> str:
    v = ", ".join(f"{k} {val}" for k, val in m["versions"].items())
    return (f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gb']} GB RAM, Linux "
            f"{m['kernel']}, Python {m['python']}; {v}; load average at start "
            f"{m['loadavg_at_start']}. Load client on the same machine.")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads) from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kb(pid: int) -> dict:
    """VmRSS and VmHWM (peak RSS) of a process in KiB."""
    found = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                found[line.split(":")[0]] = int(line.split()[1])
    return found


def open_fds(pid: int) -> int:
    with contextlib.suppress(OSError):
        return len(os.listdir(f"/proc/{pid}/fd"))
    return -1


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    values = sorted(v for v in values if v == v)  # drop NaN
    if not values:
        return float("nan")
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


# --- servers ---------------------------------------------------------------------------------

def _server_preexec() -> None:
    os.setsid()  # own process group, so stopping it takes any children too
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path
    cpu_at_mark: float = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def mark(self) -> None:
        self.cpu_at_mark = cpu_seconds(self.pid)

    def cpu_since_mark(self) -> float:
        return cpu_seconds(self.pid) - self.cpu_at_mark

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=8)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def server_env(kind: str, *, secret: str, prefix: str, layer: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "KINDRED_", "PYTEST", "BENCH_"))
           and k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), DJANGO_SECRET_KEY=secret)
    if kind == "kindred":
        env.update(
            DJANGO_SETTINGS_MODULE="bench.kindred_pubsub_settings" if layer == "pubsub"
            else "config.settings",
            DATABASE_URL=DATABASE_URL, REDIS_URL=REDIS_URL, DJANGO_DEBUG="0",
            DJANGO_SSL_REDIRECT="0", DJANGO_ALLOWED_HOSTS="127.0.0.1",
            KINDRED_CACHE_PREFIX=prefix,
        )
    else:
        env.update(DJANGO_SETTINGS_MODULE="bench.bare_channels.settings",
                   BENCH_REDIS_URL=REDIS_URL, BENCH_LAYER=layer, BENCH_PREFIX=prefix)
    return env


def start_servers(kind: str, count: int, *, log_dir: Path, secret: str, prefix: str,
                  layer: str, timeout: float = 60.0) -> list[Server]:
    """Start `count` daphne processes (production shape: backlog 1024) and wait for
    /healthz on each. On any failure the ones started are stopped before raising."""
    app = "config.asgi:application" if kind == "kindred" else "bench.bare_channels.asgi:application"
    env = server_env(kind, secret=secret, prefix=prefix, layer=layer)
    servers: list[Server] = []
    try:
        for i in range(count):
            port = free_port()
            log_path = log_dir / f"{kind}-{layer}-{count}p-{i}-{port}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [str(DAPHNE), "-e", f"tcp:port={port}:interface=127.0.0.1:backlog=1024",
                     "--websocket_connect_timeout", "30", app],
                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, preexec_fn=_server_preexec,
                )
            servers.append(Server(kind, port, process, log_path))
        deadline = time.monotonic() + timeout
        pending = list(servers)
        while pending:
            for server in list(pending):
                if server.process.poll() is not None:
                    tail = server.log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{kind} daphne exited early:\n{tail}")
                url = f"{server.base_url}/healthz"
                with contextlib.suppress(OSError), _no_proxy.open(url, timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        pending.remove(server)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} daphne did not answer /healthz in {timeout:.0f}s")
            time.sleep(0.2)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def stop_all(servers: list[Server]) -> None:
    for server in servers:  # signal all first; each takes a moment to close its sockets
        if server.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGTERM)
    for server in servers:
        server.stop()


LOG_PATTERNS = {
    "tracebacks": re.compile(r"^Traceback", re.M),
    "errors": re.compile(r"\bERROR\b"),
    "warnings": re.compile(r"\bWARNING\b"),
    "over_capacity": re.compile(r"over capacity|ChannelFull"),
    "handshake_refused": re.compile(r"WSREJECT|rejected|HTTP 500|Internal Server Error"),
}


def scan_log(path: Path) -> dict:
    text = path.read_text(errors="replace") if path.exists() else ""
    found = {name: len(p.findall(text)) for name, p in LOG_PATTERNS.items()}
    firsts = [line for line in text.splitlines()
              if re.search(r"ERROR|Traceback|over capacity|Exception", line)][:3]
    found["first_lines"] = firsts
    return found


def flush_prefix(prefix: str) -> None:
    import redis

    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            for i in range(0, len(keys), 1000):
                client.delete(*keys[i:i + 1000])
        finally:
            client.close()


def new_secret() -> str:
    return secrets.token_urlsafe(45)


def ensure_database() -> None:
    """Create the benchmark database if this machine has never had it."""
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                         autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        conn.execute(f"CREATE DATABASE {name}")


def manage(*args: str, secret: str, prefix: str, timeout: float = 600) -> str:
    if args and args[0] == "migrate":
        ensure_database()
    env = server_env("kindred", secret=secret, prefix=prefix, layer="redis")
    result = subprocess.run([str(PYTHON), "manage.py", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


# --- the load client -------------------------------------------------------------------------

@dataclass
class Client:
    """One WebSocket. kind 'kindred' speaks CONTRACT.md; 'bare' gets its own frames back."""

    kind: str
    group: str
    url: str
    origin: str
    cookie: str | None = None
    ws: object = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    failure: str | None = None
    received: dict = field(default_factory=dict)  # message key -> receive time
    duplicates: int = 0
    acks: dict = field(default_factory=dict)  # client_id -> status
    errors: dict = field(default_factory=lambda: defaultdict(int))
    resyncs: int = 0
    close_code: int | None = None

    async def connect(self, timeout: float) -> None:
        headers = {"Cookie": self.cookie} if self.cookie else None
        try:
            async with asyncio.timeout(timeout):
                self.ws = await websockets.connect(
                    self.url, origin=self.origin, additional_headers=headers,
                    open_timeout=None, ping_interval=None, max_size=2**22,
                    max_queue=None, compression=None,
                )
                self.listener = asyncio.create_task(self.listen())
                if self.kind == "bare":
                    self.ready.set()
                await self.ready.wait()
        except TimeoutError:
            self.failure = self.failure or "timeout"
        except websockets.InvalidStatus as error:
            self.failure = f"HTTP {error.response.status_code}"
        except Exception as error:  # noqa: BLE001 - counted and reported
            self.failure = type(error).__name__
        if self.failure is None and not self.ready.is_set():
            self.failure = "closed"

    async def listen(self) -> None:
        try:
            async for raw in self.ws:
                now = time.time()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message.new":
                    message = frame["message"]
                    key = message["id"] if self.kind == "kindred" else message["client_id"]
                    if key in self.received:
                        self.duplicates += 1
                    else:
                        self.received[key] = (now, message["client_id"])
                elif kind == "message.send":  # the bare baseline echoes the frame itself
                    key = frame["client_id"]
                    if key in self.received:
                        self.duplicates += 1
                    else:
                        self.received[key] = (now, key)
                elif kind == "message.ack":
                    self.acks[frame["client_id"]] = frame.get("status")
                elif kind == "history":
                    if frame.get("resync"):
                        self.resyncs += 1
                    self.ready.set()
                elif kind == "error":
                    self.errors[frame.get("code", "?")] += 1
        except websockets.ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else None
        finally:
            if not self.ready.is_set():
                self.failure = f"closed {self.close_code}"
                self.ready.set()

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self.ws.close()
        task = getattr(self, "listener", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def make_clients(kind: str, servers: list[Server], users: list[dict]) -> list[Client]:
    """Client i talks to server i % len(servers), like a proxy spreading connections."""
    clients = []
    for i, user in enumerate(users):
        server = servers[i % len(servers)]
        if kind == "kindred":
            url = f"ws://127.0.0.1:{server.port}/ws/groups/{user['group']}/chat/"
            clients.append(Client(kind, user["group"], url, server.base_url, user["cookie"]))
        else:
            url = f"ws://127.0.0.1:{server.port}/ws/room/{user['group']}/"
            clients.append(Client(kind, user["group"], url, server.base_url))
    return clients


async def connect_all(clients: list[Client], *, concurrency: int = 50,
                      timeout: float = 30.0) -> float:
    """Connect every client (at most `concurrency` handshakes at once); returns seconds."""
    gate = asyncio.Semaphore(concurrency)

    async def one(client: Client) -> None:
        async with gate:
            await client.connect(timeout)

    started = time.monotonic()
    await asyncio.gather(*(one(c) for c in clients))
    return time.monotonic() - started


def failure_summary(clients: list[Client]) -> dict:
    found: dict[str, int] = defaultdict(int)
    for client in clients:
        if client.failure:
            found[client.failure] += 1
    return dict(found)
