"""A rule's vocabulary beyond its keywords: the other words of its phrases and its examples.

When two rules or more have evidence in a message, a rule whose own phrases and `examples:`
also use the message's other words is the likelier topic: "אני מבטלת את התור" matches the
appointment rule's keyword "תור" and the cancel rule's "ביטול" (same root), and the cancel
rule's phrase "להזיז תור" and its example "אני צריכה לבטל את התור של מחר" use "תור" too, so
the cancel rule is the one the owner wrote for this message. Such support words never make a
rule answer on their own, they only weigh in the ranking; function words and words shorter than
three letters never count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.core import cues
from bot.core.forms import FORM, token_variants, word_keys

#: how much one support word weighs (a keyword as written weighs 1)
SUPPORT_WEIGHT = 0.4
#: at most this many support words count for one rule
SUPPORT_WORDS = 2
_MIN_LETTERS = 3
#: words that say what a message does, not what it is about
_GENERIC = (
    cues.FUNCTION_WORDS
    | cues.REQUEST
    | cues.FOCUS
    | cues.BACKGROUND
    | cues.CONTRAST
    | cues.SOCIAL
    | cues.NEGATORS
    | cues.NOT_NEEDED
    | cues.NEGATION_STOPS
)


@dataclass(frozen=True, slots=True)
class Support:
    """A message word a rule's phrases or examples also use."""

    rule: int
    word: str  #: the rule's word, normalised
    source: str  #: the phrase or example it comes from, as written
    start: int  #: the message word's position


class SupportIndex:
    """Every rule's support words, under their word and stem keys."""

    def __init__(self) -> None:
        self._keys: dict[str, list[tuple[int, str, str]]] = {}

    def add(
        self,
        rule: int,
        keywords: Iterable[tuple[str, ...]],
        sources: Iterable[tuple[str, tuple[str, ...]]],
    ) -> None:
        """Index the words of `sources` (phrases and examples: their text and words) that are
        not one of the rule's one-word `keywords` (their words)."""
        own = {
            key
            for words in keywords
            if len(words) == 1
            for key, level in word_keys(words[0])
            if level >= FORM
        }
        seen: set[str] = set()
        for source, words in sources:
            for word in words:
                if word in seen or len(word) < _MIN_LETTERS or word in _GENERIC:
                    continue
                seen.add(word)
                keys = [key for key, level in word_keys(word) if level >= FORM]
                if any(key in own for key in keys):
                    continue
                for key in keys:
                    self._keys.setdefault(key, []).append((rule, word, source))

    def __bool__(self) -> bool:
        return bool(self._keys)

    def find(self, tokens: list[str], rules: Iterable[int]) -> dict[int, list[Support]]:
        """For each of `rules`, the message words its phrases or examples also use."""
        wanted = set(rules)
        found: dict[int, list[Support]] = {}
        for position, token in enumerate(tokens):
            taken: set[int] = set()
            for variant, _ in token_variants(token):
                if variant in _GENERIC:
                    break
                for key, level in word_keys(variant):
                    if level < FORM:
                        continue
                    for rule, word, source in self._keys.get(key, ()):
                        if rule in wanted and rule not in taken:
                            taken.add(rule)
                            found.setdefault(rule, []).append(Support(rule, word, source, position))
        return found
