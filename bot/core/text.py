"""Normalisation and tokens: how a message and a keyword are made comparable.

Both sides go through the same steps, so "Sales", "SALES!!" and "sales🙂" are one word and
"שָׁלוֹם" (with niqqud) equals "שלום". Python's `re` splits words at combining marks, so
tokens come from the `regex` module, after the marks are gone (see engineering notes).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import regex

__all__ = [
    "ARABIC_PREFIXES",
    "HEBREW_PREFIXES",
    "PREFIXES",
    "fold",
    "keyword_tokens",
    "normalize",
    "prefix_stems",
    "tokenize",
    "words_of",
]

# Hebrew final letters fold to their ordinary form; Arabic look-alikes to one letter.
# (Alef with hamza/madda lose their mark in the NFD step below, so they need no entry.)
# (str.translate with a dict costs ~4 µs per message; a few `replace` calls cost 0.2 µs.)
# Persian keyboards write ک and ی for Arabic ك and ي.
_FOLD_PAIRS = (
    ("ך", "כ"), ("ם", "מ"), ("ן", "נ"), ("ף", "פ"), ("ץ", "צ"),
    ("ة", "ه"), ("ى", "ي"), ("ک", "ك"), ("ی", "ي"),
)  # fmt: skip
_RARE = regex.compile(r"[\u0640\u0671\u0660-\u0669\u06F0-\u06F9]")
_RARE_TABLE = str.maketrans(
    {
        "\u0640": None,  # tatweel: a stretch stroke, not a letter
        "\u0671": "ا",  # alef wasla
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian digits
    }
)
_MARKS = regex.compile(r"\p{M}+")
# An apostrophe or geresh/gershayim inside a word belongs to it: don't -> dont, מע"מ -> מעמ.
_INNER_QUOTE = regex.compile(r"(?<=\p{L})['’`׳״\"](?=\p{L})")
# Words are split out of *folded* text, whose combining marks are gone, so the standard library's
# `re` splits them right (letters and digits, `[^\W_]`) at about half the cost of `regex`.
_WORD = re.compile(r"[^\W_]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_ASCII_INNER_QUOTE = regex.compile(r"(?<=[a-z])['`\"](?=[a-z])")


def tokenize(text: str) -> list[str]:
    """The words of `text`, normalised: emoji and punctuation separate words, never break one."""
    return words_of(fold(text))


@lru_cache(maxsize=65536)
def keyword_tokens(keyword: str) -> tuple[str, ...]:
    """A keyword's words, as `tokenize` gives them (remembered: loading, checking and
    linting a rule file each ask for every keyword's words)."""
    return tuple(tokenize(keyword))


def fold(text: str) -> str:
    """`text` normalised letter by letter (case, marks, final letters, digits), punctuation kept.

    `words_of(fold(text))` are its tokens; the punctuation left in place lets the caller cut the
    folded text into clauses without normalising each clause again.
    """
    if text.isascii():
        lowered = text.lower()
        if "'" in lowered or '"' in lowered or "`" in lowered:
            lowered = _ASCII_INNER_QUOTE.sub("", lowered)
        return lowered
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    folded = _MARKS.sub("", folded)
    for final, ordinary in _FOLD_PAIRS:
        if final in folded:
            folded = folded.replace(final, ordinary)
    if _RARE.search(folded):
        folded = folded.translate(_RARE_TABLE)
    return _INNER_QUOTE.sub("", folded)


def words_of(folded: str) -> list[str]:
    """The words of text already folded by `fold`."""
    if folded.isascii():
        return _ASCII_WORD.findall(folded)
    return _WORD.findall(folded)


def normalize(text: str) -> str:
    """`text` as its normalised words joined by single spaces (what keywords are matched on)."""
    return " ".join(tokenize(text))


def _hebrew_prefixes() -> frozenset[str]:
    # Optional "and" (ו), then optional "that/when" (ש, כש), then optional one of ה ב ל מ כ,
    # plus the pairs people write although grammar contracts them (לה, בה, מה).
    found = set()
    for vav in ("", "ו"):
        for that in ("", "ש", "כש"):
            for last in ("", "ה", "ב", "ל", "מ", "כ"):
                found.add(vav + that + last)
    found.update({"לה", "בה", "מה", "ולה", "ובה", "ומה", "שבה", "שלה"})
    found.discard("")
    return frozenset(found)


def _arabic_prefixes() -> frozenset[str]:
    # The article ال with an optional و/ف ("and") and ب/ك ("with/like"); ل+ال is written لل,
    # and spoken على+ال is written عال ("عالبيت", home; "عالونش", to the tow truck).
    found = {"ال", "لل", "و", "ف", "ب", "ل", "ك", "ولل", "فلل", "عال", "وعال"}
    for conj in ("", "و", "ف"):
        for prep in ("", "ب", "ك"):
            found.add(conj + prep + "ال")
            if prep:
                found.add(conj + prep)
    return frozenset(found)


HEBREW_PREFIXES: frozenset[str] = _hebrew_prefixes()
ARABIC_PREFIXES: frozenset[str] = _arabic_prefixes()
#: every one-to-four-letter prefix that may precede a keyword when a rule allows prefixes
PREFIXES: frozenset[str] = HEBREW_PREFIXES | ARABIC_PREFIXES
#: a keyword shorter than this never matches behind a prefix ("מה" is not "ה" + "מ...")
MIN_STEM = 2


@lru_cache(maxsize=4096)
def prefix_stems(word: str) -> tuple[str, ...]:
    """`word` and every stem left after removing one known prefix ("ולמכירות" -> "מכירות", ...)."""
    stems = [word]
    for cut in range(1, min(4, len(word) - MIN_STEM) + 1):
        if word[:cut] in PREFIXES:
            stems.append(word[cut:])
    return tuple(stems)
