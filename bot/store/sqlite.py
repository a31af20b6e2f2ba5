"""The default store: one SQLite file, WAL, durable commits (see sqlite_thread.py for how
operations share commits). Every operation below is a plain function of a connection, run in
the database thread's current transaction."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from bot.errors import StoreError
from bot.store.rows import (
    FINAL_STATES,
    ClientBatch,
    ClientRecord,
    DecidedBatch,
    InboxRow,
    OutboxItem,
    PendingMessage,
    StoreStats,
)
from bot.store.sqlite_thread import DatabaseThread

_CONVERSATION_S = 24 * 3600
#: delivery statuses only move forward (webhooks may arrive out of order)
STATUS_RANK = {"sent": 1, "delivered": 2, "failed": 2, "read": 3, "played": 4}

_QueuedInbound = tuple[InboxRow, float, "asyncio.Future[bool]"]


class SqliteStore:
    """The default store: one SQLite file."""

    def __init__(self, db: DatabaseThread, path: str) -> None:
        self._db = db
        self.path = path
        # Webhooks arriving together are stored with one multi-row insert (see add_inbound).
        self._inbound_lock = threading.Lock()
        self._inbound: list[_QueuedInbound] = []
        self._inbound_flush_queued = False
        self._flushes: set[asyncio.Future[None]] = set()

    @classmethod
    async def open(cls, path: str) -> SqliteStore:
        """Open the file (creating it and its folder) and run pending migrations."""
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = DatabaseThread(path)
        await asyncio.to_thread(db.start)
        return cls(db, path)

    async def close(self) -> None:
        await self._db.close()

    async def schema_version(self) -> int:
        return await self._db.run(lambda conn: conn.execute("PRAGMA user_version").fetchone()[0])

    async def add_inbound(self, row: InboxRow, received_at: float) -> bool:
        if self._db.closed:
            raise StoreError("the store is closed")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        with self._inbound_lock:
            self._inbound.append((row, received_at, future))
            flush = not self._inbound_flush_queued
            self._inbound_flush_queued = True
        if flush:
            task = asyncio.ensure_future(self._flush_inbound())
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        return await future

    async def _flush_inbound(self) -> None:
        taken: list[_QueuedInbound] = []
        try:
            inserted = await self._db.run(self._take_and_insert_inbound, taken)
        except Exception as exc:  # the commit failed: every webhook taken gets a 503
            if not taken:  # the store closed before the insert ran: fail what is queued
                with self._inbound_lock:
                    taken, self._inbound = self._inbound, []
                    self._inbound_flush_queued = False
            for *_rest, future in taken:
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_rest, future), fresh in zip(taken, inserted, strict=True):
            if not future.done():
                future.set_result(fresh)

    def _take_and_insert_inbound(
        self, conn: sqlite3.Connection, taken: list[_QueuedInbound]
    ) -> list[bool]:
        # Runs on the database thread: takes whatever queued up while it waited its turn.
        with self._inbound_lock:
            taken.extend(self._inbound)
            self._inbound = []
            self._inbound_flush_queued = False
        return _add_inbound_many(conn, [(row, at) for row, at, _f in taken])

    async def recover(self, now: float) -> int:
        return await self._db.run(_recover, now)

    async def claim_clients(
        self,
        *,
        now: float,
        window_s: float,
        max_wait_s: float,
        limit: int,
        worker: str,
        lease_s: float,
    ) -> tuple[list[ClientBatch], float | None]:
        return await self._db.run(_claim_clients, now, window_s, max_wait_s, limit, worker, lease_s)

    async def client_record(self, client: str, now: float) -> ClientRecord:
        return await self._db.run(_client_record, client, now)

    async def finish_batch(self, decided: DecidedBatch, now: float) -> None:
        await self._db.run(_finish_batch, decided, now)

    async def finish_batches(self, items: Sequence[DecidedBatch], now: float) -> list[bool]:
        return await self._db.run(_finish_batches, tuple(items), now)

    async def claim_sends(
        self, *, now: float, limit: int, worker: str, lease_s: float
    ) -> tuple[list[OutboxItem], float | None]:
        return await self._db.run(_claim_sends, now, limit, worker, lease_s)

    async def mark_sent(
        self, item_id: int, *, unique: str, now: float, window_left_min: float | None
    ) -> None:
        await self._db.run(_mark_sent, item_id, unique, now, window_left_min)

    async def mark_retry(self, item_id: int, *, error: str, next_attempt_at: float) -> None:
        await self._db.run(_mark_retry, item_id, error, next_attempt_at)

    async def mark_final(
        self, item_id: int, *, state: str, code: str, reason: int | None, error: str, now: float
    ) -> None:
        if state not in FINAL_STATES or state == "sent":
            raise ValueError(f"not a final failure state: {state}")
        await self._db.run(_mark_final, item_id, state, code, reason, error, now)

    async def record_status(self, unique: str, status: str, now: float) -> bool:
        return await self._db.run(_record_status, unique, status, now)

    async def record_outgoing(
        self, *, unique: str, client: str, now: float, pause_until: float
    ) -> bool:
        return await self._db.run(_record_outgoing, unique, client, now, pause_until)

    async def record_event(self, kind: str, detail: str, now: float) -> None:
        await self._db.run(_record_event, kind, detail, now)

    async def stats(self, *, since: float, now: float) -> StoreStats:
        return await self._db.run(_stats, since, now)

    async def prune(self, *, older_than: float) -> int:
        return await self._db.run(_prune, older_than)

    async def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows as dicts (for the dashboard and tests)."""
        return await self._db.run(_query, sql, params)


