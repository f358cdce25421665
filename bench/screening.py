"""Screening cost and quality, measured side by side in one run.

    .venv/bin/python bench/screening.py [--rounds 5]

Reports, for the shipped site pack:
- the cost of screening one message (mean, median, p99 over every labelled example,
  and for ordinary messages alone), as medians over several rounds;
- the cost of a bare baseline in the same run (NFKC + casefold + one regex search), so
  the figure can be read as a ratio on any machine;
- recall and precision on the committed labelled sets (`tests/screening/`, which the
  rules were tuned on) and on the held-out sets (`bench/screening_holdout/`, written
  separately and not used for tuning), so over-fitting shows.
Pure Python: no database, no network; it stops when it is done.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.screening import RuleSet, load_pack  # noqa: E402

CATEGORIES = ("crisis", "unsafe_advice", "privacy", "abuse", "spam")


def load(folder: Path) -> list[tuple[str, str]]:
    out = []
    for label in (*CATEGORIES, "benign"):
        path = folder / f"{label}.txt"
        out += [(label, line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return out


def timings(fn, texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        start = time.perf_counter()
        fn(text)
        out.append(time.perf_counter() - start)
    return out


def quality(ruleset: RuleSet, labelled: list[tuple[str, str]]) -> dict:
    verdicts = [(label, ruleset.screen(text)) for label, text in labelled]
    rows = {}
    for category in CATEGORIES:
        positives = [v for label, v in verdicts if label == category]
        flagged = [label for label, v in verdicts if category in v.categories]
        rows[category] = (
            sum(category in v.categories for v in positives) / max(1, len(positives)),
            sum(label == category for label in flagged) / max(1, len(flagged)),
            len(positives),
        )
    benign = [v for label, v in verdicts if label == "benign"]
    rows["benign"] = (sum(bool(v.categories) for v in benign) / max(1, len(benign)), 0,
                      len(benign))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    pack = load_pack()
    started = time.perf_counter()
    ruleset = RuleSet(pack.rules, pack.lexicon)
    compile_ms = (time.perf_counter() - started) * 1000
    tuned = load(ROOT / "tests" / "screening")
    holdout = load(ROOT / "bench" / "screening_holdout")
    texts = [t for _, t in tuned + holdout]
    ordinary = [t for label, t in tuned + holdout if label == "benign"]
    baseline_re = re.compile(r"\b(?:suicide|kill myself|insulin)\b")

    def baseline(text: str) -> bool:
        return bool(baseline_re.search(unicodedata.normalize("NFKC", text).casefold()))

    for text in texts[:50]:  # warm caches
        ruleset.screen(text)
    means, medians, p99s, ordinary_means, base_means = [], [], [], [], []
    for _ in range(args.rounds):
        t = timings(ruleset.screen, texts)
        means.append(statistics.mean(t))
        medians.append(statistics.median(t))
        p99s.append(sorted(t)[int(len(t) * 0.99)])
        ordinary_means.append(statistics.mean(timings(ruleset.screen, ordinary)))
        base_means.append(statistics.mean(timings(baseline, texts)))
    us = 1e6
    mean, base = statistics.median(means), statistics.median(base_means)
    print(f"Screening cost ({len(texts)} messages, {args.rounds} rounds, medians of rounds; "
          f"{len(pack.rules)} site rules, compiled in {compile_ms:.0f} ms)")
    print(f"  all messages:      mean {mean * us:6.0f} us   median "
          f"{statistics.median(medians) * us:6.0f} us   p99 {statistics.median(p99s) * us:6.0f} us")
    print(f"  ordinary messages: mean {statistics.median(ordinary_means) * us:6.0f} us")
    print(f"  bare baseline:     mean {base * us:6.0f} us   (ratio {mean / base:.0f}x)")
    print()
    print(f"{'':14} {'tuned set':>24}   {'held-out set':>24}")
    print(f"{'category':14} {'recall':>8} {'precision':>9} {'n':>5}   "
          f"{'recall':>8} {'precision':>9} {'n':>5}")
    a, b = quality(ruleset, tuned), quality(ruleset, holdout)
    for category in CATEGORIES:
        (ra, pa, na), (rb, pb, nb) = a[category], b[category]
        print(f"{category:14} {ra:>8.1%} {pa:>9.1%} {na:>5}   {rb:>8.1%} {pb:>9.1%} {nb:>5}")
    print(f"{'benign flagged':14} {a['benign'][0]:>8.1%} {'':>9} {a['benign'][2]:>5}   "
          f"{b['benign'][0]:>8.1%} {'':>9} {b['benign'][2]:>5}")


if __name__ == "__main__":
    main()
