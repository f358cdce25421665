"""A real daphne process and a real Chromium, shared by the browser and real-service tests.

pytest-django's `live_server` is WSGI and has no WebSockets, so these tests start the
production server (`daphne config.asgi:application`) on a spare loopback port, pointed
at the test database. Email it sends goes to files the test reads; nothing leaves
127.0.0.1. Every wait here is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
from django.conf import settings
from django.db import connections

from tests.conftest import need_service
from tests.e2e.a11y import accessibility_problems

BASE_DIR = Path(__file__).resolve().parents[2]
DAPHNE = Path(sys.executable).with_name("daphne")
CHROMIUM = Path("/usr/bin/chromium")
# Flags that work for Debian's chromium on these machines (see docs/TRAPS.md).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
# Milliseconds, for Playwright.
PAGE_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 15_000
MAIL_SEPARATOR = b"\n" + b"-" * 79 + b"\n"

# No proxy, ever: these requests go to our own loopback server.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def redis_for_tests() -> str:
    """The Redis the suite should use: $REDIS_URL, else the usual local one if it answers."""
    url = os.environ.get("REDIS_URL", "").strip() or DEFAULT_REDIS_URL
    return url if redis_answers(url) else ""


def child_database_url() -> str:
    """A DATABASE_URL for the test database pytest-django has just set up.

    Read after `django_db_setup`, when settings name the test database (`test_…` on
    PostgreSQL, the var/test-kindred-<pid>.sqlite3 file on SQLite).
    """
    db = settings.DATABASES["default"]
    engine = db["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        path = Path(db["NAME"]).resolve()
        options = {key: value for key, value in (db.get("OPTIONS") or {}).items()}
        # The same SQLite options as the suite (IMMEDIATE transactions, timeout, WAL).
        query = f"?{urlencode(options)}" if options else ""
        return f"sqlite:///{path}{query}"
    if engine.startswith("django.db.backends.postgresql"):
        user = quote(db.get("USER") or "", safe="")
        password = quote(db.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = db.get("HOST") or "127.0.0.1"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{quote(str(db['NAME']), safe='')}"
    raise RuntimeError(f"no DATABASE_URL form for {engine}")


@dataclass
class LiveServer:
    """One running daphne, and what a test needs to talk to it and read its email."""

    url: str
    port: int
    mail_dir: Path
    log_path: Path
    cache_prefix: str
    redis_url: str
    process: subprocess.Popen = field(repr=False)

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    @property
    def channel_prefix(self) -> str:
        return f"{self.cache_prefix}:asgi"

    def channel_layers(self) -> dict:
        """CHANNEL_LAYERS for the test process to publish onto this server's Redis layer."""
        assert self.redis_url, "this server uses the in-memory channel layer"
        return {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [self.redis_url], "prefix": self.channel_prefix},
            }
        }

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def emails(self) -> list[email.message.EmailMessage]:
        """Every message the server has written with the file email backend."""
        found = []
        for path in sorted(self.mail_dir.glob("*.log")):
            for chunk in path.read_bytes().split(MAIL_SEPARATOR):
                if chunk.strip():
                    found.append(email.message_from_bytes(chunk, policy=email.policy.default))
        return found

    def wait_for_email(self, *, to: str, subject: str, timeout: float = 10.0):
        """The first email to `to` whose subject contains `subject`, once it is written."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.emails():
                if to in str(message["To"]) and subject in str(message["Subject"]):
                    return message
            if time.monotonic() > deadline:
                seen = [(str(m["To"]), str(m["Subject"])) for m in self.emails()]
                raise AssertionError(f"no email to {to} about {subject!r}; saw {seen}")
            time.sleep(0.1)


def email_text(message) -> str:
    body = message.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else message.get_content()


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with _opener.open(url, timeout=timeout) as response:  # noqa: S310 - loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_until_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"daphne exited with {server.process.returncode}")
        try:
            status, body = http_get(f"{server.url}/healthz", timeout=1.0)
            if status == 200 and b'"ok"' in body:
                return
            last = f"HTTP {status}"
        except OSError as error:
            last = str(error)
        time.sleep(0.1)
    raise RuntimeError(f"daphne did not answer /healthz in {START_TIMEOUT:.0f}s ({last})")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def forget_redis_keys(redis_url: str, prefix: str) -> None:
    """This run's cache, rate-limit and channel keys must not outlive it."""
    import redis

    # Best effort: a cleanup failure must never hide the test's own result.
    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        try:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


