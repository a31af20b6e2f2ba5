"""`rulebot check`: every problem in a rule set, not just the first.

On top of what loading finds (YAML syntax, unknown keys, contacts, phones, times, timezones,
duplicate names, empty keyword lists, risky patterns), this looks at the rules as a whole:
rules that can never answer, keywords that an earlier rule always takes, contacts nobody uses,
and every `examples:` / `not_examples:` line that does not behave as the file says.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from bot.core.diagnostics import Diagnostic, Diagnostics, SourceMap
from bot.core.loader import display_name
from bot.core.matcher import MessageMatch, key_of
from bot.core.overlap import warn_competing_forms
from bot.core.reading import paused_garbage_collection, read_all
from bot.core.ruleset import CompiledRule, RuleSet
from bot.core.timezones import EXPLICIT


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The result of `check`: the problems in file order and the summary line."""

    target: str
    diagnostics: tuple[Diagnostic, ...]
    ruleset: RuleSet | None

    @property
    def errors(self) -> int:
        return sum(d.severity == "error" for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return sum(d.severity == "warning" for d in self.diagnostics)

    def failed(self, *, strict: bool = False) -> bool:
        """True if there are errors (or, when `strict`, warnings)."""
        return self.errors > 0 or (strict and self.warnings > 0)

    def summary(self) -> str:
        """'2 errors, 1 warning in FILE', or 'no problems in FILE (5 rules, 3 contacts)'."""
        if not self.diagnostics:
            extra = ""
            if self.ruleset is not None:
                extra = (
                    f" ({_count(len(self.ruleset.rules), 'rule')}, "
                    f"{_count(len(self.ruleset.contacts), 'contact')})"
                )
            return f"no problems in {self.target}{extra}"
        return (
            f"{_count(self.errors, 'error')}, {_count(self.warnings, 'warning')} in {self.target}"
        )

    def timezone_line(self) -> str | None:
        """Which zone times are read in, when the rules do not say it themselves."""
        if self.ruleset is None or self.ruleset.timezone_source == EXPLICIT:
            return None
        return f"note: times are read in {self.ruleset.timezone}, {self.ruleset.timezone_source}"

    def lines(self) -> list[str]:
        """What `rulebot check` prints: one line per problem, the timezone, then the summary."""
        zone = self.timezone_line()
        return [d.text() for d in self.diagnostics] + ([zone] if zone else []) + [self.summary()]


def check_rules(path: str | Path, *, default_region: str = "IL") -> CheckReport:
    """Load the rules as the server would, then lint them; never raises RuleError.

    Every problem of every kind comes in one run: the lint looks at every rule and contact
    that compiled, even when others have errors.
    """
    reading = read_all(path, default_region=default_region)
    diagnostics = reading.diagnostics
    if reading.partial is not None:
        lint(reading.partial, diagnostics, mentioned_contacts=reading.mentioned_contacts)
    return CheckReport(display_name(Path(path)), tuple(diagnostics.sorted()), reading.partial)


def lint(
    ruleset: RuleSet,
    diagnostics: Diagnostics,
    *,
    mentioned_contacts: frozenset[str] | None = frozenset(),
) -> None:
    """Add the whole-rule-set problems of a compiled `ruleset` to `diagnostics`."""
    with paused_garbage_collection():
        _lint(ruleset, diagnostics, mentioned_contacts)


def _lint(
    ruleset: RuleSet, diagnostics: Diagnostics, mentioned_contacts: frozenset[str] | None
) -> None:
    shadowed = _shadowed_rules(ruleset, diagnostics)
    _keywords_taken(ruleset, shadowed, diagnostics)
    warn_competing_forms(ruleset, shadowed, diagnostics)
    _weak_rules_above(ruleset, diagnostics)
    _unused_contacts(ruleset, diagnostics, mentioned_contacts)
    for rule in ruleset.rules:
        _examples(ruleset, rule, diagnostics)


def _can_cover(earlier: CompiledRule, later: CompiledRule) -> bool:
    """True if `earlier` may take every message `later` matches (its words decide)."""
    if not earlier.unconditional or earlier.index >= later.index:
        return False
    if earlier.words.exclude or earlier.words.pattern is not None:
        return False
    if earlier.words.catch_all:  # answers only when no rule with keywords does
        return later.words.catch_all
    if later.words.catch_all or later.words.pattern is not None or later.words.fuzzy:
        return False
    return not (later.words.prefixes and not earlier.words.prefixes)


def _ranks_before(scan: MessageMatch, earlier: CompiledRule, later: CompiledRule) -> bool:
    """True if `earlier` outranks `later` on a scanned text (as the engine ranks them)."""
    ranked = scan.candidates(examples=False)
    if earlier.index not in ranked:
        return False
    return later.index not in ranked or ranked.index(earlier.index) < ranked.index(later.index)


def _covering_rule(
    ruleset: RuleSet, later: CompiledRule, first_catch_all: CompiledRule | None
) -> CompiledRule | None:
    """The first rule above `later` that answers every message `later` matches, if any.

    One scan per keyword of `later` (not one per pair of rules), so `check` stays linear in
    the size of the rule set; the engine's own ranking decides among the rules found.
    """
    if later.words.catch_all:
        if first_catch_all is not None and _can_cover(first_catch_all, later):
            return first_catch_all
        return None
    if not later.words.keywords or later.words.pattern is not None or later.words.fuzzy:
        return None
    common: set[int] | None = None
    scans = []
    for word in later.words.keywords:
        scan = ruleset.match(word)
        scans.append(scan)
        hits = {i for i in scan.hits if i < later.index}
        common = hits if common is None else common & hits
        if not common:
            return None
    for index in sorted(common or ()):
        earlier = ruleset.rules[index]
        if _can_cover(earlier, later) and all(_ranks_before(s, earlier, later) for s in scans):
            return earlier
    return None


def _shadowed_rules(ruleset: RuleSet, diagnostics: Diagnostics) -> set[int]:
    shadowed: set[int] = set()
    unconditional = [r for r in ruleset.rules if r.unconditional]
    first_catch_all = next(
        (r for r in unconditional if r.words.catch_all and not r.words.exclude), None
    )
    for rule in ruleset.rules:
        earlier = _covering_rule(ruleset, rule, first_catch_all)
        if earlier is not None:
            line = earlier.origin.position("name")[0]
            what = "every message" if earlier.words.catch_all else "all its keywords"
            diagnostics.warning(
                f"rule '{rule.name}' can never answer: rule '{earlier.name}' (line {line}) "
                f"comes first and always answers {what}",
                rule.origin.source,
                (*rule.origin.path, "name"),
                hint="move it above, or give the earlier rule a 'when:'",
            )
            shadowed.add(rule.index)
    fallback = ruleset.fallback
    if fallback is not None:
        for earlier in unconditional:
            if earlier.words.catch_all:
                line = earlier.origin.position("name")[0]
                diagnostics.warning(
                    f"the fallback can never answer: rule '{earlier.name}' (line {line}) "
                    "answers every message",
                    fallback.origin.source,
                    fallback.origin.path,
                    key=True,
                )
                break
    return shadowed


def _keywords_taken(ruleset: RuleSet, shadowed: set[int], diagnostics: Diagnostics) -> None:
    """A keyword also listed in an earlier rule that always answers it is dead weight."""
    owners: dict[str, CompiledRule] = {}
    for rule in ruleset.rules:
        keys = [key_of(word) for word in rule.words.keywords]
        if rule.index not in shadowed:
            for position, (word, key) in enumerate(zip(rule.words.keywords, keys, strict=True)):
                owner = owners.get(key)
                if owner is None or owner.index == rule.index:
                    continue
                line = owner.origin.position("name")[0]
                diagnostics.warning(
                    f"keyword '{word}' is also in rule '{owner.name}' (line {line}), "
                    "which always answers it first",
                    rule.origin.source,
                    (*rule.origin.path, "keywords", position),
                    hint="remove it from one of the two rules",
                )
        if rule.unconditional and not rule.words.exclude:
            for key in keys:
                owners.setdefault(key, rule)


def _weak_rules_above(ruleset: RuleSet, diagnostics: Diagnostics) -> None:
    """Say how a rule without keywords (or of greetings) above keyword rules really works."""
    topical = [r.index for r in ruleset.rules if not (r.words.catch_all or r.words.greeting)]
    if not topical:
        return
    last_topical = topical[-1]
    for rule in ruleset.rules:
        if rule.index > last_topical or not (rule.words.catch_all or rule.words.greeting):
            continue
        what = "has no keywords" if rule.words.catch_all else "has only greetings as keywords"
        below = ruleset.rules[last_topical]
        diagnostics.warning(
            f"rule '{rule.name}' {what}: it answers only when no rule with keywords does, "
            f"although it stands above them (down to rule '{below.name}')",
            rule.origin.source,
            (*rule.origin.path, "name"),
            hint="move it below the rules with keywords, so the file reads in the order it works",
        )


def _unused_contacts(
    ruleset: RuleSet, diagnostics: Diagnostics, mentioned: frozenset[str] | None
) -> None:
    if mentioned is None:  # a part of the file is unreadable: it may use any contact
        return
    used = {rule.card.key for rule in ruleset.rules} | mentioned
    for unknown in mentioned - set(ruleset.contacts):  # "did you mean" it: not unused
        used.update(difflib.get_close_matches(unknown, list(ruleset.contacts), n=1, cutoff=0.5))
    if ruleset.fallback is not None:
        used.add(ruleset.fallback.card.key)
    for key in ruleset.contacts:
        if key not in used:
            source = _contact_source(ruleset, key)
            diagnostics.warning(
                f"contact '{key}' is not used by any rule",
                source,
                ("contacts", key),
                key=True,
                hint="remove it, or add a rule that sends it",
            )


def _contact_source(ruleset: RuleSet, key: str) -> SourceMap | None:
    sources = [r.origin.source for r in ruleset.rules]
    if ruleset.fallback is not None:
        sources.append(ruleset.fallback.origin.source)
    for source in sources:
        if ("contacts", key) in source.values:
            return source
    return sources[0] if sources else None


def answering_rule(ruleset: RuleSet, text: str, target: CompiledRule) -> tuple[bool, str]:
    """Would `target` answer `text` when its conditions hold? (ok, why not)."""
    scan = ruleset.match(text)
    later: CompiledRule | None = None
    # an example always resembles itself: what counts is whether the keywords reach it
    for index in scan.candidates(examples=False):
        if scan.rule_match(index) is None:
            continue
        rule = ruleset.rules[index]
        if index == target.index:
            return True, rule.name
        if index > target.index:
            later = rule
            break
        if rule.unconditional:
            line = rule.origin.position("name")[0]
            return False, f"rule '{rule.name}' (line {line}) answers it first"
    if later is not None:
        return False, f"it matches rule '{later.name}', not this one"
    return False, "no rule matches it"


def _examples(ruleset: RuleSet, rule: CompiledRule, diagnostics: Diagnostics) -> None:
    for position, text in enumerate(rule.examples):
        ok, why = answering_rule(ruleset, text, rule)
        if not ok:
            diagnostics.error(
                f"example '{text}' is not answered by rule '{rule.name}': {why}",
                rule.origin.source,
                (*rule.origin.path, "examples", position),
            )
    for position, text in enumerate(rule.not_examples):
        found = ruleset.match(text).rule_match(rule.index)
        if found is not None:
            on = "it has no keywords" if found == "any message" else f"on {found}"
            diagnostics.error(
                f"not_example '{text}' matches rule '{rule.name}' ({on})",
                rule.origin.source,
                (*rule.origin.path, "not_examples", position),
            )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
