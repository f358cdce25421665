"""Screening quality, measured on labelled examples written for Kindred.

Each file holds one message per line: `crisis.txt`, `unsafe_advice.txt`, `privacy.txt`,
`abuse.txt` and `spam.txt` are messages of that kind; `benign.txt` is ordinary peer
support full of idioms ("this heat is killing me") and clinician-guided medicine talk
("my GP said I can reduce my steroids") that must not be caught. The floors below are
the promise; the table printed at the end of the run shows the actual figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.screening import RuleSet, load_pack
from tests.screening.conftest import REPORT_FILE

HERE = Path(__file__).resolve().parent
CATEGORIES = ("crisis", "unsafe_advice", "privacy", "abuse", "spam")
RECALL_FLOOR = {"crisis": 1.0, "unsafe_advice": 0.90, "privacy": 0.97, "abuse": 0.80,
                "spam": 0.60}
PRECISION_FLOOR = {"crisis": 0.95, "unsafe_advice": 0.90, "privacy": 0.95, "abuse": 0.80,
                   "spam": 0.80}
BENIGN_FLAGGED_CEILING = 0.05


def lines(name: str) -> list[str]:
    return [line.rstrip("\n") for line in (HERE / f"{name}.txt").read_text("utf-8").splitlines()
            if line.strip()]


@pytest.fixture(scope="module")
def figures():
    pack = load_pack()
    ruleset = RuleSet(pack.rules, pack.lexicon)
    assert not ruleset.errors
    labelled = [(label, text) for label in (*CATEGORIES, "benign") for text in lines(label)]
    verdicts = [(label, text, ruleset.screen(text)) for label, text in labelled]
    table = {}
    for category in CATEGORIES:
        positives = [v for label, _, v in verdicts if label == category]
        caught = sum(category in v.categories for v in positives)
        flagged = [label for label, _, v in verdicts if category in v.categories]
        correct = sum(label == category for label in flagged)
        table[category] = {
            "n": len(positives),
            "recall": caught / len(positives),
            "precision": correct / len(flagged) if flagged else 1.0,
            "missed": [t for label, t, v in verdicts
                       if label == category and category not in v.categories],
        }
    benign = [(t, v) for label, t, v in verdicts if label == "benign"]
    wrongly = [(t, v.rules) for t, v in benign if v.categories]
    table["benign"] = {"n": len(benign), "flagged": len(wrongly) / len(benign),
                       "examples": wrongly}
    report = [f"{'category':<14} {'examples':>8} {'recall':>7} {'precision':>9}"]
    report.extend(f"{c:<14} {table[c]['n']:>8} {table[c]['recall']:>7.1%} "
                  f"{table[c]['precision']:>9.1%}" for c in CATEGORIES)
    report.append(f"{'benign':<14} {table['benign']['n']:>8} flagged for anything: "
                  f"{table['benign']['flagged']:.1%}")
    REPORT_FILE.parent.mkdir(exist_ok=True)
    REPORT_FILE.write_text("\n".join(report) + "\n", "utf-8")
    return table


def test_the_sets_are_big_enough_to_mean_something():
    for name in ("crisis", "unsafe_advice", "privacy", "benign"):
        assert len(lines(name)) >= 100, name
    for name in CATEGORIES + ("benign",):
        found = lines(name)
        assert len(found) == len(set(found)), f"{name} has duplicate lines"


@pytest.mark.parametrize("category", CATEGORIES)
def test_recall_meets_its_floor(figures, category):
    row = figures[category]
    assert row["recall"] >= RECALL_FLOOR[category], (
        f"{category} recall {row['recall']:.1%} is under {RECALL_FLOOR[category]:.0%}; "
        f"missed: {row['missed'][:10]}")


@pytest.mark.parametrize("category", CATEGORIES)
def test_precision_meets_its_floor(figures, category):
    assert figures[category]["precision"] >= PRECISION_FLOOR[category]


def test_benign_texts_are_left_alone(figures):
    row = figures["benign"]
    assert row["flagged"] <= BENIGN_FLAGGED_CEILING, row["examples"][:10]
