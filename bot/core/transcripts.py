"""Conversations to replay through the rules: WhatsApp chat exports and JSONL test cases.

Pure parsing: text in, typed records out (no files, no clock). `rulebot try --file` reads the
file and decides each message; this module only says what the file holds.

- A WhatsApp "Export chat" text file (Android `31/12/2025, 21:41 - Dana: text` or
  `12/31/25, 9:41 PM - Dana: text`, iOS `[31/12/2025, 21:41:05] Dana: text`, Hebrew-locale
  `31.12.25, 21:41 - דנה: טקסט` with לפנה״צ/אחה״צ) becomes a `ChatExport`: one conversation,
  the times as the phone wrote them (naive, local), the date order decided for the whole file.
- A JSONL file, one `{"text": ..., "expect"?: ..., "at"?: ...}` a line, becomes `Case`s, and
  `grade` / `Accuracy` score what was sent against `expect`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "EXPECT_NONE",
    "NO_CARD",
    "RIGHT",
    "WRONG_CARD",
    "Accuracy",
    "Case",
    "ChatExport",
    "ChatMessage",
    "ClientChoice",
    "TranscriptError",
    "grade",
    "parse_cases",
    "parse_chat_export",
    "transcript_format",
]

#: `expect` for "nothing is sent"
EXPECT_NONE = "none"
RIGHT, WRONG_CARD, NO_CARD = "right", "wrong card", "no card"

# direction marks and isolates WhatsApp (and phones) put around names, numbers and lines
_MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"

_HEADER = re.compile(
    r"(?P<open>\[)?"
    r"(?P<date>(?P<d1>\d{1,4})(?P<sep>[./-])(?P<d2>\d{1,2})(?P=sep)(?P<d3>\d{4}|\d{2}))\.?"
    r",?\s+"
    r"(?P<time>(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:[:.](?P<s>\d{2}))?"
    r"(?:\s*(?P<ampm>[AaPp]\.?\s?[Mm]\.?|לפנה[״\"]צ|אחה[״\"]צ))?)"
    r"(?(open)\]\s?|\s+[-–]\s)"
    r"(?P<rest>.*)"
)
_PM = ("p", "אחה")

_EDITED = ("<This message was edited>", "<ההודעה נערכה>")
_DELETED = frozenset(
    s.casefold()
    for s in (
        "This message was deleted",
        "You deleted this message",
        "הודעה זו נמחקה",
        "מחקת את ההודעה הזו",
        "ההודעה הזו נמחקה",
    )
)
_MEDIA_LINE = re.compile(
    r"<[^<>]*>"  # <Media omitted>, <המדיה לא נכללה>, <attached: 0001-PHOTO.jpg>
    r"|(?:image|video|audio|sticker|gif|document|contact card|photo|voice message) omitted"
    r"|.* \((?:file attached|קובץ מצורף)\)"  # Android export "with media"
    r"|null",  # Android's line for a view-once photo
    re.IGNORECASE,
)


class TranscriptError(ValueError):
    """The text is not a chat export or JSONL the way it should be; `line` is 1-based."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)

    def where(self, file: str) -> str:
        """`file:line: message`, compiler-style."""
        return f"{file}:{self.line}: {self.message}" if self.line else f"{file}: {self.message}"


# --- WhatsApp chat exports ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the export: who, when (the phone's local time, naive) and the text."""

    line: int  #: where it starts in the file (1-based)
    at: datetime
    sender: str
    text: str | None  #: None: nothing to match (media without a caption, a deleted message)
    kind: Literal["text", "media", "deleted"]


@dataclass(frozen=True, slots=True)
class ClientChoice:
    """Whose messages are the client's, and a sentence saying how that was decided."""

    senders: tuple[str, ...]
    note: str


