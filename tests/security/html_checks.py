"""Reading HTML the way a browser does, and saying whether anything in it could run.

Two parsers, because a sanitiser can be fooled by the gap between how it reads markup and
how a browser does: the WHATWG (HTML5) tree builder that bleach ships (`bleach._vendor.
html5lib`: namespaces, foster parenting, raw-text elements, all as a browser builds the
DOM) and Python's `html.parser` (a plain tokenizer). Mutation XSS lives in the round trip
browser -> `innerHTML` -> browser, so fragments are also serialised and parsed again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from bleach._vendor import html5lib
from bleach._vendor.html5lib.serializer import HTMLSerializer

# Elements Kindred's own pages never use: if one is on a page, a person's text made it.
NEVER_ON_PAGES = frozenset({
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "style",
    "svg", "math", "template", "noscript", "portal", "img", "image", "video", "audio",
    "source", "isindex", "xmp", "plaintext", "noembed", "noframes", "param", "area", "map",
    "marquee", "bgsound", "xml", "set", "animate", "handler", "foreignobject", "use",
    "dialog", "keygen", "listing",
})
# ... and in what a person wrote, the page's own furniture is out of place too.
NEVER = NEVER_ON_PAGES | frozenset({
    "meta", "link", "form", "input", "button", "textarea", "select", "title", "details",
})
# Attributes whose value is fetched or followed as a URL.
URL_ATTRIBUTES = frozenset({
    "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
    "codebase", "cite", "longdesc", "usemap", "dynsrc", "lowsrc", "manifest", "archive",
    "classid", "profile", "icon", "srcset", "imagesrcset", "ping", "itemtype", "to",
    "values", "from", "by",
})
# Attributes that carry code or markup however they are spelled.
CODE_ATTRIBUTES = frozenset({"style", "srcdoc", "formaction", "http-equiv", "content"})
SCRIPTING_SCHEMES = frozenset({
    "javascript", "vbscript", "livescript", "mocha", "jscript", "data", "file", "feed",
    "view-source", "jar", "ms-its", "mhtml", "intent",
})
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see: C0 controls and spaces trimmed from both ends, tabs
    and newlines removed anywhere, then whatever stands before the first ':'."""
    value = value.strip(_C0_AND_SPACE)
    value = re.sub(r"[\t\n\r]", "", value)
    found = _SCHEME.match(value)
    return found.group(1).lower() if found else None


@dataclass(frozen=True)
class Element:
    tag: str  # local name, lower case
    namespace: str  # "html", "svg", "math" or "" (html.parser does not know)
    attrs: tuple[tuple[str, str], ...]
    text: str  # direct text content (for scripts and styles)
    parents: tuple[str, ...]


def _local(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        ns, local = name[1:].split("}", 1)
        short = {"http://www.w3.org/2000/svg": "svg",
                 "http://www.w3.org/1998/Math/MathML": "math",
                 "http://www.w3.org/1999/xhtml": "html"}.get(ns, ns)
        return short, local.lower()
    return "html", name.lower()


def _attr_name(name) -> str:
    if isinstance(name, tuple):  # (namespace, local) from html5lib
        namespace, local = name
        if namespace and "xlink" in namespace:
            return f"xlink:{local}".lower()
        return str(local).lower()
    if name.startswith("{"):
        namespace, local = name[1:].split("}", 1)
        return (f"xlink:{local}" if "xlink" in namespace else local).lower()
    return name.lower()


def html5_elements(html: str, *, fragment: bool = True) -> list[Element]:
    """Every element as a browser's tree builder makes it (in a <div>, like innerHTML)."""
    parse = html5lib.parseFragment if fragment else html5lib.parse
    tree = parse(html, treebuilder="etree", namespaceHTMLElements=True)
    found: list[Element] = []

    def walk(node, parents: tuple[str, ...]) -> None:
        for child in node:
            if not isinstance(child.tag, str):  # comments
                continue
            namespace, tag = _local(child.tag)
            attrs = tuple((_attr_name(k), v) for k, v in child.attrib.items())
            found.append(Element(tag, namespace, attrs, child.text or "", parents))
            walk(child, (*parents, tag))

    walk(tree, ())
    return found


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Element] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.found.append(Element(tag.lower(), "", tuple((k.lower(), v or "") for k, v in attrs),
                                  "", tuple(self.stack)))
        if tag.lower() not in {"br", "hr", "meta", "link", "input", "img"}:
            self.stack.append(tag.lower())

    def handle_startendtag(self, tag, attrs):
        self.found.append(Element(tag.lower(), "", tuple((k.lower(), v or "") for k, v in attrs),
                                  "", tuple(self.stack)))

    def handle_endtag(self, tag):
        if tag.lower() in self.stack:
            while self.stack and self.stack.pop() != tag.lower():
                pass


def tokenizer_elements(html: str) -> list[Element]:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.found


