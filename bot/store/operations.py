"""What both stores do alike, written once: each operation is a coroutine over a `Connection`
and runs inside the caller's transaction (SQLite: the database thread's; PostgreSQL: one pooled
connection's).

Statements are written in SQLite's words with `?` placeholders; the connection renders them for
its database (bot/store/dialect.py), and the few words that differ are asked of
`conn.dialect`. What a send's outcome writes is in outcomes.py; what only one database does
(claiming, storing webhooks in bulk, recovering) lives in sqlite.py and postgres.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from bot.errors import StoreError
from bot.store.dialect import Dialect
from bot.store.migrations import RECOUNT_QUEUES
from bot.store.rows import (
    FINAL_STATES,
    IN_FLIGHT_STATES,
    ClientRecord,
    DecidedBatch,
    OutboxItem,
    PeriodFigures,
    StoreStats,
)

CONVERSATION_S = 24 * 3600


def _sql_list(words: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{word}'" for word in words) + ")"


#: delivery statuses only move forward (webhooks may arrive out of order)
STATUS_RANK = {"sent": 1, "delivered": 2, "failed": 2, "read": 3, "played": 4}
#: a send in flight, written as the outbox_due index's condition: SQLite uses a partial index
#: only for a query that repeats its condition (`state = 'pending'` alone reads the outbox)
IN_FLIGHT = "state IN ('pending', 'sending')"
#: outbox states counted against limits (may have reached the client), and finished ones
COUNTED = _sql_list((*IN_FLIGHT_STATES, "sent", "uncertain"))
FINISHED = _sql_list(FINAL_STATES)
#: most of an event's detail kept (an ignored webhook's body, bounded again by inbound.py)
EVENT_DETAIL = 4200
#: most `?` in one `IN (...)` list (SQLite allows 999 variables in all on old builds)
_IN_LIST = 400


class Connection(Protocol):
    """One transaction's connection, the same for both databases. Rows are read by column name
    (`row["client"]`) or position (`row[0]`)."""

    dialect: Dialect

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; returns the rows it changed."""

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run a statement once per row of arguments (nothing for no rows)."""

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """All rows of a query."""

    async def fetchrow(self, sql: str, *args: Any) -> Any | None:
        """The first row of a query, or None."""

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """The first column of the first row, or None."""


def chunks(items: Sequence[str]) -> list[tuple[Sequence[str], str]]:
    """Slices small enough for an `IN (...)` list, each with its `?, ?, ...` placeholders."""
    slices = [items[start : start + _IN_LIST] for start in range(0, len(items), _IN_LIST)]
    return [(chunk, ",".join("?" * len(chunk))) for chunk in slices]


def burst_due(first_at: float, last_at: float, window_s: float, max_wait_s: float) -> float:
    """When a client's pending messages are ready: the burst window after the last one, but no
    later than the longest wait after the first."""
    return min(last_at + window_s, first_at + max_wait_s)


async def clients_with_pending(
    conn: Connection, now: float, window_s: float, max_wait_s: float
) -> tuple[dict[str, float], float | None]:
    """Unclaimed clients whose messages are ready, oldest first, each with when it fell due;
    and when the next of the others will be ready."""
    # The pending messages first (the inbox_pending index holds only those), then each one's
    # client by key: driven from the clients, the query would grow with everyone who ever wrote.
    rows = await conn.fetch(
        "SELECT p.client, p.first_at, p.last_at FROM ("
        "  SELECT client, MIN(received_at) AS first_at, MAX(received_at) AS last_at "
        "  FROM inbox WHERE state = 'pending' GROUP BY client"
        ") p JOIN clients c ON c.client = p.client "
        "WHERE c.claim_until IS NULL OR c.claim_until < ? ORDER BY p.first_at",
        now,
    )
    ready: dict[str, float] = {}
    next_due: float | None = None
    for row in rows:
        due = burst_due(row["first_at"], row["last_at"], window_s, max_wait_s)
        if due > now:
            next_due = due if next_due is None else min(next_due, due)
        else:
            ready[row["client"]] = due
    return ready, next_due


async def client_records(
    conn: Connection, clients: Sequence[str], now: float
) -> dict[str, ClientRecord]:
    """What deciding needs about each client, read with a few queries for all of them."""
    rows: dict[str, Any] = {}
    replies: dict[str, dict[str, float]] = {client: {} for client in clients}
    last_hour: dict[str, int] = {}
    in_flight_since: dict[str, float] = {}
    greatest = conn.dialect.greatest
    for chunk, marks in chunks(clients):
        # A hand-off pause may sit on a row keyed by the bare number (the echo of a person's
        # message names the number, the client's own messages their from_id): match by address.
        for row in await conn.fetch(
            "SELECT c.client, c.last_message_at, c.conversation_started_at, "
            f"{greatest}(COALESCE(c.paused_until, 0), COALESCE((SELECT MAX(p.paused_until) "
            "FROM clients p WHERE p.address = c.address), 0)) AS paused_until "
            f"FROM clients c WHERE c.client IN ({marks})",
            *chunk,
        ):
            rows[row["client"]] = row
        # A card counts once the gateway accepted it (client_replies) or while it is on its way
        # (the outbox): never a send that was refused, failed or expired.
        for reply in await conn.fetch(
            f"SELECT client, rule, last_sent_at FROM client_replies WHERE client IN ({marks})",
            *chunk,
        ):
            replies[reply["client"]][reply["rule"]] = reply["last_sent_at"]
        for queued in await conn.fetch(
            "SELECT client, rule, MIN(created_at) AS first_at, MAX(created_at) AS last_at "
            f"FROM outbox WHERE client IN ({marks}) AND {IN_FLIGHT} "
            "GROUP BY client, rule",
            *chunk,
        ):
            client, rule = queued["client"], queued["rule"]
            replies[client][rule] = max(replies[client].get(rule, 0.0), queued["last_at"])
            first = in_flight_since.get(client, queued["first_at"])
            in_flight_since[client] = min(first, queued["first_at"])
        for count in await conn.fetch(
            "SELECT client, COUNT(*) AS n FROM outbox "
            f"WHERE client IN ({marks}) AND created_at > ? AND state IN {COUNTED} GROUP BY client",
            *chunk,
            now - 3600,
        ):
            last_hour[count["client"]] = count["n"]
    records = {}
    for client in clients:
        row = rows.get(client)
        conversation = row["conversation_started_at"] if row else None
        if conversation is not None and now - conversation >= CONVERSATION_S:
            conversation = None
        if conversation is None and client in in_flight_since:
            # A card on its way starts the conversation when accepted (ClientState.after).
            conversation = in_flight_since[client]
        records[client] = ClientRecord(
            client=client,
            last_message_at=row["last_message_at"] if row else None,
            conversation_started_at=conversation,
            replies_sent=replies[client],
            paused_until=(row["paused_until"] or None) if row else None,
            replies_last_hour=last_hour.get(client, 0),
        )
    return records


async def finish_batches(conn: Connection, items: Sequence[DecidedBatch], now: float) -> list[bool]:
    """Record each batch whose claim still holds (False for the others): messages decided,
    sends queued, the client's last message time; the claim released. (A queued card counts
    for `once_per` from the outbox while in flight, and from client_replies once accepted.)"""
    owners: dict[str, str | None] = {}
    for chunk, marks in chunks(sorted({item.batch.client for item in items})):
        # Locked until commit where instances share the database: nobody takes the client over
        # between this check and the writes, so a lapsed claim never records a second decision.
        # In the clients' order, as storing webhooks locks them: the two never deadlock.
        for row in await conn.fetch(
            f"SELECT client, claimed_by FROM clients WHERE client IN ({marks}) ORDER BY client"
            f"{conn.dialect.for_update}",
            *chunk,
        ):
            owners[row[0]] = row[1]
    recorded = [owners.get(item.batch.client) == item.batch.claim for item in items]
    kept = [item for item, ok in zip(items, recorded, strict=True) if ok]
    await conn.executemany(
        "UPDATE inbox SET state = 'done', outcome = ?, rule = ?, explanation = ?, decided_at = ? "
        "WHERE message_id = ? AND state = 'pending'",
        [
            (o.outcome, o.rule, o.explanation, now, o.message_id)
            for item in kept
            for o in item.outcomes
        ],
    )
    drafts = [d for item in kept for d in item.drafts]
    await conn.executemany(
        "INSERT INTO outbox(client, address, rule, reply_to, contact, next_attempt_at, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (d.client, d.address, d.rule, d.reply_to, orjson.dumps(dict(d.contact)), now, now)
            for d in drafts
        ],
    )
    await conn.executemany(
        f"UPDATE clients SET last_message_at = {conn.dialect.greatest}("
        "COALESCE(last_message_at, 0), ?), claimed_by = NULL, claim_until = NULL WHERE client = ?",
        [(item.last_message_at, item.batch.client) for item in kept],
    )
    return recorded


async def finish_batch(conn: Connection, decided: DecidedBatch, now: float) -> None:
    """finish_batches for one batch; StoreError if its claim lapsed (nothing is written)."""
    if not (await finish_batches(conn, (decided,), now))[0]:
        client = decided.batch.client
        raise StoreError(f"the claim on client {client} lapsed; another worker has it")


def outbox_item(row: Any, *, attempts: int, possible_duplicate: bool) -> OutboxItem:
    """A claimed outbox row (joined with its client's window columns) as the sender takes it."""
    return OutboxItem(
        id=row["id"],
        client=row["client"],
        address=row["address"],
        rule=row["rule"],
        reply_to=row["reply_to"],
        contact=orjson.loads(row["contact"]),
        attempts=attempts,
        created_at=row["created_at"],
        possible_duplicate=possible_duplicate,
        client_last_message_at=row["last_message_at"],
        gateway_window_end=row["gateway_window_end"],
        gateway_window_reported_at=row["gateway_window_reported_at"],
    )


async def record_event(conn: Connection, kind: str, detail: str, now: float) -> None:
    await conn.execute(
        "INSERT INTO events(at, kind, detail) VALUES (?, ?, ?)", now, kind, detail[:EVENT_DETAIL]
    )


async def stats(conn: Connection, since: float, period: PeriodFigures) -> StoreStats:
    """The store's figures: `period` (counted by the caller, see period_counts.py) with the
    queue depths, the uncertain sends and the latest errors counted now."""
    # Queue depths are kept by triggers (migration 6): a sum over a few rows, whatever the
    # backlog. Sends flagged uncertain are few; the outbox_possible_duplicate index holds them.
    depths = {
        row[0]: int(row[1])
        for row in await conn.fetch("SELECT figure, SUM(n) FROM queue_counts GROUP BY figure")
    }
    uncertain = await conn.fetchval(
        "SELECT COUNT(*) FROM outbox WHERE possible_duplicate = 1 AND created_at >= ?", since
    )
    return StoreStats(
        inbox_pending=depths.get("inbox:pending", 0),
        outbox_pending=depths.get("outbox:pending", 0),
        outbox_in_flight=depths.get("outbox:sending", 0),
        received=period.received,
        outcomes=dict(period.outcomes),
        sends=dict(period.sends),
        uncertain=int(uncertain),
        conversations=period.conversations,
        accepted_with_warnings=period.warned,
        failures=dict(period.failures),
        recent_errors=await _recent_errors(conn, 5),
    )


async def recount_queues(conn: Connection) -> None:
    """Fold the kept queue depths into one exact count per figure (at start: the rows of
    connections long gone are merged, and anything a trigger could not see is set right)."""
    if conn.dialect.name == "postgresql":
        # Writers' triggers wait while the rows are counted and replaced, so no change is
        # counted twice or lost; a transaction that wrote before the lock ends first.
        await conn.execute("LOCK TABLE queue_counts IN EXCLUSIVE MODE")
    await conn.execute("DELETE FROM queue_counts")
    for statement in RECOUNT_QUEUES:
        await conn.execute(statement)


async def _recent_errors(conn: Connection, limit: int) -> tuple[tuple[float, str, str], ...]:
    """The latest errors, newest first: sends that failed for good (the outbox_failed index)
    and sends waiting for a retry (in flight), merged."""
    finished = await conn.fetch(
        "SELECT finished_at, state, error FROM outbox "
        "WHERE error IS NOT NULL AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?",
        limit,
    )
    retrying = await conn.fetch(
        "SELECT next_attempt_at, state, error FROM outbox "
        f"WHERE {IN_FLIGHT} AND error IS NOT NULL AND finished_at IS NULL "
        "ORDER BY next_attempt_at DESC LIMIT ?",
        limit,
    )
    latest = sorted([*finished, *retrying], key=lambda row: row[0], reverse=True)[:limit]
    return tuple((r[0], r[1] or "error", r[2]) for r in latest)


async def next_send_due(conn: Connection) -> float | None:
    """When the next send falls due: the earliest retry, or the earliest lease to lapse.

    Two index walks of the sends in flight (outbox_due, outbox_address) that stop at the first
    row, so the cost follows the sends in flight, not the outbox.
    """
    retry = await conn.fetchval(
        f"SELECT next_attempt_at FROM outbox WHERE {IN_FLIGHT} AND state = 'pending' "
        "ORDER BY next_attempt_at LIMIT 1"
    )
    lease = await conn.fetchval("SELECT MIN(lease_until) FROM outbox WHERE state = 'sending'")
    due = [when for when in (retry, lease) if when is not None]
    return min(due) if due else None


#: rows deleted per table in one transaction when pruning: a webhook waits for one batch at most
PRUNE_BATCH = 2000


#: what pruning deletes: table, the time it is old by, and which of its rows are finished
_PRUNED = (
    ("inbox", "received_at", "state = 'done'"),
    ("outbox", "finished_at", f"state IN {FINISHED}"),
    ("conversations", "started_at", "1 = 1"),
    ("events", "at", "1 = 1"),
)


async def prune_batch(conn: Connection, older_than: float, limit: int) -> list[int]:
    """Delete about `limit` finished rows older than `older_than` from each table (rows
    deleted per table): one small transaction, so pruning a month never holds the store.
    Each table is cut at the time of its limit-th oldest finished row (an index walk that the
    LIMIT stops), then deleted up to it by time range (a few more on a tie)."""
    deleted = []
    for table, at, finished in _PRUNED:
        cutoff = await conn.fetchval(
            f"SELECT MAX({at}) FROM (SELECT {at} FROM {table} "
            f"WHERE {finished} AND {at} < ? ORDER BY {at} LIMIT ?) AS oldest",
            older_than,
            limit,
        )
        if cutoff is None:
            deleted.append(0)
            continue
        deleted.append(
            await conn.execute(f"DELETE FROM {table} WHERE {finished} AND {at} <= ?", cutoff)
        )
    return deleted


async def query(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [dict(row) for row in await conn.fetch(sql, *params)]
