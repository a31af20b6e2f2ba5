"""One message scanned against a rule set: every rule's evidence, exclusions, and the ranking.

`KeywordIndex.scan` fills it; the engine asks it which rules may answer, strongest first, and
how each matched. Ranking is here, finding is in `matcher`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import regex

from bot.core import cues
from bot.core.evidence import NOT_WORDS, WEIGHTS, Evidence, clause_ids, clause_weights
from bot.core.forms import script_of
from bot.core.support import SUPPORT_WEIGHT, SUPPORT_WORDS, Support

if TYPE_CHECKING:
    from bot.core.matcher import KeywordIndex

log = logging.getLogger(__name__)

#: how much a keyword counts that only describes another rule's keyword next to it
MODIFIER_WEIGHT = 0.75
#: a user pattern that runs longer than this counts as no match (and is logged)
PATTERN_TIMEOUT_S = 0.05
_QUESTION = regex.compile(r"[?؟]")


class MessageMatch:
    """One message, scanned: every rule's evidence, exclusions, and the ranking."""

    def __init__(self, text: str, folded: str, tokens: list[str], index: KeywordIndex) -> None:
        self.text = text
        #: the text as `text.fold` gives it: its words are `tokens`, its punctuation kept
        self.folded = folded
        self.tokens = tokens
        self._index = index
        #: rule index -> its evidence, in message order
        self.evidence: dict[int, list[Evidence]] = {}
        #: rule index -> the `exclude:` word found
        self.vetoes: dict[int, str] = {}
        self._clauses: list[float] | None = None
        self._support: dict[int, list[Support]] | None = None
        self._strengths: dict[int, float] = {}
        self._modifier_words: frozenset[tuple[int, int]] | None = None
        self._examples_checked = False

    @property
    def hits(self) -> dict[int, str]:
        """Rule index -> the first keyword (as written) found, not negated."""
        found = {}
        for rule, evidence in self.evidence.items():
            for item in evidence:
                if item.counts and item.how not in NOT_WORDS:
                    found[rule] = item.keyword
                    break
        return found

    def candidates(self, *, examples: bool = True) -> list[int]:
        """Rules that may answer, strongest evidence first (file order breaks ties).

        Rules whose only evidence is a greeting, or that need no keyword, come after every
        rule with evidence of a topic, wherever they stand in the file. When no rule has such
        evidence, a message written almost like one of a rule's `examples:` is that rule's
        (unless `examples` is false: `check` tests whether the keywords reach an example).
        """
        index = self._index
        for rule in index.always_check:
            if rule not in self.evidence:
                self._check_always(rule)
        if examples and index.examples:
            self._check_examples()
        if len(self.evidence) == 1:  # the common case: one rule, nothing to rank
            ((rule, _),) = self.evidence.items()
            if rule in self.vetoes:
                return []
            if self.strength(rule) > 0 or index.rules[rule].catch_all:
                return [rule]
            return []
        scored = []
        #: how a rule was found (which words, how) -> the strongest rule found that way
        through: dict[frozenset[tuple[int, float]], float] = {}
        for rule, _evidence in self.evidence.items():
            if rule in self.vetoes:
                continue
            strength = self.strength(rule)
            if strength <= 0 and not index.rules[rule].catch_all:
                continue
            words = self.found_through(rule)
            if words:
                through[words] = max(strength, through.get(words, 0.0))
            scored.append((strength, rule, words))
        # rules found through the very same words in the same way rank together, in file order:
        # the owner put the one that should answer first ("eid closure" above "repair"), and
        # words of their examples do not overrule that
        ranked = sorted(
            (-(through[words] if words else strength), rule) for strength, rule, words in scored
        )
        return [rule for _, rule in ranked]

    def _check_examples(self) -> None:
        """Add example evidence when no keyword, pattern or phrase found a topic."""
        if self._examples_checked:
            return
        self._examples_checked = True
        for rule, evidence in self.evidence.items():
            if rule not in self.vetoes and any(
                e.counts and e.how not in ("greeting", "any") for e in evidence
            ):
                return
        if self.social or self.spam:
            return
        allowed = {i for i in range(len(self._index.rules)) if i not in self.vetoes}
        found = self._index.examples.closest(self.tokens, allowed)
        if found is not None:
            self._add(
                Evidence(
                    found.rule,
                    found.example,
                    f"{found.similarity:.2f}",
                    "example",
                    0,
                    len(self.tokens),
                )
            )

    def found_through(self, rule: int) -> frozenset[tuple[int, float]]:
        """Where in the message the rule's counted evidence is, and how much each weighs."""
        return frozenset(
            (e.start, round(e.weight, 3))
            for e in self.evidence.get(rule, ())
            if e.counts and e.how not in ("greeting", "any")
        )

    def words_at(self, rule: int) -> set[int]:
        """The positions of the message's words that are the rule's counted evidence."""
        return {
            position
            for e in self.evidence.get(rule, ())
            if e.counts and e.how not in ("greeting", "any", "example")
            for position in range(e.start, e.end)
        }

    def strength(self, rule: int) -> float:
        """The weight of a rule's evidence, each weighed by how central its clause is
        (remembered: ranking and explaining the choice ask for it several times)."""
        known = self._strengths.get(rule)
        if known is None:
            known = self._strengths[rule] = self._strength(rule)
        return known

    def _strength(self, rule: int) -> float:
        evidence = self.evidence.get(rule)
        if not evidence:
            return 0.0
        topical = [e for e in evidence if e.how not in ("greeting", "any")]
        if not topical:
            # a greeting or a rule without keywords: only when nothing else answers
            return 0.01 if any(e.how == "greeting" for e in evidence) else 0.0
        # clauses can only change an answer where two rules or more have evidence
        clauses = self._clause_weights() if len(self.evidence) > 1 else None
        modifiers = self._modifiers() if clauses is not None else frozenset()
        total = 0.0
        for item in topical:
            weight = item.weight
            if (rule, item.start) in modifiers:
                weight *= MODIFIER_WEIGHT
            if clauses is not None and weight:
                clause = clauses[item.start]
                if clause > 1.0:
                    # the less sure the reading, the less its place in the message adds
                    clause = 1.0 + (clause - 1.0) * WEIGHTS[item.how]
                weight *= clause
            total += weight
        if clauses is not None and total > 0:
            for word in self.support(rule):
                total += SUPPORT_WEIGHT * clauses[word.start]
        return total

    def _modifiers(self) -> frozenset[tuple[int, int]]:
        """(rule, position) of each keyword that only says which thing another rule's keyword
        before it acts on or names: "freeze my membership", "להקפיא את המנוי", "الغي الاشتراك"
        are about freezing and cancelling; "משלוח עוגה", "توصيل كيك" are deliveries. Between
        the two stand only small linking words ("my", "the", "of", "את", "של", "تبع"); side by
        side they count in Hebrew and Arabic only, as English puts a compound's head last
        ("cake delivery")."""
        if self._modifier_words is None:
            found: set[tuple[int, int]] = set()
            spans = sorted(
                (e.start, e.end, rule)
                for rule, evidence in self.evidence.items()
                for e in evidence
                if e.counts and e.how not in NOT_WORDS
            )
            if len({rule for _, _, rule in spans}) > 1:
                clauses = clause_ids(self.folded, len(self.tokens))
                tokens = self.tokens
                at = {start: {rule for s, _, rule in spans if s == start} for start, _, _ in spans}
                for start, end, rule in spans:
                    for later, _, other in spans:
                        gap = tokens[end:later]
                        if (
                            other == rule
                            or later < end
                            or len(gap) > 2
                            or other in at[start]
                            or clauses[later] != clauses[start]
                            or not all(word in cues.LINKS for word in gap)
                            or (not gap and script_of(tokens[later]) not in ("he", "ar"))
                        ):
                            continue
                        found.add((other, later))
            self._modifier_words = frozenset(found)
        return self._modifier_words

    def support(self, rule: int) -> list[Support]:
        """Other words of the message that the rule's phrases or examples use (at most two),
        when two rules or more compete; words that are already its evidence do not count."""
        if len(self.evidence) < 2:
            return []
        if self._support is None:
            self._support = self._index.support.find(self.tokens, self.evidence)
        taken = {e.start for e in self.evidence.get(rule, ())}
        negated = {e.start for e in self.negated(rule)}
        found = [
            word
            for word in self._support.get(rule, ())
            if word.start not in taken and word.start not in negated
        ]
        return found[:SUPPORT_WORDS]

    def rule_match(self, rule: int) -> str | None:
        """How rule `rule` matched ("'sales'", "'shipped', a form of 'shipping'"), or None."""
        if rule in self.vetoes:
            return None
        if rule in self._index.always_check and rule not in self.evidence:
            self._check_always(rule)
        for item in self.evidence.get(rule, ()):
            if item.counts:
                return item.describe()
        return None

    def negated(self, rule: int) -> list[Evidence]:
        """The rule's keywords that the message negates ("not delivery") or only names
        ("the Party Platter")."""
        return [e for e in self.evidence.get(rule, ()) if not e.counts]

    @property
    def social(self) -> bool:
        """Only thanks, praise, emoji or a greeting: a message that wants no card."""
        tokens = self.tokens
        if not tokens:
            return True
        if _QUESTION.search(self.text):
            return False
        rest = tokens[cues.greeting_at(tokens, 0) :]
        return any(t in cues.SOCIAL for t in rest) and not any(t in cues.REQUEST for t in rest)

    @property
    def thanks(self) -> bool:
        """Thanks or praise that asks nothing and thanks someone: no card, whatever it names."""
        return self.social and not cues.THANKS.isdisjoint(self.tokens)

    @property
    def spam(self) -> bool:
        """An advertisement: links to click, prizes, loans. Never answered."""
        return sum(t in cues.SPAM for t in self.tokens) >= 1 and (
            "http" in self.text or "!!" in self.text or "🔥" in self.text
            or any(t in ("לחצו", "click", "اشترك") for t in self.tokens)
        )  # fmt: skip

    def _check_always(self, rule: int) -> None:
        words = self._index.rules[rule]
        if words.pattern is not None:
            try:
                # concurrent: the GIL is released while a pattern runs (deciding has a thread of
                # its own, and the event loop answering webhooks must not wait for it)
                found = words.pattern.search(self.text, timeout=PATTERN_TIMEOUT_S, concurrent=True)
            except TimeoutError:
                log.warning(
                    "rule #%d: pattern /%s/ took over %.2f s on a %d-character message; "
                    "counted as no match",
                    rule + 1,
                    words.pattern.pattern,
                    PATTERN_TIMEOUT_S,
                    len(self.text),
                )
                found = None
            if found is not None:
                shown = f"/{words.pattern.pattern}/"
                self._add(Evidence(rule, shown, found.group(0), "pattern", 0, 1))
                return
        if words.catch_all and self.text.strip():
            self._add(Evidence(rule, "any message", "", "any", 0, 0))

    def _add(self, item: Evidence) -> None:
        """Evidence found after the scan (a pattern, an example): what was weighed is stale."""
        self.evidence.setdefault(item.rule, []).append(item)
        self._strengths.clear()
        self._support = None
        self._modifier_words = None

    def _clause_weights(self) -> list[float]:
        """For each token, how central its clause is (1 = ordinary)."""
        if self._clauses is None:
            topics = frozenset(
                position
                for evidence in self.evidence.values()
                for e in evidence
                if e.how not in NOT_WORDS
                for position in range(e.start, e.end)
            )
            self._clauses = clause_weights(self.folded, len(self.tokens), topics)
        return self._clauses
