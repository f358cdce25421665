"""Pins the one markdown renderer and the one HTML sanitiser (community/text.py).

bleach is in maintenance mode; these tests are the behaviour any replacement must keep.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from community.text import LINK_REL, render_markdown, sanitize_html

REL = "nofollow ugc noopener"


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[dict, str]] = []
        self._open: dict | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open, self._text = dict(attrs), ""

    def handle_data(self, data):
        if self._open is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            self.found.append((self._open, self._text))
            self._open = None


def anchors(html: str) -> list[tuple[dict, str]]:
    """Every link as (attributes, text): attribute order is not part of the behaviour."""
    parser = _Anchors()
    parser.feed(html)
    return parser.found


ON_ATTRIBUTE = re.compile(r"<[^>]*\son\w+\s*=", re.I)

# --- the sanitiser on its own -------------------------------------------------------------

DANGEROUS = [
    "<script>alert(1)</script>",
    "<style>body{display:none}</style>",
    '<svg onload="alert(1)"><script>alert(1)</script></svg>',
    "<math><mtext><script>alert(1)</script></mtext></math>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    '<iframe src="https://evil.example/"></iframe>',
    '<img src="x" onerror="alert(1)">',
    '<object data="x.swf"></object><embed src="x.swf">',
    '<form action="https://evil.example/"><input name="q"><button>Go</button></form>',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<base href="https://evil.example/">',
    "<video src=x></video><audio src=x></audio>",
    "<template><script>alert(1)</script></template>",
]
FORBIDDEN_TAG = re.compile(
    r"<\s*/?\s*(script|style|svg|math|noscript|iframe|img|object|embed|form|input|button|link"
    r"|meta|base|video|audio|template)\b",
    re.I,
)


@pytest.mark.parametrize("html", DANGEROUS, ids=lambda h: re.match(r"<(\w+)", h).group(1))
def test_sanitiser_leaves_no_dangerous_element(html):
    cleaned = sanitize_html(html)
    assert not FORBIDDEN_TAG.search(cleaned), cleaned
    assert not ON_ATTRIBUTE.search(cleaned), cleaned


@pytest.mark.parametrize("html", DANGEROUS, ids=lambda h: re.match(r"<(\w+)", h).group(1))
def test_markdown_never_turns_raw_html_into_elements(html):
    rendered = render_markdown(html)
    assert not FORBIDDEN_TAG.search(rendered), rendered
    assert not ON_ATTRIBUTE.search(rendered), rendered
    assert "&lt;" in rendered, "raw HTML is shown as text, escaped"


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "&#106;avascript:alert(1)",
        "java\tscript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "file:///etc/passwd",
    ],
)
def test_sanitiser_drops_links_to_unsafe_schemes(href):
    [(attrs, text)] = anchors(sanitize_html(f'<a href="{href}">click</a>'))
    assert "href" not in attrs and text == "click"


@pytest.mark.parametrize(
    "source",
    [
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](vbscript:msgbox(1))",
        "[click](data:text/html;base64,AAAA)",
        "<javascript:alert(1)>",
        "[click][x]\n\n[x]: javascript:alert(1)",
    ],
)
def test_markdown_never_links_to_unsafe_schemes(source):
    rendered = render_markdown(source)
    assert all("href" not in attrs for attrs, _ in anchors(rendered)), rendered


def test_every_link_gets_rel_nofollow_ugc_noopener_and_nothing_else():
    cleaned = sanitize_html(
        '<a href="https://example.org/" rel="me" target="_blank" onclick="steal()" '
        'style="color:red" title="Example">Example</a>'
    )
    assert anchors(cleaned) == [
        ({"href": "https://example.org/", "title": "Example", "rel": REL}, "Example")
    ]
    assert LINK_REL == REL


def test_links_written_in_markdown_get_rel_too():
    rendered = render_markdown("[one](https://a.example.org) and https://b.example.org "
                               "and <https://c.example.org>")
    assert anchors(rendered) == [
        ({"href": "https://a.example.org", "rel": REL}, "one"),
        ({"href": "https://b.example.org", "rel": REL}, "https://b.example.org"),
        ({"href": "https://c.example.org", "rel": REL}, "https://c.example.org"),
    ]


def test_attributes_outside_the_allow_list_are_dropped():
    assert sanitize_html('<p onclick="x()" style="color:red" class="big">Hi</p>') == "<p>Hi</p>"
    ordered = sanitize_html('<ol start="3" type="a"><li>x</li></ol>')
    assert ordered == '<ol start="3"><li>x</li></ol>'


def test_comments_and_unknown_tags_are_stripped_keeping_their_text():
    cleaned = sanitize_html("<!-- hidden --><b>bold</b> <h1>Title</h1>")
    assert "<" not in cleaned and "hidden" not in cleaned
    assert cleaned.split() == ["bold", "Title"]


# --- markdown -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("Hello", "<p>Hello</p>"),
        ("**strong** and __strong__", "<p><strong>strong</strong> and <strong>strong</strong></p>"),
        ("*em* and _em_", "<p><em>em</em> and <em>em</em></p>"),
        ("`code <b>`", "<p><code>code &lt;b&gt;</code></p>"),
        ("```\nline <i>1</i>\n```", "<pre><code>line &lt;i&gt;1&lt;/i&gt;\n</code></pre>"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'),
        ("line one\nline two", "<p>line one<br>\nline two</p>"),
        ("---", "<hr>"),
        ("a < b & c > d", "<p>a &lt; b &amp; c &gt; d</p>"),
        ("", ""),
    ],
    ids=["text", "strong", "em", "code-span", "code-block", "quote", "bullets", "numbers",
         "line-break", "rule", "escaping", "empty"],
)
def test_markdown_basics(source, html):
    assert render_markdown(source) == html


@pytest.mark.parametrize(
    ("source", "href", "text"),
    [
        ("[site](https://example.org)", "https://example.org", "site"),
        ("<https://example.org>", "https://example.org", "https://example.org"),
        ("[write](mailto:help@example.org)", "mailto:help@example.org", "write"),
        ("[plain](http://example.org/a?b=1&c=2)", "http://example.org/a?b=1&c=2", "plain"),
    ],
    ids=["link", "autolink", "mailto", "http-with-query"],
)
def test_markdown_links(source, href, text):
    rendered = render_markdown(source)
    assert rendered.startswith("<p><a ") and rendered.endswith("</a></p>")
    assert anchors(rendered) == [({"href": href, "rel": REL}, text)]


def test_bare_urls_become_links_but_not_inside_code():
    assert anchors(render_markdown("see https://example.org now")) == [
        ({"href": "https://example.org", "rel": REL}, "https://example.org")
    ]
    assert render_markdown("`https://example.org`") == "<p><code>https://example.org</code></p>"


def test_headings_and_images_are_not_rendered():
    assert "<h1" not in render_markdown("# Shouting")
    assert render_markdown("# Shouting") == "<p># Shouting</p>"
    image = render_markdown("![a cat](https://example.org/cat.png)")
    assert "<img" not in image and "a cat" in image


def test_raw_html_in_markdown_is_shown_as_text():
    assert render_markdown('<b onclick="x()">hi</b>') == (
        "<p>&lt;b onclick=&quot;x()&quot;&gt;hi&lt;/b&gt;</p>"
    )
