"""Cheap gates in front of expensive patterns.

Most messages are ordinary; a rule's full regular expression is only worth running if
the text contains at least one of the literal fragments every match of it must contain.
`necessary_literals` works that set out from the pattern itself (so rules stay plain
data), and a gate is a handful of substring tests, far cheaper than a regex search
that tries a long alternation at every position.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from re import _constants as C  # noqa: N812
from re import _parser as sre_parse

MAX_LITERALS = 400  # beyond this, a gate costs about what the search does


_COMMON_WORDS = (
    "a an and are as at be but by do for from have he her his i if in is it its me my no "
    "not of on or our she so that the their them they this to up us was we what when who "
    "will with you your all any can just get got one out how more some been were would "
    "could should about there then than them"
)
_COMMON = frozenset(_COMMON_WORDS.split())


def _cost(fragment: str) -> float:
    """How likely a fragment is to be in an ordinary message (lower is more selective)."""
    core = fragment.strip()
    if len(core) < 3 or core in _COMMON or " " in core and all(
            w in _COMMON for w in core.split()):
        return 1.0
    return 1.0 / (len(core) - 1) ** 2


def _choose(options: list[frozenset[str]]) -> frozenset[str] | None:
    """Of several sets that would each do, the most selective."""
    useful = [o for o in options if all(len(x.strip()) >= 2 for x in o)]
    if not useful:
        return None
    return min(useful, key=lambda s: sum(_cost(x) for x in s))


def _need(items) -> frozenset[str] | None:
    """A set S such that every match of this sequence contains some s in S, or None."""
    options: list[frozenset[str]] = []
    run = []
    for op, arg in list(items) + [(None, None)]:
        if op is C.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            options.append(frozenset({"".join(run)}))
            run = []
        if op is C.SUBPATTERN:
            found = _need(arg[-1])
        elif op is C.BRANCH:
            parts = [_need(alt) for alt in arg[1]]
            found = None if any(p is None for p in parts) else frozenset().union(*parts)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            low, _high, inner = arg
            found = _need(inner) if low >= 1 else None
        else:
            found = None
        if found:
            options.append(found)
    return _choose(options)


def _prune(strings: frozenset[str]) -> frozenset[str]:
    """Drop any string that contains another one of the set (the shorter one will do)."""
    kept = []
    for s in sorted(strings, key=len):
        if not any(k in s for k in kept):
            kept.append(s)
    return frozenset(kept)


_STORE = Path(__file__).resolve().parents[1] / "var" / "screening-gates.json"
_known: dict[str, list[str] | None] | None = None
_lock = threading.Lock()


def _load_known() -> dict[str, list[str] | None]:
    """Gates worked out before (by any process), keyed by a hash of the pattern: working
    them out takes about a second for the whole pack, a lookup nothing."""
    global _known
    if _known is None:
        try:
            _known = json.loads(_STORE.read_text("utf-8"))
        except (OSError, ValueError):
            _known = {}
    return _known


def _remember(key: str, value: list[str] | None) -> None:
    with _lock:
        known = _load_known()
        known[key] = value
        try:
            _STORE.parent.mkdir(exist_ok=True)
            spare = _STORE.with_suffix(f".{os.getpid()}.tmp")
            spare.write_text(json.dumps(known), "utf-8")
            os.replace(spare, _STORE)  # readers never see half a file
        except OSError:
            pass  # a read-only checkout just works them out each time


def necessary_literals(pattern: str) -> frozenset[str] | None:
    key = hashlib.sha256(pattern.encode()).hexdigest()
    known = _load_known()
    if key in known:
        return None if known[key] is None else frozenset(known[key])
    found = _work_out(pattern)
    _remember(key, None if found is None else sorted(found))
    return found


def _work_out(pattern: str) -> frozenset[str] | None:
    try:
        found = _need(sre_parse.parse(pattern))
    except (re.error, RecursionError, TypeError, ValueError):
        return None
    if not found:
        return None
    found = _prune(found)
    if len(found) > MAX_LITERALS or sum(_cost(x) for x in found) >= 12.0:
        return None  # so common a gate would almost always pass: not worth having
    return found


def passes(gate: frozenset[str] | None, text: str) -> bool:
    return gate is None or any(s in text for s in gate)



def trie_pattern(words) -> str:
    """One regular expression for many literal strings, shaped as a trie
    ("kill", "killing", "kit" → `ki(?:ll(?:ing)?|t)`): at each position the engine follows
    one branch per character instead of trying every string in turn."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        keys = sorted(k for k in node if k)
        if not keys:
            return ""
        alternatives = [re.escape(k) + build(node[k]) for k in keys]
        inner = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
        if "" in node:  # a string may end here
            inner = f"(?:{inner})?"
        return inner

    return build(trie)


def split_alternatives(pattern: str) -> list[str]:
    """`a|b|(c|d)` → ["a", "b", "(c|d)"]: the top-level alternatives of a pattern."""
    parts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


_LITERAL = re.compile(r"[a-z0-9 &'\-]+")


def compact_alternation(pattern: str) -> str:
    """`(?:a|b|c|x\\w+)` with the plain words folded into a trie; anything else kept."""
    body = pattern[3:-1] if pattern.startswith("(?:") and _spans_all(pattern) else pattern
    parts = split_alternatives(body)
    words = [p for p in parts if _LITERAL.fullmatch(p)]
    if len(words) < 4:
        return pattern
    others = [p for p in parts if not _LITERAL.fullmatch(p)]
    return "(?:" + "|".join([trie_pattern(words), *others]) + ")"


def _spans_all(pattern: str) -> bool:
    """Does the group opened at the start close only at the very end?"""
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i == len(pattern) - 1
        i += 1
    return False
