"""Rule files on disk -> a compiled `RuleSet`: the one path the server, `check` and `try` share."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.core.compile import compile_rulebook
from bot.core.diagnostics import Diagnostics
from bot.core.loader import ParsedFile, parse_file, rule_files
from bot.core.ruleset import RuleSet


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything one read of the rule files found."""

    #: what the server may serve: None if there is any error
    ruleset: RuleSet | None
    #: every rule and contact without an error, for `check` to look at even when others have
    #: errors (None when no file could be read at all)
    partial: RuleSet | None
    diagnostics: Diagnostics
    #: every contact a rule or the fallback names, valid or not (None: a part of a file
    #: could not be read, so any contact may be used there)
    mentioned_contacts: frozenset[str] | None


_pauses = 0
_collector_was_on = False
_pause_lock = threading.Lock()


@contextmanager
def paused_garbage_collection() -> Iterator[None]:
    """No cyclic garbage collection inside: reading creates objects by the hundred thousand
    and none form cycles, yet the collector kept walking them (30 % of `check` at 10,000
    rules). Reference counting still frees everything; nested and threaded uses are counted,
    so the collector comes back on when the last one ends."""
    global _pauses, _collector_was_on
    with _pause_lock:
        if _pauses == 0:
            _collector_was_on = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _collector_was_on:
                gc.enable()


def read_all(path: str | Path, *, default_region: str = "IL") -> Reading:
    """Load and compile as far as the files allow, collecting every problem."""
    with paused_garbage_collection():
        return _read_all(path, default_region)


def _read_all(path: str | Path, default_region: str) -> Reading:
    diagnostics = Diagnostics()
    files = rule_files(path, diagnostics)
    parsed: list[ParsedFile] = [
        item for item in (parse_file(f, diagnostics) for f in files) if item is not None
    ]
    mentioned: frozenset[str] | None = frozenset().union(
        *(item.mentioned_contacts for item in parsed)
    )
    if len(parsed) < len(files) or any(item.partly_unreadable for item in parsed):
        mentioned = None
    if not parsed:
        return Reading(None, None, diagnostics, mentioned)
    partial = compile_rulebook(parsed, default_region, diagnostics)
    failed = bool(diagnostics.errors) or len(parsed) < len(files)
    return Reading(None if failed else partial, partial, diagnostics, mentioned)


def read_rules(
    path: str | Path, *, default_region: str = "IL"
) -> tuple[RuleSet | None, Diagnostics]:
    """Load and compile, collecting every problem; the rule set is None if there was an error."""
    reading = read_all(path, default_region=default_region)
    return reading.ruleset, reading.diagnostics


def load_rules(path: str | Path, *, default_region: str = "IL") -> RuleSet:
    """Load a rule file or a folder of *.yaml files (name order); raise the first RuleError."""
    ruleset, diagnostics = read_rules(path, default_region=default_region)
    diagnostics.raise_first_error()
    assert ruleset is not None
    return ruleset