def reserialise(html: str) -> str:
    """Parse as a browser would and write it back out (what innerHTML hands the next
    parser): mutation XSS is markup that changes meaning on this round trip."""
    walker = html5lib.getTreeWalker("etree")
    tree = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    return HTMLSerializer(quote_attr_values="always", omit_optional_tags=False,
                          escape_lt_in_attrs=True, alphabetical_attributes=True,
                          resolve_entities=False).render(walker(tree))


def problems(elements: list[Element], *, allowed_tags: frozenset[str] | None = None,
             safe_schemes: frozenset[str] | None = None) -> list[str]:
    """Everything that could run, load or restyle: empty when the markup is inert.

    `allowed_tags` (for sanitiser output) turns any other tag into a problem;
    `safe_schemes` (for sanitiser output) allows only those schemes on links.
    """
    found = []
    for el in elements:
        if el.namespace in {"svg", "math"}:
            found.append(f"<{el.tag}> in the {el.namespace} namespace")
        if el.tag in NEVER:
            found.append(f"<{el.tag}>")
        elif allowed_tags is not None and el.tag not in allowed_tags:
            found.append(f"<{el.tag}> is not allow-listed")
        for name, value in el.attrs:
            if name.startswith("on"):
                found.append(f"<{el.tag} {name}=…> event handler")
            if name in CODE_ATTRIBUTES:
                found.append(f"<{el.tag} {name}=…>")
            if name in URL_ATTRIBUTES or name.endswith(":href"):
                scheme = url_scheme(value)
                if scheme in SCRIPTING_SCHEMES:
                    found.append(f"<{el.tag} {name}={value[:60]!r}> {scheme}: URL")
                elif safe_schemes is not None and scheme is not None and \
                        scheme not in safe_schemes:
                    found.append(f"<{el.tag} {name}={value[:60]!r}> scheme {scheme}")
    return found


def fragment_problems(html: str, *, allowed_tags: frozenset[str],
                      safe_schemes: frozenset[str]) -> list[str]:
    """Sanitiser output as the chat client's innerHTML and a template's |safe read it,
    by both parsers, and once more after a browser's parse-and-serialise round trip."""
    kwargs = {"allowed_tags": allowed_tags, "safe_schemes": safe_schemes}
    found = problems(html5_elements(html), **kwargs)
    found += problems(tokenizer_elements(html), **kwargs)
    again = reserialise(html)
    found += [f"after a round trip: {p}" for p in problems(html5_elements(again), **kwargs)]
    return sorted(set(found))


def page_problems(html: str, *, allowed_styles: frozenset[str] = frozenset()) -> list[str]:
    """A whole rendered page: anything beyond the site's own furniture that could run,
    load or restyle. The site's own scripts are modules from /static/, its forms (and
    buttons' formaction) post to its own paths, meta, link and title live in the head,
    and pages carry no inline styles (emails do: pass the template's own `style` values
    as `allowed_styles`)."""
    found = []
    for parser, elements in (("html5", html5_elements(html, fragment=False)),
                             ("tokenizer", tokenizer_elements(html))):
        for el in elements:
            attrs = dict(el.attrs)
            where = f"{parser}: <{el.tag}>"
            if el.namespace in {"svg", "math"}:
                found.append(f"{where} in the {el.namespace} namespace")
            if el.tag == "script":
                if not attrs.get("src", "").startswith("/static/") or el.text.strip():
                    found.append(f"{where} that is not the site's own")
            elif el.tag in NEVER_ON_PAGES:
                found.append(where)
            elif el.tag in {"meta", "link", "title"} and "head" not in el.parents \
                    and parser == "html5":
                found.append(f"{where} outside the head")
            elif el.tag == "form":
                action = attrs.get("action", "")
                if action and (not action.startswith("/") or action.startswith("//")):
                    found.append(f"{where} posting to {action[:60]!r}")
            for name, value in el.attrs:
                if name.startswith("on"):
                    found.append(f"{where} with event handler {name}")
                if name == "srcdoc":
                    found.append(f"{where} with srcdoc")
                if name == "formaction" and (not value.startswith("/")
                                             or value.startswith("//")):
                    found.append(f"{where} with formaction={value[:60]!r}")
                if name == "http-equiv":
                    found.append(f"{where} with http-equiv")
                if name == "style" and value not in allowed_styles:
                    found.append(f"{where} with style={value[:60]!r}")
                if name in URL_ATTRIBUTES or name.endswith(":href"):
                    if el.tag == "link" and value == "data:,":
                        continue  # the site's empty favicon
                    scheme = url_scheme(value)
                    if scheme in SCRIPTING_SCHEMES:
                        found.append(f"{where} {name}={value[:60]!r}")
    return sorted(set(found))


def style_values(html: str) -> frozenset[str]:
    """Every inline style a template itself writes (rendered with harmless text)."""
    return frozenset(value for el in html5_elements(html, fragment=False)
                     for name, value in el.attrs if name == "style")
