"""Evidence that a message is about a rule, and how much each piece weighs.

A piece of evidence is one keyword found in the message and how (as written, behind a prefix,
another form, the same root, a typo). Its weight depends on how it was found, how long the
phrase is, whether the message negates it ("not delivery"), and how central its clause is:
"mainly…", "I need…", a question or what follows "but" weigh more; "later…", "thanks for…",
"yesterday…" weigh less.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import lru_cache

from bot.core import cues
from bot.core.forms import token_variants

#: how much one piece of evidence weighs, by how it was found
WEIGHTS = {
    "exact": 1.0,
    "prefix": 1.0,
    "respelled": 1.0,
    "pattern": 1.0,
    "form": 0.85,
    "typo": 0.7,
    "root": 0.6,
    "example": 0.5,
    "latin": 0.7,
    "greeting": 0.3,
    "any": 0.0,
}
#: evidence that stands for no word of the message: it is never a keyword in a clause, a name
#: or an aside, nor the thing another keyword acts on
NOT_WORDS = ("greeting", "any", "pattern", "example")
#: each word of a phrase beyond the first makes it this much stronger ("כמה עולה" > "עולה")
PHRASE_BONUS = 0.25
#: a keyword counts as negated when a negator stands this many words before it, or fewer
NEGATION_REACH = 3
#: a word, or punctuation that ends a clause
_WORD_OR_MARK = re.compile(r"([^\W_]+)|([,.!?;:،؛؟\n()\[\]|…—–\"]+|\s-\s)")


# not frozen: a frozen dataclass costs 1.3 µs more to make, once per keyword found in every
# message; evidence is still never changed in place, only replaced (`dataclasses.replace`)
@dataclass(slots=True)
class Evidence:
    """One keyword of one rule found in a message, and how."""

    rule: int
    keyword: str  #: as the owner wrote it
    found: str  #: the message's words that matched, normalised
    #: exact | prefix | respelled | form | root | typo | latin | example | greeting | pattern | any
    how: str
    start: int  #: first word (token index)
    end: int  #: one past the last word
    negated: bool = False
    #: the name it only describes ("party" in "the Party Platter"): then it does not count
    named: str = ""
    size: int = 1  #: words in the keyword
    #: what the message is about instead ("an item left behind", "a job"): then it does not count
    aside: str = ""

    @property
    def weight(self) -> float:
        """How strongly this evidence says the message is about its rule."""
        if not self.counts:
            return 0.0
        return WEIGHTS[self.how] * (1 + PHRASE_BONUS * (self.size - 1))

    def describe(self) -> str:
        """'shipped' is a form of 'shipping', in words an owner reads."""
        keyword, found = self.keyword, self.found
        if self.how == "any":
            return "any message"
        if self.how == "pattern":
            return keyword
        text = {
            "exact": f"'{keyword}'",
            "prefix": f"'{keyword}' (in '{found}')",
            "respelled": f"'{keyword}' (written '{found}')",
            "form": f"'{found}', a form of '{keyword}'",
            "root": f"'{found}', same root as '{keyword}'",
            "typo": f"'{found}' read as '{keyword}' (typo)",
            "latin": f"'{found}', '{keyword}' in Latin letters",
            "greeting": f"'{found}', a greeting like '{keyword}'",
            "example": f"its example '{keyword}' (no keyword, but written like it: {found})",
        }[self.how]
        if self.named:
            return f"{text}, only part of the name '{self.named}'"
        if self.aside:
            return f"{text}, said about {self.aside}"
        return f"{text}, negated" if self.negated else text

    @property
    def counts(self) -> bool:
        """Neither negated, nor only part of a name, nor said about what no service is for."""
        return not self.negated and not self.named and not self.aside


def mark_negations(folded: str, tokens: list[str], found: dict[int, list[Evidence]]) -> None:
    """Mark evidence the message negates: "not X", "לא צריך X", "X לא צריך".

    `folded` is the message's text as `text.fold` gives it, `tokens` its words.
    """
    if cues.NEGATORS.isdisjoint(tokens) and cues.ABSENCE.isdisjoint(tokens):
        return
    clauses = clause_ids(folded, len(tokens))
    for evidence in found.values():
        for i, item in enumerate(evidence):
            if item.how in ("pattern", "any"):
                continue
            # a negation reaches to the end of its clause, no further
            first, last = item.start, item.end
            while first > 0 and clauses[first - 1] == clauses[item.start]:
                first -= 1
            while last < len(tokens) and clauses[last] == clauses[item.start]:
                last += 1
            # "no X, just Y": what follows says X was the thing not wanted
            rather = last < len(tokens) and is_cue(tokens[last], cues.NEGATION_STOPS)
            if not _is_negated(
                tokens[first:last], item.start - first, item.end - first, rather=rather
            ):
                continue
            evidence[i] = dataclasses.replace(item, negated=True)


def _is_negated(tokens: list[str], start: int, end: int, *, rather: bool = False) -> bool:
    absent = False
    for back in range(start - 1, max(-1, start - 1 - NEGATION_REACH), -1):
        token = tokens[back]
        if is_cue(token, cues.NEGATION_STOPS):
            break
        if token in cues.NEGATORS:
            return True
        if token in cues.ABSENCE:
            absent = True
        elif is_cue(token, cues.NOT_NEEDED) and back > 0 and tokens[back - 1] in cues.ABSENCE:
            return True  # "no need for X", "אין צורך ב-X"
    after = tokens[end : end + 2]
    if absent:  # "no X needed", "no X, just Y"
        return rather or any(is_cue(t, cues.NOT_NEEDED) for t in after)
    return len(after) == 2 and after[0] in cues.NEGATORS and is_cue(after[1], cues.NOT_NEEDED)


@lru_cache(maxsize=16384)
def _clause_cues(token: str) -> tuple[bool, bool, bool, bool]:
    """Whether `token` marks its clause as the point, a request, background, or a contrast."""
    return (
        is_cue(token, cues.FOCUS),
        is_cue(token, cues.REQUEST),
        is_cue(token, cues.BACKGROUND),
        is_cue(token, cues.CONTRAST),
    )


def is_cue(token: str, words: frozenset[str]) -> bool:
    """`token`, or `token` without a Hebrew/Arabic prefix, is one of `words`."""
    return any(variant in words for variant, _ in token_variants(token))


def split_clauses(folded: str) -> list[tuple[list[str], str]]:
    """A folded text's clauses: the words of each, and the punctuation that closes it.

    One pass of one expression, so the words are those `text.words_of` gives.
    """
    clauses: list[tuple[list[str], str]] = []
    words: list[str] = []
    for word, mark in _WORD_OR_MARK.findall(folded):
        if word:
            words.append(word)
        else:
            clauses.append((words, mark))
            words = []
    clauses.append((words, ""))
    return clauses


def clause_ids(folded: str, count: int) -> list[int]:
    """For each of the `count` words of a folded text, the number of its clause."""
    ids: list[int] = []
    for number, (words, _) in enumerate(split_clauses(folded)):
        ids.extend([number] * len(words))
    return ids if len(ids) == count else [0] * count


def clause_weights(folded: str, count: int, topics: frozenset[int] = frozenset()) -> list[float]:
    """For each of the `count` words of a folded text, how central its clause is to the message.

    The text is cut into clauses at punctuation; a clause that marks its point ("mainly",
    "I need") or asks a question weighs more, one in the background ("later", "thanks for",
    "yesterday") less, and a clause after "but" more. The words at `topics` (keywords found)
    are what a clause is about, never a cue too: "urgent" as a rule's keyword does not also
    make its own clause the point.
    """
    weights: list[float] = []
    after_contrast = False
    carried = 0.0  # what a lead-in ("but first of all -") gives the clause after it
    position = 0
    for words, mark in split_clauses(folded):
        if not words:
            continue
        # "X but Y" inside one clause: split at the contrast word
        parts: list[list[str]] = [[]]
        for word in words:
            if _clause_cues(word)[3] and parts[-1]:
                parts.append([])
            parts[-1].append(word)
        for n, part in enumerate(parts):
            focus = request = background = 0
            lead_in = True  # only cues and function words: it points at what follows
            for word in part:
                position += 1
                if position - 1 in topics:
                    lead_in = False
                    continue
                is_focus, is_request, is_background, is_contrast = _clause_cues(word)
                focus += is_focus
                request += is_request
                background += is_background
                if not (is_focus or is_contrast or is_cue(word, cues.FUNCTION_WORDS)):
                    lead_in = False
            weight = 1.0 + 0.5 * min(2, focus) + 0.3 * min(1, request) - 0.4 * min(2, background)
            if "?" in mark or "؟" in mark:
                weight += 0.2
            if after_contrast or n > 0:
                weight += 0.3
            weight += carried
            carried = weight - 1.0 if lead_in and focus and weight > 1.0 else 0.0
            weights.extend([max(0.2, weight)] * len(part))
            after_contrast = False
        after_contrast = bool(words) and _clause_cues(words[-1])[3]
    if len(weights) != count:  # a split that changed the words: weigh all alike
        return [1.0] * count
    return weights
