"""A compiled rule set: rules with their cards, conditions and one keyword index for all.

Immutable once built (by `compile.py`); the engine reads it, hot reload swaps whole sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from bot.core.card import Card
from bot.core.conditions import Condition
from bot.core.diagnostics import Path as NodePath
from bot.core.diagnostics import SourceMap
from bot.core.matcher import KeywordIndex, RuleWords
from bot.core.message_match import MessageMatch

FALLBACK = "fallback"
DEFAULT_MAX_WAIT_S = 15.0


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a rule was written, for messages and for `check`."""

    source: SourceMap
    path: NodePath

    def position(self, *more: str | int, key: bool = False) -> tuple[int | None, int | None]:
        return self.source.position((*self.path, *more), key=key)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule, ready to test: its words are in the rule set's index at `index`."""

    index: int
    name: str
    card: Card
    words: RuleWords
    condition: Condition | None  #: `when:` and `first_message:` together
    once_per: str | None
    origin: Origin
    signature: str  #: changes when anything in the rule's text changes
    examples: tuple[str, ...] = ()
    not_examples: tuple[str, ...] = ()

    @property
    def unconditional(self) -> bool:
        """True if nothing but its words decides whether it answers."""
        return self.condition is None

    def describe(self) -> str:
        """`sales: keywords(sales|price) & ~exclude(tax) & when(business_hours) -> sales`."""
        words = self.words
        parts: list[str] = []
        if words.keywords:
            shown = "|".join(words.keywords[:6])
            if len(words.keywords) > 6:
                shown += f"|… +{len(words.keywords) - 6}"
            parts.append(f"{'fuzzy' if words.fuzzy else 'keywords'}({shown})")
        if words.pattern is not None:
            parts.append(f"pattern(/{words.pattern.pattern}/)")
        if not parts:
            parts.append("any")
        if not words.prefixes:
            parts.append("no_prefixes")
        if words.exclude:
            parts.append(f"~exclude({'|'.join(words.exclude)})")
        if self.condition is not None:
            parts.append(f"when({self.condition!r})")
        if self.once_per:
            parts.append(f"once_per({self.once_per})")
        return f"{self.name}: {' & '.join(parts)} -> {self.card.key}"


@dataclass(frozen=True, slots=True)
class CompiledFallback:
    """The answer when no rule answers."""

    card: Card
    condition: Condition | None
    once_per: str | None
    origin: Origin
    name: str = FALLBACK

    def describe(self) -> str:
        parts = ["no rule answered"]
        if self.condition is not None:
            parts.append(f"when({self.condition!r})")
        if self.once_per:
            parts.append(f"once_per({self.once_per})")
        return f"{FALLBACK}: {' & '.join(parts)} -> {self.card.key}"


class RuleSet:
    """A loaded, compiled rule set: immutable, cheap to match against."""

    def __init__(
        self,
        *,
        rules: Sequence[CompiledRule],
        fallback: CompiledFallback | None,
        contacts: Mapping[str, Card],
        timezone: ZoneInfo,
        files: Sequence[Path],
        version: str,
        burst_window_s: float = 0.0,
        burst_max_wait_s: float = DEFAULT_MAX_WAIT_S,
        timezone_source: str = "the 'timezone:' line",
    ) -> None:
        self.rules: tuple[CompiledRule, ...] = tuple(rules)
        self.fallback = fallback
        self.contacts: Mapping[str, Card] = MappingProxyType(dict(contacts))
        self.timezone = timezone
        #: why this zone: "the 'timezone:' line" or "no 'timezone:' line: the zone of IL"
        self.timezone_source = timezone_source
        self.files: tuple[Path, ...] = tuple(files)
        self.version = version
        self.burst_window_s = burst_window_s
        self.burst_max_wait_s = burst_max_wait_s
        self.rule_names: tuple[str, ...] = tuple(r.name for r in self.rules)
        self.index = KeywordIndex([r.words for r in self.rules])

    def match(self, text: str) -> MessageMatch:
        """Scan one message's text against every rule's words (conditions not applied)."""
        return self.index.scan(text)

    def rule(self, name: str) -> CompiledRule | None:
        """The rule called `name`, if any."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        return None

    def describe(self) -> str:
        """One readable line per rule (and the fallback), in the order they are tried."""
        lines = [rule.describe() for rule in self.rules]
        if self.fallback is not None:
            lines.append(self.fallback.describe())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<RuleSet {self.version} rules={len(self.rules)} keywords={len(self.index)}>"
