"""Prints the labelled-set figures at the end of the run (so CI logs show them)."""

REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if REPORT:
        terminalreporter.write_sep("=", "screening: labelled example sets")
        for line in REPORT:
            terminalreporter.write_line(line)