@dataclass(frozen=True, slots=True)
class ChatExport:
    """A whole WhatsApp chat, in file order."""

    messages: tuple[ChatMessage, ...]
    style: Literal["android", "ios"]
    date_order: Literal["day-first", "month-first", "year-first"]
    date_order_reason: str  #: which date decided it, or that none could
    system_lines: int  #: WhatsApp's own lines (encryption notice, security code...), skipped

    @property
    def senders(self) -> tuple[str, ...]:
        """Everyone who wrote, in the order they first did."""
        return tuple(dict.fromkeys(m.sender for m in self.messages))

    def pick_client(self, client: str | None = None, me: str | None = None) -> ClientChoice:
        """The client's side: `client` by name, or everyone but `me`, or (two senders) the first.

        Names compare without case and direction marks. Raises TranscriptError when a name is
        not in the chat, both are given, or the chat has more than two senders and neither is.
        """
        senders = self.senders
        if not senders:
            raise TranscriptError("the chat has no messages from anyone")
        listed = ", ".join(senders)
        if client is not None and me is not None:
            raise TranscriptError("give --client or --me, not both")
        if client is not None:
            found = _find_sender(client, senders)
            if found is None:
                raise TranscriptError(f"no sender '{client}' in the chat (senders: {listed})")
            return ClientChoice((found,), f"{found} (--client)")
        if me is not None:
            found = _find_sender(me, senders)
            if found is None:
                raise TranscriptError(f"no sender '{me}' in the chat (senders: {listed})")
            others = tuple(s for s in senders if s != found)
            if not others:
                raise TranscriptError(f"only {found} wrote in this chat: there is no client")
            return ClientChoice(others, f"{', '.join(others)} (everyone but {found}, --me)")
        if len(senders) == 1:
            return ClientChoice(senders, f"{senders[0]} (the only sender)")
        if len(senders) == 2:
            first, other = senders
            return ClientChoice(
                (first,),
                f"{first} (wrote first; {other} is taken as the business: "
                "choose with --client NAME or --me NAME)",
            )
        raise TranscriptError(
            f"the chat has {len(senders)} senders ({listed}): say who the client is with "
            "--client NAME, or who you are with --me NAME"
        )


def _find_sender(name: str, senders: Sequence[str]) -> str | None:
    wanted = _clean(name).casefold()
    return next((s for s in senders if s.casefold() == wanted), None)


def _clean(text: str) -> str:
    """Without direction marks (anywhere) and surrounding whitespace."""
    return text.translate({ord(c): None for c in _MARKS}).strip()


def _header(line: str) -> re.Match[str] | None:
    return _HEADER.match(line.lstrip(_MARKS + " \t"))


@dataclass(slots=True)
class _Entry:
    line: int
    match: re.Match[str]
    sender: str | None  # None: a system line
    lines: list[str]


def parse_chat_export(text: str) -> ChatExport:
    """A WhatsApp "Export chat" .txt -> its messages (raises TranscriptError, with the line)."""
    entries: list[_Entry] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        found = _header(line)
        if found is None:
            if entries:
                entries[-1].lines.append(line)  # a message goes on over several lines
            elif _clean(line):
                raise TranscriptError(
                    f"not a WhatsApp chat export line: {_short(_clean(line))!r}", number
                )
            continue
        rest = found["rest"]
        name, colon, body = rest.partition(": ")
        sender = _clean(name) if colon else ""
        if not colon and rest.rstrip().endswith(":"):
            sender, body = _clean(rest.rstrip()[:-1]), ""  # "Dana:" with an empty text
        entries.append(_Entry(number, found, sender or None, [body]))
    if not entries:
        raise TranscriptError("the file is empty: no chat lines")

    order, reason = _date_order(entries)
    style: Literal["android", "ios"] = "ios" if entries[0].match["open"] else "android"
    messages: list[ChatMessage] = []
    system = 0
    for entry in entries:
        at = _moment(entry, order)
        if entry.sender is None:
            system += 1
            continue
        body = "\n".join(entry.lines).rstrip()
        kind, content = _content(body, ios=bool(entry.match["open"]))
        if kind == "system":
            system += 1
            continue
        messages.append(ChatMessage(entry.line, at, entry.sender, content, kind))
    return ChatExport(tuple(messages), style, order, reason, system)


def _content(
    body: str, *, ios: bool
) -> tuple[Literal["text", "media", "deleted", "system"], str | None]:
    """What a message holds: its text, or that it has none (and why)."""
    for note in _EDITED:
        if body.endswith(note):
            body = body[: -len(note)].rstrip()
    first, _, caption = body.partition("\n")
    head = _clean(first)
    if head.casefold() in _DELETED:
        return "deleted", None
    if _MEDIA_LINE.fullmatch(head):
        caption = caption.strip()
        return ("text", caption) if caption else ("media", None)
    if ios and body.startswith("\u200e"):
        # iOS marks WhatsApp's own notes in a chat ("Messages and calls are end-to-end
        # encrypted", "Missed voice call") with a left-to-right mark
        return "system", None
    if not _clean(body):
        return "media", None
    return "text", body.strip(_MARKS + " \t")


