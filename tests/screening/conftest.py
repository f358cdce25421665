"""Prints the labelled-set figures at the end of the run (so CI logs show them).

The test writes the table to a file because with `pytest -n` it runs in a worker
process, while the summary is printed by the main one.
"""

from pathlib import Path

REPORT_FILE = Path(__file__).resolve().parents[2] / "var" / "screening-report.txt"


def pytest_terminal_summary(terminalreporter):
    if REPORT_FILE.exists():
        terminalreporter.write_sep("=", "screening: labelled example sets")
        for line in REPORT_FILE.read_text("utf-8").splitlines():
            terminalreporter.write_line(line)


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the main process, not a -n worker
        REPORT_FILE.unlink(missing_ok=True)
