"""The errors rulebot raises, each with a message a person can act on.

One base class; subclasses grouped by cause. Lower libraries' exceptions (aiohttp, sqlite,
asyncpg, PyYAML) are translated where they occur so callers only ever see these.
"""

from __future__ import annotations

from dataclasses import dataclass


class RulebotError(Exception):
    """Base class of every error rulebot raises on purpose."""


class ConfigError(RulebotError):
    """The configuration file or environment is wrong; the message says what to fix."""


class RuleError(RulebotError):
    """A rule file is wrong. Carries the file, line and column (1-based) and an optional hint."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(self.location_text())

    def location_text(self) -> str:
        """`file:line:column: message (hint)`, compiler-style."""
        where = ":".join(
            str(part) for part in (self.file, self.line, self.column) if part is not None
        )
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class InboundError(RulebotError):
    """A webhook body that cannot be a message: answered with 400 and this one-line reason."""


class StoreError(RulebotError):
    """The store (SQLite or PostgreSQL) failed or holds data it cannot read."""


@dataclass(frozen=True, slots=True)
class GatewayResponse:
    """The gateway's answer as it came: kept on the error for diagnosis."""

    status: int  #: HTTP status
    body: str  #: the body as text (undecodable bytes replaced)


class GatewayError(RulebotError):
    """Send Contact did not succeed. `retryable` says whether trying again can help;
    `uncertain`, whether the card may have gone out all the same.

    `response` is the gateway's raw answer (None when none came: network error, timeout)."""

    retryable: bool = False
    #: the gateway may have accepted the send all the same (no usable answer came back)
    uncertain: bool = False
    #: short machine name used in the outbox and in metrics, e.g. "window_expired"
    code: str = "gateway_error"

    def __init__(
        self,
        message: str,
        *,
        reason: int | None = None,
        response: GatewayResponse | None = None,
    ) -> None:
        self.reason = reason
        self.response = response
        super().__init__(message)
