"""The pure core: the rule language and the decision. No I/O library, no edge module.

rules = load_rules("rules/shop.yaml")      # raises RuleError at file:line:column
decision = decide(message, rules, ClientState(client), now)
"""

from bot.core.card import Card
from bot.core.engine import decide, decide_burst
from bot.core.reading import load_rules, read_rules
from bot.core.ruleset import CompiledFallback, CompiledRule, RuleSet
from bot.core.values import ClientState, Decision, InboundMessage, Reply
from bot.errors import RuleError

__all__ = [
    "Card",
    "ClientState",
    "CompiledFallback",
    "CompiledRule",
    "Decision",
    "InboundMessage",
    "Reply",
    "RuleError",
    "RuleSet",
    "decide",
    "decide_burst",
    "load_rules",
    "read_rules",
]
