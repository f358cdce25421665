"""Text as the screening rules see it.

People write in a hurry, on phones, in txt speak, sometimes deliberately around a filter
("k1ll mys3lf", "s u i c i d e", Cyrillic look-alikes, zero-width spaces). Rules are
written once against a plain form of the text, so every one of those spellings meets the
same rule. Two forms are made:

- `plain`: NFKC, look-alikes mapped, invisible characters and accents dropped,
  case-folded; punctuation and digits kept (phone numbers, emails and postcodes live here);
- `words`: `plain` reduced to lower-case words separated by single spaces, split into
  sentences, with contractions, txt speak and common misspellings written out in full.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MAX_SCREEN_CHARS = 20_000  # longer text is cut to this before screening

# Look-alike letters from other scripts that people (and spammers) use to dodge filters.
_HOMOGLYPHS = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ɑ": "a",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ӽ": "x", "ı": "i", "ł": "l",
    "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "ß": "ss", "æ": "ae", "œ": "oe",
    "‘": "'", "’": "'", "ʼ": "'", "`": "'", "´": "'", "“": '"', "”": '"',
    "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-",
})

# Digits and symbols standing in for letters, only inside words that also have letters.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                       "@": "a", "$": "s", "!": "i", "|": "l", "€": "e", "+": "t"})
_LEET_WORD = re.compile(r"[a-z0-9@$!|€+]+")  # linear: letters are checked in _deleet

# Whole words rewritten before matching (after apostrophes are dropped).
_WORDS = {
    # contractions
    "im": "i am", "ive": "i have", "id": "i would", "ill": "i will", "iam": "i am",
    "dont": "do not", "doesnt": "does not", "didnt": "did not", "cant": "cannot",
    "cannot": "cannot", "wont": "will not", "wouldnt": "would not", "shouldnt": "should not",
    "couldnt": "could not", "isnt": "is not", "arent": "are not", "wasnt": "was not",
    "werent": "were not", "havent": "have not", "hasnt": "has not", "hadnt": "had not",
    "mustnt": "must not", "aint": "am not", "youre": "you are", "youve": "you have",
    "youll": "you will", "youd": "you would", "theyre": "they are", "shes": "she is",
    "hes": "he is", "thats": "that is", "whats": "what is", "theres": "there is",
    "its": "it is", "lets": "let us", "itll": "it will", "whos": "who is",
    "dnt": "do not", "dont't": "do not", "cnt": "cannot", "cud": "could", "wud": "would",
    "shud": "should", "shld": "should", "wd": "would",
    # txt speak
    "u": "you", "ya": "you", "yu": "you", "ur": "your", "yr": "your", "r": "are",
    "wanna": "want to", "wana": "want to", "gonna": "going to", "gona": "going to",
    "gotta": "got to", "hafta": "have to", "kinda": "kind of", "tbh": "to be honest",
    "idk": "i do not know", "rn": "right now", "atm": "at the moment", "pls": "please",
    "plz": "please", "bc": "because", "cos": "because", "coz": "because", "cuz": "because",
    "b4": "before", "2day": "today", "2nite": "tonight", "tonite": "tonight",
    "2moro": "tomorrow", "tmrw": "tomorrow", "tmr": "tomorrow", "any1": "anyone",
    "some1": "someone", "no1": "no one", "every1": "everyone", "ppl": "people",
    "dr": "doctor", "drs": "doctors", "dr's": "doctors", "docs": "doctors", "doc": "doctor",
    "thx": "thanks", "n": "and", "nd": "and", "wiv": "with", "w": "with", "wat": "what",
    "wot": "what", "y": "why", "anymore": "any more", "anymor": "any more",
    "nomore": "no more", "evry": "every", "evryone": "everyone", "evry1": "everyone",
    "alot": "a lot", "myslef": "myself", "meself": "myself", "mysef": "myself",
    "myslf": "myself", "mself": "myself", "urself": "yourself", "yaself": "yourself",
    "yourslef": "yourself",
    # things people write for suicide and self-harm, and their misspellings
    "kms": "kill myself", "kys": "kill yourself", "unalive": "kill", "unaliving": "killing",
    "unalived": "killed", "sucide": "suicide", "suicde": "suicide", "suiside": "suicide",
    "suicid": "suicide", "sucidal": "suicidal", "suicdal": "suicidal",
    "suisidal": "suicidal", "suicidle": "suicidal", "suacidal": "suicidal",
    "sucicidal": "suicidal", "suicidial": "suicidal", "suicida": "suicidal",
    "kil": "kill", "kiling": "killing", "kms.": "kill myself", "selfharm": "self harm",
    "selfharming": "self harming", "sh": "self harm", "od": "overdose", "oding": "overdosing",
    "od'd": "overdosed", "odd": "overdosed", "overdoze": "overdose", "overdos": "overdose",
    "sum": "some", "takin": "taking", "thru": "through", "tho": "though",
    "tabs": "tablets", "tabz": "tablets", "tablts": "tablets", "pils": "pills",
    "medz": "meds", "meds": "meds", "medicaton": "medication", "medicatin": "medication",
    "medcation": "medication", "medecine": "medicine", "medicen": "medicine",
    "insluin": "insulin", "insulen": "insulin", "insullin": "insulin", "insuline": "insulin",
    "insolin": "insulin", "inslin": "insulin", "inhailer": "inhaler", "inhaller": "inhaler",
    "inhailers": "inhalers", "steriods": "steroids", "steriod": "steroid",
    "antidepressents": "antidepressants", "anti-depressants": "antidepressants",
    "antideps": "antidepressants", "ads": "antidepressants", "metfornin": "metformin",
    "metformim": "metformin", "stains": "statins", "statin": "statins",
    "a&e": "a and e", "ae": "a and e", "aande": "a and e",
    "gp's": "gps", "docter": "doctor", "doctr": "doctor", "docters": "doctors",
    "tomorow": "tomorrow", "tommorow": "tomorrow", "tonigh": "tonight",
    "goodbye": "goodbye", "gudbye": "goodbye", "bye": "bye",
    "wiht": "with", "teh": "the", "becuase": "because", "becasue": "because",
    "pointless": "pointless", "nothin": "nothing", "noone": "no one", "nobody": "no one",
    "everybody": "everyone", "somebody": "someone", "anybody": "anyone",
}
_PHRASES = [
    (re.compile(r"\bsewer slide\b"), "suicide"),
    (re.compile(r"\bself - harm"), "self harm"),
    (re.compile(r"\bcan not\b"), "cannot"),
    (re.compile(r"\bany more\b"), "any more"),
]

_INVISIBLE = re.compile(r"[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
                        r"\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f"
                        r"\ufeff\uffa0]")
_SENTENCE = re.compile(r"(?:[.!?;:\n\r]+(?!\d)|\s-\s|\s\u2022\s)+")
_NON_WORD = re.compile(r"[^a-z0-9'&,*]+")
_MASKABLE_WORDS = (
    "bitch bitches faggot faggots fag fags paki pakis retard retarded slag slut cunt twat "
    "whore nigger niggers fuck fucking fucker shit shite tranny trannies dyke dykes spastic "
    "wanker bastard prick dick cock kill suicide"
)
_MASKABLE = _MASKABLE_WORDS.split()
_COMMA = re.compile(r"\s*,+\s*")
_SPACED_LETTERS = re.compile(r"\b(?:[a-z][ .\-_*]){3,}[a-z]\b")
_HAS_SPACED = re.compile(r"\b[a-z][ .\-_*][a-z][ .\-_*][a-z][ .\-_*][a-z]\b")
_RUNS = re.compile(r"([a-z])\1{2,}")
_CONTRACTIONS = [
    (re.compile(r"\b(?:can't|cannot)\b"), "cannot"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\bain't\b"), "am not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\bi'm\b"), "i am"),
    (re.compile(r"\b(he|she|it|that|what|who|there|here|where|how|everyone|nobody|someone|"
                r"somebody|this|everything|nothing|life)'s\b"), r"\1 is"),
]


def _unmask(word: str) -> str:
    """"b*tch", "f**k": a starred word read as the word it hides, if it is one of ours."""
    shape = re.compile("".join("[a-z]{1,3}" if ch == "*" else re.escape(ch)
                               for ch in re.sub(r"\*+", "*", word)) + "$")
    for candidate in _MASKABLE:
        if shape.match(candidate):
            return candidate
    return word.replace("*", "")


@dataclass(frozen=True)
class Normalised:
    plain: str
    sentences: tuple[str, ...]

    @property
    def words(self) -> str:
        return " . ".join(self.sentences)


def fold(text: str) -> str:
    """The `plain` form: what the writer meant each character to be, in lower case."""
    text = text[:MAX_SCREEN_CHARS]
    if text.isascii():  # most messages: nothing to unify but case
        return text.lower()
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = "".join(
        ch for ch in unicodedata.normalize("NFKD", text.translate(_HOMOGLYPHS))
        if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf"
    )
    return unicodedata.normalize("NFKC", text).casefold().translate(_HOMOGLYPHS)


_HAS_LEET = re.compile(r"[a-z][0-9@$!|€+]|[0-9@$!|€+][a-z]")


def _letters(text: str) -> str:
    """Spaced and dotted letters joined, digits and symbols inside words read as letters."""
    if _HAS_SPACED.search(text):
        text = _SPACED_LETTERS.sub(_unspace, text)
    if _HAS_LEET.search(text):
        text = _LEET_WORD.sub(_deleet, text)
    return text


def _deleet(m: re.Match) -> str:
    """"k1ll", "$uicide", "k!ll" → letters; "help!" and "07700" stay as they are."""
    word = m.group()
    if not any("a" <= ch <= "z" for ch in word):
        return word
    core = word.rstrip("!|+")
    return core.translate(_LEET) + word[len(core):]


def _unspace(m: re.Match) -> str:
    return re.sub(r"[ .\-_*]", "", m.group())


class Normaliser:
    """Makes the `words` form; knows the rules' vocabulary, so a stretched word
    ("killlll", "anymoreeee") is shortened to the spelling the rules use."""

    def __init__(self, vocabulary: Iterable[str] = (), fuzzy: Iterable[str] = ()):
        self.vocabulary = frozenset(vocabulary)
        # One slip of the finger in a long word the rules care about ("metforman",
        # "suicdal", "insuln"): every spelling with one letter dropped points back to it.
        self.near: dict[str, str] = {}
        for word in fuzzy:
            if len(word) >= 6:
                self.near.setdefault(word, word)
                for i in range(len(word)):
                    self.near.setdefault(word[:i] + word[i + 1:], word)

    def __call__(self, text: str) -> Normalised:
        plain = fold(text or "")
        # Before splitting into sentences: "s.u.i.c.i.d.a.l" and "k!ll" are words.
        letters = _letters(plain)
        sentences = []
        for chunk in _SENTENCE.split(letters):
            words = self.words_of(chunk)
            if words:
                sentences.append(words)
        return Normalised(plain=plain, sentences=tuple(sentences))

    def words_of(self, chunk: str) -> str:
        chunk = _letters(chunk)
        if "'" in chunk:
            for pattern, replacement in _CONTRACTIONS:
                chunk = pattern.sub(replacement, chunk)
            chunk = chunk.replace("'", "")
        chunk = _COMMA.sub(" , ", _NON_WORD.sub(" ", chunk))  # commas mark clauses
        out = []
        for word in chunk.split():
            word = word.strip("&*")
            if not word:
                continue
            if "*" in word:
                word = _unmask(word)
            if _RUNS.search(word):
                word = self.unstretch(word)
            word = _WORDS.get(word, word)
            if len(word) >= 5 and word not in self.vocabulary and word not in _WORDS:
                word = self.correct(word)
            out.append(word)
        text = " ".join(out)
        for pattern, replacement in _PHRASES:
            text = pattern.sub(replacement, text)
        return text

    def correct(self, word: str) -> str:
        """"takin" → "taking"; one letter missing, extra or wrong in a watched word."""
        if word.endswith("in") and word + "g" in self.vocabulary:
            return word + "g"
        if not self.near or not 6 <= len(word) <= 30:  # no drug or crisis word is longer
            return word
        if word in self.near:  # a letter missing
            return self.near[word]
        for i in range(len(word)):  # a letter extra, or (both sides dropped) one wrong
            found = self.near.get(word[:i] + word[i + 1:])
            if found is not None and abs(len(found) - len(word)) <= 1:
                return found
        return word

    def unstretch(self, word: str) -> str:
        """Runs of three or more of a letter become two if that spells a known word,
        otherwise one ("killlll" → "kill", "soooo" → "so", "anymoreee" → "anymore")."""
        double = _RUNS.sub(r"\1\1", word)
        if double in self.vocabulary or double in _WORDS:
            return double
        return _RUNS.sub(r"\1", word)