# Set per test run, or only safe inside the test process (the browser tests set the last).
_NOT_FOR_THE_SERVER = {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}


@contextlib.contextmanager
def run_daphne(*, work_dir: Path, redis_url: str = "") -> Iterator[LiveServer]:
    """Start `daphne config.asgi:application` on the test database; stop it afterwards."""
    mail_dir = work_dir / "mail"
    mail_dir.mkdir(parents=True, exist_ok=True)
    cache_prefix = f"e2e{secrets.token_hex(6)}"
    env = {
        key: value
        for key, value in os.environ.items()
        # The child is a production-shaped server, not a test process.
        if not key.startswith("PYTEST") and key not in _NOT_FOR_THE_SERVER
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=child_database_url(),
        KINDRED_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        KINDRED_EMAIL_FILE_PATH=str(mail_dir),
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(45),  # 60 characters
        DJANGO_SSL_REDIRECT="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        KINDRED_CACHE_PREFIX=cache_prefix,
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    error: Exception | None = None
    for attempt in range(3):  # a spare port can be taken between finding and binding it
        port = free_port()
        log_path = work_dir / f"daphne-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        server = LiveServer(
            url=f"http://127.0.0.1:{port}", port=port, mail_dir=mail_dir, log_path=log_path,
            cache_prefix=cache_prefix, redis_url=redis_url, process=process,
        )
        try:
            _wait_until_healthy(server)
        except RuntimeError as exc:
            _stop(process)
            error = exc
            if "Address already in use" in server.log_tail() and attempt < 2:
                continue
            pytest.fail(f"{exc}\n--- daphne log ---\n{server.log_tail()}")
        break
    else:  # pragma: no cover - three taken ports in a row
        pytest.fail(f"daphne could not start: {error}")
    try:
        yield server
    finally:
        _stop(server.process)
        if redis_url:
            forget_redis_keys(redis_url, cache_prefix)


