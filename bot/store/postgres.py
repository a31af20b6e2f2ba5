"""The PostgreSQL store: several rulebot instances share one database behind a load balancer.

Same tables and the same behaviour as the SQLite store, with what sharing needs on top: work is
claimed with `FOR UPDATE SKIP LOCKED` plus a lease (the proven queue pattern), so instances never
take the same client or send; a lease that lapses (its instance died) is taken over by the normal
claim queries; and per-client writes lock the client's row, so two instances never both send a
"once per conversation" card. Every operation is one transaction on one pooled connection;
concurrent webhooks share a transaction (group commit), as they do on SQLite.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson

from bot.errors import StoreError
from bot.store.dialect import to_numbered_placeholders
from bot.store.migrations import POSTGRES_MIGRATIONS, POSTGRES_VERSION_TABLE
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
from bot.store.sqlite import STATUS_RANK

T = TypeVar("T")
_CONVERSATION_S = 24 * 3600
_MAX_BATCH = 512
_POOL_MIN, _POOL_MAX = 1, 10
_COMMAND_TIMEOUT_S = 30.0
#: a deadlock or serialization failure aborts the transaction; running it again is safe
_ATTEMPTS = 5
#: one key for every rulebot: instances starting together migrate one after another
_MIGRATION_LOCK = 0x72756C65626F74  # "rulebot"
_DB_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)

_Conn = Any  # asyncpg.Connection (asyncpg ships no type hints)
_Pending = tuple[InboxRow, float, "asyncio.Future[bool]"]


class PostgresStore:
    """The store for several instances: one PostgreSQL database, one connection pool per process."""

    def __init__(self, pool: Any, url: str) -> None:
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

    async def schema_version(self) -> int:
        return await self._run(_schema_version)

    async def add_inbound(self, row: InboxRow, received_at: float) -> bool:
        if self._closed:
            raise StoreError("the store is closed")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inbox_queue.append((row, received_at, future))
        if self._inbox_writer is None or self._inbox_writer.done():
            self._inbox_writer = asyncio.create_task(self._write_inbox())
        return await future

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

    async def client_record(self, client: str, now: float) -> ClientRecord:
        return await self._run(_client_record, client, now)

    async def finish_batch(self, decided: DecidedBatch, now: float) -> None:
        await self._run(_finish_batch, decided, now)

    async def finish_batches(self, items: Sequence[DecidedBatch], now: float) -> list[bool]:
        # Each batch in its own transaction: one lapsed claim must not undo the others.
        async def finish(item: DecidedBatch) -> bool:
            try:
                await self.finish_batch(item, now)
            except StoreError:
                return False
            return True

        return list(await asyncio.gather(*(finish(item) for item in items)))

    async def claim_sends(
        self, *, now: float, limit: int, worker: str, lease_s: float
    ) -> tuple[list[OutboxItem], float | None]:
        return await self._run(_claim_sends, now, limit, worker, lease_s)

    async def mark_sent(
        self, item_id: int, *, unique: str, now: float, window_left_min: float | None
    ) -> None:
        await self._run(_mark_sent, item_id, unique, now, window_left_min)

    async def mark_retry(self, item_id: int, *, error: str, next_attempt_at: float) -> None:
        await self._run(
            _execute,
            "UPDATE outbox SET state = 'pending', error = $1, next_attempt_at = $2, "
            "claimed_by = NULL, lease_until = NULL WHERE id = $3",
            error,
            next_attempt_at,
            item_id,
        )

    async def mark_final(
        self, item_id: int, *, state: str, code: str, reason: int | None, error: str, now: float
    ) -> None:
        if state not in FINAL_STATES or state == "sent":
            raise ValueError(f"not a final failure state: {state}")
        await self._run(
            _execute,
            "UPDATE outbox SET state = $1, error_code = $2, reason = $3, error = $4, "
            "finished_at = $5, claimed_by = NULL, lease_until = NULL WHERE id = $6",
            state,
            code,
            reason,
            error,
            now,
            item_id,
        )

    async def record_status(self, unique: str, status: str, now: float) -> bool:
        return await self._run(_record_status, unique, status, now)

    async def record_outgoing(
        self, *, unique: str, client: str, now: float, pause_until: float
    ) -> bool:
        return await self._run(_record_outgoing, unique, client, now, pause_until)

    async def record_event(self, kind: str, detail: str, now: float) -> None:
        await self._run(_record_event, kind, detail, now)

    async def stats(self, *, since: float, now: float) -> StoreStats:
        return await self._run(_stats, since, now)

    async def prune(self, *, older_than: float) -> int:
        return await self._run(_prune, older_than)

    async def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows as dicts (for the dashboard and tests); `?` placeholders, as on SQLite."""
        return await self._run(_query, to_numbered_placeholders(sql), params)

    # -- plumbing -------------------------------------------------------------------------------

    async def _run(self, operation: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `operation(conn, *args)` in one transaction; database errors become StoreError."""
        if self._closed:
            raise StoreError("the store is closed")
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    return await operation(conn, *args)
            except asyncpg.TransactionRollbackError as exc:  # deadlock, serialization failure
                if attempt == _ATTEMPTS:
                    raise StoreError(f"PostgreSQL: {exc}") from None
                await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
            except _DB_ERRORS as exc:
                raise StoreError(f"PostgreSQL: {exc}") from None
        raise AssertionError("unreachable")

    async def _write_inbox(self) -> None:
        """Group commit: every add_inbound queued meanwhile shares the next transaction."""
        while self._inbox_queue:
            batch = self._inbox_queue[:_MAX_BATCH]
            del self._inbox_queue[:_MAX_BATCH]
            try:
                fresh = await self._run(_add_inbound, [item[:2] for item in batch])
            except StoreError as exc:
                if len(batch) == 1:
                    _settle(batch[0][2], None, exc)
                    continue
                # One bad message must not sink the others: store them one by one.
                for item in batch:
                    try:
                        _settle(item[2], (await self._run(_add_inbound, [item[:2]]))[0], None)
                    except StoreError as one_exc:
                        _settle(item[2], None, one_exc)
                continue
            for item, is_fresh in zip(batch, fresh, strict=True):
                _settle(item[2], is_fresh, None)


def _settle(future: asyncio.Future[bool], value: bool | None, error: BaseException | None) -> None:
    if future.done():  # the caller went away; the work is committed all the same
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(bool(value))


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


def _count(status: str) -> int:
    """Rows touched, from a command status such as 'UPDATE 3' or 'INSERT 0 1'."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


# -- operations: each runs inside one transaction -----------------------------------------------


async def _migrate(conn: _Conn) -> None:
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


async def _schema_version(conn: _Conn) -> int:
    return int(await conn.fetchval("SELECT version FROM schema_version"))


async def _execute(conn: _Conn, sql: str, *args: Any) -> None:
    await conn.execute(sql, *args)


async def _query(conn: _Conn, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [dict(row) for row in await conn.fetch(sql, *params)]


async def _add_inbound(conn: _Conn, items: list[tuple[InboxRow, float]]) -> list[bool]:
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


async def _recover(conn: _Conn, now: float) -> int:
    # Unlike SQLite's file, the database is shared: a claim may belong to a live instance, so
    # nothing is released here. Lapsed leases are taken over by the claim queries; a send whose
    # lease lapsed mid-flight is flagged now so the count reaches the log at once.
    status = await conn.execute(
        "UPDATE outbox SET possible_duplicate = 1 WHERE state = 'sending' AND lease_until < $1 "
        "AND possible_duplicate = 0",
        now,
    )
    return _count(status)


async def _claim_clients(
    conn: _Conn,
    now: float,
    window_s: float,
    max_wait_s: float,
    limit: int,
    worker: str,
    lease_s: float,
) -> tuple[list[ClientBatch], float | None]:
    rows = await conn.fetch(
        "SELECT i.client, MIN(i.received_at) AS first_at, MAX(i.received_at) AS last_at "
        "FROM inbox i JOIN clients c ON c.client = i.client "
        "WHERE i.state = 'pending' AND (c.claim_until IS NULL OR c.claim_until < $1) "
        "GROUP BY i.client ORDER BY first_at",
        now,
    )
    next_due: float | None = None
    ready: dict[str, float] = {}  # due now, oldest first
    for row in rows:
        due = min(row["last_at"] + window_s, row["first_at"] + max_wait_s)
        if due > now:
            next_due = due if next_due is None else min(next_due, due)
        else:
            ready[row["client"]] = due
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
        due = min(max(times) + window_s, min(times) + max_wait_s)
        if due > now:  # more arrived meanwhile: the burst window moved
            next_due = due if next_due is None else min(next_due, due)
            continue
        claim = f"{worker}:{uuid.uuid4().hex[:12]}"
        batches.append(ClientBatch(client=client, messages=tuple(messages), claim=claim))
    if batches:
        await conn.execute(
            "UPDATE clients SET claimed_by = u.claim, claim_until = $1 "
            "FROM unnest($2::text[], $3::text[]) AS u(client, claim) "
            "WHERE clients.client = u.client",
            now + lease_s,
            [b.client for b in batches],
            [b.claim for b in batches],
        )
    return batches, next_due


async def _client_record(conn: _Conn, client: str, now: float) -> ClientRecord:
    # A hand-off pause may sit on a row keyed by the bare number (the echo of a person's
    # message names the number, the client's own messages their from_id): match by address.
    row = await conn.fetchrow(
        "SELECT c.last_message_at, c.conversation_started_at, "
        "(SELECT MAX(p.paused_until) FROM clients p WHERE p.client = c.client "
        " OR p.address = c.address) AS paused_until "
        "FROM clients c WHERE c.client = $1",
        client,
    )
    replies = {
        r["rule"]: r["last_sent_at"]
        for r in await conn.fetch(
            "SELECT rule, last_sent_at FROM client_replies WHERE client = $1", client
        )
    }
    last_hour = await conn.fetchval(
        "SELECT COUNT(*) FROM outbox WHERE client = $1 AND created_at > $2", client, now - 3600
    )
    conversation = row["conversation_started_at"] if row else None
    if conversation is not None and now - conversation >= _CONVERSATION_S:
        conversation = None
    return ClientRecord(
        client=client,
        last_message_at=row["last_message_at"] if row else None,
        conversation_started_at=conversation,
        replies_sent=replies,
        paused_until=row["paused_until"] if row else None,
        replies_last_hour=last_hour,
    )


async def _finish_batch(conn: _Conn, decided: DecidedBatch, now: float) -> None:
    batch, outcomes, drafts = decided.batch, decided.outcomes, decided.drafts
    # The client's row stays locked until commit: no other instance can take the client over
    # between this check and the writes, so a lapsed claim never records a second decision.
    owner = await conn.fetchval(
        "SELECT claimed_by FROM clients WHERE client = $1 FOR UPDATE", batch.client
    )
    if owner is None or owner != batch.claim:
        raise StoreError(f"the claim on client {batch.client} lapsed; another worker has it")
    if outcomes:
        await conn.executemany(
            "UPDATE inbox SET state = 'done', outcome = $1, rule = $2, explanation = $3, "
            "decided_at = $4 WHERE message_id = $5 AND state = 'pending'",
            [(o.outcome, o.rule, o.explanation, now, o.message_id) for o in outcomes],
        )
    if drafts:
        await conn.executemany(
            "INSERT INTO outbox(client, address, rule, reply_to, contact, next_attempt_at, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                (d.client, d.address, d.rule, d.reply_to, orjson.dumps(dict(d.contact)), now, now)
                for d in drafts
            ],
        )
        await conn.executemany(
            "INSERT INTO client_replies(client, rule, last_sent_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (client, rule) DO UPDATE SET last_sent_at = excluded.last_sent_at",
            [(d.client, d.rule, now) for d in drafts],
        )
    await conn.execute(
        "UPDATE clients SET last_message_at = GREATEST(COALESCE(last_message_at, 0), $1), "
        "claimed_by = NULL, claim_until = NULL WHERE client = $2",
        decided.last_message_at,
        batch.client,
    )


async def _claim_sends(
    conn: _Conn, now: float, limit: int, worker: str, lease_s: float
) -> tuple[list[OutboxItem], float | None]:
    rows = await conn.fetch(
        "WITH due AS ("
        "  SELECT id FROM outbox"
        "  WHERE (state = 'pending' AND next_attempt_at <= $1)"
        "     OR (state = 'sending' AND lease_until < $1)"
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
        OutboxItem(
            id=row["id"],
            client=row["client"],
            address=row["address"],
            rule=row["rule"],
            reply_to=row["reply_to"],
            contact=orjson.loads(row["contact"]),
            attempts=row["attempts"],
            created_at=row["created_at"],
            possible_duplicate=bool(row["possible_duplicate"]),
            client_last_message_at=row["last_message_at"],
            gateway_window_end=row["gateway_window_end"],
            gateway_window_reported_at=row["gateway_window_reported_at"],
        )
        for row in rows
    ]
    next_due = await conn.fetchval(
        "SELECT LEAST(MIN(next_attempt_at) FILTER (WHERE state = 'pending'), "
        "MIN(lease_until) FILTER (WHERE state = 'sending')) "
        "FROM outbox WHERE state IN ('pending', 'sending')"
    )
    return items, next_due


async def _mark_sent(
    conn: _Conn, item_id: int, unique: str, now: float, window_left_min: float | None
) -> None:
    client = await conn.fetchval(
        "UPDATE outbox SET state = 'sent', gateway_unique = $1, finished_at = $2, error = NULL, "
        "claimed_by = NULL, lease_until = NULL WHERE id = $3 RETURNING client",
        unique,
        now,
        item_id,
    )
    if client is None:
        return
    # Locked, so two instances finishing sends to one client start one conversation, not two.
    row = await conn.fetchrow(
        "SELECT conversation_started_at FROM clients WHERE client = $1 FOR UPDATE", client
    )
    started = row["conversation_started_at"] if row else None
    # Billing: a 24 h conversation starts when we send and none is running.
    if started is None or now - started >= _CONVERSATION_S:
        await conn.execute(
            "UPDATE clients SET conversation_started_at = $1 WHERE client = $2", now, client
        )
        await conn.execute(
            "INSERT INTO conversations(client, started_at) VALUES ($1, $2)", client, now
        )
    if window_left_min is not None:
        await conn.execute(
            "UPDATE clients SET gateway_window_end = $1, gateway_window_reported_at = $2 "
            "WHERE client = $3",
            now + window_left_min * 60,
            now,
            client,
        )


async def _record_status(conn: _Conn, unique: str, status: str, now: float) -> bool:
    row = await conn.fetchrow(
        "SELECT id, delivery_status FROM outbox WHERE gateway_unique = $1 LIMIT 1 FOR UPDATE",
        unique,
    )
    if row is None:
        return False
    if STATUS_RANK.get(status, 0) >= STATUS_RANK.get(row["delivery_status"] or "", 0):
        await conn.execute(
            "UPDATE outbox SET delivery_status = $1, delivery_at = $2 WHERE id = $3",
            status,
            now,
            row["id"],
        )
    return True


async def _record_outgoing(
    conn: _Conn, unique: str, client: str, now: float, pause_until: float
) -> bool:
    if await conn.fetchval("SELECT 1 FROM outbox WHERE gateway_unique = $1 LIMIT 1", unique):
        return False  # the gateway echoing the bot's own send
    # The echo of a send can overtake the gateway's answer to it: a send in flight to this
    # client means the echo is most likely ours, not a person's.
    if await conn.fetchval(
        "SELECT 1 FROM outbox WHERE (client = $1 OR address = $1) AND state = 'sending' LIMIT 1",
        client,
    ):
        return False
    status = await conn.execute(
        "UPDATE clients SET paused_until = GREATEST(COALESCE(paused_until, 0), $1) "
        "WHERE client = $2 OR address = $2",
        pause_until,
        client,
    )
    if _count(status) == 0:
        # Another instance may be storing this client's first message right now.
        await conn.execute(
            "INSERT INTO clients(client, address, paused_until) VALUES ($1, $1, $2) "
            "ON CONFLICT (client) DO UPDATE SET "
            "paused_until = GREATEST(COALESCE(clients.paused_until, 0), excluded.paused_until)",
            client,
            pause_until,
        )
    await _record_event(conn, "handoff", client, now)
    return True


async def _record_event(conn: _Conn, kind: str, detail: str, now: float) -> None:
    await conn.execute(
        "INSERT INTO events(at, kind, detail) VALUES ($1, $2, $3)", now, kind, detail[:500]
    )


async def _stats(conn: _Conn, since: float, now: float) -> StoreStats:
    counts = await conn.fetchrow(
        "SELECT "
        "(SELECT COUNT(*) FROM inbox WHERE state = 'pending') AS inbox_pending, "
        "(SELECT COUNT(*) FROM outbox WHERE state = 'pending') AS outbox_pending, "
        "(SELECT COUNT(*) FROM outbox WHERE state = 'sending') AS outbox_in_flight, "
        "(SELECT COUNT(*) FROM inbox WHERE received_at >= $1) AS received, "
        "(SELECT COUNT(*) FROM outbox WHERE possible_duplicate = 1 AND created_at >= $1) "
        "  AS possible_duplicates, "
        "(SELECT COUNT(*) FROM conversations WHERE started_at >= $1) AS conversations",
        since,
    )
    outcomes = {
        r[0]: r[1]
        for r in await conn.fetch(
            "SELECT outcome, COUNT(*) FROM inbox WHERE decided_at >= $1 GROUP BY outcome", since
        )
    }
    sends = {
        r[0]: r[1]
        for r in await conn.fetch(
            "SELECT state, COUNT(*) FROM outbox WHERE finished_at >= $1 GROUP BY state", since
        )
    }
    errors = [
        (r[0], r[1] or "error", r[2])
        for r in await conn.fetch(
            "SELECT COALESCE(finished_at, next_attempt_at), state, error FROM outbox "
            "WHERE error IS NOT NULL ORDER BY COALESCE(finished_at, next_attempt_at) DESC LIMIT 5"
        )
    ]
    return StoreStats(
        inbox_pending=counts["inbox_pending"],
        outbox_pending=counts["outbox_pending"],
        outbox_in_flight=counts["outbox_in_flight"],
        received=counts["received"],
        outcomes=outcomes,
        sends=sends,
        possible_duplicates=counts["possible_duplicates"],
        conversations=counts["conversations"],
        recent_errors=tuple(errors),
    )


async def _prune(conn: _Conn, older_than: float) -> int:
    statements = (
        "DELETE FROM inbox WHERE state = 'done' AND received_at < $1",
        "DELETE FROM outbox WHERE state IN ('sent', 'failed', 'refused', 'window_expired') "
        "AND finished_at < $1",
        "DELETE FROM conversations WHERE started_at < $1",
        "DELETE FROM events WHERE at < $1",
    )
    return sum([_count(await conn.execute(sql, older_than)) for sql in statements])
