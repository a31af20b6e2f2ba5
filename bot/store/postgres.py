"""The PostgreSQL store: several rulebot instances share one database behind a load balancer.

Same tables and, through operations.py, the same statements as the SQLite store, with what
sharing needs on top: work is claimed with `FOR UPDATE SKIP LOCKED` plus a lease (the proven
queue pattern), so instances never take the same client or send; a lease that lapses (its
instance died) is taken over by the normal claim queries; and per-client writes lock the
client's row (the dialect's FOR UPDATE), so two instances never both send a "once per
conversation" card. Every operation is one transaction on one pooled connection; concurrent
webhooks share a transaction (group commit), as they do on SQLite.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot.errors import StoreError
from bot.store import operations as ops
from bot.store.dialect import POSTGRES
from bot.store.migrations import POSTGRES_MIGRATIONS, POSTGRES_VERSION_TABLE
from bot.store.operations import Connection
from bot.store.rows import ClientBatch, InboxRow, OutboxItem, PendingMessage
from bot.store.sql_store import SqlStore, settle

T = TypeVar("T")
_MAX_BATCH = 512
_POOL_MIN, _POOL_MAX = 1, 10
_COMMAND_TIMEOUT_S = 30.0
#: a deadlock or serialization failure aborts the transaction; running it again is safe
_ATTEMPTS = 5
#: one key for every rulebot: instances starting together migrate one after another
_MIGRATION_LOCK = 0x72756C65626F74  # "rulebot"
_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)

_Pending = tuple[InboxRow, float, "asyncio.Future[bool]"]


class PostgresStore(SqlStore):
    """The store for several instances: one PostgreSQL database, one connection pool per process."""

    def __init__(self, pool: Any, url: str) -> None:
        super().__init__()
        self._pool = pool
        self.url = url
        self._closed = False
        self._inbox_queue: list[_Pending] = []
        self._inbox_writer: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        """Connect (one pool for the process) and run pending migrations under an advisory lock."""
        try:
            pool = await asyncpg.create_pool(
                url, min_size=_POOL_MIN, max_size=_POOL_MAX, command_timeout=_COMMAND_TIMEOUT_S
            )
        except (*_DB_ERRORS, ValueError) as exc:
            raise StoreError(f"cannot open the PostgreSQL store {_safe_url(url)}: {exc}") from None
        store = cls(pool, url)
        try:
            await store._run(_migrate)
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        if self._closed:
            return
        if self._inbox_writer is not None:  # messages already queued are still stored
            await asyncio.gather(self._inbox_writer, return_exceptions=True)
        self._closed = True
        try:
            await asyncio.wait_for(self._pool.close(), timeout=10)
        except (TimeoutError, *_DB_ERRORS):
            self._pool.terminate()

    async def _run(self, operation: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run `operation(conn, *args)` in one transaction; database errors become StoreError."""
        if self._closed:
            raise StoreError("the store is closed")
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    return await operation(_PostgresConnection(conn), *args)
            except asyncpg.TransactionRollbackError as exc:  # deadlock, serialization failure
                if attempt == _ATTEMPTS:
                    raise StoreError(f"PostgreSQL: {exc}") from None
                await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
            except _DB_ERRORS as exc:
                raise StoreError(f"PostgreSQL: {exc}") from None
        raise AssertionError("unreachable")

    async def schema_version(self) -> int:
        return int(await self._run(_fetchval, "SELECT version FROM schema_version"))

    async def add_inbound(self, row: InboxRow, received_at: float) -> bool:
        if self._closed:
            raise StoreError("the store is closed")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inbox_queue.append((row, received_at, future))
        if self._inbox_writer is None or self._inbox_writer.done():
            self._inbox_writer = asyncio.create_task(self._write_inbox())
        return await future

    async def _write_inbox(self) -> None:
        """Group commit: every add_inbound queued meanwhile shares the next transaction."""
        while self._inbox_queue:
            batch = self._inbox_queue[:_MAX_BATCH]
            del self._inbox_queue[:_MAX_BATCH]
            try:
                fresh = await self._run(_add_inbound, [item[:2] for item in batch])
            except StoreError as exc:
                if len(batch) == 1:
                    settle(batch[0][2], False, exc)
                    continue
                # One bad message must not sink the others: store them one by one.
                for item in batch:
                    try:
                        settle(item[2], (await self._run(_add_inbound, [item[:2]]))[0], None)
                    except StoreError as one_exc:
                        settle(item[2], False, one_exc)
                continue
            for item, is_fresh in zip(batch, fresh, strict=True):
                settle(item[2], is_fresh, None)

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


