"""Live rules: reload when the files change, keep the last good rules when an edit is wrong.

A shop owner edits the YAML while the server runs. A valid edit is swapped in within about a
second and logged with what changed; an invalid one is logged with its `file:line:column`
and ignored, so a typo never takes the bot down. Loading runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Set
from pathlib import Path

import watchfiles

from bot.core.diagnostics import Diagnostic
from bot.core.lint import lint
from bot.core.reading import read_all
from bot.core.ruleset import RuleSet
from bot.errors import RuleError

log = logging.getLogger(__name__)


class RuleBook:
    """The current rules of a file or folder, reloaded when they change."""

    def __init__(
        self, path: str | Path, *, default_region: str = "IL", debounce_s: float = 0.2
    ) -> None:
        self.path = Path(path)
        self.default_region = default_region
        self.debounce_s = debounce_s
        self.last_error: RuleError | None = None
        #: every problem of the last read: errors, warnings and failing `examples:`
        self.problems: tuple[Diagnostic, ...] = ()
        self.loaded_at: float = 0.0
        self.reloads: int = 0
        self._current: RuleSet | None = None

    @property
    def current(self) -> RuleSet:
        """The rules in force (the last good ones). `load()` must have succeeded first."""
        if self._current is None:
            raise RuntimeError("RuleBook.load() has not succeeded yet")
        return self._current

    def load(self) -> RuleSet:
        """Initial load: raises RuleError, so a server with broken rules refuses to start."""
        ruleset = self._read()
        self._current = ruleset
        self.loaded_at = time.time()
        self.last_error = None
        log.info(
            "rules loaded from %s: %d rules, version %s",
            self.path,
            len(ruleset.rules),
            ruleset.version,
        )
        return ruleset

    def reload_now(self) -> bool:
        """Try to reload now; True if new rules were swapped in (False: unchanged or invalid)."""
        try:
            ruleset = self._read()
        except RuleError as exc:
            self.last_error = exc
            log.error(
                "rules not reloaded, keeping the last good ones: %s",
                "; ".join(
                    p.to_error().location_text() for p in self.problems if p.severity == "error"
                )
                or exc.location_text(),
            )
            return False
        except Exception as exc:  # an I/O surprise must not kill the watcher
            self.last_error = RuleError(f"cannot reload rules: {exc}", file=str(self.path))
            log.exception("rules not reloaded, keeping the last good ones")
            return False
        self.last_error = None
        old = self._current
        if old is not None and old.version == ruleset.version:
            return False
        self._current = ruleset
        self.loaded_at = time.time()
        self.reloads += 1
        log.info("rules reloaded: %s", describe_change(old, ruleset))
        return True

    def _read(self) -> RuleSet:
        """Read and lint the rules, logging every problem; raise the first error, if any."""
        reading = read_all(self.path, default_region=self.default_region)
        if reading.ruleset is not None:
            lint(
                reading.ruleset, reading.diagnostics, mentioned_contacts=reading.mentioned_contacts
            )
        self.problems = tuple(reading.diagnostics.sorted())
        for problem in self.problems:
            # failing examples are errors for `check`, but the rules still load: a warning here
            loaded = reading.ruleset is not None
            (log.warning if loaded else log.error)("rules: %s", problem.text())
        if reading.ruleset is None:
            reading.diagnostics.raise_first_error()
            raise RuleError(f"{self.path}: rules could not be read", file=str(self.path))
        return reading.ruleset

    async def watch(self, stop: asyncio.Event) -> None:
        """Watch the path until `stop` is set, reloading (in a thread) after each change."""
        folder = self.path if self.path.is_dir() else self.path.parent
        debounce_ms = max(50, int(self.debounce_s * 1000))
        async for changes in watchfiles.awatch(
            folder,
            stop_event=stop,
            debounce=max(debounce_ms, 400),
            step=debounce_ms,
            recursive=False,
            watch_filter=self._relevant,
        ):
            log.debug("rule files changed: %s", sorted(p for _, p in changes))
            await asyncio.to_thread(self.reload_now)

    def _relevant(self, change: watchfiles.Change, path: str) -> bool:
        changed = Path(path)
        if self.path.is_dir() or (not self.path.exists() and self.path.suffix == ""):
            return changed.suffix in (".yaml", ".yml")
        return changed.name == self.path.name


def describe_change(old: RuleSet | None, new: RuleSet) -> str:
    """'rules added: x; changed: y; version a -> b', for the reload log line."""
    parts: list[str] = []
    if old is not None:
        before = {r.name: r.signature for r in old.rules}
        after = {r.name: r.signature for r in new.rules}
        for label, names in (
            ("added", after.keys() - before.keys()),
            ("removed", before.keys() - after.keys()),
            ("changed", {n for n in before.keys() & after.keys() if before[n] != after[n]}),
        ):
            if names:
                parts.append(f"{label}: {_names(names, new, old)}")
        if not parts:
            parts.append("settings, contacts or order changed")
    parts.append(f"version {old.version if old else '-'} -> {new.version}")
    return "; ".join(parts)


def _names(names: Set[str], new: RuleSet, old: RuleSet) -> str:
    order = {name: i for i, name in enumerate((*new.rule_names, *old.rule_names))}
    return ", ".join(f"'{n}'" for n in sorted(names, key=lambda n: order.get(n, 0)))
