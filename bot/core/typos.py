"""Typos: which message words may be misspellings of a keyword, and how many letters may differ.

A keyword word is indexed under its one-letter deletions; a message word is looked up under its
own, so two words one edit apart meet in one dictionary lookup whatever the number of keywords
(the "symmetric delete" idea of SymSpell). A candidate is then checked with the real
Damerau–Levenshtein distance (a swap of two letters is one edit).
"""

from __future__ import annotations

from functools import lru_cache

from rapidfuzz.distance import DamerauLevenshtein

from bot.core.forms import script_of, token_variants
from bot.core.lexicon import common_words
from bot.core.text import prefix_stems


def typo_edits(typed: str, word: str) -> int:
    """How many edits make `typed` into `word` if it may be a misspelling of it (1 or 2), else 0.

    A longer word that merely contains the keyword ("supportive", "תמכירות") is another word,
    and so is the keyword behind a prefix (handled, with its switch, as a prefix).
    """
    if typed == word:
        return 0
    distance = DamerauLevenshtein.distance(typed, word, score_cutoff=2)
    if distance > 2:
        return 0
    if len(typed) != len(word) and (word in typed or typed in word):
        return 0
    return 0 if word in prefix_stems(typed) else distance


@lru_cache(maxsize=16384)
def typo_probes(token: str) -> tuple[tuple[str, bool, tuple[str, ...]], ...]:
    """For each variant of a message word long enough to hold a typo, its deletion keys."""
    return tuple(
        (variant, prefixed, deletions(variant))
        for variant, prefixed in token_variants(token)
        if typo_distance(variant, fuzzy=True)
    )


def typo_distance(word: str, *, fuzzy: bool) -> int:
    """How many letters may be wrong in a word of this length (0: no typo tolerance).

    Four letters allow one (two from nine); `fuzzy: true` counts every word one letter longer,
    so three-letter words allow one too. A message word that is itself a common word is never
    read as a typo (see `is_real_word`): measured on the quality set, that is what kept short
    words from wrong cards ('חניה', parking, read as 'חינה', henna).
    """
    if not word.isalpha():
        return 0
    length = len(word)
    if fuzzy:
        length += 1
    if length >= 9:
        return 2
    if length >= 4:
        return 1
    return 0


def is_real_word(token: str) -> bool:
    """Whether a message word, or the word behind its prefix, is a common word of its own
    language ("מכיר", "شعر", "look"): then it is that word, not a typo of a keyword."""
    return any(variant in common_words(script_of(variant)) for variant, _ in token_variants(token))


#: letters that sound alike in Hebrew, or differ only by their dots in Arabic (or merge in
#: spoken Arabic): the typos a short word gets ("הטור" for "התור", "قطغ" for "قطع")
_CONFUSABLE_PAIRS = (
    "טת", "כח", "כק", "סש", "אע", "בו",
    "سش", "صض", "طظ", "عغ", "حخ", "جح", "دذ", "رز", "تث", "بت", "تن", "فق", "سص", "تط",
    "دض", "ذز", "ظض", "كق", "ثس",
)  # fmt: skip
_CONFUSABLE: dict[str, str] = {}
for _pair in _CONFUSABLE_PAIRS:
    _CONFUSABLE[_pair[0]] = _CONFUSABLE.get(_pair[0], "") + _pair[1]
    _CONFUSABLE[_pair[1]] = _CONFUSABLE.get(_pair[1], "") + _pair[0]


def confusions(word: str) -> tuple[str, ...]:
    """`word` with one letter replaced by one that sounds or looks like it, each way: the
    typo a three-letter Hebrew or Arabic word may have without `fuzzy` (a four-letter one
    may have any, like a longer word)."""
    if len(word) != 3 or not word.isalpha():
        return ()
    found = []
    for i, letter in enumerate(word):
        for other in _CONFUSABLE.get(letter, ""):
            found.append(word[:i] + other + word[i + 1 :])
    return tuple(found)


@lru_cache(maxsize=16384)
def deletions(word: str) -> tuple[str, ...]:
    """`word` and every string one letter shorter: the keys two near words share."""
    return (word, *{word[:i] + word[i + 1 :] for i in range(len(word))})
