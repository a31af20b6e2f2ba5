"""The default store: one SQLite file, WAL, durable commits (see sqlite_thread.py for how
operations share commits). What both stores do alike is in operations.py; here is what one
process owning one file does its own way: storing webhooks in bulk, claiming, recovering."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from bot.errors import StoreError
from bot.store import operations as ops
from bot.store.dialect import SQLITE
from bot.store.operations import Connection
from bot.store.rows import ClientBatch, InboxRow, OutboxItem, PendingMessage
from bot.store.sql_store import SqlStore
from bot.store.sqlite_thread import DatabaseThread

T = TypeVar("T")
_QueuedInbound = tuple[InboxRow, float, "asyncio.Future[bool]"]


class SqliteStore(SqlStore):
    """The default store: one SQLite file."""

    def __init__(self, db: DatabaseThread, path: str) -> None:
        super().__init__()
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

    async def _run(self, operation: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        return await self._db.run(_complete, operation, args)

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
        return _complete(conn, _add_inbound_many, ([(row, at) for row, at, _f in taken],))

    async def recover(self, now: float) -> int:
        return await self._run(_recover, now)

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
        return await self._run(_claim_clients, now, window_s, max_wait_s, limit, worker, lease_s)

    async def claim_sends(
        self, *, now: float, limit: int, worker: str, lease_s: float
    ) -> tuple[list[OutboxItem], float | None]:
        return await self._run(_claim_sends, now, limit, worker, lease_s)


class _SqliteConnection:
    """sqlite3 behind the Connection interface; every call finishes before it returns."""

    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        return self._conn.execute(sql, args).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return self._conn.execute(sql, args).fetchall()

    async def fetchrow(self, sql: str, *args: Any) -> Any | None:
        return self._conn.execute(sql, args).fetchone()

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = self._conn.execute(sql, args).fetchone()
        return None if row is None else row[0]


def _complete(
    conn: sqlite3.Connection,
    operation: Callable[..., Coroutine[Any, Any, T]],
    args: tuple[Any, ...],
) -> T:
    """Run an operation to its end on the database thread, in the thread's transaction.

    Operations are coroutines so that PostgreSQL can share them; over sqlite3 they never wait on
    anything, so one step finishes them and no event loop is involved.
    """
    coroutine = operation(_SqliteConnection(conn), *args)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError(f"{operation.__name__} waited on something other than SQLite")


# -- what only the SQLite store does; each runs inside the database thread's transaction -------


async def _add_inbound_many(conn: Connection, rows: list[tuple[InboxRow, float]]) -> list[bool]:
    """Insert messages not stored yet; True for each one stored now, False for a repeat."""
    inserted: set[str] = set()
    for start in range(0, len(rows), 100):
        chunk = rows[start : start + 100]
        values = ",".join(["(?, ?, ?, ?, ?)"] * len(chunk))
        params = [v for r, at in chunk for v in (r.message_id, r.client, r.address, r.payload, at)]
        # One statement for the chunk; RETURNING names the rows that were new.
        returned = await conn.fetch(
            "INSERT INTO inbox(message_id, client, address, payload, received_at) "
            f"VALUES {values} ON CONFLICT(message_id) DO NOTHING RETURNING message_id",
            *params,
        )
        inserted.update(row[0] for row in returned)
    fresh: list[bool] = []
    new_clients: dict[str, str] = {}
    for row, _at in rows:
        is_new = row.message_id in inserted
        inserted.discard(row.message_id)  # the same id twice in one batch: the second is a repeat
        fresh.append(is_new)
        if is_new:
            new_clients[row.client] = row.address
    await conn.executemany(
        "INSERT INTO clients(client, address) VALUES (?, ?) "
        "ON CONFLICT(client) DO UPDATE SET address = excluded.address",
        list(new_clients.items()),
    )
    return fresh


async def _recover(conn: Connection, now: float) -> int:
    # One process owns a SQLite file: whatever is claimed now was claimed by a dead process.
    await conn.execute(
        "UPDATE clients SET claimed_by = NULL, claim_until = NULL WHERE claimed_by IS NOT NULL"
    )
    released = await conn.execute(
        "UPDATE outbox SET state = 'pending', possible_duplicate = 1, next_attempt_at = ?, "
        "claimed_by = NULL, lease_until = NULL WHERE state = 'sending'",
        now,
    )
    await ops.recount_queues(conn)
    return released


async def _claim_clients(
    conn: Connection,
    now: float,
    window_s: float,
    max_wait_s: float,
    limit: int,
    worker: str,
    lease_s: float,
) -> tuple[list[ClientBatch], float | None]:
    due_now, next_due = await ops.clients_with_pending(conn, now, window_s, max_wait_s)
    ready = list(due_now)[:limit]
    for due in list(due_now.values())[limit:]:  # more are ready than we may take
        next_due = due if next_due is None else min(next_due, due)
    if not ready:
        return [], next_due
    # One token for the whole round: finishing checks it per client all the same.
    claim = f"{worker}:{uuid.uuid4().hex[:12]}"
    await conn.executemany(
        "UPDATE clients SET claimed_by = ?, claim_until = ? WHERE client = ?",
        [(claim, now + lease_s, client) for client in ready],
    )
    pending: dict[str, list[PendingMessage]] = {client: [] for client in ready}
    for chunk, marks in ops.chunks(ready):
        for m in await conn.fetch(
            "SELECT client, message_id, payload, received_at FROM inbox "
            f"WHERE state = 'pending' AND client IN ({marks}) ORDER BY received_at, id",
            *chunk,
        ):
            pending[m["client"]].append(
                PendingMessage(m["message_id"], m["payload"], m["received_at"])
            )
    records = await ops.client_records(conn, ready, now)
    batches = [
        ClientBatch(client=c, messages=tuple(pending[c]), claim=claim, record=records[c])
        for c in ready
    ]
    return batches, next_due


async def _claim_sends(
    conn: Connection, now: float, limit: int, worker: str, lease_s: float
) -> tuple[list[OutboxItem], float | None]:
    rows = await conn.fetch(
        "SELECT o.*, c.last_message_at, c.gateway_window_end, c.gateway_window_reported_at "
        "FROM outbox o LEFT JOIN clients c ON c.client = o.client "
        # The outbox_due condition first: without it the OR keeps SQLite off the index and the
        # claim reads every send ever made; with it, the claim walks the sends in flight only.
        f"WHERE o.{ops.IN_FLIGHT} AND ((o.state = 'pending' AND o.next_attempt_at <= ?) "
        "   OR (o.state = 'sending' AND o.lease_until < ?)) "
        "ORDER BY o.next_attempt_at, o.id LIMIT ?",
        now,
        now,
        limit,
    )
    items = []
    for row in rows:
        uncertain = bool(row["possible_duplicate"]) or row["state"] == "sending"
        await conn.execute(
            "UPDATE outbox SET state = 'sending', claimed_by = ?, lease_until = ?, "
            "attempts = attempts + 1, possible_duplicate = ? WHERE id = ?",
            worker,
            now + lease_s,
            int(uncertain),
            row["id"],
        )
        items.append(
            ops.outbox_item(row, attempts=row["attempts"] + 1, possible_duplicate=uncertain)
        )
    return items, await ops.next_send_due(conn)
