"""Screening: from a piece of text (and the group it is written in) to a verdict.

The verdict says what the text seems to be about (`crisis`, `unsafe_advice`, `privacy`,
`abuse`, `spam`), what should happen (`allow`, `prompt`, `flag`, `hold`, `block`), which
rules matched (so moderators see why) and which signposts to show the writer. Services
decide what to do with it; nothing here writes anything.

Rules are data (`moderation/rulepacks/*.toml`, loaded into the database, plus each
group's own watched words). This module compiles them once into a `RuleSet` and
matches sentence by sentence against the normalised text (see `normalise.py`), with a
little context: a negation just before ("never stop your insulin"), a clinician's
guidance in the same sentence ("my GP said I can reduce my steroids"), and each rule's
own `unless` exceptions (idioms such as "this heat is killing me" never match at all,
because no rule is written that loosely).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from moderation.gates import compact_alternation, necessary_literals, trie_pattern
from moderation.normalise import MAX_SCREEN_CHARS, Normalised, Normaliser

CATEGORIES = ("crisis", "unsafe_advice", "privacy", "abuse", "spam")
ACTIONS = ("allow", "prompt", "flag", "hold", "block")  # in rising order of weight
_WEIGHT = {name: i for i, name in enumerate(ACTIONS)}
GUARDS = ("negated", "clinician")
PACK_DIR = Path(__file__).resolve().parent / "rulepacks"
SITE_PACK = PACK_DIR / "site.toml"

# A gap of up to N words that never steps over a negation: "you should never stop your
# meds" must not match "you should ... stop your meds".
_GAP = re.compile(r"\(\?:\\w\+ \)\{0,(\d+)\}")
_NEG_FREE_GAP = r"(?:(?!(?:not|never|no|without) )[\w,]+ ){0,%s}"
_MACRO = re.compile(r"\{([A-Z_]+[0-9]*)\}")
_NEGATORS = frozenset({"not", "never", "no", "cannot", "without", "nor"})
_FILLERS = frozenset({
    "going", "gonna", "to", "want", "ever", "actually", "really", "be", "would", "will",
    "am", "i", "planning", "trying", "try", "ok", "so", "just", "please", "definitely",
    "honestly", "seriously", "do", "does", "did", "should", "must", "you", "could",
    "feel", "feeling", "like", "think", "even", "at", "all", "is",
})


class RuleError(ValueError):
    """A rule that cannot be used: the message says what to change, in plain words."""


@dataclass(frozen=True)
class Rule:
    key: str
    category: str
    action: str
    pattern: str = ""  # matched against the `words` form, sentence by sentence
    raw: str = ""  # matched against the `plain` form (digits and punctuation kept)
    check: str = ""  # a validator for raw matches: phone, email, postcode, address, nhs
    guards: tuple[str, ...] = ()
    unless: str = ""
    concern: str = "self"  # "other": worry about someone else
    requires: str = ""  # only when this is found somewhere in the whole text
    scope: str = "sentence"  # or "message": match across sentence ends
    description: str = ""
    test: str = ""
    source: str = "site"  # "site" or "group"


@dataclass(frozen=True)
class Match:
    key: str
    category: str
    action: str
    description: str
    concern: str = "self"
    source: str = "site"

    def as_dict(self) -> dict:
        return {"key": self.key, "category": self.category, "action": self.action,
                "description": self.description, "source": self.source}


@dataclass(frozen=True)
class Verdict:
    categories: tuple[str, ...] = ()
    action: str = "allow"
    matches: tuple[Match, ...] = ()
    signposts: tuple[dict, ...] = ()

    @property
    def rules(self) -> list[str]:
        return [m.key for m in self.matches]

    @property
    def is_crisis(self) -> bool:
        return "crisis" in self.categories

    @property
    def concern(self) -> str:
        """"self" unless every crisis rule that matched was about someone else."""
        crisis = [m for m in self.matches if m.category == "crisis"]
        if crisis and all(m.concern == "other" for m in crisis):
            return "other"
        return "self"

    @property
    def reason(self) -> str:
        """The category that decided the action (for prompts and signpost panels)."""
        if self.is_crisis:
            return "crisis"
        deciding = [m for m in self.matches if m.action == self.action] or list(self.matches)
        order = {c: i for i, c in enumerate(CATEGORIES)}
        return min((m.category for m in deciding), key=lambda c: order.get(c, 99),
                   default="")

    def with_signposts(self, signposts: Sequence[dict]) -> Verdict:
        return Verdict(self.categories, self.action, self.matches, tuple(signposts))

    def as_dict(self, text: str | None = None) -> dict:
        out = {"categories": list(self.categories), "action": self.action,
               "signposts": list(self.signposts), "rules": self.rules}
        return out if text is None else {"text": text, **out}


ALLOW = Verdict()


# --- validators for raw matches --------------------------------------------------------

_PERSONAL_PHONE = re.compile(r"^0(?:1\d{8,9}|2\d{9}|7\d{9})$")
_ORG_CONTEXT = re.compile(
    r"(?:helpline|help line|advice line|support line|charity|samaritans|nhs|111|pharmacy|"
    r"surgery|practice|clinic|hospital|ward|reception|switchboard|council|office|"
    r"freephone|centre|center|trust|foundation|uk|service|team|appointments|booking)"
    r"[^.\n]{0,40}$"
)
_TECH_CONTEXT = re.compile(
    r"(?:order|ref|reference|id|invoice|tracking|account|acct|transaction|booking|ticket|"
    r"serial|case|claim|policy|membership|batch|lot|code|pin|sort code|card|barcode|"
    r"isbn|version|build|timestamp|epoch|unix)\W{0,3}(?:no\.?|number|#|:)?\W{0,3}$"
)
_NHS_CONTEXT = re.compile(r"(?:nhs|chi|health|hospital|patient)\b[^.\n]{0,40}$")
_TECH_NEARBY = re.compile(
    r"\b(?:order|ref|reference|invoice|tracking|account|transaction|booking|ticket|serial|"
    r"claim|policy|membership|parcel|delivery|confirmation|customer)\b[^.\n]{0,30}$")
_GENERIC_MAILBOX = frozenset({
    "info", "help", "helpline", "support", "enquiries", "enquiry", "contact", "hello",
    "office", "admin", "team", "advice", "care", "jo", "feedback", "complaints", "pals",
    "bookings", "reception", "careline", "helpdesk", "noreply", "no-reply",
})
_ORG_MAIL_DOMAIN = re.compile(r"(?:samaritans\.org|shout\.org|giveusashout\.org|"
                              r"childline\.org\.uk|nhs\.uk)$")
_MAIL_PROVIDERS = re.compile(
    r"\b(?:gmail|googlemail|hotmail|yahoo|outlook|live|icloud|me|mac|aol|btinternet|"
    r"sky|virginmedia|talktalk|protonmail|proton|mail|gmx|ymail|msn|tiscali|"
    r"blueyonder|ntlworld|plusnet|zoho|hey|fastmail)\b"
)
_AREA_CODES = (
    "ab al b ba bb bd bf bh bl bn br bs bt bx ca cb cf ch cm co cr ct cv cw da dd de dg "
    "dh dl dn dt dy e ec eh en ex fk fy g gl gu gy ha hd hg hp hr hs hu hx ig im ip iv "
    "je ka kt kw ky l la ld le ll ln ls lu m me mk ml n ne ng nn np nr nw ol ox pa pe ph "
    "pl po pr rg rh rm s sa se sg sk sl sm sn so sp sr ss st sw sy ta td tf tn tq tr ts "
    "tw ub w wa wc wd wf wn wr ws wv yo ze "
)
_POSTCODE_AREAS = frozenset(_AREA_CODES.split())
_NOT_STREET_WORDS = frozenset({
    "miles", "mile", "minutes", "mins", "min", "hours", "hour", "hrs", "years", "year",
    "days", "day", "weeks", "week", "months", "month", "mmol", "units", "unit", "mg", "ml",
    "times", "people", "members", "of", "my", "our", "your", "a", "an", "the", "to", "from",
    "down", "up", "along", "on", "in", "at", "and", "or", "for", "with", "by", "off", "into",
    "steps", "stone", "lbs", "kg", "percent", "pounds", "quid", "pence", "am", "pm",
    "o", "clock", "points", "point", "out", "over", "per", "each", "every", "more", "less",
    "hundred", "thousand", "laps", "flights", "floors", "doors", "houses", "streets",
    "roads", "different", "other", "some", "few", "is", "was", "are", "were", "be",
})


def _nhs_valid(digits: str) -> bool:
    if len(digits) != 10 or len(set(digits)) == 1:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def _check_phone(found: str, before: str) -> bool:
    digits = re.sub(r"\D", "", found)
    if found.lstrip().startswith("+") or digits.startswith("00"):
        digits = digits[2:] if digits.startswith("00") else digits
        if digits.startswith("44"):
            digits = "0" + digits[2:].removeprefix("0")
        else:
            return 8 <= len(digits) <= 15 and not _TECH_CONTEXT.search(before)
    if not _PERSONAL_PHONE.match(digits):
        return False
    if _TECH_CONTEXT.search(before):
        return False
    if digits.startswith("07"):
        return True  # a mobile is a person's, whoever's it is
    return not _ORG_CONTEXT.search(before)


def _check_email(found: str, before: str) -> bool:
    parts = re.split(r"\s?(?:@|\(at\)|\[at\]|\{at\}| at )\s?", found, maxsplit=1)
    if len(parts) != 2:
        return False
    local, domain = parts[0].strip(), parts[1]
    domain = re.sub(r"\s?(?:\(dot\)|\[dot\]|\{dot\}| dot )\s?", ".", domain).replace(" ", "")
    if local in _GENERIC_MAILBOX or _ORG_MAIL_DOMAIN.search(domain) and "." not in local:
        return False
    if "@" in found:
        return True
    # "name at gmail dot com": only with a known mail provider or a spelt-out "dot"
    return bool(_MAIL_PROVIDERS.search(domain) or re.search(r"\bdot\b|\(dot\)|\[dot\]", found))


def _check_postcode(found: str, before: str) -> bool:
    outward = found.split()[0] if " " in found.strip() else found.strip()[:-3]
    area = re.match(r"[a-z]+", outward)
    return bool(area) and area.group() in _POSTCODE_AREAS


def _check_address(found: str, before: str) -> bool:
    words = re.findall(r"[a-z][a-z\-']+", found)[:-1]
    if any(w in _NOT_STREET_WORDS for w in words):
        return False
    return not re.search(r"(?:£|\$|€|\d[.:])\s*$", before)


def _check_nhs(found: str, before: str) -> bool:
    digits = re.sub(r"\D", "", found)
    if not _nhs_valid(digits):
        return False
    if _NHS_CONTEXT.search(before):
        return True
    if _TECH_CONTEXT.search(before) or _TECH_NEARBY.search(before):
        return False  # an order number that happens to pass the check digit
    if re.search(r"[\s\-]", found):
        return True  # written 3-3-4, as the NHS prints it
    return bool(_NHS_CONTEXT.search(before)) or digits[0] in "3456789"


CHECKS = {"phone": _check_phone, "email": _check_email, "postcode": _check_postcode,
          "address": _check_address, "nhs": _check_nhs}


# --- compiling ----------------------------------------------------------------------------

@cache
def _compacted(value: str) -> str:
    return compact_alternation(value)


def expand(pattern: str, lexicon: dict[str, str]) -> str:
    def macro(m: re.Match) -> str:
        name = m.group(1)
        if name not in lexicon:
            raise RuleError(f"Unknown word list {{{name}}}.")
        return _compacted(lexicon[name])

    for _ in range(3):  # lexicon entries may use other entries
        pattern = _MACRO.sub(macro, pattern)
    return _GAP.sub(lambda m: _NEG_FREE_GAP % m.group(1), pattern)


_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")


def check_user_pattern(pattern: str) -> None:
    """A moderator's own pattern: must compile, be short, and not be the kind that can take
    minutes on one message (nested repeats such as `(a+)+`)."""
    if len(pattern) > 300:
        raise RuleError("Please keep a pattern to 300 characters or fewer.")
    if _NESTED_QUANTIFIER.search(pattern) or re.search(r"\\[1-9]|\(\?<?[=!]", pattern):
        raise RuleError("That pattern is too complicated to check quickly (it repeats a "
                        "repeat or looks around). Please use simpler words or a phrase.")
    try:
        re.compile(pattern)
    except re.error as error:
        raise RuleError(f"That pattern isn't valid: {error}.") from None


@dataclass
class _Compiled:
    rule: Rule
    regex: re.Pattern
    unless: re.Pattern | None
    on_words: bool
    requires: re.Pattern | None = None
    gate: re.Pattern | None = None  # finds a fragment every match contains (gates.py)


FUZZY_LISTS = ("MEDS", "CONTROLLED")
FUZZY_WORDS = ("suicide", "suicidal", "overdose", "overdosed", "myself", "antidepressants",
               "paracetamol", "painkillers", "tablets", "medication")


@dataclass
class RuleSet:
    """Compiled rules: build once, screen many texts."""

    rules: Sequence[Rule]
    lexicon: dict[str, str] = field(default_factory=dict)
    compiled: list[_Compiled] = field(init=False)
    normaliser: Normaliser = field(init=False)
    errors: list[tuple[str, str]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.compiled = []
        vocabulary: set[str] = set()
        for value in self.lexicon.values():
            vocabulary.update(re.findall(r"[a-z]{3,}", value))
        lexicon_key = tuple(sorted(self.lexicon.items()))
        for rule in self.rules:
            try:
                self.compiled.append(_compile_cached(rule, lexicon_key))
                vocabulary.update(re.findall(r"[a-z]{3,}", rule.pattern))
            except RuleError as error:  # a broken group rule never breaks posting
                self.errors.append((rule.key, str(error)))
        fuzzy = {w for name in FUZZY_LISTS
                 for w in re.findall(r"[a-z]{7,}", self.lexicon.get(name, ""))}
        self.normaliser = Normaliser(vocabulary, fuzzy=fuzzy | set(FUZZY_WORDS))

    def extended(self, rules: Sequence[Rule]) -> RuleSet:
        """These rules plus more (a group's own): only the new ones are compiled."""
        more = RuleSet.__new__(RuleSet)
        more.rules = [*self.rules, *rules]
        more.lexicon = self.lexicon
        more.compiled = list(self.compiled)
        more.errors = list(self.errors)
        more.normaliser = self.normaliser
        for rule in rules:
            try:
                more.compiled.append(compile_rule(rule, self.lexicon))
            except RuleError as error:
                more.errors.append((rule.key, str(error)))
        return more

    def screen(self, text: str) -> Verdict:
        text = (text or "")[:MAX_SCREEN_CHARS]
        if not text.strip():
            return ALLOW
        norm = self.normaliser(text)
        matches = []
        seen = set()
        sentences = norm.sentences
        whole = norm.words
        plain = norm.plain
        present: dict[str, bool] = {}  # `requires` answers, shared by rules that ask alike
        for item in self.compiled:
            if item.rule.key in seen:
                continue
            if item.gate is not None and not item.gate.search(whole if item.on_words else plain):
                continue
            if item.requires is not None:
                known = present.get(item.requires.pattern)
                if known is None:
                    known = present[item.requires.pattern] = bool(item.requires.search(whole))
                if not known:
                    continue
            if item.on_words and item.rule.scope == "message":
                hit = bool(sentences) and self._hit_words(item, whole)
            elif item.on_words:
                hit = any(self._hit_words(item, s) for s in sentences)
            else:
                hit = self._hit_raw(item, norm)
            if hit:
                seen.add(item.rule.key)
                r = item.rule
                matches.append(Match(r.key, r.category, r.action, r.description,
                                     r.concern, r.source))
        return combine(matches)

    def _hit_words(self, item: _Compiled, sentence: str) -> bool:
        for m in item.regex.finditer(sentence):
            if item.unless is not None and item.unless.search(sentence):
                return False
            if "negated" in item.rule.guards and _negated(sentence, m.start()):
                continue
            return not ("clinician" in item.rule.guards and self.clinician_guided(sentence))
        return False

    def _hit_raw(self, item: _Compiled, norm: Normalised) -> bool:
        check = CHECKS.get(item.rule.check)
        if item.unless is not None and item.unless.search(norm.plain):
            return False
        pos = 0
        while (m := item.regex.search(norm.plain, pos)) is not None:
            if check is None or check(m.group(), norm.plain[max(0, m.start() - 60):m.start()]):
                return True
            pos = m.start() + 1  # a refused match may hide a real one inside it
        return False

    @property
    def clinician_guided(self):
        return _clinician_checker(self.lexicon.get("CLINICIAN", ""),
                                  self.lexicon.get("DISMISS", ""))


_GUIDANCE = (r"(?:said|says|say|told me|told him|told her|told us|told them|advised|advises|"
             r"advice|suggested|suggests|recommended|recommends|agreed|agrees|supervised|"
             r"supervising|supervision|prescribed|prescribes|reviewed|review|reduced|reducing|"
             r"changed|changing|switched|switching|took me off|taken me off|taking me off|"
             r"weaning|tapering|plan|planned|under|talk to|talking to|talked to|speak to|"
             r"speaking to|spoke to|check with|checked with|checking with|ask|asked|discuss|"
             r"discussed|consult|consulted|appointment|okayed|happy for me|signed off|cleared|"
             r"confirmed|decided|instructions|guidance|letter|wants me to|with my|with your|"
             r"with the|after seeing|saw my|see your|see a)")


@cache
def _clinician_checker(clinician: str, dismiss: str):
    if not clinician:
        return lambda sentence: False
    who = re.compile(rf"(?<![a-z0-9]){clinician}(?![a-z0-9])")
    how = re.compile(rf"(?<![a-z0-9]){_GUIDANCE}(?![a-z0-9])")
    against = re.compile(rf"(?<![a-z0-9]){dismiss}(?![a-z0-9])") if dismiss else None

    def guided(sentence: str) -> bool:
        if not (who.search(sentence) and how.search(sentence)):
            return False
        return against is None or not against.search(sentence)

    return guided


def _negated(sentence: str, start: int) -> bool:
    """Is there a negation just before, with only filler words in between?
    ("I would never kill myself", "please don't ever stop your insulin")."""
    for word in reversed(sentence[:start].split()[-5:]):
        if word in _NEGATORS:
            return True
        if word not in _FILLERS:
            return False
    return False


@lru_cache(maxsize=2048)
def _compile_cached(rule: Rule, lexicon_key: tuple) -> _Compiled:
    """Rules are frozen values: the same rule is compiled once per process, however many
    rule sets (the site's, each group's) include it."""
    return compile_rule(rule, dict(lexicon_key))


def warm() -> None:
    """Compile the shipped pack ahead of the first message (called at server start in a
    background thread), so nobody's first message waits for it."""
    pack = load_pack()
    RuleSet(pack.rules, pack.lexicon).screen("warming up")


def compile_rule(rule: Rule, lexicon: dict[str, str] | None = None) -> _Compiled:
    lexicon = lexicon or {}
    if rule.category not in CATEGORIES:
        raise RuleError(f"Unknown category {rule.category!r}.")
    if rule.action not in ACTIONS[1:]:
        raise RuleError(f"Unknown action {rule.action!r}.")
    if bool(rule.pattern) == bool(rule.raw):
        raise RuleError("A rule needs either a pattern or a raw pattern, not both.")
    if rule.check and rule.check not in CHECKS:
        raise RuleError(f"Unknown check {rule.check!r}.")
    if any(g not in GUARDS for g in rule.guards):
        raise RuleError(f"Unknown guard in {rule.guards!r}.")
    try:
        if rule.pattern:
            body = expand(rule.pattern, lexicon)
            regex = re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])")
        else:
            regex = re.compile(rule.raw)
        unless = requires = None
        if rule.unless:
            unless = re.compile(rf"(?<![a-z0-9])(?:{expand(rule.unless, lexicon)})(?![a-z0-9])")
        if rule.requires:
            requires = re.compile(
                rf"(?<![a-z0-9])(?:{expand(rule.requires, lexicon)})(?![a-z0-9])")
    except re.error as error:
        raise RuleError(f"Rule {rule.key}: the pattern isn't valid ({error}).") from None
    fragments = necessary_literals(regex.pattern)
    gate = re.compile(trie_pattern(fragments)) if fragments else None
    return _Compiled(rule, regex, unless, bool(rule.pattern), requires, gate)


