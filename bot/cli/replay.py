"""`rulebot try --file PATH`: every message of a chat export or a JSONL file, through the rules.

A WhatsApp chat export is one client's real conversation: their messages are decided in time
order at the times the phone wrote (read in the rules' timezone), and the client's state moves
on between them, so `once_per` and `first_message` behave as they would have. Each message is
decided on its own: the export's minute precision cannot tell which ones formed a burst.

A JSONL file holds independent cases: each is a new client's first message, at its own "at",
else `--at`, else now. Cases with "expect" are graded (right / wrong card / no card).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.cli.options import print_line
from bot.core.ruleset import FALLBACK, RuleSet
from bot.core.transcripts import (
    EXPECT_NONE,
    RIGHT,
    Accuracy,
    ChatExport,
    TranscriptError,
    grade,
    parse_cases,
    parse_chat_export,
    transcript_format,
)
from bot.core.tryout import TryResult, parse_at, try_messages
from bot.core.values import ClientState, Decision

__all__ = ["UNKNOWN_FORMAT", "print_json", "run_file"]

UNKNOWN_FORMAT = (
    "unknown format: expected a WhatsApp chat export (lines like "
    '\'31/12/2025, 21:41 - Dana: text\') or JSONL (one {"text": "..."} object a line)'
)
_NO_TEXT = Decision((), "empty", "The message has no text.")


@dataclass(slots=True)
class _Report:
    data: dict[str, Any]
    lines: list[str] = field(default_factory=list)


def run_file(
    args: argparse.Namespace, ruleset: RuleSet, *, at: datetime | None, out: TextIO
) -> int:
    """Replay `args.file` through `ruleset`; print lines or one JSON object; 0, or 1 on error."""
    path = str(args.file)
    try:
        text = _read(Path(path))
        kind = transcript_format(text)
        if kind == "jsonl":
            if getattr(args, "client", None) or getattr(args, "me", None):
                raise TranscriptError("--client and --me apply only to a WhatsApp chat export")
            report = _replay_cases(path, text, ruleset, at)
        elif kind == "whatsapp":
            if at is not None:
                raise TranscriptError(
                    "--at does not apply to a chat export: each message is tried at the time "
                    "it was sent"
                )
            chat = parse_chat_export(text)
            report = _replay_chat(path, chat, ruleset, args)
        else:
            raise TranscriptError(UNKNOWN_FORMAT)
    except TranscriptError as exc:
        print_line(out, f"error: {exc.where(path)}")
        return 1
    if getattr(args, "json", False):
        print_json(out, report.data)
    else:
        for line in report.lines:
            print_line(out, line)
    return 0


def print_json(stream: TextIO, data: dict[str, Any]) -> None:
    """One JSON object, UTF-8 whatever the terminal's encoding (Hebrew stays readable)."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    buffer = getattr(stream, "buffer", None)
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "")
    if buffer is not None and encoding != "utf8":
        stream.flush()
        buffer.write(text.encode("utf-8") + b"\n")
        buffer.flush()
    else:
        print(text, file=stream)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TranscriptError("no such file") from None
    except IsADirectoryError:
        raise TranscriptError("is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        raise TranscriptError(f"not UTF-8 text (byte {exc.start + 1})") from None
    except OSError as exc:
        raise TranscriptError(f"cannot read it: {exc.strerror or exc}") from None


# --- a WhatsApp chat ------------------------------------------------------------------------


def _replay_chat(path: str, chat: ChatExport, ruleset: RuleSet, args: Any) -> _Report:
    choice = chat.pick_client(getattr(args, "client", None), getattr(args, "me", None))
    tz = ruleset.timezone
    state = ClientState(client="chat")
    skipped: Counter[str] = Counter()
    messages: list[dict[str, Any]] = []
    lines: list[str] = []
    for message in chat.messages:
        if message.sender not in choice.senders:
            continue
        when = message.at.replace(tzinfo=tz)
        if message.text is None:
            skipped[message.kind] += 1
            state = state.after(_NO_TEXT, when)  # the bot saw it: no longer a first message
            continue
        result = try_messages(ruleset, [message.text], at=when, client=state)
        burst = result.bursts[-1]
        state = burst.client.after(burst.decision, burst.decided_at)
        entry = {"line": message.line, "sender": message.sender, **_message_data(result)}
        messages.append(entry)
        lines.append(_line(message.line, result))
    order = f"dates read {chat.date_order}: {chat.date_order_reason}"
    head = [
        _rules_line(ruleset),
        f"chat: {path} (WhatsApp export, {_STYLE[chat.style]}; {order}; times in {tz})",
        f"client: {choice.note}",
    ]
    notes = _skipped_text(skipped, chat.system_lines)
    if notes:
        head.append(f"skipped: {notes}")
    summary = _summary(messages)
    tail = (
        f"{_count(summary['tried'], 'message')} tried as one conversation: "
        f"{summary['answered']} answered, {summary['not_answered']} not"
    )
    data = {
        "file": path,
        "format": "whatsapp",
        "style": chat.style,
        "date_order": chat.date_order,
        "date_order_reason": chat.date_order_reason,
        **_rules_data(ruleset),
        "senders": list(chat.senders),
        "client": {"senders": list(choice.senders), "note": choice.note},
        "skipped": {
            "media": skipped["media"],
            "deleted": skipped["deleted"],
            "whatsapp_notes": chat.system_lines,
        },
        "messages": messages,
        "summary": summary,
    }
    return _Report(data, [*head, *lines, tail])


_STYLE = {"android": "Android", "ios": "iPhone"}


def _skipped_text(skipped: Counter[str], system: int) -> str:
    counts = [
        (skipped["media"], "media message"),
        (skipped["deleted"], "deleted message"),
        (system, "WhatsApp note"),
    ]
    return ", ".join(_count(n, noun) for n, noun in counts if n)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# --- JSONL cases ----------------------------------------------------------------------------


def _replay_cases(path: str, text: str, ruleset: RuleSet, at: datetime | None) -> _Report:
    cases = parse_cases(text)
    tz = ruleset.timezone
    default_at = (at or datetime.now(UTC)).astimezone(tz)
    known = {rule.name for rule in ruleset.rules} | {FALLBACK, EXPECT_NONE}
    moments: list[datetime] = []
    for case in cases:  # every line checked before anything is printed
        if case.expect is not None and case.expect not in known:
            raise TranscriptError(
                f'expect \'{case.expect}\' is not a rule name, "fallback" or "none"', case.line
            )
        if case.at is None:
            moments.append(default_at)
            continue
        try:
            moments.append(parse_at(case.at, tz).astimezone(tz))
        except ValueError:
            raise TranscriptError(
                f"\"at\" '{case.at}' is not a date and time like '2026-11-27 20:15'", case.line
            ) from None
    messages: list[dict[str, Any]] = []
    lines: list[str] = []
    wrong: list[str] = []
    verdicts: list[str] = []
    for case, when in zip(cases, moments, strict=True):
        result = try_messages(ruleset, [case.text], at=when)
        entry: dict[str, Any] = {"line": case.line, **_message_data(result)}
        verdict = None
        if case.expect is not None:
            sent = [reply["rule"] for reply in entry["replies"]]
            verdict = grade(case.expect, sent)
            verdicts.append(verdict)
            if verdict != RIGHT:
                wrong.append(
                    f"  line {case.line}: {_quoted(case.text)} expected {case.expect}, "
                    f"sent {_answer(result, why=False)}"
                )
        entry["expect"], entry["verdict"] = case.expect, verdict
        messages.append(entry)
        mark = "" if verdict is None else f"  [{_verdict_text(verdict, case.expect)}]"
        lines.append(_line(case.line, result) + mark)
    when_text = f"{default_at:%a %Y-%m-%d %H:%M}"
    head = [
        _rules_line(ruleset),
        f"cases: {path} (JSONL: {_count(len(cases), 'case')}, each a new client's first "
        f'message, at {when_text} unless the line gives "at")',
    ]
    summary = _summary(messages)
    tail = [
        f"{_count(summary['tried'], 'case')}: "
        f"{summary['answered']} answered, {summary['not_answered']} not"
    ]
    accuracy = Accuracy.of(verdicts)
    accuracy_data: dict[str, Any] | None = None
    if accuracy.total:
        tail += ["", f'accuracy over {_count(accuracy.total, "case")} with "expect":']
        tail += [f"  {label:<10} {n:>4}  {pct:5.1f}%" for label, n, pct in accuracy.rows()]
        if wrong:
            tail += ["not right:", *wrong]
        accuracy_data = {
            "cases": accuracy.total,
            "right": accuracy.right,
            "wrong_card": accuracy.wrong_card,
            "no_card": accuracy.no_card,
            "percent": {key.replace(" ", "_"): pct for key, _, pct in accuracy.rows()},
            "not_right": [m["line"] for m in messages if m["verdict"] not in (None, RIGHT)],
        }
    data = {
        "file": path,
        "format": "jsonl",
        **_rules_data(ruleset),
        "at": default_at.isoformat(),
        "messages": messages,
        "summary": summary,
        "accuracy": accuracy_data,
    }
    return _Report(data, [*head, *lines, *tail])


def _verdict_text(verdict: str, expect: str | None) -> str:
    return RIGHT if verdict == RIGHT else f"{verdict}: expected {expect}"


# --- shared ---------------------------------------------------------------------------------


def _message_data(result: TryResult) -> dict[str, Any]:
    """The one message of `result` and its decision, as plain data."""
    burst = result.to_dict()["bursts"][0]
    message = burst["messages"][0]
    replies = [
        {key: value for key, value in reply.items() if key not in ("quotes", "reply_to")}
        for reply in burst["replies"]
    ]
    return {
        "at": message["at"],
        "text": message["text"],
        "words": message["words"],
        "matches": message["matches"],
        "client": burst["client"],
        "outcome": burst["outcome"],
        "explanation": burst["explanation"],
        "replies": replies,
    }


def _line(number: int, result: TryResult) -> str:
    burst = result.bursts[0]
    message = burst.messages[0]
    return (
        f"line {number}, {message.at:%a %Y-%m-%d %H:%M}: {_quoted(message.text)} "
        f"-> {_answer(result)}"
    )


def _answer(result: TryResult, *, why: bool = True) -> str:
    decision = result.bursts[0].decision
    if decision.replies:
        return ", ".join(f"{r.rule} (card '{r.card.key}')" for r in decision.replies)
    if not why:
        return f"nothing ({decision.outcome})"
    return f"nothing ({decision.outcome}): {decision.explanation}"


def _quoted(text: str, limit: int = 50) -> str:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return repr(shown)


def _summary(messages: list[dict[str, Any]]) -> dict[str, int]:
    answered = sum(1 for m in messages if m["replies"])
    return {"tried": len(messages), "answered": answered, "not_answered": len(messages) - answered}


def _rules_line(ruleset: RuleSet) -> str:
    files = ", ".join(str(p) for p in ruleset.files)
    return f"rules: {files} (version {ruleset.version}, timezone {ruleset.timezone})"


def _rules_data(ruleset: RuleSet) -> dict[str, Any]:
    return {
        "rules": [str(p) for p in ruleset.files],
        "version": ruleset.version,
        "timezone": str(ruleset.timezone),
    }
