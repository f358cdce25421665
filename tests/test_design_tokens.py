"""The design tokens in static/css/kindred.css meet WCAG AA contrast in both themes.

The stylesheet keeps every colour in custom properties: one `:root` block for the light
theme and one inside `@media (prefers-color-scheme: dark)` that overrides them. These
tests read both, resolve each theme and check every pair the stylesheet puts together:
4.5:1 for text, 3:1 for control boundaries and the focus indicator (WCAG 1.4.3, 1.4.11).
They also hold the rules that keep the design calm and safe: no colour outside the
tokens, text no smaller than 16px, a visible focus ring and no motion when asked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS_DIR = Path(__file__).resolve().parents[1] / "static" / "css"
KINDRED_CSS = CSS_DIR / "kindred.css"

TEXT = 4.5  # body text
UI = 3.0  # boundaries of controls, focus indicators, large text

# (foreground, background, minimum): every pairing the stylesheet uses.
PAIRS = [
    # Body text and quieter text on every surface it appears on.
    *[("text", bg, TEXT) for bg in (
        "bg", "surface", "surface-sunk", "accent-soft", "danger-soft", "warning-soft",
        "success-soft", "highlight")],
    *[("text-muted", bg, TEXT) for bg in ("bg", "surface", "surface-sunk", "accent-soft")],
    # Links and outlined buttons (accent text), including inside an information notice.
    *[("accent", bg, TEXT) for bg in ("bg", "surface", "surface-sunk", "accent-soft")],
    ("accent-strong", "bg", TEXT),  # link hover
    ("accent-strong", "surface", TEXT),
    # Filled buttons, the selected town in a list, badges.
    ("on-accent", "accent", TEXT),
    ("on-accent", "accent-strong", TEXT),
    # The header, its links, "Get help now" and the count badge.
    ("header-text", "header-bg", TEXT),
    ("header-bg", "header-text", TEXT),
    ("help", "help-bg", TEXT),
    # Errors and the connection-lost status, and the danger button both ways.
    *[("danger", bg, TEXT) for bg in ("bg", "surface", "danger-soft")],
    ("surface", "danger", TEXT),
    ("surface", "text", TEXT),
    # Boundaries people must see: form fields, outlined buttons, markers of meaning.
    *[("border-strong", bg, UI) for bg in ("bg", "surface")],
    *[("accent", bg, UI) for bg in ("bg", "surface")],
    *[("danger", bg, UI) for bg in ("bg", "surface", "danger-soft")],
    ("warning", "warning-soft", UI),
    ("success", "success-soft", UI),
    *[("help-line", bg, UI) for bg in ("bg", "surface")],
    ("help-bg", "header-bg", UI),  # the "Get help now" pill stands out in the header
]

# The focus indicator is two rings (focus outside, focus-ring inside): on every surface
# a focused control can sit on, at least one of them must stand out by 3:1.
FOCUS_SURFACES = ("bg", "surface", "surface-sunk", "header-bg", "accent", "help-bg",
                  "accent-soft", "danger-soft")


def _strip_comments(css: str) -> str:
    return re.sub(r"/\*.*?\*/", "", css, flags=re.S)


def _block_after(css: str, start: int) -> str:
    """The text between the brace that opens at or after `start` and its partner."""
    open_at = css.index("{", start)
    depth = 0
    for i in range(open_at, len(css)):
        if css[i] == "{":
            depth += 1
        elif css[i] == "}":
            depth -= 1
            if depth == 0:
                return css[open_at + 1:i]
    raise ValueError("unbalanced braces")


def _properties(block: str) -> dict[str, str]:
    return {name: value.strip() for name, value in re.findall(r"--([\w-]+)\s*:\s*([^;]+);", block)}


def load_themes(css_text: str | None = None) -> dict[str, dict[str, str]]:
    css = _strip_comments(css_text if css_text is not None else KINDRED_CSS.read_text())
    light_at = re.search(r"(?m)^:root\s*\{", css)
    assert light_at, "kindred.css has no top-level :root block"
    light = _properties(_block_after(css, light_at.start()))
    dark_media = re.search(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)", css)
    assert dark_media, "kindred.css has no dark theme (@media (prefers-color-scheme: dark))"
    media_block = _block_after(css, dark_media.start())
    root_at = re.search(r":root\s*\{", media_block)
    assert root_at, "the dark theme has no :root block"
    dark = {**light, **_properties(_block_after(media_block, root_at.start()))}
    return {"light": light, "dark": dark}


def resolve(theme: dict[str, str], name: str) -> str:
    value = theme[name]
    seen = {name}
    while (ref := re.fullmatch(r"var\(--([\w-]+)\)", value)) is not None:
        assert ref.group(1) not in seen, f"--{name} refers to itself"
        seen.add(ref.group(1))
        value = theme[ref.group(1)]
    return value


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    assert re.fullmatch(r"[0-9a-fA-F]{6}", digits), f"not a #rrggbb colour: {hex_colour}"
    r, g, b = (int(digits[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


THEMES = load_themes()


def test_contrast_maths_matches_known_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)


def test_both_themes_define_every_colour_the_stylesheets_use():
    used = set()
    for path in CSS_DIR.glob("*.css"):
        used |= set(re.findall(r"var\(--([\w-]+)\)", _strip_comments(path.read_text())))
    for name, theme in THEMES.items():
        missing = sorted(used - set(theme))
        assert not missing, f"{name} theme lacks {missing}"


def test_the_dark_theme_changes_the_colours():
    light, dark = THEMES["light"], THEMES["dark"]
    for name in ("bg", "surface", "text", "accent"):
        assert resolve(light, name) != resolve(dark, name), f"--{name} is the same in both"
    assert luminance(resolve(dark, "bg")) < luminance(resolve(dark, "text"))


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize(("fg", "bg", "minimum"), PAIRS, ids=[f"{f}-on-{b}" for f, b, _ in PAIRS])
def test_colour_pair_meets_wcag_aa(theme, fg, bg, minimum):
    colours = THEMES[theme]
    ratio = contrast(resolve(colours, fg), resolve(colours, bg))
    assert ratio >= minimum, f"{theme}: --{fg} on --{bg} is {ratio:.2f}:1, needs {minimum}:1"


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_focus_indicator_stands_out_everywhere(theme):
    colours = THEMES[theme]
    outer, inner = resolve(colours, "focus"), resolve(colours, "focus-ring")
    assert contrast(outer, inner) >= UI, "the two focus rings must differ from each other"
    for surface in FOCUS_SURFACES:
        behind = resolve(colours, surface)
        best = max(contrast(outer, behind), contrast(inner, behind))
        assert best >= UI, f"{theme}: focus on --{surface} is only {best:.2f}:1"


def test_colours_live_only_in_the_tokens():
    """One accent and a few colours of meaning: no stray colour anywhere else."""
    for path in CSS_DIR.glob("*.css"):
        css = _strip_comments(path.read_text())
        if path == KINDRED_CSS:
            light_at = re.search(r"(?m)^:root\s*\{", css)
            css = css.replace(_block_after(css, light_at.start()), "")
            dark_media = re.search(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)", css)
            css = css.replace(_block_after(css, dark_media.start()), "")
        stray = re.findall(r"#[0-9a-fA-F]{3,8}\b|\brgba?\(|\bhsla?\(|:\s*(?:white|black)\b", css)
        assert not stray, f"{path.name}: colours outside the tokens: {stray}"


def test_type_scale_is_small_and_readable():
    css = _strip_comments(KINDRED_CSS.read_text())
    light = THEMES["light"]
    root_size = re.search(r"(?m)^:root\s*\{[^}]*?font-size:\s*([\d.]+)%", css)
    base_px = 16 * float(root_size.group(1)) / 100 if root_size else 16
    assert base_px >= 16
    sizes = {name: float(light[name].removesuffix("rem")) for name in light
             if name.startswith("text-") and light[name].endswith("rem")}
    assert sizes["text-base"] == 1
    assert min(sizes.values()) * base_px >= 16, "no text smaller than 16px"
    assert max(sizes.values()) <= 2, "a small scale: headings at most twice the body text"
    assert len(sizes) <= 6
    assert 1.5 <= float(light["leading"]) <= 1.6
    # No font sizes outside the scale (so the scale stays the scale).
    loose = [v for v in re.findall(r"font-size:\s*([^;}]+)", css)
             if not v.strip().startswith("var(--text-") and v.strip() not in {"0.9em"}]
    assert loose == ["112.5%"], f"font sizes outside the scale: {loose}"


def test_focus_is_visible_and_motion_can_be_turned_off():
    css = _strip_comments(KINDRED_CSS.read_text())
    focus = re.search(r"(?m)^:focus-visible\s*\{([^}]*)\}", css)
    assert focus, "no :focus-visible rule"
    width = re.search(r"outline:\s*(\d+)px solid", focus.group(1))
    assert width and int(width.group(1)) >= 2
    assert not re.search(r"(?m)^\s*:focus(?:-visible)?\s*\{[^}]*outline:\s*(?:none|0)", css)
    reduced = re.search(r"@media\s*\(prefers-reduced-motion:\s*reduce\)", css)
    assert reduced
    block = _block_after(css, reduced.start())
    assert "animation: none" in block and "transition: none" in block


def test_user_text_wraps_instead_of_overflowing():
    css = _strip_comments(KINDRED_CSS.read_text())
    body = re.search(r"(?m)^body\s*\{([^}]*)\}", css)
    assert body and "overflow-wrap: anywhere" in body.group(1)
