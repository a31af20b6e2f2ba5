"""Logging set-up: one JSON object per line (default) or text for humans.

Every line about a message carries its id (`extra={"message_id": ...}`). A filter on the
handler keeps secrets and full phone numbers out of the logs: configured secrets are replaced
by `[redacted]` at every level, and at INFO and above the middle of any phone-number-like run
of 8 or more digits is hidden (972501234567 -> 9725****4567).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TextIO

import orjson
import regex

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

#: a phone number: 8 to 15 digits, optionally with "+" and single spaces or dashes between
#: them, not glued to letters, dots or other digits (ids, versions and decimals stay intact)
_PHONE = regex.compile(r"(?<![\w.+])\+?\d(?:[ -]?\d){7,14}(?![\w]|\.\d)")
#: extras that are identifiers, not personal data: kept as they are so lines can be correlated
_KEEP_EXTRAS = frozenset({"message_id"})
REDACTED = "[redacted]"
#: shorter "secrets" would redact ordinary words; config validation should refuse them anyway
_MIN_SECRET_LEN = 6

_secrets: tuple[str, ...] = ()
_secrets_lock = threading.Lock()


def add_secrets(*values: str | None) -> None:
    """Register values (API key, webhook token, admin token) never to be written to a log."""
    global _secrets
    with _secrets_lock:
        known = set(_secrets)
        known.update(v for v in values if v and len(v) >= _MIN_SECRET_LEN)
        # Longest first, so a secret containing another is replaced whole.
        _secrets = tuple(sorted(known, key=len, reverse=True))


def clear_secrets() -> None:
    """Forget the registered secrets (tests)."""
    global _secrets
    with _secrets_lock:
        _secrets = ()


def mask_phone_numbers(text: str) -> str:
    """Hide the middle digits of every phone-number-like run: 972501234567 -> 9725****4567."""
    return _PHONE.sub(_mask_match, text)


def mask_number(number: str) -> str:
    """One number for a log line, its middle hidden: 972501234567 -> 9725****4567.

    A number too short to keep four digits at each end and still hide some is all stars.
    """
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def _mask_match(match: regex.Match[str]) -> str:
    number = match.group(0)
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    hidden = set(digits[4:-4])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(number))


def redact_secrets(text: str) -> str:
    """Replace every registered secret in `text` by `[redacted]`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record so that no secret and (at INFO and above) no full phone number remains.

    Installed on the handler, so it also covers records propagated from aiohttp's loggers (an
    access-log line carries the webhook URL with its `?token=`).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        mask = record.levelno >= logging.INFO

        def clean(text: str) -> str:
            text = redact_secrets(text)
            return mask_phone_numbers(text) if mask else text

        message = record.getMessage()
        cleaned = clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD or key in _KEEP_EXTRAS or key.startswith("_"):
                continue
            if isinstance(value, str):
                record.__dict__[key] = clean(value)
            elif value is not None and not isinstance(value, int | float | bool):
                record.__dict__[key] = clean(str(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = clean(record.exc_text)
        return True


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_text:
        return record.exc_text
    if record.exc_info:
        return formatter.formatException(record.exc_info)
    return None


class JsonFormatter(logging.Formatter):
    """`{"time": ..., "level": ..., "logger": ..., "msg": ..., <extras>}` per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        exc = _exception_text(self, record)
        if exc:
            entry["exc"] = exc
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """`12:00:01 INFO  rulebot.worker  sent sales card ... [id=...]`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{stamp} {record.levelname:<7} {record.name:<16} {record.getMessage()}"
        message_id = record.__dict__.get("message_id")
        if message_id:
            line += f" [id={message_id}]"
        exc = _exception_text(self, record)
        if exc:
            line += "\n" + exc
        return line


def make_handler(fmt: str = "json", stream: TextIO | None = None) -> logging.Handler:
    """A handler writing in `fmt` (json or text) to `stream` (stderr), with the redacting filter."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    return handler


def configure_logging(
    fmt: str = "json", level: str = "INFO", *, secrets: Iterable[str | None] = ()
) -> None:
    """Send rulebot's logs to stderr in the chosen format, secrets and numbers masked."""
    add_secrets(*secrets)
    root = logging.getLogger()
    root.handlers[:] = [make_handler(fmt)]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


class RateLimitedLog:
    """Expected refusals (a wrong token, junk bodies) as one short line per kind at most every
    `every_s`, saying how many were not written: a client sending junk in a loop must not fill
    the disk with log."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._every_s = every_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._unwritten: dict[str, int] = {}

    def due(self, kind: str) -> int | None:
        """None while a line of this kind went out lately (counted); else how many were not
        written since the last one. Kinds are a small fixed set, never text from a request."""
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self._every_s:
            self._unwritten[kind] = self._unwritten.get(kind, 0) + 1
            return None
        self._last[kind] = now
        return self._unwritten.pop(kind, 0)

    def note(self, kind: str, line: str, *args: object, level: int = logging.WARNING) -> None:
        """Write `line` (a %-format) unless a line of this kind went out lately."""
        unwritten = self.due(kind)
        if unwritten is None:
            return
        if unwritten:
            line += f" ({unwritten} more like it in the last {self._every_s:g} s not logged)"
        self._logger.log(level, line, *args)
