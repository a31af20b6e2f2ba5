"""The dashboard's queries: portable SQL run through `store.query(sql, *params)`.

Both stores take `?` placeholders. The only dialect difference we need is turning unix seconds
into an hour number: SQLite's CAST truncates (the times are positive, so it floors), while
PostgreSQL's CAST rounds, so it gets FLOOR.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

HOUR_S = 3600
#: inbox outcomes where the client got nothing although nobody meant that (no group, no pause)
UNANSWERED_OUTCOMES = ("no_match", "conditions", "empty", "error")
FAILED_STATES = ("failed", "refused", "window_expired")


class QueryableStore(Protocol):
    """What the reports need from a store."""

    async def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows as dicts; `?` placeholders."""


def dialect_of(store: object) -> str:
    """'postgresql' or 'sqlite' (the default)."""
    named = getattr(store, "dialect", None)
    if isinstance(named, str):
        return named
    return "postgresql" if "postgres" in type(store).__name__.lower() else "sqlite"


def hour_bucket(column: str, dialect: str) -> str:
    """SQL for the hour number (unix seconds // 3600) of a REAL unix-seconds column."""
    if dialect == "postgresql":
        return f"CAST(FLOOR({column} / {HOUR_S}) AS BIGINT)"
    return f"CAST({column} / {HOUR_S} AS INTEGER)"


@dataclass(frozen=True, slots=True)
class Failure:
    """Sends that did not go out, grouped by what happened and the reason given."""

    state: str
    error: str
    count: int


@dataclass(frozen=True, slots=True)
class HourCount:
    """Messages in and cards sent during one hour (start: unix seconds)."""

    start: float
    messages: int
    replies: int


@dataclass(frozen=True, slots=True)
class RuleHits:
    """How often a rule answered."""

    rule: str
    today: int
    week: int


@dataclass(frozen=True, slots=True)
class RecentMessage:
    """One client message, how it was decided, and what became of the card."""

    message_id: str
    client: str
    address: str  #: the client's number (or hidden-number id): mask it before showing it
    text: str
    received_at: float
    state: str
    outcome: str | None
    rule: str | None
    explanation: str | None
    send_state: str | None
    delivery_status: str | None
    send_error: str | None


async def unanswered_count(store: QueryableStore, *, since: float) -> int:
    """Client messages decided since `since` that got no reply and were meant to."""
    marks = ", ".join("?" for _ in UNANSWERED_OUTCOMES)
    rows = await store.query(
        f"SELECT COUNT(*) AS n FROM inbox WHERE decided_at >= ? AND outcome IN ({marks})",
        since,
        *UNANSWERED_OUTCOMES,
    )
    return int(rows[0]["n"]) if rows else 0


async def failures(store: QueryableStore, *, since: float, limit: int = 10) -> list[Failure]:
    """Sends finished without going out since `since`, most frequent first."""
    marks = ", ".join("?" for _ in FAILED_STATES)
    rows = await store.query(
        "SELECT state, COALESCE(error, '') AS error, COUNT(*) AS n FROM outbox "
        f"WHERE finished_at >= ? AND state IN ({marks}) "
        "GROUP BY state, COALESCE(error, '') ORDER BY COUNT(*) DESC, state LIMIT ?",
        since,
        *FAILED_STATES,
        limit,
    )
    return [Failure(str(r["state"]), str(r["error"]), int(r["n"])) for r in rows]


async def hourly_activity(
    store: QueryableStore, *, now: float, hours: int = 7 * 24
) -> list[HourCount]:
    """Messages received and cards sent per hour, oldest first, the current hour last."""
    dialect = dialect_of(store)
    last = int(now // HOUR_S)
    first = last - hours + 1
    since = first * HOUR_S
    received = hour_bucket("received_at", dialect)
    sent = hour_bucket("finished_at", dialect)
    inbox = await store.query(
        f"SELECT {received} AS hour, COUNT(*) AS n FROM inbox WHERE received_at >= ? "
        f"GROUP BY {received}",
        since,
    )
    outbox = await store.query(
        f"SELECT {sent} AS hour, COUNT(*) AS n FROM outbox "
        f"WHERE state = 'sent' AND finished_at >= ? GROUP BY {sent}",
        since,
    )
    messages = _by_hour(inbox)
    replies = _by_hour(outbox)
    return [
        HourCount(hour * HOUR_S, messages.get(hour, 0), replies.get(hour, 0))
        for hour in range(first, last + 1)
    ]


def _by_hour(rows: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    return {int(r["hour"]): int(r["n"]) for r in rows}


async def rule_hits(
    store: QueryableStore, rule_names: Sequence[str], *, today: float, week: float
) -> list[RuleHits]:
    """Replies decided per rule today and over the week, for every rule in force (and any
    rule that answered this week but has since been removed)."""
    rows = await store.query(
        "SELECT rule, "
        "SUM(CASE WHEN decided_at >= ? THEN 1 ELSE 0 END) AS today, COUNT(*) AS week "
        "FROM inbox WHERE decided_at >= ? AND outcome = 'reply' AND rule IS NOT NULL "
        "GROUP BY rule",
        today,
        week,
    )
    counted = {str(r["rule"]): (int(r["today"] or 0), int(r["week"])) for r in rows}
    names = list(rule_names) + sorted(set(counted) - set(rule_names))
    return [RuleHits(name, *counted.get(name, (0, 0))) for name in names]


async def recent_messages(store: QueryableStore, *, limit: int = 20) -> list[RecentMessage]:
    """The latest client messages with their decision and their card's delivery, newest first."""
    rows = await store.query(
        "SELECT i.message_id, i.client, i.address, i.payload, i.received_at, i.state, "
        "i.outcome, i.rule, i.explanation, "
        "o.state AS send_state, o.delivery_status, o.error AS send_error "
        "FROM inbox i LEFT JOIN outbox o ON o.reply_to = i.message_id "
        "ORDER BY i.received_at DESC, i.message_id DESC LIMIT ?",
        limit,
    )
    return [
        RecentMessage(
            message_id=str(r["message_id"]),
            client=str(r["client"]),
            address=str(r["address"]),
            text=_message_text(r["payload"]),
            received_at=float(r["received_at"]),
            state=str(r["state"]),
            outcome=r["outcome"],
            rule=r["rule"],
            explanation=r["explanation"],
            send_state=r["send_state"],
            delivery_status=r["delivery_status"],
            send_error=r["send_error"],
        )
        for r in rows
    ]


def _message_text(payload: Any) -> str:
    """The message's text from the stored payload (JSON text, bytes, or a decoded mapping)."""
    if isinstance(payload, str | bytes | bytearray | memoryview):
        try:
            payload = orjson.loads(bytes(payload) if not isinstance(payload, str) else payload)
        except orjson.JSONDecodeError:
            return ""
    if isinstance(payload, Mapping):
        text = payload.get("text")
        if isinstance(text, str):
            return text
        kind = payload.get("type")
        return f"({kind})" if isinstance(kind, str) else ""
    return ""
