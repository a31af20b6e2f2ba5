"""The dashboard's queries: portable SQL run through `store.query(sql, *params)`.

Both stores take `?` placeholders. The only dialect difference we need is turning unix seconds
into an hour number: SQLite's CAST truncates (the times are positive, so it floors), while
PostgreSQL's CAST rounds, so it gets FLOOR.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    store: QueryableStore, *, now: float, hours: int = 7 * 24, counts: WeekCounts | None = None
) -> list[HourCount]:
    """Messages received and cards sent per hour, oldest first, the current hour last.
    `counts` keeps the hours already counted between calls (see WeekCounts)."""
    last = int(now // HOUR_S)
    first = last - hours + 1
    by_hour = await (counts or WeekCounts()).hours(store, first=first, now=now)
    return [
        HourCount(hour * HOUR_S, by_hour[hour].messages, by_hour[hour].replies)
        for hour in range(first, last + 1)
    ]


def _by_hour(rows: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    return {int(r["hour"]): int(r["n"]) for r in rows}


async def rule_hits(
    store: QueryableStore,
    rule_names: Sequence[str],
    *,
    today: float,
    week: float,
    now: float,
    counts: WeekCounts | None = None,
) -> list[RuleHits]:
    """Replies decided per rule today and over the week, for every rule in force (and any
    rule that answered this week but has since been removed). Whole hours come from `counts`;
    the part of an hour before `today` or `week` starts is counted exactly."""
    by_hour = await (counts or WeekCounts()).hours(store, first=int(week // HOUR_S), now=now)
    since_today = await _rules_since(store, by_hour, today)
    since_week = await _rules_since(store, by_hour, week)
    counted = set(since_week) | set(since_today)
    names = list(rule_names) + sorted(counted - set(rule_names))
    return [RuleHits(name, since_today.get(name, 0), since_week.get(name, 0)) for name in names]


async def _rules_since(
    store: QueryableStore, by_hour: Mapping[int, HourTotals], since: float
) -> dict[str, int]:
    """Replies per rule decided since `since`: the whole hours after it from `by_hour`, the
    rest of its own hour with one small query."""
    whole_from = -(-since // HOUR_S)  # the first hour that starts at or after `since`
    totals: dict[str, int] = {}
    for hour, counted in by_hour.items():
        if hour >= whole_from:
            for rule, n in counted.rules.items():
                totals[rule] = totals.get(rule, 0) + n
    if since < whole_from * HOUR_S:
        for rule, n in (await _rule_counts(store, since, whole_from * HOUR_S)).items():
            totals[rule] = totals.get(rule, 0) + n
    return totals


async def _rule_counts(store: QueryableStore, since: float, until: float) -> dict[str, int]:
    rows = await store.query(
        "SELECT rule, COUNT(*) AS n FROM inbox WHERE decided_at >= ? AND decided_at < ? "
        "AND outcome = 'reply' AND rule IS NOT NULL GROUP BY rule",
        since,
        until,
    )
    return {str(r["rule"]): int(r["n"]) for r in rows}


@dataclass(slots=True)
class HourTotals:
    """One hour's messages received, cards sent, and replies decided per rule."""

    messages: int = 0
    replies: int = 0
    rules: dict[str, int] = field(default_factory=dict)


#: an hour is final this long after it ends (instances' clocks differ by a little)
_SETTLE_S = 120.0
#: hours counted per query the first time: a month of history holds the store (SQLite's one
#: thread) for a few milliseconds at a time, not for the whole week at once
_HOURS_PER_QUERY = 24


class WeekCounts:
    """Per-hour totals for the dashboard, kept between views. An hour that has passed never
    changes (its messages arrived, its cards were sent and its replies decided in it; pruning
    only reaches hours older than the chart), so a view counts only the hours it has not
    counted yet: usually the current one, instead of a week of rows."""

    def __init__(self) -> None:
        self._final: dict[int, HourTotals] = {}

    async def hours(
        self, store: QueryableStore, *, first: int, now: float, last: int | None = None
    ) -> dict[int, HourTotals]:
        """Totals for hours `first`..`last` (default: the current hour)."""
        last = int(now // HOUR_S) if last is None else last
        settled = int((now - _SETTLE_S) // HOUR_S) - 1  # the last hour that can no longer change
        for hour in [h for h in self._final if h < first]:
            del self._final[hour]
        result = {h: self._final[h] for h in range(first, last + 1) if h in self._final}
        missing = [h for h in range(first, last + 1) if h not in result]
        start = 0
        while start < len(missing):
            # A run of consecutive missing hours, counted a day at a time.
            end = start
            while (
                end + 1 < len(missing)
                and missing[end + 1] == missing[end] + 1
                and end + 1 - start < _HOURS_PER_QUERY
            ):
                end += 1
            counted = await _count_hours(store, missing[start], missing[end])
            for hour in missing[start : end + 1]:
                totals = counted.get(hour, HourTotals())
                result[hour] = totals
                if hour <= settled:
                    self._final[hour] = totals
            start = end + 1
        return result


async def _count_hours(store: QueryableStore, first: int, last: int) -> dict[int, HourTotals]:
    """Each hour's totals from the rows, for hours `first`..`last` (index range scans)."""
    dialect = dialect_of(store)
    since, until = first * HOUR_S, (last + 1) * HOUR_S
    received = hour_bucket("received_at", dialect)
    sent = hour_bucket("finished_at", dialect)
    decided = hour_bucket("decided_at", dialect)
    totals: dict[int, HourTotals] = {}
    for hour, n in _by_hour(
        await store.query(
            f"SELECT {received} AS hour, COUNT(*) AS n FROM inbox "
            f"WHERE received_at >= ? AND received_at < ? GROUP BY {received}",
            since,
            until,
        )
    ).items():
        totals.setdefault(hour, HourTotals()).messages = n
    for hour, n in _by_hour(
        await store.query(
            f"SELECT {sent} AS hour, COUNT(*) AS n FROM outbox WHERE state = 'sent' "
            f"AND finished_at >= ? AND finished_at < ? GROUP BY {sent}",
            since,
            until,
        )
    ).items():
        totals.setdefault(hour, HourTotals()).replies = n
    for row in await store.query(
        f"SELECT {decided} AS hour, rule, COUNT(*) AS n FROM inbox "
        "WHERE decided_at >= ? AND decided_at < ? AND outcome = 'reply' AND rule IS NOT NULL "
        f"GROUP BY {decided}, rule",
        since,
        until,
    ):
        totals.setdefault(int(row["hour"]), HourTotals()).rules[str(row["rule"])] = int(row["n"])
    return totals


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