@contextlib.contextmanager
def launch_chromium() -> Iterator:
    """Debian's chromium through Playwright's sync API (skipped, or failed in CI, without it)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a dev dependency
        need_service("chromium", False, f"playwright is not installed ({exc})")
    need_service("chromium", CHROMIUM.exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    # Sync Playwright keeps an event loop running in this thread; the Django ORM calls the
    # tests make between browser steps are safe (nothing else runs on that loop).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        try:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
                timeout=NAVIGATION_TIMEOUT_MS,
            )
        except Exception as exc:
            need_service("chromium", False, f"{CHROMIUM} did not start: {exc}")
        try:
            yield browser
        finally:
            browser.close()
    finally:
        # While Playwright's loop runs, Django keeps this thread's connections in a
        # separate (per-context) store; close them now or they outlive the test database.
        connections.close_all()
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def off_the_loop(work):
    """Run `work()` (service calls) in a worker thread, and give back what it returns.

    Services publish through the channel layer with `async_to_sync`, which refuses to run
    in the thread where sync Playwright's event loop is running.
    """
    def call():
        try:
            return work()
        finally:
            connections.close_all()  # the worker's own connections, not the test's

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result(timeout=30)


@dataclass
class Visitor:
    """One browser context (one person) and its page, noting any request off loopback."""

    context: object
    page: object
    base_url: str
    offsite_requests: list[str]

    def open(self, path: str):
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        return response


def new_visitor(browser, base_url: str) -> Visitor:
    context = browser.new_context(base_url=base_url, locale="en-GB")
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    offsite: list[str] = []

    def note(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in {"data", "blob", "about"}:
            return
        if parts.hostname != "127.0.0.1":
            offsite.append(request.url)

    context.on("request", note)
    page = context.new_page()
    return Visitor(context=context, page=page, base_url=base_url, offsite_requests=offsite)


# Runs in the page: the structure every Kindred page promises (one h1, one main, a skip
# link first that leads into main, and a label for every control).
PAGE_BASICS_JS = """
() => {
  const problems = [];
  const h1s = document.querySelectorAll('h1');
  if (h1s.length !== 1) problems.push(`expected exactly one <h1>, found ${h1s.length}`);
  const mains = document.querySelectorAll('main');
  if (mains.length !== 1) problems.push(`expected exactly one <main>, found ${mains.length}`);
  const first = document.body.querySelector(
    'a[href], button, input:not([type=hidden]), select, textarea');
  const href = first && first.tagName === 'A' ? first.getAttribute('href') : '';
  if (!href || !href.startsWith('#') || href.length < 2) {
    problems.push('the first focusable element is not a skip link');
  } else {
    const target = document.getElementById(href.slice(1));
    if (!target || !mains[0] || !(mains[0] === target || mains[0].contains(target))) {
      problems.push(`skip link ${href} does not lead into <main>`);
    }
  }
  const skip = new Set(['hidden', 'submit', 'button', 'reset', 'image']);
  for (const el of document.querySelectorAll('input, select, textarea')) {
    const type = (el.getAttribute('type') || 'text').toLowerCase();
    if (el.tagName === 'INPUT' && skip.has(type)) continue;
    const labelled = Array.from(el.labels || []).some((l) => l.textContent.trim() !== '');
    const aria = (el.getAttribute('aria-label') || '').trim() !== '';
    const byIds = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
      .some((id) => { const n = document.getElementById(id); return n && n.textContent.trim(); });
    if (!labelled && !aria && !byIds) {
      const what = `${el.tagName.toLowerCase()} name=${el.name || '?'} id=${el.id || '?'}`;
      problems.push(`${what} has no label`);
    }
  }
  return problems;
}
"""


def page_problems(page, label: str | None = None) -> list[str]:
    """The structure above, and axe-core's WCAG 2.2 A/AA rules (tests/e2e/a11y.py)."""
    basics = [f"{page.url}: {problem}" for problem in page.evaluate(PAGE_BASICS_JS)]
    return basics + accessibility_problems(page, label)


# Runs in the page: open a WebSocket, collect frames, and report how it opened or ended
# (giving up after 10 seconds, so a silent server cannot hang the test).
OPEN_SOCKET_JS = """
(url) => new Promise((resolve) => {
  const state = {opened: false, frames: [], closed: null};
  window.__kindredSocket = state;
  const ws = new WebSocket(url);
  state.ws = ws;
  const timer = setTimeout(() => resolve({opened: state.opened, timedOut: true}), 10000);
  ws.onopen = () => { state.opened = true; clearTimeout(timer); resolve({opened: true}); };
  ws.onmessage = (event) => { state.frames.push(event.data); };
  ws.onclose = (event) => {
    state.closed = {code: event.code, reason: event.reason, opened: state.opened};
    clearTimeout(timer);
    resolve({opened: state.opened, code: event.code});
  };
})
"""


def raw_websocket_handshake(
    server: LiveServer, path: str, *, origin: str | None, cookie: str | None = None,
    timeout: float = 5.0,
) -> tuple[int, int | None]:
    """A bare RFC 6455 handshake: (HTTP status, close code of the first frame if any).

    It shows what any client sees on the wire: a refused handshake (HTTP 403) versus an
    accepted one (101) that the server then closes with an application code.
    """
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if cookie is not None:
        lines.append(f"Cookie: {cookie}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(request)
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            return status, None
        while len(rest) < 4:
            chunk = sock.recv(4096)
            if not chunk:
                return status, None
            rest += chunk
        opcode = rest[0] & 0x0F
        if opcode != 0x8:  # not a close frame
            return status, None
        return status, int.from_bytes(rest[2:4], "big")