# -- operations: each runs inside the writer thread's transaction ---------------------------


def _query(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.execute(sql, params)]


def _add_inbound_many(conn: sqlite3.Connection, rows: list[tuple[InboxRow, float]]) -> list[bool]:
    """Insert messages not stored yet; True for each one stored now, False for a repeat."""
    inserted: set[str] = set()
    for start in range(0, len(rows), 100):
        chunk = rows[start : start + 100]
        values = ",".join(["(?, ?, ?, ?, ?)"] * len(chunk))
        params = [v for r, at in chunk for v in (r.message_id, r.client, r.address, r.payload, at)]
        # One statement for the chunk; RETURNING names the rows that were new.
        inserted.update(
            row[0]
            for row in conn.execute(
                "INSERT INTO inbox(message_id, client, address, payload, received_at) "
                f"VALUES {values} ON CONFLICT(message_id) DO NOTHING RETURNING message_id",
                params,
            )
        )
    fresh: list[bool] = []
    new_clients: dict[str, str] = {}
    for row, _at in rows:
        is_new = row.message_id in inserted
        inserted.discard(row.message_id)  # the same id twice in one batch: the second is a repeat
        fresh.append(is_new)
        if is_new:
            new_clients[row.client] = row.address
    conn.executemany(
        "INSERT INTO clients(client, address) VALUES (?, ?) "
        "ON CONFLICT(client) DO UPDATE SET address = excluded.address",
        list(new_clients.items()),
    )
    return fresh


def _recover(conn: sqlite3.Connection, now: float) -> int:
    # One process owns a SQLite file: whatever is claimed now was claimed by a dead process.
    conn.execute("UPDATE clients SET claimed_by = NULL, claim_until = NULL")
    cursor = conn.execute(
        "UPDATE outbox SET state = 'pending', possible_duplicate = 1, next_attempt_at = ?, "
        "claimed_by = NULL, lease_until = NULL WHERE state = 'sending'",
        (now,),
    )
    return cursor.rowcount


def _chunks(items: Sequence[str], size: int = 400) -> list[tuple[Sequence[str], str]]:
    """Slices small enough for an `IN (...)` list, each with its `?, ?, ...` placeholders."""
    slices = [items[start : start + size] for start in range(0, len(items), size)]
    return [(chunk, ",".join("?" * len(chunk))) for chunk in slices]


