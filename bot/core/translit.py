"""Hebrew and Arabic written in Latin letters: "mishloach" is משלוח, "3otl" is عطل, "tawseel" توصيل.

Clients type Hebrew and Arabic with a Latin keyboard (Arabizi uses digits for the letters Latin
lacks: 3 ع, 7 ح, 2 ء, 5 خ, 6 ط, 9 ق). Both sides are reduced to a consonant skeleton in one
alphabet of sound classes: vowels and the letters that mostly write vowels (א ו י ע, ا و ي)
drop out, letters a Latin writer cannot tell apart share a class (ש/ס and s/sh; ח/ה/כ and
h/ch/kh/7/5; כ/ק and k/c/q), and a letter with two readings gives two skeletons (כ is k or ch,
ج is j or g, ع is 3 or nothing). A word matches a keyword when their skeletons are equal.

Only messages that are visibly transliterated are read this way — a Latin word with a digit for
a letter ("3andkom", "la2") or a common Hebrew/Arabic word in Latin letters ("yesh", "efshar",
"shel", "bdi", "fi", "mish") — and never an English function word, so English is never read
as Hebrew.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import product

from bot.core import cues

#: Latin spellings of two letters that make one sound, read before single letters
_DIGRAPHS = (
    ("sh", "s"), ("ch", "h"), ("kh", "h"), ("gh", "g"), ("th", "t"), ("ts", "c"), ("tz", "c"),
    ("ph", "f"), ("dh", "d"), ("ck", "k"),
)  # fmt: skip
_LATIN = {
    "b": "b", "v": "b", "p": "f", "f": "f", "g": "g", "j": "j", "d": "d", "t": "t", "k": "k",
    "c": "k", "q": "k", "x": "h", "h": "h", "l": "l", "m": "m", "n": "n", "r": "r", "s": "s",
    "z": "z", "3": "e", "7": "h", "5": "h", "6": "t", "9": "k",
}  # fmt: skip
#: Hebrew and Arabic letters (already folded: final forms, ة->ه, ى->ي) -> their classes
_SCRIPT: dict[str, tuple[str, ...]] = {
    **dict.fromkeys("אוי", ("",)), "ע": ("",), "ב": ("b",), "ג": ("g",), "ד": ("d",),
    "ה": ("h",), "ז": ("z",), "ח": ("h",), "ט": ("t",), "כ": ("k", "h"), "ל": ("l",),
    "מ": ("m",), "נ": ("n",), "ס": ("s",), "פ": ("f",), "צ": ("c",), "ק": ("k",), "ר": ("r",),
    "ש": ("s",), "ת": ("t",),
    **dict.fromkeys("اويءئؤ", ("",)), "ب": ("b",), "ت": ("t",), "ث": ("t", "s"),
    "ج": ("j", "g"), "ح": ("h",), "خ": ("h",), "د": ("d",), "ذ": ("d", "z"), "ر": ("r",),
    "ز": ("z",), "س": ("s",), "ش": ("s",), "ص": ("s",), "ض": ("d",), "ط": ("t",),
    "ظ": ("z", "d"), "ع": ("e", ""), "غ": ("g",), "ف": ("f",), "ق": ("k", ""), "ك": ("k",),
    "ل": ("l",), "م": ("m",), "ن": ("n",), "ه": ("h",),
}  # fmt: skip
#: one-syllable prefixes written onto a transliterated word: "lamishloach", "bastalem"
_PREFIXES = ("ha", "le", "la", "li", "be", "ba", "bi", "ve", "wa", "el", "al", "il", "w", "b", "l")
#: common Hebrew and Arabic words in Latin letters: a message with one is transliterated
MARKERS = frozenset(
    [
        "ani",
        "yesh",
        "ein",
        "efshar",
        "shel",
        "lachem",
        "lecha",
        "lach",
        "lanu",
        "li",
        "rotsa",
        "rotse",
        "rotsim",
        "rotza",
        "rotze",
        "ma",
        "mi",
        "eich",
        "eifo",
        "matai",
        "kama",
        "hayom",
        "machar",
        "toda",
        "todah",
        "shalom",
        "bevakasha",
        "ken",
        "lo",
        "zeh",
        "ze",
        "sheli",
        "im",
        "et",
        "fi",
        "bdi",
        "baddi",
        "badi",
        "ana",
        "inta",
        "inte",
        "mish",
        "msh",
        "shu",
        "sho",
        "eish",
        "wen",
        "wein",
        "kif",
        "iza",
        "law",
        "bel",
        "bil",
        "ala",
        "min",
        "mn",
        "hala",
        "halla",
        "bukra",
        "bokra",
        "marhaba",
        "ahlan",
        "salam",
        "yalla",
        "kaman",
        "bas",
        "hek",
        "hon",
        "mumkin",
        "momken",
        "ya3tikom",
        "3ndkom",
        "3andkom",
        "la2",
        "hala2",
        "ma3",
        "3ala",
    ]
)
_DIGIT_FOR_LETTER = re.compile(r"[a-z][2356789]|[2356789][a-z]")
_MIN_CLASSES = 2


def is_transliterated(tokens: list[str]) -> bool:
    """True if the message visibly writes Hebrew or Arabic in Latin letters."""
    if MARKERS.isdisjoint(tokens) and all(map(str.isalpha, tokens)):
        return False
    words = set(tokens)
    markers = len(MARKERS.intersection(words))
    markers += sum(
        1
        for word in words
        if not word.isalpha() and word.isascii() and _DIGIT_FOR_LETTER.search(word)
    )
    return markers > len(cues.FUNCTION_WORDS.intersection(words) - MARKERS)


@lru_cache(maxsize=16384)
def latin_skeletons(token: str) -> tuple[str, ...]:
    """The skeletons a Latin word may be, itself and without a one-syllable prefix."""
    if not token.isascii() or token in MARKERS or token in cues.FUNCTION_WORDS:
        return ()
    found = [_latin(token)]
    for prefix in _PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 3:
            found.append(_latin(token[len(prefix) :]))
    return tuple(dict.fromkeys(s for s in found if len(s) >= _MIN_CLASSES))


def script_skeletons(word: str) -> tuple[str, ...]:
    """The skeletons a Hebrew or Arabic word may be written as in Latin letters."""
    if not word or word.isascii():
        return ()
    choices = []
    for n, letter in enumerate(word):
        classes = _SCRIPT.get(letter)
        if classes is None:
            return ()
        if n == len(word) - 1 and letter in "הه":
            classes = ("",)  # a final ה/ة is a vowel
        choices.append(classes)
    if len(choices) > 12:
        return ()
    found = set()
    for parts in product(*choices):
        skeleton = _collapse("".join(parts))
        dropped = any(not part and any(c) for part, c in zip(parts, choices, strict=True))
        # two classes are little to go on: only when no letter was read as silent to get them
        if len(skeleton) >= _MIN_CLASSES + (1 if dropped else 0):
            found.add(skeleton)
    return tuple(sorted(found))


def _latin(token: str) -> str:
    out = []
    n = 0
    while n < len(token):
        pair = token[n : n + 2]
        for digraph, sound in _DIGRAPHS:
            if pair == digraph:
                out.append(sound)
                n += 2
                break
        else:
            out.append(_LATIN.get(token[n], ""))
            n += 1
    return _collapse("".join(out))


def _collapse(skeleton: str) -> str:
    """One class for a doubled letter: "sayyara", "tawseel"."""
    return re.sub(r"(.)\1+", r"\1", skeleton)
