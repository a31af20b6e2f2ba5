"""Finding which rules' words occur in a message: one Aho-Corasick scan for all keywords.

Every keyword and `exclude:` word of every rule is normalised and put, once, into a single
automaton as "word word " (a trailing space marks the word end). A message is normalised to
" tok tok tok " and scanned once, whatever the number of rules. A hit is kept when the text
before it is a space (a whole word) or a known Hebrew/Arabic prefix of the same word
("ולמכירות" ends with "מכירות " after "ול") and the rule allows prefixes. Only the rules hit,
plus the few that need a regex, fuzzy or catch-all test, are then looked at in file order.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import ahocorasick
import regex
from rapidfuzz import fuzz, process

from bot.core.text import MIN_STEM, PREFIXES, prefix_stems, tokenize

log = logging.getLogger(__name__)

#: a user pattern that runs longer than this counts as no match (and is logged)
PATTERN_TIMEOUT_S = 0.05
#: rapidfuzz `ratio` score (0-100) a word must reach to count as a typo of a keyword
FUZZY_CUTOFF = 80
#: fuzzy matching never applies to words shorter than this
FUZZY_MIN_LETTERS = 4


@dataclass(frozen=True, slots=True)
class RuleWords:
    """What the index needs to know about one rule's words."""

    keywords: tuple[str, ...]  #: as written, for explanations
    exclude: tuple[str, ...]
    prefixes: bool
    pattern: regex.Pattern[str] | None = None
    fuzzy: bool = False
    #: no keywords and no pattern: matches any message with text
    catch_all: bool = False
    #: normalised keywords by word count, for fuzzy matching
    fuzzy_phrases: dict[int, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class MessageMatch:
    """One message, scanned: which rules' keywords and exclusions it hit."""

    text: str
    tokens: list[str]
    #: rule index -> the first keyword (as written) found in the message
    hits: dict[int, str]
    #: rule index -> the first `exclude:` word found
    vetoes: dict[int, str]
    _index: KeywordIndex

    def candidates(self) -> list[int]:
        """Indexes of rules that may match, in file order (others certainly do not)."""
        always = self._index.always_check
        if not self.hits:
            return list(always)
        if not always:
            return sorted(self.hits)
        return sorted(self.hits.keys() | set(always))

    def rule_match(self, rule: int) -> str | None:
        """What made rule `rule` match ('sales', '/pattern/', 'any message'), or None."""
        if rule in self.vetoes:
            return None
        word = self.hits.get(rule)
        if word is not None:
            return word
        words = self._index.rules[rule]
        if words.pattern is not None and self._pattern_found(rule, words.pattern):
            return f"/{words.pattern.pattern}/"
        if words.fuzzy:
            found = self._fuzzy_found(words)
            if found is not None:
                return found
        if words.catch_all and self.text.strip():
            return "any message"
        return None

    def _pattern_found(self, rule: int, pattern: regex.Pattern[str]) -> bool:
        try:
            return pattern.search(self.text, timeout=PATTERN_TIMEOUT_S) is not None
        except TimeoutError:
            log.warning(
                "rule #%d: pattern /%s/ took over %.2f s on a %d-character message; "
                "counted as no match",
                rule + 1,
                pattern.pattern,
                PATTERN_TIMEOUT_S,
                len(self.text),
            )
            return False

    def _fuzzy_found(self, words: RuleWords) -> str | None:
        tokens = self.tokens
        for size, phrases in words.fuzzy_phrases.items():
            for start in range(len(tokens) - size + 1):
                window = tokens[start : start + size]
                queries = [" ".join(window)]
                if words.prefixes:
                    queries = [" ".join((stem, *window[1:])) for stem in prefix_stems(window[0])]
                for query in queries:
                    if len(query) < FUZZY_MIN_LETTERS:
                        continue
                    best = process.extractOne(
                        query, phrases, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF
                    )
                    if best is not None:
                        return f"{best[0]} (typed '{' '.join(window)}')"
        return None


class KeywordIndex:
    """All keywords of a rule set in one automaton, mapped back to rules."""

    def __init__(self, rules: Sequence[RuleWords]) -> None:
        self.rules = tuple(rules)
        self.always_check = tuple(
            i for i, r in enumerate(self.rules) if r.pattern is not None or r.fuzzy or r.catch_all
        )
        self._prefixes = tuple(r.prefixes for r in self.rules)
        table: dict[str, list[tuple[int, bool, str]]] = {}
        for i, words in enumerate(self.rules):
            for is_exclude, listed in ((False, words.keywords), (True, words.exclude)):
                for word in listed:
                    key = key_of(word)
                    if key:
                        table.setdefault(key, []).append((i, is_exclude, word))
        self._automaton = ahocorasick.Automaton()
        for key, entries in table.items():
            self._automaton.add_word(key, (len(key), len(key) - 1 >= MIN_STEM, tuple(entries)))
        self._empty = not table
        if not self._empty:
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return len(self._automaton)

    def scan(self, text: str) -> MessageMatch:
        """Normalise `text` and find every rule whose keywords or exclusions it contains."""
        tokens = tokenize(text)
        hits: dict[int, str] = {}
        vetoes: dict[int, str] = {}
        if tokens and not self._empty:
            line = " " + " ".join(tokens) + " "
            prefixes = self._prefixes
            for end, (length, stem_ok, entries) in self._automaton.iter(line):
                start = end - length + 1
                if line[start - 1] == " ":
                    whole = True
                else:
                    if not stem_ok or line[line.rfind(" ", 0, start) + 1 : start] not in PREFIXES:
                        continue
                    whole = False
                for rule, is_exclude, word in entries:
                    if whole or prefixes[rule]:
                        found = vetoes if is_exclude else hits
                        if rule not in found:
                            found[rule] = word
        return MessageMatch(text, tokens, hits, vetoes, self)


def key_of(word: str) -> str:
    """How a keyword is stored in the automaton: its normalised words, each followed by a space."""
    tokens = tokenize(word)
    return " ".join(tokens) + " " if tokens else ""


def fuzzy_phrases(keywords: Iterable[str]) -> dict[int, list[str]]:
    """Normalised keywords long enough for fuzzy matching, grouped by word count."""
    grouped: dict[int, list[str]] = {}
    for word in keywords:
        tokens = tokenize(word)
        phrase = " ".join(tokens)
        if tokens and len(phrase) >= FUZZY_MIN_LETTERS:
            grouped.setdefault(len(tokens), []).append(phrase)
    return grouped
