"""What would happen if a client sent these messages: the pure core of `rulebot try`.

Messages are grouped into bursts the way the server groups them (`burst_window_s`), each
burst is decided by the real engine, and the client's state moves on between bursts (a card
sent is remembered for `once_per`). The result is a structure a web playground can show,
and `.text()` renders it for a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.engine import decide_burst
from bot.core.ruleset import RuleSet
from bot.core.text import normalize
from bot.core.timezones import EXPLICIT
from bot.core.values import ClientState, Decision, InboundMessage

#: the seconds between messages when none is given: inside any sensible burst window
DEFAULT_GAP_S = 1.0


@dataclass(frozen=True, slots=True)
class TriedMessage:
    """One message as the rules see it: the words, and which rules' words it contains."""

    number: int
    id: str
    text: str
    at: datetime
    words: str  #: the normalised text keywords are matched on
    #: (rule name, what matched) for every rule whose words match, conditions not applied
    matches: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class TriedBurst:
    """Messages decided together, the client state before them, and the decision."""

    messages: tuple[TriedMessage, ...]
    client: ClientState
    decided_at: datetime
    decision: Decision


@dataclass(frozen=True, slots=True)
class TryResult:
    """Everything `rulebot try` shows."""

    ruleset: RuleSet
    bursts: tuple[TriedBurst, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready) for a web playground."""
        by_id = {m.id: m for burst in self.bursts for m in burst.messages}
        return {
            "rules": [str(p) for p in self.ruleset.files],
            "version": self.ruleset.version,
            "timezone": str(self.ruleset.timezone),
            "bursts": [
                {
                    "decided_at": burst.decided_at.isoformat(),
                    "client": {
                        "first_message": burst.client.last_message_at is None,
                        "replies_sent": {
                            rule: when.isoformat()
                            for rule, when in burst.client.replies_sent.items()
                        },
                    },
                    "outcome": burst.decision.outcome,
                    "explanation": burst.decision.explanation,
                    "messages": [
                        {
                            "number": m.number,
                            "id": m.id,
                            "at": m.at.isoformat(),
                            "text": m.text,
                            "words": m.words,
                            "matches": [list(pair) for pair in m.matches],
                        }
                        for m in burst.messages
                    ],
                    "replies": [
                        {
                            "rule": r.rule,
                            "contact": r.card.key,
                            "quotes": by_id[r.reply_to].number,
                            "reply_to": r.reply_to,
                            "fields": r.card.gateway_fields(),
                        }
                        for r in burst.decision.replies
                    ],
                }
                for burst in self.bursts
            ],
        }

    def text(self) -> str:
        """A readable report: messages, matches, decision and the exact card fields."""
        rules = self.ruleset
        files = ", ".join(str(p) for p in rules.files)
        lines = [f"rules: {files} (version {rules.version}, timezone {rules.timezone})"]
        if rules.timezone_source != EXPLICIT:  # say it: `--at` and the hours are read in it
            lines.append(f"note: times are read in {rules.timezone}, {rules.timezone_source}")
        for burst in self.bursts:
            lines.append("")
            local = burst.decided_at.astimezone(rules.timezone)
            together = " (decided together)" if len(burst.messages) > 1 else ""
            lines.append(
                f"at {local:%a %Y-%m-%d %H:%M:%S}{together}; client: "
                f"{_client_text(burst.client, rules)}"
            )
            for message in burst.messages:
                lines.append(f"  message {message.number}: {message.text!r}")
                if message.matches:
                    found = ", ".join(f"{rule} ({what})" for rule, what in message.matches)
                    lines.append(f"    words match: {found}")
                else:
                    lines.append("    words match: no rule")
            decision = burst.decision
            numbers = {m.id: m.number for m in burst.messages}
            if decision.replies:
                lines.append(f"  -> reply: {decision.explanation}")
                for reply in decision.replies:
                    lines.append(
                        f"     card '{reply.card.key}' from rule '{reply.rule}', "
                        f"quoting message {numbers[reply.reply_to]}:"
                    )
                    for name, value in reply.card.gateway_fields().items():
                        lines.append(f"       {name}: {value}")
            else:
                lines.append(f"  -> nothing sent ({decision.outcome}): {decision.explanation}")
        return "\n".join(lines)


def try_messages(
    ruleset: RuleSet,
    texts: Sequence[str],
    *,
    at: datetime,
    client: ClientState | None = None,
    gap_s: float = DEFAULT_GAP_S,
) -> TryResult:
    """Decide `texts` sent `gap_s` apart starting at `at` (aware), as the server would."""
    state = client or ClientState(client="tryout")
    messages = [
        InboundMessage(
            id=f"try-{i}",
            client=state.client,
            address=state.client,
            text=text,
            type="text",
            timestamp=(at + timedelta(seconds=gap_s * (i - 1))).timestamp(),
        )
        for i, text in enumerate(texts, start=1)
    ]
    bursts: list[TriedBurst] = []
    for group in _bursts(messages, ruleset):
        decided_at = datetime.fromtimestamp(group[-1].timestamp, tz=at.tzinfo)
        decision = decide_burst(group, ruleset, state, decided_at)
        tried = tuple(_tried(ruleset, m, at.tzinfo) for m in group)
        bursts.append(TriedBurst(tried, state, decided_at, decision))
        state = state.after(decision, decided_at)
    return TryResult(ruleset, tuple(bursts))


def _bursts(messages: list[InboundMessage], ruleset: RuleSet) -> list[list[InboundMessage]]:
    window, max_wait = ruleset.burst_window_s, ruleset.burst_max_wait_s
    groups: list[list[InboundMessage]] = []
    for message in messages:
        if groups and window > 0:
            current = groups[-1]
            quiet = message.timestamp - current[-1].timestamp
            if quiet <= window and message.timestamp - current[0].timestamp <= max_wait:
                current.append(message)
                continue
        groups.append([message])
    return groups


def _tried(ruleset: RuleSet, message: InboundMessage, tz: Any) -> TriedMessage:
    text = message.text or ""
    scan = ruleset.match(text)
    matches = []
    for index in scan.candidates():
        found = scan.rule_match(index)
        if found is not None:
            matches.append((ruleset.rules[index].name, found))
    return TriedMessage(
        number=int(message.id.rsplit("-", 1)[1]),
        id=message.id,
        text=text,
        at=datetime.fromtimestamp(message.timestamp, tz=tz),
        words=normalize(text),
        matches=tuple(matches),
    )


def _client_text(client: ClientState, rules: RuleSet) -> str:
    if client.last_message_at is None:
        return "first message ever"
    tz = rules.timezone
    parts = [f"last message {client.last_message_at.astimezone(tz):%a %H:%M}"]
    if client.replies_sent:
        sent = ", ".join(
            f"{rule} at {when.astimezone(tz):%a %H:%M}"
            for rule, when in client.replies_sent.items()
        )
        parts.append(f"already sent: {sent}")
    return "; ".join(parts)


#: the years `--at` and the playground accept
_FIRST_YEAR, _LAST_YEAR = 1971, 9000


def parse_at(text: str, tz: ZoneInfo) -> datetime:
    """'2026-11-27 20:15' read in the rules' timezone (an explicit offset wins) -> aware UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("T", " "))
    except ValueError:
        raise ValueError(f"--at '{text}' is not a date and time like '2026-11-27 20:15'") from None
    # Near year 1 or 9999 a time zone or a day's arithmetic leaves what a datetime can hold.
    if not _FIRST_YEAR <= moment.year <= _LAST_YEAR:
        raise ValueError(
            f"--at '{text}' is out of range: give a date between {_FIRST_YEAR} and {_LAST_YEAR}"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)
