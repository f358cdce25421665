"""The one way user text becomes HTML: markdown-it-py, then one bleach allow-list.

bleach is in maintenance mode; keeping it behind `sanitize_html` (and pinning its
behaviour in tests) makes a later switch a one-file change. Services call
`render_markdown` and store the result beside the source; templates only ever mark this
stored output safe.
"""

from __future__ import annotations

import re
from functools import partial

import bleach
from bleach.linkifier import LinkifyFilter
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {"p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr"}
)
ALLOWED_ATTRIBUTES = {"a": ["href", "title", "rel"], "ol": ["start"]}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"

# Headings and images have no place in peer conversation (headings break a page's outline
# for screen readers; images load from other sites). Raw HTML is never parsed as HTML.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
_markdown.disable(["heading", "lheading", "image"])


def _set_rel(attrs: dict, new: bool = False) -> dict:
    attrs[(None, "rel")] = LINK_REL
    return attrs


_cleaner = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[partial(LinkifyFilter, callbacks=[_set_rel], skip_tags={"pre", "code"})],
)


# bleach's serializer would pick single quotes for a value holding '"', and then escape
# '&' again on every pass; always double quotes (with &quot;) keeps cleaning idempotent.
_cleaner.serializer.use_best_quote_char = False

_CONTROLS = {c: None for c in range(32) if chr(c) not in "\n\t"} | {0x7F: None}
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def strip_controls(text: str) -> str:
    """Drop control characters (keeping newlines and tabs): nobody types them on purpose,
    and the search snippets use two of them as match markers. A lone surrogate (half an
    emoji, cut by a client; JSON can carry one) cannot be stored in UTF-8 at all, so it
    becomes U+FFFD instead of failing the write."""
    return _LONE_SURROGATE.sub("\ufffd", text.translate(_CONTROLS))


def sanitize_html(html: str) -> str:
    """Keep only the allow-listed tags and attributes; every link gets rel=nofollow ugc."""
    return _cleaner.clean(html)


def render_markdown(source: str) -> str:
    """Markdown source to safe HTML, ready to store beside the source."""
    return sanitize_html(_markdown.render(source or "")).strip()
