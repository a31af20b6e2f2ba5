"""Finding which rules' words a message contains, and how.

Every word of every keyword and `exclude:` phrase is indexed once, at load, under the keys
`forms.word_keys` gives it (the word, its stem, its root) and, for typo tolerance, under its
one-letter deletions. A message is tokenised once; each word is looked up under the same keys
(after removing a Hebrew/Arabic prefix, and with stretched letters squeezed), so the cost per
message does not grow with the number of rules. What is found is *evidence*: which keyword,
which words of the message, and how (as written, behind a prefix, another form, same root, a
typo). A negated keyword ("not delivery", "לא צריך משלוח", "مش توصيل") is kept but does not
count. What each word matches is remembered per index, so a shop's recurring vocabulary is
looked up once. The words after a phrase's first are read by `phrases`; weighing the
evidence and ranking the rules is `message_match`'s job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import regex

from bot.core import cues
from bot.core.asides import mark_asides
from bot.core.evidence import Evidence, mark_negations
from bot.core.examples import ExampleIndex
from bot.core.forms import (
    EXACT,
    FORM,
    ROOT,
    TYPO,
    another_noun,
    keyword_keys,
    token_variants,
    word_keys,
)
from bot.core.message_match import MessageMatch
from bot.core.names import mark_names
from bot.core.phrases import other_negators, particle_after, rest_grade
from bot.core.support import SupportIndex
from bot.core.text import fold, keyword_tokens, tokenize, words_of
from bot.core.translit import is_transliterated, latin_skeletons, script_skeletons
from bot.core.typos import (
    confusions,
    deletions,
    is_real_word,
    typo_distance,
    typo_edits,
    typo_probes,
)

#: a greeting keyword counts only within this many words of the message's start
GREETING_REACH = 3
#: words whose lookups an index remembers (a few MB at most), then it starts again
_MEMO_WORDS = 50_000
#: what one message word may be: (entry, grade, prefixed) as written, behind a prefix, another
#: form or the same root; else the entries it may be a typo of, and those it spells in Latin
_Word = tuple[tuple[tuple["_Entry", int, bool], ...], tuple["_Entry", ...], tuple["_Entry", ...]]
#: a word that is no keyword's in any way (most words of most messages)
_NOTHING: _Word = ((), (), ())


@dataclass(frozen=True, slots=True)
class RuleWords:
    """What the index needs to know about one rule's words."""

    keywords: tuple[str, ...]  #: as written, for explanations
    exclude: tuple[str, ...]
    prefixes: bool
    pattern: regex.Pattern[str] | None = None
    fuzzy: bool = False
    #: match other forms of the words (plural, verb, possessive...) and their roots
    forms: bool = True
    #: read misspellings of the words as them
    typos: bool = True
    #: no keywords and no pattern: matches any message with text
    catch_all: bool = False
    #: its keywords are greetings: it answers any greeting, and only when nothing else does
    greeting: bool = False
    #: the rule's `examples:`: their words support it when rules compete, and a message no
    #: keyword reaches that is written almost like one of them may be answered by it
    examples: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Entry:
    rule: int
    exclude: bool
    keyword: str
    words: tuple[str, ...]  #: the keyword's normalised words
    level: int  #: the level of the indexed key (EXACT: the word itself)
    #: the keyword written another way: its two words as one ("טייק אווי" as "טייקאווי"),
    #: another word for "without" ("ללא גלוטן" as "בלי גלוטן")
    respelled: bool = False


