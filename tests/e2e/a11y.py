"""axe-core in the browser tests: WCAG 2.0, 2.1 and 2.2 at levels A and AA.

axe-core comes bundled in the `axe-playwright-python` package (pinned in the dev extras),
so nothing is fetched at run time. It is put into the page with `page.evaluate`, which
runs through the DevTools protocol and so is not blocked by the site's strict CSP: the
test contexts keep the real CSP, and a page that needed an inline script would still fail.

Every page checked is noted (label, address, logged in or out, violation count); the
session writes the list to var/a11y-pages[-<xdist worker>].txt (see tests/e2e/conftest.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": WCAG_TAGS},
    "resultTypes": ["violations"],
}
PAGES_FILE = Path(__file__).resolve().parents[2] / "var" / "a11y-pages"

_axe_source: str | None = None


def axe_source() -> str:
    global _axe_source
    if _axe_source is None:
        from axe_playwright_python.base import AXE_SCRIPT

        _axe_source = AXE_SCRIPT
    return _axe_source


@dataclass(frozen=True)
class Checked:
    test: str
    label: str
    path: str
    logged_in: bool
    violations: int


def _current_test() -> str:
    # "tests/e2e/test_x.py::test_y (call)" -> "test_x.py::test_y"
    current = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    return current.rsplit("/", 1)[-1]


def _plain_path(url: str) -> str:
    """The page's path, with long tokens (email confirmation keys and the like) shortened."""
    parts = urlsplit(url).path.split("/")
    return "/".join("<token>" if len(part) > 24 else part for part in parts)


# What this process checked, in order; written out when the session ends.
CHECKED: list[Checked] = []

_RUN_AXE_JS = """
async (options) => {
  const results = await window.axe.run(document, options);
  const loggedIn = !!document.querySelector('form[action$="/accounts/logout/"]');
  return {
    loggedIn,
    version: window.axe.version,
    violations: results.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({target: n.target.map(String), summary: n.failureSummary})),
    })),
  };
}
"""


def axe_run(page) -> dict:
    """Run axe on the page as it is now; give back its (trimmed) results."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(_RUN_AXE_JS, AXE_OPTIONS)


def describe(violations: list[dict]) -> list[str]:
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(node["target"]) for node in v["nodes"][:6])
        more = f" (+{len(v['nodes']) - 6} more)" if len(v["nodes"]) > 6 else ""
        lines.append(f"{v['id']} [{v['impact']}] {v['help']}: {targets}{more}")
        first = v["nodes"][0].get("summary") if v["nodes"] else None
        if first:
            lines.append("    " + first.replace("\n", "\n    "))
    return lines


def accessibility_problems(page, label: str | None = None) -> list[str]:
    """axe's WCAG A/AA violations on this page, as readable lines (none when it passes)."""
    result = axe_run(page)
    path = _plain_path(page.url)
    label = label or path
    state = "logged in" if result["loggedIn"] else "logged out"
    violations = result["violations"]
    CHECKED.append(Checked(test=_current_test(), label=label, path=path,
                           logged_in=result["loggedIn"], violations=len(violations)))
    return [f"{label} ({path}, {state}): {line}" for line in describe(violations)]


def assert_accessible(page, context_label: str | None = None) -> None:
    problems = accessibility_problems(page, context_label)
    assert not problems, "axe found WCAG 2.2 A/AA violations:\n" + "\n".join(problems)


def pages_file() -> Path:
    """var/a11y-pages.txt, or var/a11y-pages-gw0.txt (and so on) for an xdist worker."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return PAGES_FILE.with_name(f"{PAGES_FILE.name}{'-' + worker if worker else ''}.txt")


def forget_checked_pages() -> None:
    """At the start of a run: no list left over from an earlier one."""
    CHECKED.clear()
    pages_file().unlink(missing_ok=True)


def write_checked_pages() -> Path | None:
    """One line per page checked, with its axe violation count."""
    if not CHECKED:
        return None
    path = pages_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# test\tpage\tpath\tstate\taxe violations (WCAG 2.0/2.1/2.2 A and AA)"]
    lines += [
        f"{c.test}\t{c.label}\t{c.path}\t{'logged in' if c.logged_in else 'logged out'}"
        f"\t{c.violations}"
        for c in CHECKED
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
