"""Typos: which message words may be misspellings of a keyword, and how many letters may differ.

A keyword word is indexed under its one-letter deletions; a message word is looked up under its
own, so two words one edit apart meet in one dictionary lookup whatever the number of keywords
(the "symmetric delete" idea of SymSpell). A candidate is then checked with the real
Damerau–Levenshtein distance (a swap of two letters is one edit).
"""

from __future__ import annotations

from functools import lru_cache

from rapidfuzz.distance import DamerauLevenshtein

from bot.core.forms import token_variants
from bot.core.text import prefix_stems


def is_typo(typed: str, word: str) -> bool:
    """True if `typed` may be a misspelling of `word` (not the word, nor a word around it).

    A longer word that merely contains the keyword ("supportive", "תמכירות") is another word,
    and so is the keyword behind a prefix (handled, with its switch, as a prefix).
    """
    if typed == word or DamerauLevenshtein.distance(typed, word, score_cutoff=2) > 2:
        return False
    if len(typed) != len(word) and (word in typed or typed in word):
        return False
    return word not in prefix_stems(typed)


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

    Five letters allow one (two from nine); `fuzzy: true` counts every word one letter longer.
    Four-letter Hebrew and Arabic words stay exact by default: measured on the quality set,
    allowing them a typo added wrong cards ('חניה' read as 'חינה') and no right ones.
    """
    if not word.isalpha():
        return 0
    length = len(word)
    if fuzzy:
        length += 1
    if length >= 9:
        return 2
    if length >= 5:
        return 1
    return 0


@lru_cache(maxsize=16384)
def deletions(word: str) -> tuple[str, ...]:
    """`word` and every string one letter shorter: the keys two near words share."""
    return (word, *{word[:i] + word[i + 1 :] for i in range(len(word))})
