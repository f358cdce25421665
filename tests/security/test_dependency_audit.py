"""`make audit` (deploy/audit_dependencies.py): a known vulnerability in the dependencies
fails CI; a service that can't be reached is reported as "NOT AUDITED", never as clean.

pip-audit itself is replaced here by a stand-in that writes the report a real run would,
so these tests need no network.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "audit_dependencies.py"

spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
audit = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = audit  # its dataclasses look their module up by name
spec.loader.exec_module(audit)

VULNERABLE = {"dependencies": [
    {"name": "django", "version": "5.2.19", "vulns": [
        {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-0001"], "fix_versions": ["5.2.20"],
         "description": "Example"}]},
    {"name": "bleach", "version": "6.4.0", "vulns": []},
], "fixes": []}
CLEAN = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": []},
                          {"name": "mystery", "skip_reason": "Dependency not found on PyPI"}]}
NOTHING_ANSWERED = {"dependencies": [
    {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited"},
]}


def test_a_known_vulnerability_fails_and_names_the_fix():
    status, lines = audit.verdict(audit.summarise(VULNERABLE))
    assert status == 1
    text = "\n".join(lines)
    assert "django 5.2.19" in text and "PYSEC-2099-1" in text and "5.2.20" in text


def test_a_clean_report_passes_and_lists_what_could_not_be_looked_up():
    status, lines = audit.verdict(audit.summarise(CLEAN))
    assert status == 0
    assert "no known vulnerabilities in 1 packages" in lines[0]
    assert "mystery" in lines[1]


def test_nothing_looked_up_is_not_audited_rather_than_clean():
    status, lines = audit.verdict(audit.summarise(NOTHING_ANSWERED))
    assert status == 0 and "NOT AUDITED" in lines[0]
    assert audit.verdict(audit.summarise(NOTHING_ANSWERED), required=True)[0] == 1
    status, lines = audit.verdict(None, problem="could not connect")
    assert status == 0 and "NOT AUDITED: could not connect" in lines[0]


FAKE_PIP_AUDIT = """
import json, sys
args = sys.argv[1:]
assert args[args.index("--vulnerability-service") + 1] == "pypi"
report = json.loads({report!r})
if report is None:
    print("Could not connect to PyPI's vulnerability feed", file=sys.stderr)
    sys.exit(1)
with open(args[args.index("--output") + 1], "w") as out:
    json.dump(report, out)
sys.exit(1 if any(d.get("vulns") for d in report["dependencies"]) else 0)
"""


def run_with_fake_pip_audit(tmp_path: Path, report: dict | None, **env: str):
    package = tmp_path / "pip_audit"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(FAKE_PIP_AUDIT.format(report=json.dumps(report)))
    environ = {k: v for k, v in os.environ.items() if k != "KINDRED_AUDIT_REQUIRED"}
    environ.update(PYTHONPATH=str(tmp_path), **env)
    return subprocess.run([sys.executable, str(SCRIPT)], env=environ,  # noqa: S603
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("report", "required", "status", "says"), [
    (VULNERABLE, "", 1, "known vulnerabilit"),
    (CLEAN, "", 0, "no known vulnerabilities"),
    (None, "", 0, "NOT AUDITED"),
    (None, "1", 1, "NOT AUDITED"),
])
def test_the_ci_step_exits_as_promised(tmp_path, report, required, status, says):
    result = run_with_fake_pip_audit(tmp_path, report, KINDRED_AUDIT_REQUIRED=required)
    assert result.returncode == status, result.stdout + result.stderr
    assert says in result.stdout


def test_ci_runs_the_audit_with_pip_audit_pinned_in_the_dev_extras():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "deploy/audit_dependencies.py" in makefile
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["dev"]
    assert any(line.startswith("pip-audit==") for line in dev)
