"""Rule files on disk -> a compiled `RuleSet`: the one path the server, `check` and `try` share."""

from __future__ import annotations

from pathlib import Path

from bot.core.compile import compile_rulebook
from bot.core.diagnostics import Diagnostics
from bot.core.loader import parse_file, rule_files
from bot.core.ruleset import RuleSet


def read_rules(
    path: str | Path, *, default_region: str = "IL"
) -> tuple[RuleSet | None, Diagnostics]:
    """Load and compile, collecting every problem; the rule set is None if there was an error."""
    diagnostics = Diagnostics()
    files = rule_files(path, diagnostics)
    parsed = [item for item in (parse_file(f, diagnostics) for f in files) if item is not None]
    if diagnostics.errors or not parsed:
        return None, diagnostics
    return compile_rulebook(parsed, default_region, diagnostics), diagnostics


def load_rules(path: str | Path, *, default_region: str = "IL") -> RuleSet:
    """Load a rule file or a folder of *.yaml files (name order); raise the first RuleError."""
    ruleset, diagnostics = read_rules(path, default_region=default_region)
    diagnostics.raise_first_error()
    assert ruleset is not None
    return ruleset