def combine(matches: Iterable[Match]) -> Verdict:
    """One verdict from many matches: the weightiest action wins, except that a message
    in crisis is always published (someone reaching out must be heard), with a case."""
    matches = tuple(matches)
    if not matches:
        return ALLOW
    categories = tuple(c for c in CATEGORIES if any(m.category == c for m in matches))
    action = max((m.action for m in matches), key=_WEIGHT.__getitem__)
    if "crisis" in categories:
        action = "flag"
    return Verdict(categories=categories, action=action, matches=matches)


# --- packs ----------------------------------------------------------------------------------

def _flatten(value: str) -> str:
    return "".join(line.strip() for line in value.splitlines())


@dataclass(frozen=True)
class Pack:
    lexicon: dict[str, str]
    rules: tuple[Rule, ...]


def rule_from_dict(data: dict, *, source: str = "site") -> Rule:
    return Rule(
        key=data["key"], category=data["category"], action=data["action"],
        pattern=_flatten(data.get("pattern", "")), raw=_flatten(data.get("raw", "")),
        check=data.get("check", ""), guards=tuple(data.get("guards", ())),
        unless=_flatten(data.get("unless", "")), concern=data.get("concern", "self"),
        requires=_flatten(data.get("requires", "")), scope=data.get("scope", "sentence"),
        description=data.get("description", ""), test=data.get("test", ""), source=source,
    )


@cache
def load_pack(path: Path = SITE_PACK) -> Pack:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    lexicon = {k: _flatten(v) for k, v in data.get("lexicon", {}).items()}
    return Pack(lexicon=lexicon, rules=tuple(rule_from_dict(r) for r in data.get("rule", [])))


def phrase_pattern(phrase: str) -> str:
    """A group's watched phrase as a pattern on the normalised text."""
    words = Normaliser().words_of(phrase)
    if not words:
        raise RuleError("Please give a word or phrase with at least one letter or number.")
    return re.escape(words).replace(r"\ ", " ")


# --- the public function -----------------------------------------------------------------------

def screen(text: str, group=None) -> Verdict:
    """The verdict for `text` written in `group` (None: site rules only), with the
    signposts that fit it."""
    from moderation import rulebook  # the database side: cached rule sets and signposts

    verdict = rulebook.ruleset_for(group).screen(text)
    if verdict is ALLOW:
        return verdict
    return verdict.with_signposts(rulebook.signposts_for(verdict, group))
