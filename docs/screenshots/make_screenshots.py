"""Make the README's screenshots from the demo community.

    .venv/bin/python docs/screenshots/make_screenshots.py

It builds a fresh SQLite database in a temporary folder (your own `var/kindred.sqlite3`
is never touched), runs `migrate` and `seed_demo`, starts daphne on a spare loopback
port, logs in as the demo member (and the demo moderator for the review queue) in
Debian's Chromium, and saves PNGs of the key pages at a phone width (390 x 844) and a
desktop width (1280 x 800), in the light theme and a few in the dark one, into this
folder. Before the review queue is taken, the demo member Priya writes some unsafe
advice in one group's chat, is gently asked to think again (that panel is a screenshot
too) and sends it anyway, which opens a case for the moderators. Nothing leaves
127.0.0.1. It also records a fingerprint of the stylesheets in `stylesheets.sha256`, so a
test can tell when the CSS has changed since the pictures were taken (run this again
after changing static/css/).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE_DIR = HERE.parents[1]
PYTHON = Path(sys.executable)
DAPHNE = PYTHON.with_name("daphne")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                 "--font-render-hinting=none"]
PASSWORD = "kindred-demo-2026"  # noqa: S105 - seed_demo's published demo password
MEMBER = "member@demo.kindred.invalid"  # Sam
MODERATOR = "moderator@demo.kindred.invalid"  # Mo
PRIYA = "priya@demo.kindred.invalid"
GROUP = "type-1-diabetes"
# Where Priya is gently asked to think again before sending, so the review queue has a case.
PROMPT_GROUP = "living-well-together"
UNSAFE_ADVICE = "If you miss a dose just take two next time, it's what I always do."
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}

# (file stem, who, how to reach the page, element to bring to the top ("phone:" only on a
#  phone) or None, which sizes, which themes)
SHOTS = [
    ("home", MEMBER, "/", None, ("phone", "desktop"), ("light",)),
    ("groups", MEMBER, "/groups/", None, ("phone", "desktop"), ("light",)),
    ("group-home", MEMBER, f"/groups/{GROUP}/", None, ("phone", "desktop"), ("light", "dark")),
    ("chat", MEMBER, f"/groups/{GROUP}/chat/", "phone:#chat-heading", ("phone", "desktop"),
     ("light", "dark")),
    ("thread", MEMBER, "thread", "phone:main h2", ("phone", "desktop"), ("light",)),
    ("meeting", MEMBER, "meeting", "phone:main h2", ("phone", "desktop"), ("light",)),
    ("help", None, "/help/", None, ("phone", "desktop"), ("light",)),
    ("moderation", MODERATOR, "/moderation/", "main h2:text-is('Cases')", ("phone", "desktop"),
     ("light",)),
]
STYLESHEETS = sorted((BASE_DIR / "static" / "css").glob("*.css"))
FINGERPRINT = HERE / "stylesheets.sha256"


def stylesheet_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in STYLESHEETS:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(database: Path, work: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL"} and not key.startswith("PYTEST")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{database}",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(45),
        DJANGO_SSL_REDIRECT="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        KINDRED_GROUPS_NEED_APPROVAL="0",
        KINDRED_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        KINDRED_EMAIL_FILE_PATH=str(work / "mail"),
        KINDRED_CACHE_PREFIX=f"shots{secrets.token_hex(4)}",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
        [str(PYTHON), "manage.py", *args], cwd=BASE_DIR, env={**env, "DJANGO_DEBUG": "1"},
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 20.0) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"daphne stopped:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with opener.open(f"{url}/healthz", timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"daphne did not answer in {timeout:.0f}s:\n{log.read_text(errors='replace')[-3000:]}")


def log_in(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.get_by_role("button", name="Log out").wait_for()


def find_paths(page) -> dict[str, str]:
    """The demo thread and meeting (their ids depend on the order things were made)."""
    page.goto(f"/groups/{GROUP}/forum/")
    thread = page.locator("main a[href*='/forum/t/']").first.get_attribute("href")
    page.goto(f"/groups/{GROUP}/meetings/")
    meeting = page.locator("main a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
        ".filter(h => /\\/meetings\\/\\d+\\/(\\?.*)?$/.test(h))")[0]
    return {"thread": thread.split("#")[0].split("?")[0], "meeting": meeting.split("?")[0]}


def settle(page, stem: str) -> None:
    """Wait until the page is as a person would see it after a moment."""
    page.wait_for_load_state("networkidle")
    if stem == "chat":
        page.locator("#chat-status").filter(has_text="Connected").wait_for()
    # Nobody has pressed a key: no focus ring or text caret in the picture.
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.evaluate("() => window.scrollTo(0, 0)")


def prompt_and_case(browser, url: str, out: Path) -> list[Path]:
    """Priya is asked to think again (screenshot), then sends anyway: a case to review."""
    context = browser.new_context(base_url=url, viewport=VIEWPORTS["phone"], locale="en-GB",
                                  timezone_id="Europe/London", reduced_motion="reduce")
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        log_in(page, PRIYA)
        page.goto(f"/groups/{PROMPT_GROUP}/chat/")
        page.locator("#chat-status").filter(has_text="Connected").wait_for()
        page.get_by_label("Your message").fill(UNSAFE_ADVICE)
        page.keyboard.press("Enter")
        send_anyway = page.get_by_role("button", name="Send anyway")
        send_anyway.wait_for()
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.locator("#chat-panel").evaluate(
            "el => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 16)")
        name = out / "chat-prompt-phone.png"
        page.screenshot(path=str(name), full_page=False, animations="disabled", caret="hide")
        print(f"  {name.name:28} {name.stat().st_size / 1000:6.1f} KB")
        send_anyway.click()
        page.locator("#chat-log .chat-message:not(.is-pending)").filter(
            has_text="take two next time").wait_for()
        return [name]
    finally:
        context.close()


def take(browser, url: str, out: Path, paths: dict[str, str]) -> list[Path]:
    made = []
    for size, viewport in VIEWPORTS.items():
        for theme in ("light", "dark"):
            wanted = [s for s in SHOTS if size in s[4] and theme in s[5]]
            by_person: dict[str | None, list] = {}
            for shot in wanted:
                by_person.setdefault(shot[1], []).append(shot)
            for person, shots in by_person.items():
                context = browser.new_context(base_url=url, viewport=viewport,
                                              color_scheme=theme, locale="en-GB",
                                              timezone_id="Europe/London",
                                              reduced_motion="reduce")
                context.set_default_timeout(15_000)
                page = context.new_page()
                if person:
                    log_in(page, person)
                for stem, _who, where, anchor, _sizes, _themes in shots:
                    page.goto(paths.get(where, where))
                    settle(page, stem)
                    if anchor and (size == "phone" or not anchor.startswith("phone:")):
                        page.locator(anchor.removeprefix("phone:")).first.evaluate(
                            "el => window.scrollTo(0, el.getBoundingClientRect().top"
                            " + window.scrollY - 16)")
                    name = f"{stem}-{size}{'-dark' if theme == 'dark' else ''}.png"
                    page.screenshot(path=str(out / name), full_page=False,
                                    animations="disabled", caret="hide")
                    made.append(out / name)
                    print(f"  {name:28} {(out / name).stat().st_size / 1000:6.1f} KB")
                context.close()
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the PNGs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit("Playwright is missing: install the dev extras (pip install -e '.[dev]').")

    with tempfile.TemporaryDirectory(prefix="kindred-shots-") as tmp:
        work = Path(tmp)
        (work / "mail").mkdir()
        env = child_env(work / "demo.sqlite3", work)
        print("Making the demo community…")
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "seed_demo")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = work / "daphne.log"
        with log.open("wb") as log_file:
            server = subprocess.Popen(  # noqa: S603 - our own server, fixed arguments
                [str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            wait_for(url, server, log)
            with sync_playwright() as playwright:
                launch = {"args": CHROMIUM_ARGS, "headless": True}
                if CHROMIUM.exists():
                    launch["executable_path"] = str(CHROMIUM)
                browser = playwright.chromium.launch(**launch)
                try:
                    context = browser.new_context(base_url=url)
                    page = context.new_page()
                    log_in(page, MEMBER)
                    paths = find_paths(page)
                    # Sam has read the group's welcome: show the page as it usually looks.
                    page.goto(f"/groups/{GROUP}/")
                    got_it = page.get_by_role("button", name="Got it")
                    if got_it.count():
                        got_it.click()
                        page.wait_for_load_state()
                    context.close()
                    print(f"Taking screenshots from {url} into {args.out}:")
                    made = prompt_and_case(browser, url, args.out)
                    made += take(browser, url, args.out, paths)
                finally:
                    browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    if args.out == HERE:
        FINGERPRINT.write_text(stylesheet_fingerprint() + "\n")
    total = sum(p.stat().st_size for p in made)
    print(f"{len(made)} screenshots, {total / 1000:.0f} KB in all.")


if __name__ == "__main__":
    main()
