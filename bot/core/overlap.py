"""Rules that compete for one word: different keywords that are forms of the same word.

"booking" in one rule and "booked" in another, "תור" and "תורים", "موعد" and "مواعيد": a client
who writes either word matches both rules, and the owner, who wrote two different words, may
not know. `rulebot check` warns once per pair of rules, at the later rule's keyword, and says
which answers. The same word in two rules is `lint`'s business; rules whose conditions exclude
each other (inside and outside the same hours) never compete.
"""

from __future__ import annotations

from bot.core.conditions import AllOf, Condition, Not
from bot.core.diagnostics import Diagnostics
from bot.core.forms import ROOT, word_keys
from bot.core.ruleset import CompiledRule, RuleSet
from bot.core.text import keyword_tokens


def warn_competing_forms(ruleset: RuleSet, skip: set[int], diagnostics: Diagnostics) -> None:
    """Warn where two rules' different keywords meet as forms of one word."""
    #: form key -> (rule, keyword as written, its position, its normalised word), first seen
    seen: dict[str, list[tuple[CompiledRule, str, int, str]]] = {}
    warned: set[tuple[int, int]] = set()
    for rule in ruleset.rules:
        if rule.index in skip or not rule.words.forms:
            continue
        for position, keyword in enumerate(rule.words.keywords):
            words = keyword_tokens(keyword)
            if len(words) != 1:
                continue
            word = words[0]
            keys = {key for key, level in word_keys(word) if level >= ROOT}
            for key in keys:
                for other, other_keyword, _, other_word in seen.get(key, ()):
                    pair = (other.index, rule.index)
                    if other_word == word or pair in warned or other.index == rule.index:
                        continue
                    if _exclusive(other.condition, rule.condition):
                        continue
                    warned.add(pair)
                    line = other.origin.position("name")[0]
                    diagnostics.warning(
                        f"keyword '{keyword}' and '{other_keyword}' of rule '{other.name}' "
                        f"(line {line}) are forms of one word: a message with either matches "
                        f"both rules, and the one with more to go on answers ('{other.name}' "
                        "on a tie)",
                        rule.origin.source,
                        (*rule.origin.path, "keywords", position),
                        hint="if one rule should answer it, keep the word in that rule only",
                    )
            for key in keys:
                seen.setdefault(key, []).append((rule, keyword, position, word))


def _exclusive(first: Condition | None, second: Condition | None) -> bool:
    """True if the two conditions can never hold at once (X and not X)."""
    if first is None or second is None:
        return False
    mine, theirs = _parts(first), _parts(second)
    return any(Not(c) in theirs or (isinstance(c, Not) and c.condition in theirs) for c in mine)


def _parts(condition: Condition) -> list[Condition]:
    if isinstance(condition, AllOf):
        return list(condition.conditions)
    return [condition]
