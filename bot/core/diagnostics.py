"""Problems found in rule files, each at a `file:line:column`, collected rather than raised.

`rulebot check` prints them all; `load_rules` raises the first error as a `RuleError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from bot.errors import RuleError

Severity = Literal["error", "warning"]
#: a place inside the parsed YAML: mapping keys and list indexes, e.g. ("rules", 0, "keywords")
Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem: severity, sentence, where, and an optional hint."""

    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None

    def text(self) -> str:
        """`file:line:column: error: message (hint)`, compiler-style."""
        where = ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)
        body = f"{self.severity}: {self.message}"
        if self.hint:
            body += f" ({self.hint})"
        return f"{where}: {body}" if where else body

    def to_error(self) -> RuleError:
        """This problem as the exception `load_rules` raises."""
        return RuleError(
            self.message, file=self.file, line=self.line, column=self.column, hint=self.hint
        )


@dataclass(slots=True)
class SourceMap:
    """Where each value (and each mapping key) of one parsed YAML file sits: 1-based positions."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path, *, key: bool = False) -> tuple[int | None, int | None]:
        """The line and column of `path` (its key if `key`), else of its nearest parent."""
        table = self.keys if key else self.values
        if path in table:
            return table[path]
        for end in range(len(path) - 1, -1, -1):
            parent = path[:end]
            if parent in self.values:
                return self.values[parent]
        return None, None


@dataclass(slots=True)
class Diagnostics:
    """A growing list of problems."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(
        self,
        severity: Severity,
        message: str,
        source: SourceMap | None = None,
        path: Path = (),
        *,
        key: bool = False,
        hint: str | None = None,
    ) -> None:
        """Record a problem at `path` in `source` (or with no position)."""
        if source is None:
            self.items.append(Diagnostic(severity, message, hint=hint))
            return
        line, column = source.position(path, key=key)
        self.items.append(Diagnostic(severity, message, source.file, line, column, hint))

    def error(
        self,
        message: str,
        source: SourceMap | None = None,
        path: Path = (),
        *,
        key: bool = False,
        hint: str | None = None,
    ) -> None:
        """Record an error."""
        self.add("error", message, source, path, key=key, hint=hint)

    def warning(
        self,
        message: str,
        source: SourceMap | None = None,
        path: Path = (),
        *,
        key: bool = False,
        hint: str | None = None,
    ) -> None:
        """Record a warning."""
        self.add("warning", message, source, path, key=key, hint=hint)

    def error_at(
        self,
        message: str,
        source: SourceMap,
        line: int | None,
        column: int | None,
        *,
        hint: str | None = None,
    ) -> None:
        """Record an error at a known line and column (1-based) of `source`'s file."""
        self.items.append(Diagnostic("error", message, source.file, line, column, hint))

    def extend(self, diagnostics: Diagnostics) -> None:
        """Take over another collector's problems."""
        self.items.extend(diagnostics.items)

    @property
    def errors(self) -> list[Diagnostic]:
        """Only the errors."""
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        """Only the warnings."""
        return [d for d in self.items if d.severity == "warning"]

    def sorted(self) -> list[Diagnostic]:
        """All problems in file order (problems without a position last)."""
        return sorted(
            self.items,
            key=lambda d: (d.file is None, d.file or "", d.line or 0, d.column or 0),
        )

    def raise_first_error(self) -> None:
        """Raise the first error in file order, if any."""
        errors = [d for d in self.sorted() if d.severity == "error"]
        if errors:
            raise errors[0].to_error()

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)
