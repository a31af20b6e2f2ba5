"""The rest of a phrase: how the words after a keyword's first word are read, and the other
ways clients write a phrase.

A phrase's first word is found through the index (`matcher`); the words after it are compared
here, each as its own keyword word would be (prefixes, other forms, a typo). A phrase that
starts with "without" may start with any word for it ("ללא גלוטן" is "בלי גלוטן"), and an
English phrasal verb may hold its object between its two words ("sign my son up").
"""

from __future__ import annotations

from bot.core import cues
from bot.core.forms import EXACT, TYPO, keyword_keys, script_of, token_variants, word_keys
from bot.core.typos import is_real_word, typo_distance, typo_edits


def rest_grade(
    words: tuple[str, ...],
    tokens: list[str],
    *,
    prefixes: bool,
    forms: bool,
    fuzzy: bool,
    typos: bool = True,
) -> int | None:
    """How well `tokens` spell the rest of a phrase (None: they don't), each within what the
    phrase's rule allows: prefixes, other forms, typos (`fuzzy` widens them)."""
    if len(tokens) < len(words):
        return None
    grade = EXACT
    for word, token in zip(words, tokens, strict=True):
        best: int | None = None
        wanted = dict(keyword_keys(word))
        for variant, prefixed in token_variants(token):
            if prefixed and not prefixes:
                continue
            for key, level in word_keys(variant):
                if key in wanted:
                    level = min(level, wanted[key])
                    if level == EXACT or forms:
                        best = level if best is None else max(best, level)
            if best is None and typos and not is_real_word(variant):
                distance = typo_edits(variant, word)
                if distance and distance <= typo_distance(word, fuzzy=fuzzy):
                    best = TYPO
        if best is None:
            return None
        grade = min(grade, best)
    return grade


def other_negators(tokens: tuple[str, ...]) -> list[str]:
    """For a phrase that starts with "without" ("ללא גלוטן", "بدون سكر", "without sugar"), the
    other words of its script that say the same ("בלי", "بلا", "no")."""
    if len(tokens) < 2 or tokens[0] not in cues.WITHOUT:
        return []
    script = script_of(tokens[0])
    return sorted(n for n in cues.WITHOUT if n != tokens[0] and script_of(n) == script)


#: the particles of English phrasal verbs ("sign up", "log in", "pick up")
PARTICLES = frozenset({"up", "in", "out", "off", "on", "down", "back", "over"})
#: how many words may stand between a phrasal verb and its particle ("sign my whole team up")
PARTICLE_REACH = 3


def particle_after(words: tuple[str, ...], tokens: list[str], start: int) -> int | None:
    """The end of a phrasal verb whose object stands between its two words ("sign my whole
    team up", "log me in"), or None: only a two-word keyword ending in a particle."""
    if len(words) != 2 or words[1] not in PARTICLES:
        return None
    last = min(len(tokens), start + 2 + PARTICLE_REACH)
    for position in range(start + 2, last):
        token = tokens[position]
        if token == words[1]:
            return position + 1
        if token in PARTICLES or token in cues.NEGATORS:
            return None
    return None
