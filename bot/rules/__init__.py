"""The rule language: YAML rule files -> compiled, hot-reloadable rule sets.

rules = load_rules("rules/shop.yaml")      # raises RuleError at file:line:column
book = RuleBook("rules/")                   # live rules, reloaded when files change
"""

from bot.errors import RuleError
from bot.rules.card import Card
from bot.rules.reading import load_rules, read_rules
from bot.rules.ruleset import CompiledFallback, CompiledRule, RuleSet
from bot.rules.watch import RuleBook

__all__ = [
    "Card",
    "CompiledFallback",
    "CompiledRule",
    "RuleBook",
    "RuleError",
    "RuleSet",
    "load_rules",
    "read_rules",
]