class KeywordIndex:
    """All keywords of a rule set, indexed by word keys, mapped back to rules."""

    def __init__(self, rules: Sequence[RuleWords]) -> None:
        self.rules = tuple(rules)
        self.always_check = tuple(
            i for i, r in enumerate(self.rules) if r.pattern is not None or r.catch_all
        )
        self._entries: dict[str, list[_Entry]] = {}
        #: a keyword word's one-letter deletions (and itself) -> the word, for typos
        self._near: dict[str, set[str]] = {}
        #: a short Hebrew/Arabic keyword word with a confusable letter -> the word, for typos
        self._confused: dict[str, set[str]] = {}
        #: a Hebrew/Arabic keyword's skeletons in Latin letters -> its entries (see `translit`)
        self._latin: dict[str, list[_Entry]] = {}
        #: message word -> what it may be (see `_word`)
        self._memo: dict[str, _Word] = {}
        count = 0
        #: the other words of each rule's phrases and examples (see `support`)
        self.support = SupportIndex()
        #: the examples themselves, for messages no keyword reaches (see `examples`)
        self.examples = ExampleIndex()
        for i, words in enumerate(self.rules):
            keyword_words = []
            for is_exclude, listed in ((False, words.keywords), (True, words.exclude)):
                for keyword in listed:
                    tokens = keyword_tokens(keyword)
                    if not tokens:
                        continue
                    count += 1
                    self._add(_Entry(i, is_exclude, keyword, tokens, EXACT), words)
                    if not is_exclude:
                        keyword_words.append((keyword, tokens))
                        if len(tokens) == 2 and words.forms:
                            # clients write a two-word name as one: "takeaway", "יומולדת"
                            joined = (tokens[0] + tokens[1],)
                            self._add(_Entry(i, False, keyword, joined, EXACT, True), words)
                    for negator in other_negators(tokens):
                        # "ללא גלוטן" is also written "בלי גלוטן": the negation is the point
                        variant = (negator, *tokens[1:])
                        self._add(_Entry(i, is_exclude, keyword, variant, EXACT, True), words)
            examples = [(example, tuple(tokenize(example))) for example in words.examples]
            phrases = [(k, tokens) for k, tokens in keyword_words if len(tokens) > 1]
            self.support.add(i, [t for _, t in keyword_words], [*phrases, *examples])
            if not words.greeting and not words.catch_all:
                self.examples.add(i, examples)
        self._count = count
        self._greeting_rules = tuple(i for i, r in enumerate(self.rules) if r.greeting)

    def _add(self, entry: _Entry, words: RuleWords) -> None:
        first = entry.words[0]
        for key, level in keyword_keys(first):
            if level < EXACT and not words.forms:
                continue
            self._entries.setdefault(key, []).append(
                _Entry(
                    entry.rule, entry.exclude, entry.keyword, entry.words, level, entry.respelled
                )
            )
        if len(entry.words) == 1 and not entry.exclude and words.forms:
            for skeleton in script_skeletons(first):
                self._latin.setdefault(skeleton, []).append(entry)
        for word in entry.words:
            if typo_distance(word, fuzzy=True) and not entry.exclude:
                for variant in deletions(word):
                    self._near.setdefault(variant, set()).add(word)
            if not entry.exclude:
                for variant in confusions(word):  # three-letter Hebrew/Arabic words only
                    self._confused.setdefault(variant, set()).add(word)

    def __len__(self) -> int:
        return self._count

    def scan(self, text: str) -> MessageMatch:
        """Normalise `text` and gather every rule's evidence and exclusions."""
        folded = fold(text)
        tokens = words_of(folded)
        found = MessageMatch(text, folded, tokens, self)
        if not tokens or not self._entries:
            return found
        memo = self._memo
        greeting_end = cues.greeting_at(tokens, 0)
        latin: list[tuple[int, tuple[_Entry, ...]]] = []
        for position, token in enumerate(tokens):
            word = memo.get(token) or self._word(token)
            if word is _NOTHING:
                continue
            hits, typos, spelled = word
            if not hits:
                # a word no keyword reached: a typo of one, or one in Latin letters
                if position >= greeting_end:
                    for entry in typos:
                        self._phrase(found, entry, TYPO, False, position)
                    if spelled:
                        latin.append((position, spelled))
                continue
            for entry, grade, prefixed in hits:
                if grade >= EXACT or position >= greeting_end:
                    self._phrase(found, entry, grade, prefixed, position)
        if latin and is_transliterated(tokens):
            reached = {e.start for evidence in found.evidence.values() for e in evidence}
            for position, entries in latin:
                if position not in reached:
                    for entry in entries:
                        self._record(found, entry, "latin", position, position + 1)
        self._greetings(found, tokens)
        if found.evidence:
            mark_negations(folded, tokens, found.evidence)
            mark_names(text, tokens, found.evidence)
            mark_asides(folded, tokens, found.evidence)
        return found

    def _record(self, found: MessageMatch, entry: _Entry, how: str, start: int, end: int) -> None:
        if entry.exclude:
            if how in ("exact", "prefix", "form", "respelled"):
                found.vetoes.setdefault(entry.rule, entry.keyword)
            return
        shown = " ".join(found.tokens[start:end])
        new = Evidence(entry.rule, entry.keyword, shown, how, start, end, size=len(entry.words))
        evidence = found.evidence.setdefault(entry.rule, [])
        for i, item in enumerate(evidence):
            if item.start == start:
                if new.weight > item.weight:
                    evidence[i] = new
                return
        evidence.append(new)

    def _phrase(
        self, found: MessageMatch, entry: _Entry, grade: int, prefixed: bool, start: int
    ) -> None:
        """Record `entry` found at `start` (how well: `grade`, TYPO for a typo) if the words
        after it spell the rest of its phrase."""
        typo = grade == TYPO
        end = start + len(entry.words)
        if end > start + 1:
            rule = self.rules[entry.rule]
            rest = rest_grade(
                entry.words[1:],
                found.tokens[start + 1 : end],
                prefixes=rule.prefixes,
                forms=rule.forms,
                fuzzy=rule.fuzzy,
                typos=rule.typos,
            )
            if rest is None:
                particle_end = particle_after(entry.words, found.tokens, start)
                if particle_end is None:
                    return
                end, rest = particle_end, EXACT
            grade = min(grade, rest)
        how = "typo" if typo else _how(grade, prefixed)
        if entry.respelled and how in ("exact", "prefix"):
            how = "respelled"
        self._record(found, entry, how, start, end)

    def _word(self, token: str) -> _Word:
        """What a message word may be (memoised per word: a shop's clients use a small
        vocabulary again and again, and what a word matches depends on the word alone; its
        neighbours are checked by the caller)."""
        hits = self._lookup(token)
        typos = self._typo_lookup(token) if not hits and (self._near or self._confused) else ()
        spelled: tuple[_Entry, ...] = ()
        if not hits and self._latin:
            spelled = tuple(
                entry
                for skeleton in latin_skeletons(token)
                for entry in self._latin.get(skeleton, ())
            )
        word = (hits, typos, spelled) if hits or typos or spelled else _NOTHING
        if len(self._memo) >= _MEMO_WORDS:
            self._memo.clear()
        self._memo[token] = word
        return word

    def _lookup(self, token: str) -> tuple[tuple[_Entry, int, bool], ...]:
        """(entry, grade, prefixed) for every keyword word `token` may be: as written, behind a
        prefix, another form or the same root, each within what its rule allows."""
        if token in cues.HOMOGRAPHS:
            return ()
        found: list[tuple[_Entry, int, bool]] = []
        rules = self.rules
        entries = self._entries
        variants = token_variants(token)
        # a function word, even behind a prefix ("ואם"), is only ever itself
        exact_only = _is_function_word(token)
        for variant, prefixed in variants:
            for key, level in word_keys(variant):
                for entry in entries.get(key, ()):
                    words = rules[entry.rule]
                    if prefixed and not words.prefixes:
                        continue
                    grade = min(level, entry.level)
                    if grade < EXACT and (exact_only or not words.forms):
                        continue
                    if grade == ROOT and _merely_contains(variant, entry.words[0]):
                        continue
                    if grade < EXACT and another_noun(variant, entry.words[0]):
                        continue
                    found.append((entry, grade, prefixed))
        return tuple(found)

    def _typo_lookup(self, token: str) -> tuple[_Entry, ...]:
        """Every keyword entry whose word `token` may be a misspelling of."""
        found: list[_Entry] = []
        if len(token) >= 3 and not _is_function_word(token) and not is_real_word(token):
            near = self._near
            for variant, prefixed, probes in typo_probes(token):
                words: set[str] = set()
                for probe in probes:
                    words.update(near.get(probe, ()))
                for word in words:
                    found.extend(self._typo_entries(variant, word, prefixed))
            if self._confused:
                for variant, prefixed in token_variants(token):
                    confused = self._confused.get(variant)
                    if confused:
                        for word in confused:
                            found.extend(self._typo_entries(variant, word, prefixed, confused=True))
        return tuple(found)

    def _typo_entries(
        self, typed: str, word: str, prefixed: bool, *, confused: bool = False
    ) -> list[_Entry]:
        distance = 1 if confused else typo_edits(typed, word)
        if not distance:
            return []
        found = []
        for entry in self._entries.get(word, ()):
            if entry.level != EXACT:
                continue
            words = self.rules[entry.rule]
            if not words.typos or (prefixed and not words.prefixes):
                continue
            if not confused and distance > typo_distance(word, fuzzy=words.fuzzy):
                continue
            found.append(entry)
        return found

    def _greetings(self, found: MessageMatch, tokens: list[str]) -> None:
        """Greeting rules: any greeting near the start counts; their words later, or only
        resembling a greeting (a typo, another form), do not."""
        greeting_rules = self._greeting_rules
        for rule in greeting_rules:
            evidence = found.evidence.get(rule)
            if evidence:
                found.evidence[rule] = [
                    dataclasses.replace(e, how="greeting")
                    for e in evidence
                    if e.start < GREETING_REACH and e.how in ("exact", "prefix", "respelled")
                ]
        if not greeting_rules:
            return
        for start in range(min(GREETING_REACH, len(tokens))):
            size = cues.greeting_at(tokens, start)
            if not size:
                continue
            shown = " ".join(tokens[start : start + size])
            for rule in greeting_rules:
                evidence = found.evidence.setdefault(rule, [])
                if not any(e.start == start for e in evidence):
                    keyword = self.rules[rule].keywords[0]
                    evidence.append(Evidence(rule, keyword, shown, "greeting", start, start + size))
            return


def _is_function_word(token: str) -> bool:
    return any(variant in cues.FUNCTION_WORDS for variant, _ in token_variants(token))


def _merely_contains(word: str, keyword: str) -> bool:
    """A longer word that holds a keyword of four letters or more whole is another word
    ('תמכירות' is not 'מכירות'); a three-letter root with a verb's prefix is a form ('احجز')."""
    return len(keyword) >= 4 and len(word) > len(keyword) and keyword in word


def _how(grade: int, prefixed: bool) -> str:
    if grade == EXACT:
        return "prefix" if prefixed else "exact"
    return "form" if grade == FORM else "root"


def key_of(word: str) -> str:
    """A keyword's normalised words, each followed by a space (how `check` compares them)."""
    tokens = keyword_tokens(word)
    return " ".join(tokens) + " " if tokens else ""
