#!/usr/bin/env python3
"""Look for known vulnerabilities in the installed (pinned) dependencies with pip-audit.

Run by `make audit` (and so by .ci/run) with the virtualenv's Python. pip-audit asks
PyPI's JSON API (`--vulnerability-service pypi`: the machines reach PyPI and nothing
else) about each installed package at its installed version.

Exit status:
  1  a known vulnerability was found (the package, version, advisory ids and the versions
     that fix it are printed): upgrade the pin in pyproject.toml and run the tests.
  0  nothing known was found; or the audit could not be done at all (the service could
     not be reached, or answered for none of the packages): that is printed as
     "NOT AUDITED" with the reason, and it fails only when KINDRED_AUDIT_REQUIRED=1.
pip-audit itself says "No known vulnerabilities found" even when it could ask about
nothing, so the report is read here rather than trusted by its exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Finding:
    name: str
    version: str
    ids: list[str]
    fixes: list[str]


@dataclass
class Summary:
    audited: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why
    vulnerable: list[Finding] = field(default_factory=list)


def summarise(report: dict) -> Summary:
    """Read pip-audit's JSON report (`--format json`)."""
    summary = Summary()
    for dep in report.get("dependencies", []):
        name = dep.get("name", "?")
        if dep.get("skip_reason"):
            summary.skipped[name] = dep["skip_reason"]
            continue
        summary.audited.append(name)
        for vuln in dep.get("vulns", []):
            summary.vulnerable.append(Finding(
                name=name, version=dep.get("version", "?"),
                ids=[vuln.get("id", "?"), *vuln.get("aliases", [])],
                fixes=list(vuln.get("fix_versions", [])),
            ))
    return summary


def verdict(summary: Summary | None, *, problem: str = "", required: bool = False
            ) -> tuple[int, list[str]]:
    """(exit status, lines to print) for a report, or for no report and why."""
    if summary is not None and summary.vulnerable:
        lines = [f"pip-audit: {len(summary.vulnerable)} known vulnerabilit"
                 f"{'y' if len(summary.vulnerable) == 1 else 'ies'} in the dependencies:"]
        for found in summary.vulnerable:
            fix = ", ".join(found.fixes) or "no fixed version yet"
            lines.append(f"  {found.name} {found.version}: {' / '.join(found.ids)} "
                         f"(fixed in: {fix})")
        lines.append("Upgrade the pin in pyproject.toml to a fixed version and run the tests.")
        return 1, lines
    if summary is None or not summary.audited:
        why = problem or (
            f"the service answered for none of the {len(summary.skipped)} packages "
            f"(first: {next(iter(summary.skipped.values()), 'none')})" if summary else
            "no report")
        lines = [f"pip-audit: NOT AUDITED: {why}.",
                 "No vulnerability was found because none could be looked up; "
                 "run `make audit` where PyPI's JSON API answers."]
        return (1 if required else 0), lines
    lines = [f"pip-audit: no known vulnerabilities in {len(summary.audited)} packages."]
    if summary.skipped:
        lines.append(f"pip-audit: {len(summary.skipped)} could not be looked up: "
                     + ", ".join(sorted(summary.skipped)))
    return 0, lines


def run_pip_audit(out: Path) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "pip_audit",
        "--vulnerability-service", "pypi",
        "--format", "json", "--output", str(out),
        "--skip-editable",  # Kindred itself is not on PyPI
        "--progress-spinner", "off",
        "--timeout", "20",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603


def main() -> int:
    required = os.environ.get("KINDRED_AUDIT_REQUIRED", "").strip().lower() in {"1", "true"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pip-audit.json"
        try:
            result = run_pip_audit(out)
        except (OSError, subprocess.TimeoutExpired) as error:
            status, lines = verdict(None, problem=f"pip-audit did not run ({error})",
                                    required=required)
        else:
            summary = None
            problem = ""
            if out.exists() and out.stat().st_size:
                summary = summarise(json.loads(out.read_text(encoding="utf-8")))
            else:
                tail = (result.stderr or result.stdout or "").strip().splitlines()[-3:]
                problem = ("pip-audit could not finish (exit "
                           f"{result.returncode}): {' '.join(tail) or 'no output'}")
            status, lines = verdict(summary, problem=problem, required=required)
    for line in lines:
        print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