def _date_order(
    entries: Sequence[_Entry],
) -> tuple[Literal["day-first", "month-first", "year-first"], str]:
    day_first: _Entry | None = None
    month_first: _Entry | None = None
    for entry in entries:
        match = entry.match
        if len(match["d1"]) == 4:
            return "year-first", f"'{match['date']}' on line {entry.line} starts with the year"
        if day_first is None and int(match["d1"]) > 12:
            day_first = entry
        if month_first is None and int(match["d2"]) > 12:
            month_first = entry
    if day_first is not None and month_first is not None:
        raise TranscriptError(
            f"the dates disagree: '{day_first.match['date']}' (line {day_first.line}) is "
            f"day-first but '{month_first.match['date']}' (line {month_first.line}) is "
            "month-first"
        )
    if day_first is not None:
        return "day-first", (
            f"'{day_first.match['date']}' on line {day_first.line} has a first number over 12"
        )
    if month_first is not None:
        return "month-first", (
            f"'{month_first.match['date']}' on line {month_first.line} has a second number over 12"
        )
    return "day-first", "no date has a number over 12, so day-first as in Israel"


def _moment(entry: _Entry, order: str) -> datetime:
    match = entry.match
    a, b, c = int(match["d1"]), int(match["d2"]), int(match["d3"])
    if order == "year-first":
        year, month, day = a, b, c
    elif order == "month-first":
        month, day, year = a, b, c
    else:
        day, month, year = a, b, c
    if year < 100:
        year += 2000
    hour, minute, second = int(match["h"]), int(match["m"]), int(match["s"] or 0)
    ampm = match["ampm"]
    if ampm is not None:
        if not 1 <= hour <= 12:
            raise TranscriptError(f"'{match['time']}' is not a 12-hour time", entry.line)
        hour = hour % 12 + (12 if ampm.lower().startswith(_PM) else 0)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise TranscriptError(
            f"'{match['date']}, {match['time']}' is not a date and time ({order})", entry.line
        ) from None


# --- JSONL test cases -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One line of a JSONL file: a message, and optionally what should be sent and when."""

    line: int
    text: str
    expect: str | None = None  #: a rule name, "fallback" or "none"
    at: str | None = None  #: "YYYY-MM-DD HH:MM", read in the rules' timezone


def parse_cases(text: str) -> tuple[Case, ...]:
    """JSONL, one `{"text": ..., "expect"?: ..., "at"?: ...}` a line (blank lines skipped)."""
    cases: list[Case] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TranscriptError(f"not JSON ({exc.msg} at column {exc.colno})", number) from None
        if not isinstance(value, dict):
            raise TranscriptError('expected an object like {"text": "..."}', number)
        message = value.get("text")
        if message is None:
            raise TranscriptError('"text" is missing', number)
        if not isinstance(message, str):
            raise TranscriptError('"text" must be a string', number)
        expect = value.get("expect")
        if expect is not None and not isinstance(expect, str):
            raise TranscriptError(
                '"expect" must be a string: a rule name, "fallback" or "none"', number
            )
        at = value.get("at")
        if at is not None and not isinstance(at, str):
            raise TranscriptError('"at" must be a string like "2026-11-27 20:15"', number)
        cases.append(Case(number, message, expect, at))
    if not cases:
        raise TranscriptError("the file is empty: no cases")
    return tuple(cases)


def grade(expect: str, sent: Sequence[str]) -> str:
    """RIGHT, WRONG_CARD or NO_CARD: `sent` is the rules whose cards went out, first first."""
    if expect == EXPECT_NONE:
        return RIGHT if not sent else WRONG_CARD
    if not sent:
        return NO_CARD
    return RIGHT if sent[0] == expect else WRONG_CARD


@dataclass(frozen=True, slots=True)
class Accuracy:
    """How many graded cases were right, sent the wrong card, or sent none."""

    right: int = 0
    wrong_card: int = 0
    no_card: int = 0

    @classmethod
    def of(cls, verdicts: Iterable[str]) -> Accuracy:
        counted = list(verdicts)
        return cls(counted.count(RIGHT), counted.count(WRONG_CARD), counted.count(NO_CARD))

    @property
    def total(self) -> int:
        return self.right + self.wrong_card + self.no_card

    def percent(self, count: int) -> float:
        """`count` as a percentage of the total, one decimal."""
        return round(100 * count / self.total, 1) if self.total else 0.0

    def rows(self) -> list[tuple[str, int, float]]:
        """(label, count, percent) for right, wrong card and no card."""
        counts = (self.right, self.wrong_card, self.no_card)
        return [(label, n, self.percent(n)) for label, n in zip(_LABELS, counts, strict=True)]


_LABELS = (RIGHT, WRONG_CARD, NO_CARD)


# --- which is which -------------------------------------------------------------------------


def transcript_format(text: str) -> Literal["whatsapp", "jsonl"] | None:
    """What the text's first non-blank line looks like: a chat export, JSONL, or neither."""
    for raw in text.split("\n"):
        line = raw.strip().lstrip(_MARKS)
        if not line:
            continue
        if line.startswith("{"):
            return "jsonl"
        return "whatsapp" if _header(line) else None
    return None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
