"""Pieces for fault runs (bench/faults.py and tests/test_faults.py): a private Redis that
can be killed and restarted, a loopback TCP proxy in front of PostgreSQL that can be cut
and restored, daphne processes on fixed ports that can be killed with SIGKILL and started
again on the same port, and chat clients that behave as CONTRACT.md asks of a client:
they reconnect with `?after=<last id seen>` (backing off, and trying the other process
as a proxy would), resend every unacknowledged `message.send` with the same `client_id`
until it is acknowledged, and count what each receiver got by message id.

Loopback only. Nothing here touches the shared PostgreSQL or Redis servers except the
proxy's pass-through to PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

ROOT = Path(__file__).resolve().parent.parent
_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _own_group() -> None:
    os.setsid()  # its own process group: stopping it takes any children too


def _wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return True
        time.sleep(0.05)
    return False


# --- a private Redis -----------------------------------------------------------------------

class PrivateRedis:
    """redis-server on a spare loopback port, no persistence: a restart loses everything,
    as a crashed Redis without a disk would."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self.binary = shutil.which("redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        if self.binary is None:
            raise RuntimeError("redis-server is not installed")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_own_group,
            )
        if not _wait_port(self.port, timeout):
            self.stop()
            raise RuntimeError(f"redis-server did not listen on {self.port}")

    def kill(self) -> None:
        """SIGKILL: a crash, not a shutdown."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    stop = kill


# --- a cuttable proxy in front of PostgreSQL ---------------------------------------------------

class CuttableProxy:
    """Loopback TCP proxy (asyncio, in the caller's loop). `cut()` closes the listener (new
    connections are refused) and aborts every open connection on both sides, as a database
    host that went away would; `restore()` listens again on the same port."""

    def __init__(self, upstream_port: int, port: int | None = None) -> None:
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self._server: asyncio.AbstractServer | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                  reuse_address=True)

    restore = start

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._open):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._open.clear()

    stop = cut

    @property
    def is_cut(self) -> bool:
        return self._server is None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        if self.is_cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1",
                                                                 self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._open |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._open -= {writer, up_writer}


# --- daphne on a fixed port ---------------------------------------------------------------------

@dataclass
class Daphne:
    """One daphne process in the production shape (backlog 1024), on a port it keeps
    across restarts so clients (and a proxy) find it again."""

    name: str
    env: dict
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"daphne-{self.name}-{self.port}.log"

    def start(self) -> None:
        daphne = ROOT / ".venv" / "bin" / "daphne"
        if not daphne.exists():
            daphne = Path(shutil.which("daphne") or "daphne")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(daphne), "-e", f"tcp:port={self.port}:interface=127.0.0.1:backlog=1024",
                 "--websocket_connect_timeout", "30", "config.asgi:application"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, preexec_fn=_own_group,
            )
        self.starts += 1

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """Seconds until /healthz answers 200."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"daphne {self.name} exited:\n{self.log_tail()}")
            if http_status(f"{self.base_url}/healthz", timeout=1)[0] == 200:
                return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"daphne {self.name} did not answer in {timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: the process dies mid-whatever, as on an out-of-memory kill."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 8.0) -> None:
        self.terminate()
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def stop_all(servers: list[Daphne], timeout: float = 8.0) -> None:
    """SIGTERM to every one first (each takes a moment to close its sockets), then wait."""
    for server in servers:
        server.terminate()
    for server in servers:
        server.stop(timeout)


def http_status(url: str, timeout: float = 3.0) -> tuple[int, dict | str]:
    """(status, JSON body or text); (0, reason) when nothing answered."""
    try:
        with _no_proxy.open(url, timeout=timeout) as response:  # noqa: S310 - loopback
            body = response.read().decode(errors="replace")
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read().decode(errors="replace"), error.code
    except (OSError, urllib.error.URLError) as error:
        return 0, type(error).__name__
    with contextlib.suppress(ValueError):
        return status, json.loads(body)
    return status, body[:200]


# --- a chat client that keeps its promises ------------------------------------------------------

RETRY_CODES = {"unavailable", "rate_limited"}  # error codes after which a send is retried
RESEND_AFTER = 2.0  # seconds without an answer before an unacknowledged send goes again