class _PostgresConnection:
    """asyncpg behind the Connection interface. Shared statements come with `?` and are
    numbered here; the PostgreSQL-only ones below are written with `$n` and pass as they are."""

    dialect = POSTGRES

    def __init__(self, conn: Any) -> None:  # asyncpg.Connection (asyncpg ships no type hints)
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._conn.execute(POSTGRES.sql(sql), *args)
        # Rows touched, from a command status such as 'UPDATE 3' or 'INSERT 0 1'.
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._conn.executemany(POSTGRES.sql(sql), rows)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        return list(await self._conn.fetch(POSTGRES.sql(sql), *args))

    async def fetchrow(self, sql: str, *args: Any) -> Any | None:
        return await self._conn.fetchrow(POSTGRES.sql(sql), *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._conn.fetchval(POSTGRES.sql(sql), *args)


def _safe_url(url: str) -> str:
    """The URL without its password (for error messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


# -- what only the PostgreSQL store does; each runs inside one transaction ---------------------


async def _migrate(conn: Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
    await conn.execute(POSTGRES_VERSION_TABLE)
    version = await conn.fetchval("SELECT version FROM schema_version")
    if version is None:
        version = 0
        await conn.execute("INSERT INTO schema_version(version) VALUES (0)")
    if version > len(POSTGRES_MIGRATIONS):
        raise StoreError(
            f"the store's schema version {version} is newer than this rulebot knows "
            f"({len(POSTGRES_MIGRATIONS)}): upgrade rulebot"
        )
    for number, script in enumerate(POSTGRES_MIGRATIONS[version:], start=version + 1):
        for statement in script:
            await conn.execute(statement)
        await conn.execute("UPDATE schema_version SET version = $1", number)


async def _fetchval(conn: Connection, sql: str) -> Any:
    return await conn.fetchval(sql)


async def _add_inbound(conn: Connection, items: list[tuple[InboxRow, float]]) -> list[bool]:
    # Sorted by id, so two instances storing the same retried webhooks lock in one order.
    rows = sorted(items, key=lambda item: item[0].message_id)
    stored = {
        row["message_id"]
        for row in await conn.fetch(
            "INSERT INTO inbox(message_id, client, address, payload, received_at) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::float8[]) "
            "ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
            [r.message_id for r, _ in rows],
            [r.client for r, _ in rows],
            [r.address for r, _ in rows],
            [r.payload for r, _ in rows],
            [received_at for _, received_at in rows],
        )
    }
    fresh: list[bool] = []
    addresses: dict[str, str] = {}
    for row, _ in items:  # arrival order: the first of two equal ids is the fresh one
        is_fresh = row.message_id in stored
        stored.discard(row.message_id)
        fresh.append(is_fresh)
        if is_fresh:
            addresses[row.client] = row.address
    if addresses:
        clients = sorted(addresses)
        await conn.execute(
            "INSERT INTO clients(client, address) SELECT * FROM unnest($1::text[], $2::text[]) "
            "ON CONFLICT (client) DO UPDATE SET address = excluded.address",
            clients,
            [addresses[client] for client in clients],
        )
    return fresh


async def _recover(conn: Connection, now: float) -> int:
    # Unlike SQLite's file, the database is shared: a claim may belong to a live instance, so
    # nothing is released here. Lapsed leases are taken over by the claim queries; a send whose
    # lease lapsed mid-flight is flagged now so the count reaches the log at once.
    flagged = await conn.execute(
        "UPDATE outbox SET possible_duplicate = 1 WHERE state = 'sending' AND lease_until < $1 "
        "AND possible_duplicate = 0",
        now,
    )
    await ops.recount_queues(conn)
    return flagged


async def _claim_clients(
    conn: Connection,
    now: float,
    window_s: float,
    max_wait_s: float,
    limit: int,
    worker: str,
    lease_s: float,
) -> tuple[list[ClientBatch], float | None]:
    ready, next_due = await ops.clients_with_pending(conn, now, window_s, max_wait_s)
    if not ready:
        return [], next_due
    # Other instances claim at the same time: skip the rows they hold (and take the next ready
    # ones instead), and re-check each claim on the row as it is now (FOR UPDATE re-reads a row
    # changed since this statement's snapshot).
    locked = [
        row["client"]
        for row in await conn.fetch(
            "SELECT c.client FROM clients c "
            "JOIN unnest($1::text[]) WITH ORDINALITY AS r(client, n) ON r.client = c.client "
            "WHERE c.claim_until IS NULL OR c.claim_until < $2 "
            "ORDER BY r.n LIMIT $3 FOR UPDATE OF c SKIP LOCKED",
            list(ready),
            now,
            limit,
        )
    ]
    if len(locked) == limit and len(ready) > limit:  # more are ready than we may take
        left = min(due for client, due in ready.items() if client not in set(locked))
        next_due = left if next_due is None else min(next_due, left)
    pending: dict[str, list[PendingMessage]] = {}
    for row in await conn.fetch(
        "SELECT client, message_id, payload, received_at FROM inbox "
        "WHERE client = ANY($1::text[]) AND state = 'pending' ORDER BY received_at, id",
        locked,
    ):
        pending.setdefault(row["client"], []).append(
            PendingMessage(row["message_id"], row["payload"], row["received_at"])
        )
    batches: list[ClientBatch] = []
    for client in locked:
        messages = pending.get(client)
        if not messages:  # another instance decided them meanwhile
            continue
        times = [m.received_at for m in messages]
        due = ops.burst_due(min(times), max(times), window_s, max_wait_s)
        if due > now:  # more arrived meanwhile: the burst window moved
            next_due = due if next_due is None else min(next_due, due)
            continue
        claim = f"{worker}:{uuid.uuid4().hex[:12]}"
        batches.append(ClientBatch(client=client, messages=tuple(messages), claim=claim))
    if batches:
        # Read here, in one go, what deciding needs about the clients: asked one client at a
        # time, a round of hundreds of clients would hold every pooled connection and leave
        # the sender and the webhook waiting for one.
        records = await ops.client_records(conn, [b.client for b in batches], now)
        batches = [dataclasses.replace(b, record=records[b.client]) for b in batches]
        await conn.execute(
            "UPDATE clients SET claimed_by = u.claim, claim_until = $1 "
            "FROM unnest($2::text[], $3::text[]) AS u(client, claim) "
            "WHERE clients.client = u.client",
            now + lease_s,
            [b.client for b in batches],
            [b.claim for b in batches],
        )
    return batches, next_due


async def _claim_sends(
    conn: Connection, now: float, limit: int, worker: str, lease_s: float
) -> tuple[list[OutboxItem], float | None]:
    rows = await conn.fetch(
        "WITH due AS ("
        "  SELECT id FROM outbox"
        f"  WHERE {ops.IN_FLIGHT} AND ((state = 'pending' AND next_attempt_at <= $1)"
        "     OR (state = 'sending' AND lease_until < $1))"
        "  ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"
        "), claimed AS ("
        "  UPDATE outbox o SET state = 'sending', claimed_by = $3, lease_until = $4,"
        "    attempts = o.attempts + 1,"
        "    possible_duplicate = CASE WHEN o.possible_duplicate <> 0 OR o.state = 'sending'"
        "                              THEN 1 ELSE 0 END"
        "  FROM due WHERE o.id = due.id RETURNING o.*"
        ") "
        "SELECT claimed.*, c.last_message_at, c.gateway_window_end, c.gateway_window_reported_at "
        "FROM claimed LEFT JOIN clients c ON c.client = claimed.client "
        "ORDER BY claimed.next_attempt_at, claimed.id",
        now,
        limit,
        worker,
        now + lease_s,
    )
    items = [
        ops.outbox_item(
            row, attempts=row["attempts"], possible_duplicate=bool(row["possible_duplicate"])
        )
        for row in rows
    ]
    return items, await ops.next_send_due(conn)