def _claim_clients(
    conn: sqlite3.Connection,
    now: float,
    window_s: float,
    max_wait_s: float,
    limit: int,
    worker: str,
    lease_s: float,
) -> tuple[list[ClientBatch], float | None]:
    rows = conn.execute(
        "SELECT i.client, MIN(i.received_at) AS first_at, MAX(i.received_at) AS last_at "
        "FROM inbox i JOIN clients c ON c.client = i.client "
        "WHERE i.state = 'pending' AND (c.claim_until IS NULL OR c.claim_until < ?) "
        "GROUP BY i.client ORDER BY first_at",
        (now,),
    ).fetchall()
    ready: list[str] = []
    next_due: float | None = None
    for row in rows:
        due = min(row["last_at"] + window_s, row["first_at"] + max_wait_s)
        if due > now or len(ready) >= limit:
            next_due = due if next_due is None else min(next_due, due)
        else:
            ready.append(row["client"])
    if not ready:
        return [], next_due
    # One token for the whole round: finishing checks it per client all the same.
    claim = f"{worker}:{uuid.uuid4().hex[:12]}"
    conn.executemany(
        "UPDATE clients SET claimed_by = ?, claim_until = ? WHERE client = ?",
        [(claim, now + lease_s, client) for client in ready],
    )
    pending: dict[str, list[PendingMessage]] = {client: [] for client in ready}
    for chunk, marks in _chunks(ready):
        for m in conn.execute(
            "SELECT client, message_id, payload, received_at FROM inbox "
            f"WHERE state = 'pending' AND client IN ({marks}) ORDER BY received_at, id",
            chunk,
        ):
            pending[m["client"]].append(
                PendingMessage(m["message_id"], m["payload"], m["received_at"])
            )
    records = _client_records(conn, ready, now)
    batches = [
        ClientBatch(client=c, messages=tuple(pending[c]), claim=claim, record=records[c])
        for c in ready
    ]
    return batches, next_due


def _client_record(conn: sqlite3.Connection, client: str, now: float) -> ClientRecord:
    return _client_records(conn, [client], now)[client]


def _client_records(
    conn: sqlite3.Connection, clients: Sequence[str], now: float
) -> dict[str, ClientRecord]:
    """What the worker needs about each client, read with a few queries for all of them."""
    rows: dict[str, sqlite3.Row] = {}
    replies: dict[str, dict[str, float]] = {client: {} for client in clients}
    last_hour: dict[str, int] = {}
    for chunk, marks in _chunks(clients):
        # A hand-off pause may sit on a row keyed by the bare number (the echo of a person's
        # message names the number, the client's own messages their from_id): match by address.
        for row in conn.execute(
            "SELECT c.client, c.last_message_at, c.conversation_started_at, "
            "MAX(COALESCE(c.paused_until, 0), COALESCE((SELECT MAX(p.paused_until) "
            "FROM clients p WHERE p.address = c.address), 0)) AS paused_until "
            f"FROM clients c WHERE c.client IN ({marks})",
            chunk,
        ):
            rows[row["client"]] = row
        for reply in conn.execute(
            f"SELECT client, rule, last_sent_at FROM client_replies WHERE client IN ({marks})",
            chunk,
        ):
            replies[reply["client"]][reply["rule"]] = reply["last_sent_at"]
        for count in conn.execute(
            "SELECT client, COUNT(*) AS n FROM outbox "
            f"WHERE client IN ({marks}) AND created_at > ? GROUP BY client",
            (*chunk, now - 3600),
        ):
            last_hour[count["client"]] = count["n"]
    records = {}
    for client in clients:
        row = rows.get(client)
        conversation = row["conversation_started_at"] if row else None
        if conversation is not None and now - conversation >= _CONVERSATION_S:
            conversation = None
        paused = row["paused_until"] if row else None
        records[client] = ClientRecord(
            client=client,
            last_message_at=row["last_message_at"] if row else None,
            conversation_started_at=conversation,
            replies_sent=replies[client],
            paused_until=paused or None,
            replies_last_hour=last_hour.get(client, 0),
        )
    return records


def _finish_batch(conn: sqlite3.Connection, decided: DecidedBatch, now: float) -> None:
    if not _finish_batches(conn, (decided,), now)[0]:
        client = decided.batch.client
        raise StoreError(f"the claim on client {client} lapsed; another worker has it")


def _finish_batches(
    conn: sqlite3.Connection, items: Sequence[DecidedBatch], now: float
) -> list[bool]:
    owners: dict[str, str | None] = {}
    for chunk, marks in _chunks([item.batch.client for item in items]):
        owners.update(
            conn.execute(f"SELECT client, claimed_by FROM clients WHERE client IN ({marks})", chunk)
        )
    recorded = [owners.get(item.batch.client) == item.batch.claim for item in items]
    kept = [item for item, ok in zip(items, recorded, strict=True) if ok]
    conn.executemany(
        "UPDATE inbox SET state = 'done', outcome = ?, rule = ?, explanation = ?, decided_at = ? "
        "WHERE message_id = ? AND state = 'pending'",
        [
            (o.outcome, o.rule, o.explanation, now, o.message_id)
            for item in kept
            for o in item.outcomes
        ],
    )
    drafts = [d for item in kept for d in item.drafts]
    conn.executemany(
        "INSERT INTO outbox(client, address, rule, reply_to, contact, next_attempt_at, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (d.client, d.address, d.rule, d.reply_to, orjson.dumps(dict(d.contact)), now, now)
            for d in drafts
        ],
    )
    conn.executemany(
        "INSERT INTO client_replies(client, rule, last_sent_at) VALUES (?, ?, ?) "
        "ON CONFLICT(client, rule) DO UPDATE SET last_sent_at = excluded.last_sent_at",
        [(d.client, d.rule, now) for d in drafts],
    )
    conn.executemany(
        "UPDATE clients SET last_message_at = MAX(COALESCE(last_message_at, 0), ?), "
        "claimed_by = NULL, claim_until = NULL WHERE client = ?",
        [(item.last_message_at, item.batch.client) for item in kept],
    )
    return recorded


