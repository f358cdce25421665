"""Fixtures for browser tests: a real daphne on the test database and Debian's Chromium.

Tests that use `daphne` get a transactional database (the server is another process,
so it must see committed rows), and their data is flushed afterwards as usual.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.e2e.a11y import forget_checked_pages, write_checked_pages
from tests.e2e.live import (
    PAGE_TIMEOUT_MS,
    LiveServer,
    Visitor,
    launch_chromium,
    new_visitor,
    run_daphne,
)

# Assertions wait as long as page actions do (Playwright's own default is 5 s): a busy
# 2-core machine running two workers can take longer than that to render a page.
expect.set_options(timeout=PAGE_TIMEOUT_MS)


@pytest.fixture(scope="session")
def live_daphne(django_db_setup, tmp_path_factory) -> LiveServer:
    """One daphne for the session, with the suite's Redis when REDIS_URL is set."""
    redis_url = os.environ.get("REDIS_URL", "").strip()
    with run_daphne(work_dir=tmp_path_factory.mktemp("daphne"), redis_url=redis_url) as server:
        yield server


@pytest.fixture
def daphne(live_daphne: LiveServer, transactional_db) -> LiveServer:
    return live_daphne


@pytest.fixture(scope="module")
def chromium():
    # Module scope: only one sync Playwright may run at a time in this process, and the
    # real-service tests elsewhere start their own.
    with launch_chromium() as browser:
        yield browser


@pytest.fixture
def visitor(chromium, daphne):
    """visitor() -> a fresh browser context (one person) on the live server."""
    made: list[Visitor] = []

    def make() -> Visitor:
        person = new_visitor(chromium, daphne.url)
        made.append(person)
        return person

    yield make
    for person in made:
        person.context.close()


@pytest.fixture(scope="session", autouse=True)
def a11y_pages_report():
    """At the end of the run, var/a11y-pages[-gwN].txt lists every page axe checked."""
    forget_checked_pages()
    yield
    write_checked_pages()
