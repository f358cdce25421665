"""A corpus of hostile payloads through the one renderer and the one sanitiser.

Every forum post body is stored as `render_markdown(source)` and templates mark it safe,
so whatever reaches the page must be inert however the input was shaped. The payloads
come from XSS cheat sheets and from bleach's and DOMPurify's past advisories (mutation
XSS through math/svg/style/noscript, comment and CDATA tricks, encoded schemes).

Each payload goes through `sanitize_html` (raw HTML, as if a future caller skipped
markdown) and through `render_markdown` (what posts actually do). For both outputs:

* sanitising again changes nothing (idempotence: stored HTML is a fixed point);
* parsed with `html.parser`, only allow-listed tags remain; no attribute starts with
  "on"; no `style`; every link carries rel="nofollow ugc noopener"; every href that has a
  scheme (as a browser would read it) is http, https or mailto.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from community.text import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown, sanitize_html

REL = "nofollow ugc noopener"
SAFE_SCHEMES = {"http", "https", "mailto"}
FORBIDDEN_SUBSTRINGS = ("<script", "<svg", "<math", "<style", "<noscript", "<iframe",
                        "<object", "<embed")

# (id, payload). Ids keep failures readable; payloads are kept verbatim.
CORPUS: list[tuple[str, str]] = [
    # --- plain script and event-handler injection -------------------------------------
    ("script", "<script>alert(1)</script>"),
    ("script-src", "<script/src=//evil.example/x.js></script>"),
    ("script-upper", "<SCRIPT>alert(1)</SCRIPT>"),
    ("script-split", "<scr<script>ipt>alert(1)</scr</script>ipt>"),
    ("script-nested-lt", "<<script>script>alert(1)//<</script>/script>"),
    ("script-unclosed", "<script>alert(1)"),
    ("img-onerror", '<img src="x" onerror="alert(1)">'),
    ("img-js-src", "<IMG SRC=JaVaScRiPt:alert('XSS')>"),
    ("img-eval-src", "<img src=x:alert(alt) onerror=eval(src) alt=0>"),
    ("body-onload", "<body onload=alert(1)>hi</body>"),
    ("details-ontoggle", "<details open ontoggle=alert(1)><summary>x</summary></details>"),
    ("marquee-onstart", "<marquee onstart=alert(1)>x</marquee>"),
    ("p-onclick", '<p onclick="alert(1)">click me</p>'),
    ("a-onclick", '<a href="https://example.org" onclick=alert(1)>x</a>'),
    ("a-newline-handler", '<a href="https://example.org"\nonmouseover=alert(1)>x</a>'),
    ("a-slash-handler", '<a href="https://example.org"/onmouseover=alert(1)>x</a>'),
    # --- svg and math, including mutation XSS from bleach / DOMPurify advisories ------------
    ("svg-onload", '<svg onload="alert(1)"></svg>'),
    ("svg-script", "<svg><script>alert(1)</script></svg>"),
    ("svg-xlink", '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>'),
    ("svg-p-style", '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">'),
    ("svg-p-style-g", '<svg><p><style><g title="</style><img src onerror=alert(1)>">'),
    ("math-style-img", "<math><style><img src=x onerror=alert(1)></style></math>"),
    ("math-mtext-script", "<math><mtext><script>alert(1)</script></mtext></math>"),
    ("math-href", '<math href="javascript:alert(1)">CLICK</math>'),
    ("math-mglyph",
     '<math><mi><mglyph><svg><mtext><textarea><path id="</textarea>'
     '<img onerror=alert(1) src=1>">'),
    ("form-math-mglyph",
     "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>"),
    ("math-mtext-table",
     "<math><mtext><table><mglyph><style><!--</style><img title=\"--&gt;&lt;/mglyph&gt;"
     "&lt;img&Tab;src=1&Tab;onerror=alert(1)&gt;\">"),
    ("noscript-style", "<noscript><style></noscript><img src=x onerror=alert(1)>"),
    ("noscript-title",
     '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>'),
    ("xmp-title", '<xmp><p title="</xmp><img src=x onerror=alert(1)>"></xmp>'),
    ("textarea-title", '<textarea><p title="</textarea><img src=x onerror=alert(1)>">'),
    ("title-title", '<title><p title="</title><img src=x onerror=alert(1)>">'),
    ("template-script", "<template><script>alert(1)</script></template>"),
    # --- comments and CDATA ----------------------------------------------------------------
    ("comment", "<!-- <script>alert(1)</script> -->visible"),
    ("comment-short", "<!--><img src=x onerror=alert(1)>-->"),
    ("comment-bang", "<!-- --!><img src=x onerror=alert(1)> -->"),
    ("comment-in-attr", '<a title="<!--" href="https://example.org">--><img src=x '
                        'onerror=alert(1)></a>'),
    ("cdata", "<![CDATA[<script>alert(1)</script>]]>"),
    ("svg-cdata", "<svg><![CDATA[><img src=x onerror=alert(1)//]]></svg>"),
    ("conditional-comment", "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->"),
    # --- framing, plugins, forms ------------------------------------------------------------
    ("iframe", '<iframe src="https://evil.example/"></iframe>'),
    ("iframe-srcdoc", '<iframe srcdoc="<script>alert(1)</script>"></iframe>'),
    ("object-js", '<object data="javascript:alert(1)"></object>'),
    ("embed-js", '<embed src="javascript:alert(1)">'),
    ("object-embed", '<object data="x.swf"><embed src="x.swf"></object>'),
    ("form-formaction",
     '<form><button formaction="javascript:alert(1)">X</button></form>'),
    ("input-formaction", '<input type="image" formaction=javascript:alert(1) src=x>'),
    ("form-action", '<form action="javascript:alert(1)"><input type=submit></form>'),
    ("meta-refresh", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
    ("base-href", '<base href="javascript:alert(1)//">'),
    ("link-import", '<link rel="import" href="https://evil.example/x.html">'),
    # --- style -----------------------------------------------------------------------------
    ("style-tag", "<style>@import 'https://evil.example/x.css';</style>"),
    ("style-url", '<p style="background:url(javascript:alert(1))">x</p>'),
    ("style-expression", '<p style="width:expression(alert(1))">x</p>'),
    ("a-style", '<a href="https://example.org" style="position:fixed;inset:0">x</a>'),
    # --- dangerous schemes on links, every spelling -----------------------------------------
    ("a-js", '<a href="javascript:alert(1)">x</a>'),
    ("a-js-unquoted", "<a href=javascript:alert(1)>x</a>"),
    ("a-js-slash", '<a/href="javascript:alert(1)">x</a>'),
    ("a-js-mixed-case", '<a href="JaVaScRiPt:alert(1)">x</a>'),
    ("a-js-leading-space", '<a href="  javascript:alert(1)">x</a>'),
    ("a-js-leading-control", '<a href="\x01javascript:alert(1)">x</a>'),
    ("a-js-tab", '<a href="java\tscript:alert(1)">x</a>'),
    ("a-js-tab-entity", '<a href="jav&#x09;ascript:alert(1)">x</a>'),
    ("a-js-newline-entity", '<a href="jav&#x0A;ascript:alert(1)">x</a>'),
    ("a-js-cr-entity", '<a href="jav&#13;ascript:alert(1)">x</a>'),
    ("a-js-hex-entity", '<a href="&#x6A;avascript:alert(1)">x</a>'),
    ("a-js-dec-entity", '<a href="javas&#99;ript:alert(1)">x</a>'),
    ("a-js-padded-entity", '<a href="&#0000106avascript:alert(1)">x</a>'),
    ("a-js-no-semicolons",
     '<a href="&#106&#97&#118&#97&#115&#99&#114&#105&#112&#116&#58alert(1)">x</a>'),
    ("a-js-colon-entity", '<a href="javascript&colon;alert(1)">x</a>'),
    ("a-js-null", '<a href="java\x00script:alert(1)">x</a>'),
    ("a-vbscript", '<a href="vbscript:msgbox(1)">x</a>'),
    ("a-data", '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>'),
    ("a-data-upper", '<a href="DATA:text/html,<script>alert(1)</script>">x</a>'),
    ("a-file", '<a href="file:///etc/passwd">x</a>'),
    ("a-unclosed", '<a href="javascript:alert(1)"'),
    # --- nested quotes -----------------------------------------------------------------------
    ("title-breakout", '<a href="https://example.org" title=\'"><script>alert(1)</script>\'>x</a>'),
    # A value holding both a double quote and `&`/`<` is written back single-quoted, which
    # must not change its meaning on the next pass.
    ("title-quote-amp", '<a href="https://example.org" title=\'say "hi" &amp; bye\'>x</a>'),
    ("href-breakout", '<a href="https://example.org/?q=&quot;><script>alert(1)</script>">x</a>'),
    ("backtick-attr", "<a href=`javascript:alert(1)`>x</a>"),
    # --- markdown link and image tricks -------------------------------------------------------
    ("md-js", "[x](javascript:alert(1))"),
    ("md-js-angle", "[x](<javascript:alert(1)>)"),
    ("md-js-entity", "[x](jav&#x61;script:alert(1))"),
    ("md-js-colon-entity", "[x](javascript&colon;alert(1))"),
    ("md-js-percent", "[x](java%73cript:alert(1))"),
    ("md-js-escaped", "[x](java\\script:alert(1))"),
    ("md-vbscript", "[x](VBSCRIPT:msgbox(1))"),
    ("md-data", "[x](data:text/html;base64,PHNjcmlwdD4=)"),
    ("md-image-js", "![x](javascript:alert(1))"),
    ("md-image-onerror", '![x" onerror="alert(1)](https://example.org/a.png)'),
    ("md-title-quotes", '[x](https://example.org "a\\" onmouseover=\\"alert(1)")'),
    ("md-reference", "[x][evil]\n\n[evil]: javascript:alert(1)"),
    ("md-reference-title", '[x][r]\n\n[r]: https://example.org "\\"><script>alert(1)</script>"'),
    ("md-autolink-js", "<javascript:alert(1)>"),
    ("md-autolink-data", "<data:text/html,<script>alert(1)</script>>"),
    ("md-link-then-html", "[ok](https://example.org)<script>alert(1)</script>"),
    ("md-code-html", "`<script>alert(1)</script>` and\n\n    <img src=x onerror=alert(1)>"),
    ("md-html-block", "<div>\n<script>alert(1)</script>\n</div>"),
    ("md-inline-html", '<span onmouseover="alert(1)">hover</span>'),
    ("md-link-in-link", "[[inner](javascript:alert(1))](https://example.org)"),
    # --- unicode bidi and invisible characters ------------------------------------------------
    ("bidi-link-text", '<a href="https://example.org">\u202egnp.exe</a>'),
    ("bidi-md-text", "[\u202eexe.txt](https://example.org)"),
    ("bidi-in-scheme", '<a href="\u202ejavascript:alert(1)">x</a>'),
    ("zero-width-scheme", "[x](java\u200bscript:alert(1))"),
    ("bidi-isolates", "\u2066<script>\u2069alert(1)\u2066</script>\u2069"),
]

assert len(CORPUS) >= 40
assert len({name for name, _ in CORPUS}) == len(CORPUS), "payload ids must be unique"

IDS = [name for name, _ in CORPUS]
PAYLOADS = [payload for _, payload in CORPUS]

# How a browser reads a URL's scheme: leading C0 controls and spaces are dropped, tabs and
# newlines anywhere are removed, then letters up to the first colon.
_URL_NOISE = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")


def browser_scheme(href: str) -> str | None:
    """`href` as html.parser hands it over: character references already decoded once."""
    value = _URL_NOISE.sub("", href).lstrip("".join(map(chr, range(0x21))))
    match = _SCHEME.match(value)
    return match.group(1).lower() if match else None


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []
        self.other: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, attrs))

    def handle_comment(self, data):
        self.comments.append(data)

    def handle_decl(self, decl):
        self.other.append(decl)

    def unknown_decl(self, data):
        self.other.append(data)

    def handle_pi(self, data):
        self.other.append(data)


def elements(markup: str) -> _Elements:
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    return parser


def assert_inert(markup: str) -> None:
    lowered = markup.lower()
    for needle in FORBIDDEN_SUBSTRINGS:
        assert needle not in lowered, f"{needle!r} survived in {markup!r}"
    found = elements(markup)
    assert not found.comments, f"comment survived in {markup!r}"
    assert not found.other, f"declaration/CDATA survived in {markup!r}"
    for tag, attrs in found.elements:
        assert tag in ALLOWED_TAGS, f"<{tag}> survived in {markup!r}"
        names = [name for name, _ in attrs]
        assert len(names) == len(set(names)), f"duplicate attribute in {markup!r}"
        allowed = set(ALLOWED_ATTRIBUTES.get(tag, ()))
        for name, value in attrs:
            assert not name.startswith("on"), f"event attribute {name} in {markup!r}"
            assert name != "style", f"style attribute in {markup!r}"
            assert name in allowed, f"{tag}[{name}] is not on the allow-list: {markup!r}"
            if name == "href":
                scheme = browser_scheme(value or "")
                assert scheme is None or scheme in SAFE_SCHEMES, (
                    f"href scheme {scheme!r} in {markup!r}")
        if tag == "a":
            assert dict(attrs).get("rel") == REL, f"link without rel={REL!r}: {markup!r}"


# --- the helpers above must themselves catch what they claim to --------------------------


@pytest.mark.parametrize(
    "markup",
    [
        "<script>alert(1)</script>",
        '<p onclick="x()">a</p>',
        '<p style="color:red">a</p>',
        '<a href="javascript:alert(1)" rel="nofollow ugc noopener">a</a>',
        '<a href="&#x6A;avascript:alert(1)" rel="nofollow ugc noopener">a</a>',
        '<a href=" java&#9;script:alert(1)" rel="nofollow ugc noopener">a</a>',
        '<a href="https://example.org">no rel</a>',
        "<!-- comment -->",
        "<img src=x>",
        '<p title="x">a</p>',
    ],
)
def test_the_inertness_check_rejects_live_markup(markup):
    with pytest.raises(AssertionError):
        assert_inert(markup)


def test_the_inertness_check_accepts_ordinary_output():
    assert_inert('<p><a href="https://example.org" rel="nofollow ugc noopener">a</a> '
                 '<a href="mailto:a@example.org" rel="nofollow ugc noopener">b</a> '
                 '<a href="/relative" rel="nofollow ugc noopener">c</a></p>'
                 '<ol start="2"><li><code>&lt;script&gt;</code></li></ol>')


# --- the corpus ---------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_sanitize_html_leaves_nothing_executable(payload):
    assert_inert(sanitize_html(payload))


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_sanitize_html_is_idempotent(payload):
    once = sanitize_html(payload)
    assert sanitize_html(once) == once


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_render_markdown_leaves_nothing_executable(payload):
    assert_inert(render_markdown(payload))


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_render_markdown_output_is_a_fixed_point_of_the_sanitiser(payload):
    rendered = render_markdown(payload)
    assert sanitize_html(rendered) == rendered
    assert sanitize_html(sanitize_html(rendered)) == sanitize_html(rendered)


@pytest.mark.parametrize("payload", PAYLOADS, ids=IDS)
def test_payload_wrapped_in_ordinary_prose_is_still_inert(payload):
    """Surrounding text (and markdown structure) must not change how a payload parses."""
    for source in (f"Hello {payload} there", f"> {payload}", f"- item\n- {payload}",
                   f"**{payload}**", f"[{payload}](https://example.org)"):
        rendered = render_markdown(source)
        assert_inert(rendered)
        assert sanitize_html(rendered) == rendered
        cleaned = sanitize_html(source)
        assert_inert(cleaned)
        assert sanitize_html(cleaned) == cleaned


def test_markdown_shows_raw_html_as_text_rather_than_dropping_it():
    """html=False: people see what they typed (escaped), nothing is silently parsed."""
    rendered = render_markdown("<script>alert(1)</script>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered


def test_safe_links_survive_with_rel():
    rendered = render_markdown("[a](https://example.org/x) [b](mailto:help@example.org) "
                               "[c](http://example.org)")
    hrefs = [dict(attrs)["href"] for tag, attrs in elements(rendered).elements if tag == "a"]
    assert hrefs == ["https://example.org/x", "mailto:help@example.org", "http://example.org"]
    assert_inert(rendered)
