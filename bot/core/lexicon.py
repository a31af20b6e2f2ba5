"""Common words of each language, to tell a misspelling from another real word.

A short word one letter away from a keyword is often another word altogether ("מכיר", I know,
is one letter from "מחיר", price; "شعر", hair, from "سعر"); a word people commonly write is
read as itself, never as a typo of a keyword. The words come from `wordfreq` (its Zipf scale:
3.5 is about once in 300,000 words), folded the way messages are (`text.fold`), and are loaded
once per language, the first time a rule set needs them.
"""

from __future__ import annotations

from functools import cache

from bot.core.text import fold

#: a word at least this common (Zipf scale) is a word of its own, not a typo
COMMON_ZIPF = 3.5
_LANGUAGES = {"he": "he", "ar": "ar", "latin": "en"}


@cache
def common_words(script: str) -> frozenset[str]:
    """The common words of the language written in `script` ('he', 'ar', 'latin'), folded."""
    language = _LANGUAGES.get(script)
    if language is None:
        return frozenset()
    import wordfreq  # here: it costs 0.2 s to import, and most commands never need it

    # wordfreq keeps lists by frequency, a list per centibel (1/100 of a factor of ten) below
    # a share of 1: Zipf 3.5 is a share of 10^-5.5, the first 551 lists. Read uncached
    # (`__wrapped__`): wordfreq would otherwise keep all 600,000 words of each language.
    buckets = wordfreq.get_frequency_list.__wrapped__(language)
    last = round((9 - COMMON_ZIPF) * 100)
    return frozenset(fold(word) for bucket in buckets[: last + 1] for word in bucket)


def warm() -> None:
    """Load every language's common words now (0.7 s), not while a client's message waits."""
    for script in _LANGUAGES:
        common_words(script)