def _claim_sends(
    conn: sqlite3.Connection, now: float, limit: int, worker: str, lease_s: float
) -> tuple[list[OutboxItem], float | None]:
    rows = conn.execute(
        "SELECT o.*, c.last_message_at, c.gateway_window_end, c.gateway_window_reported_at "
        "FROM outbox o LEFT JOIN clients c ON c.client = o.client "
        "WHERE (o.state = 'pending' AND o.next_attempt_at <= ?) "
        "   OR (o.state = 'sending' AND o.lease_until < ?) "
        "ORDER BY o.next_attempt_at, o.id LIMIT ?",
        (now, now, limit),
    ).fetchall()
    items = []
    for row in rows:
        uncertain = bool(row["possible_duplicate"]) or row["state"] == "sending"
        conn.execute(
            "UPDATE outbox SET state = 'sending', claimed_by = ?, lease_until = ?, "
            "attempts = attempts + 1, possible_duplicate = ? WHERE id = ?",
            (worker, now + lease_s, int(uncertain), row["id"]),
        )
        items.append(
            OutboxItem(
                id=row["id"],
                client=row["client"],
                address=row["address"],
                rule=row["rule"],
                reply_to=row["reply_to"],
                contact=orjson.loads(row["contact"]),
                attempts=row["attempts"] + 1,
                created_at=row["created_at"],
                possible_duplicate=uncertain,
                client_last_message_at=row["last_message_at"],
                gateway_window_end=row["gateway_window_end"],
                gateway_window_reported_at=row["gateway_window_reported_at"],
            )
        )
    next_row = conn.execute(
        "SELECT MIN(due) FROM (SELECT MIN(next_attempt_at) AS due FROM outbox WHERE state = "
        "'pending' UNION ALL SELECT MIN(lease_until) FROM outbox WHERE state = 'sending')"
    ).fetchone()
    return items, next_row[0]


def _mark_sent(
    conn: sqlite3.Connection, item_id: int, unique: str, now: float, window_left_min: float | None
) -> None:
    row = conn.execute(
        "UPDATE outbox SET state = 'sent', gateway_unique = ?, finished_at = ?, error = NULL, "
        "claimed_by = NULL, lease_until = NULL WHERE id = ? RETURNING client",
        (unique, now, item_id),
    ).fetchone()
    if row is None:
        return
    client = row["client"]
    started = conn.execute(
        "SELECT conversation_started_at FROM clients WHERE client = ?", (client,)
    ).fetchone()
    # Billing: a 24 h conversation starts when we send and none is running.
    if started is None or started[0] is None or now - started[0] >= _CONVERSATION_S:
        conn.execute(
            "UPDATE clients SET conversation_started_at = ? WHERE client = ?", (now, client)
        )
        conn.execute("INSERT INTO conversations(client, started_at) VALUES (?, ?)", (client, now))
    if window_left_min is not None:
        conn.execute(
            "UPDATE clients SET gateway_window_end = ?, gateway_window_reported_at = ? "
            "WHERE client = ?",
            (now + window_left_min * 60, now, client),
        )


def _mark_retry(conn: sqlite3.Connection, item_id: int, error: str, next_attempt_at: float) -> None:
    conn.execute(
        "UPDATE outbox SET state = 'pending', error = ?, next_attempt_at = ?, claimed_by = NULL, "
        "lease_until = NULL WHERE id = ?",
        (error, next_attempt_at, item_id),
    )


