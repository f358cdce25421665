"""The README's screenshots are all there, all shown, small, and taken with today's CSS.

docs/screenshots/make_screenshots.py records a fingerprint of static/css/ when it takes
the pictures; if the stylesheets have changed since, the pictures no longer show the
interface people will see, and this test says how to take them again.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
SHOTS_DIR = BASE_DIR / "docs" / "screenshots"
README = BASE_DIR / "README.md"
REGENERATE = ".venv/bin/python docs/screenshots/make_screenshots.py"


def _script():
    spec = importlib.util.spec_from_file_location("make_screenshots",
                                                  SHOTS_DIR / "make_screenshots.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shown() -> list[str]:
    return re.findall(r'src="docs/screenshots/([^"]+)"', README.read_text())


def test_every_screenshot_is_shown_in_the_readme_and_every_one_shown_exists():
    files = sorted(p.name for p in SHOTS_DIR.glob("*.png"))
    shown = _shown()
    assert files, f"no screenshots: run {REGENERATE}"
    assert sorted(set(shown)) == files
    assert len(shown) == len(set(shown)), "a screenshot is shown twice"


def test_screenshots_have_alt_text_and_stay_small():
    for tag in re.findall(r'<img [^>]*src="docs/screenshots/[^>]*>', README.read_text()):
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and len(alt.group(1)) > 10, f"no useful alt text: {tag}"
    total = sum(p.stat().st_size for p in SHOTS_DIR.glob("*.png"))
    assert total < 2_500_000, f"screenshots weigh {total} bytes"


def test_screenshots_were_taken_with_the_current_stylesheets():
    recorded = (SHOTS_DIR / "stylesheets.sha256").read_text().strip()
    assert recorded == _script().stylesheet_fingerprint(), (
        f"static/css/ has changed since the screenshots were taken: run {REGENERATE}"
    )


def test_the_script_takes_every_picture_the_readme_shows():
    script = _script()
    planned = {"chat-prompt-phone.png"}  # taken on the way to the review queue
    for stem, _who, _where, _anchor, sizes, themes in script.SHOTS:
        for size in sizes:
            for theme in themes:
                planned.add(f"{stem}-{size}{'-dark' if theme == 'dark' else ''}.png")
    assert planned == set(_shown())