@dataclass
class FaultClient:
    """One member's chat client, as CONTRACT.md asks a client to behave across faults."""

    user_id: int
    group: str
    cookie: str
    ports: list[int]
    index: int = 0
    last_id: int = 0
    delivered: Counter = field(default_factory=Counter)  # message id -> times received
    delivered_at: dict = field(default_factory=dict)  # message id -> first receipt time
    delivered_via: dict = field(default_factory=dict)  # message id -> live/catch-up/page
    typed_at: dict = field(default_factory=dict)  # client_id -> when it was typed
    pending: dict = field(default_factory=dict)  # client_id -> [body, last sent at]
    sent: dict = field(default_factory=dict)  # client_id -> body, everything ever typed
    acked: dict = field(default_factory=dict)  # client_id -> (message id, status)
    acked_at: dict = field(default_factory=dict)  # client_id -> time of the first ack
    ack_conflicts: int = 0  # a resend acknowledged with a different id
    errors: Counter = field(default_factory=Counter)
    closes: Counter = field(default_factory=Counter)
    connect_failures: Counter = field(default_factory=Counter)
    connects: int = 0
    refused: dict = field(default_factory=dict)  # client_id -> error code (not retried)
    ws: object = None
    stopping: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _paging_floor: int = 0  # paging back with `before` down to this id

    @property
    def url(self) -> str:
        port = self.ports[self.index % len(self.ports)]
        after = f"?after={self.last_id}" if self.last_id else ""
        return f"ws://127.0.0.1:{port}/ws/groups/{self.group}/chat/{after}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.ports[self.index % len(self.ports)]}"

    async def run(self) -> None:
        """Connect, listen, and on any loss reconnect (backing off, moving to the next
        process after a failed attempt) until `stop()`."""
        backoff = 0.25
        resender = asyncio.create_task(self._resend_forever())
        try:
            while not self.stopping:
                was_ready = False
                try:
                    async with websockets.connect(
                        self.url, origin=self.origin, additional_headers={"Cookie": self.cookie},
                        open_timeout=5, close_timeout=1, ping_interval=None, max_size=None,
                        max_queue=None, compression=None, proxy=None,
                    ) as ws:
                        self.ws = ws
                        self.connects += 1
                        try:
                            async for raw in ws:
                                await self._on_frame(json.loads(raw))
                                was_ready = was_ready or self.ready.is_set()
                        except ConnectionClosed:
                            pass
                        code = ws.close_code
                        self.closes[code if code is not None else "none"] += 1
                except InvalidStatus as error:
                    self.connect_failures[f"HTTP {error.response.status_code}"] += 1
                except (OSError, TimeoutError) as error:
                    self.connect_failures[type(error).__name__] += 1
                except ConnectionClosed:
                    self.connect_failures["closed in handshake"] += 1
                finally:
                    self.ws = None
                    self.ready.clear()
                if self.stopping:
                    break
                if was_ready:
                    backoff = 0.25
                else:
                    self.index += 1  # as a proxy would: try another process
                await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311
                backoff = min(backoff * 2, 2.0)
        finally:
            resender.cancel()
            with contextlib.suppress(BaseException):
                await resender

    async def stop(self) -> None:
        self.stopping = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)

    async def _send(self, frame: dict) -> bool:
        ws = self.ws
        if ws is None or not self.ready.is_set():
            return False
        try:
            await ws.send(json.dumps(frame))
            return True
        except Exception:  # noqa: BLE001 - the connection went; resent after reconnecting
            return False

    async def say(self, body: str) -> str:
        """Type a message: it is kept until the server acknowledges it."""
        client_id = uuid.uuid4().hex
        self.sent[client_id] = body
        self.typed_at[client_id] = time.monotonic()
        self.pending[client_id] = [body, time.monotonic()]
        await self._send({"type": "message.send", "client_id": client_id, "body": body})
        return client_id

    async def _resend_all(self) -> None:
        for client_id, item in list(self.pending.items()):
            item[1] = time.monotonic()
            await self._send({"type": "message.send", "client_id": client_id, "body": item[0]})

    async def _resend_forever(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for client_id, item in list(self.pending.items()):
                if now - item[1] >= RESEND_AFTER and self.ready.is_set():
                    item[1] = now
                    await self._send({"type": "message.send", "client_id": client_id,
                                      "body": item[0]})

    def _count(self, message_id: int, via: str) -> None:
        self.delivered[message_id] += 1
        self.delivered_at.setdefault(message_id, time.monotonic())
        self.delivered_via.setdefault(message_id, via)

    def _receive(self, message: dict, *, floor: int = 0, via: str = "live") -> None:
        if message["id"] > floor:
            self._count(message["id"], via)
        self.last_id = max(self.last_id, message["id"])

    async def _on_frame(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "message.new":
            self._receive(frame["message"])
        elif kind == "history":
            await self._on_history(frame)
        elif kind == "message.ack":
            client_id = frame["client_id"]
            self.pending.pop(client_id, None)
            previous = self.acked.get(client_id)
            if previous is not None and previous[0] != frame["id"]:
                self.ack_conflicts += 1
            self.acked[client_id] = (frame["id"], frame["status"])
            self.acked_at.setdefault(client_id, time.monotonic())
        elif kind == "error":
            code = frame.get("code", "?")
            self.errors[code] += 1
            client_id = frame.get("client_id")
            if client_id in self.pending and code not in RETRY_CODES:
                self.refused[client_id] = code
                self.pending.pop(client_id)
            elif client_id in self.pending:
                self.pending[client_id][1] = time.monotonic() - RESEND_AFTER + 1.0

    async def _on_history(self, frame: dict) -> None:
        messages = frame.get("messages", [])
        if "before" in frame:  # a page we asked for, going back over a gap
            floor = self._paging_floor
            for message in messages:
                if message["id"] > floor and message["id"] not in self.delivered:
                    self._count(message["id"], "page")
            oldest = min((m["id"] for m in messages), default=0)
            if frame.get("more") and oldest > floor:
                await self._send({"type": "history", "before": oldest, "limit": 100})
            return
        # On connecting (or a resync): what we missed since `after`, oldest first.
        floor = self.last_id if not frame.get("resync") else self.last_id
        for message in messages:
            self._receive(message, floor=floor,
                          via="resync" if frame.get("resync") else "catch-up")
        oldest = min((m["id"] for m in messages), default=0)
        if not self.ready.is_set():
            self.ready.set()
            await self._resend_all()  # anything typed while away goes now, same client_id
        if frame.get("more") and oldest > floor:
            self._paging_floor = floor
            await self._send({"type": "history", "before": oldest, "limit": 100})


@dataclass
class Ledger:
    """What every client was promised and what it got."""

    clients: list[FaultClient]

    def members(self) -> dict[str, list[FaultClient]]:
        found: dict[str, list[FaultClient]] = {}
        for client in self.clients:
            found.setdefault(client.group, []).append(client)
        return found

    def acked_published(self) -> dict[int, str]:
        """message id -> group, for every send acknowledged as published."""
        return {mid: c.group for c in self.clients for (mid, status) in c.acked.values()
                if status == "published"}

    def figures(self) -> dict:
        members = self.members()
        acked = self.acked_published()
        expected = delivered = duplicated = 0
        missing: list[tuple[int, int]] = []
        for mid, group in acked.items():
            for client in members[group]:
                expected += 1
                times = client.delivered.get(mid, 0)
                if times:
                    delivered += 1
                    duplicated += times - 1
                else:
                    missing.append((mid, client.user_id))
        unexpected = sum(1 for c in self.clients for mid in c.delivered if mid not in acked)
        return {
            "clients": len(self.clients),
            "typed": sum(len(c.sent) for c in self.clients),
            "acked": len(acked),
            "unacked": sum(len(c.pending) for c in self.clients),
            "refused": sum(len(c.refused) for c in self.clients),
            "expected": expected,
            "delivered": delivered,
            "lost": expected - delivered,
            "duplicated": duplicated,
            "unexpected": unexpected,
            "ack_conflicts": sum(c.ack_conflicts for c in self.clients),
            "missing_sample": missing[:5],
        }

    def recovery(self, origin: float) -> dict:
        """For the messages typed before `origin` (the end of an outage): seconds after
        it until the last was acknowledged, and until the last acknowledged one reached
        its last member; None while any is still waiting."""
        members = self.members()
        acked_s: float | None = 0.0
        delivered_s: float | None = 0.0
        missing = 0
        slowest: list[tuple] = []
        for client in self.clients:
            for client_id, typed in client.typed_at.items():
                if typed > origin:
                    continue
                at = client.acked_at.get(client_id)
                if at is None:
                    if client_id not in client.refused:
                        acked_s = None
                    continue
                if acked_s is not None:
                    acked_s = max(acked_s, at - origin)
                mid, status = client.acked[client_id]
                if status != "published":
                    continue
                for member in members[client.group]:
                    got = member.delivered_at.get(mid)
                    if got is None:
                        delivered_s = None
                        missing += 1
                        continue
                    if delivered_s is not None:
                        delivered_s = max(delivered_s, got - origin)
                    slowest.append((round(got - origin, 2), mid, client.group,
                                    member.user_id, member.delivered_via.get(mid),
                                    round(at - typed, 2), round(got - at, 2)))
        slowest.sort(reverse=True)
        return {"acked_s": None if acked_s is None else round(acked_s, 2),
                "delivered_s": None if delivered_s is None else round(delivered_s, 2),
                "missing": missing,
                # (s after origin, message id, group, member, how, typed->acked, acked->got)
                "slowest": slowest[:5]}

    def all_ready(self) -> bool:
        return all(c.ready.is_set() for c in self.clients)

    def nothing_pending(self) -> bool:
        return not any(c.pending for c in self.clients)

    def all_delivered(self) -> bool:
        members = self.members()
        return all(client.delivered.get(mid) for mid, group in self.acked_published().items()
                   for client in members[group])

    def counters(self, name: str) -> dict:
        total: Counter = Counter()
        for client in self.clients:
            total.update(getattr(client, name))
        return {str(k): v for k, v in sorted(total.items(), key=lambda kv: str(kv[0]))}


async def wait_for(predicate, timeout: float, step: float = 0.1) -> float | None:
    """Seconds until predicate() is true, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        await asyncio.sleep(step)
    return None


def rows_check(rows: list[tuple], clients: list[FaultClient],
               chat_seqs: dict[int, int]) -> dict:
    """Nothing half-written: rows are (id, group_id, author_id, client_id, seq, status).

    Every row is a send some client typed; it is the message its acknowledgement named
    (one row per (author, client_id)); every acknowledged message is stored and
    published; each group's places are 1..n with no gap and no repeat, n being the
    group's counter (the counter and the row are written in one transaction)."""
    typed = {(c.user_id, cid) for c in clients for cid in c.sent}
    acked = {(c.user_id, cid): mid for c in clients for cid, (mid, _s) in c.acked.items()}
    by_key: dict[tuple[int, str], list[int]] = {}
    seqs: dict[int, list[int]] = {}
    status_of = {}
    for mid, group_id, author_id, client_id, seq, status in rows:
        by_key.setdefault((author_id, client_id), []).append(mid)
        seqs.setdefault(group_id, []).append(seq)
        status_of[mid] = status
    not_typed = [k for k in by_key if k not in typed]
    repeated = [k for k, ids in by_key.items() if len(ids) > 1]
    wrong_id = [k for k, mid in acked.items() if by_key.get(k) != [mid]]
    unacked_rows = [k for k in by_key if k in typed and k not in acked]
    not_published = [mid for mid in acked.values() if status_of.get(mid) != "published"]
    seq_problems = {}
    for group_id, counter in chat_seqs.items():
        got = sorted(seqs.get(group_id, []))
        if got != list(range(1, counter + 1)):
            seq_problems[group_id] = {"rows": len(got), "counter": counter,
                                      "first_gap": next((i + 1 for i, s in enumerate(got)
                                                         if s != i + 1), None)}
    return {
        "rows": len(rows),
        "rows_not_typed": len(not_typed),
        "rows_repeated": len(repeated),
        "acked_not_stored_as_acked": len(wrong_id),
        "stored_not_acked": len(unacked_rows),
        "acked_not_published": len(not_published),
        "seq_problems": seq_problems,
    }


class ThreadedProxy:
    """A CuttableProxy on an event loop of its own thread, for callers whose loops come
    and go (pytest gives each async test its own)."""

    def __init__(self, upstream_port: int) -> None:
        import threading

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-proxy",
                                        daemon=True)
        self._thread.start()
        self.proxy = CuttableProxy(upstream_port)
        self._call(self.proxy.start())

    @property
    def port(self) -> int:
        return self.proxy.port

    def _call(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def cut(self) -> None:
        self._call(self.proxy.cut())

    def restore(self) -> None:
        self._call(self.proxy.restore())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self.proxy.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