def _mark_final(
    conn: sqlite3.Connection,
    item_id: int,
    state: str,
    code: str,
    reason: int | None,
    error: str,
    now: float,
) -> None:
    conn.execute(
        "UPDATE outbox SET state = ?, error_code = ?, reason = ?, error = ?, finished_at = ?, "
        "claimed_by = NULL, lease_until = NULL WHERE id = ?",
        (state, code, reason, error, now, item_id),
    )


def _record_status(conn: sqlite3.Connection, unique: str, status: str, now: float) -> bool:
    row = conn.execute(
        "SELECT id, delivery_status FROM outbox WHERE gateway_unique = ?", (unique,)
    ).fetchone()
    if row is None:
        return False
    if STATUS_RANK.get(status, 0) >= STATUS_RANK.get(row["delivery_status"] or "", 0):
        conn.execute(
            "UPDATE outbox SET delivery_status = ?, delivery_at = ? WHERE id = ?",
            (status, now, row["id"]),
        )
    return True


def _record_outgoing(
    conn: sqlite3.Connection, unique: str, client: str, now: float, pause_until: float
) -> bool:
    if conn.execute("SELECT 1 FROM outbox WHERE gateway_unique = ?", (unique,)).fetchone():
        return False  # the gateway echoing the bot's own send
    # The echo of a send can overtake the gateway's answer to it: a send in flight to this
    # client means the echo is most likely ours, not a person's.
    if conn.execute(
        "SELECT 1 FROM outbox WHERE (client = ? OR address = ?) AND state = 'sending'",
        (client, client),
    ).fetchone():
        return False
    cursor = conn.execute(
        "UPDATE clients SET paused_until = MAX(COALESCE(paused_until, 0), ?) "
        "WHERE client = ? OR address = ?",
        (pause_until, client, client),
    )
    if cursor.rowcount == 0:
        conn.execute(
            "INSERT INTO clients(client, address, paused_until) VALUES (?, ?, ?)",
            (client, client, pause_until),
        )
    _record_event(conn, "handoff", client, now)
    return True


def _record_event(conn: sqlite3.Connection, kind: str, detail: str, now: float) -> None:
    conn.execute("INSERT INTO events(at, kind, detail) VALUES (?, ?, ?)", (now, kind, detail[:500]))


def _stats(conn: sqlite3.Connection, since: float, now: float) -> StoreStats:
    def count(sql: str, *params: Any) -> int:
        return int(conn.execute(sql, params).fetchone()[0])

    outcomes = {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT outcome, COUNT(*) FROM inbox WHERE decided_at >= ? GROUP BY outcome", (since,)
        )
    }
    sends = {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT state, COUNT(*) FROM outbox WHERE finished_at >= ? GROUP BY state", (since,)
        )
    }
    errors = [
        (r[0], r[1] or "error", r[2])
        for r in conn.execute(
            "SELECT COALESCE(finished_at, next_attempt_at), state, error FROM outbox "
            "WHERE error IS NOT NULL ORDER BY COALESCE(finished_at, next_attempt_at) DESC LIMIT 5"
        )
    ]
    return StoreStats(
        inbox_pending=count("SELECT COUNT(*) FROM inbox WHERE state = 'pending'"),
        outbox_pending=count("SELECT COUNT(*) FROM outbox WHERE state = 'pending'"),
        outbox_in_flight=count("SELECT COUNT(*) FROM outbox WHERE state = 'sending'"),
        received=count("SELECT COUNT(*) FROM inbox WHERE received_at >= ?", since),
        outcomes=outcomes,
        sends=sends,
        possible_duplicates=count(
            "SELECT COUNT(*) FROM outbox WHERE possible_duplicate = 1 AND created_at >= ?", since
        ),
        conversations=count("SELECT COUNT(*) FROM conversations WHERE started_at >= ?", since),
        recent_errors=tuple(errors),
    )


def _prune(conn: sqlite3.Connection, older_than: float) -> int:
    deleted = conn.execute(
        "DELETE FROM inbox WHERE state = 'done' AND received_at < ?", (older_than,)
    ).rowcount
    deleted += conn.execute(
        "DELETE FROM outbox WHERE state IN ('sent', 'failed', 'refused', 'window_expired') "
        "AND finished_at < ?",
        (older_than,),
    ).rowcount
    deleted += conn.execute(
        "DELETE FROM conversations WHERE started_at < ?", (older_than,)
    ).rowcount
    deleted += conn.execute("DELETE FROM events WHERE at < ?", (older_than,)).rowcount
    return deleted
