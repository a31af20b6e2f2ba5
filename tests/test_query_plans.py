"""Every query a message costs is an index lookup, never a read of the whole history.

A month of history must not make a message dearer: each statement the store runs while a
message is stored, decided, sent, reported on (status, /metrics, dashboard) and pruned is
recorded, then explained by the database itself, on a real SQLite file and on real PostgreSQL.
A plan that reads a table whole fails the test, naming the statement. Allowed: a search by key
or by time range; a walk of a partial index that holds only the rows in flight; an ordered walk
that a LIMIT stops early.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.store import DecidedBatch, MessageOutcome, OutboxDraft, open_store, reports
from bot.store.dialect import POSTGRES
from bot.store.postgres import PostgresStore, _PostgresConnection
from bot.store.sqlite import SqliteStore, _SqliteConnection
from tests.pg import postgres_schema
from tests.test_store import CARD, message

T0 = 1_700_000_000.0
#: tables that grow with the history (every message and send of the retention period)
HISTORY_TABLES = {"inbox", "outbox", "clients", "client_replies", "conversations", "events"}
#: partial indexes that hold only the rows in flight: walking one costs the backlog, not history
IN_FLIGHT_INDEXES = {"inbox_pending", "outbox_due", "outbox_address", "outbox_client_in_flight"}
#: indexes that hold a client's whole month: a search must bound the time too
PER_CLIENT_HISTORY = {"outbox_client": "created_at"}

Recorded = list[tuple[str, tuple[Any, ...]]]


def record_statements(
    monkeypatch: pytest.MonkeyPatch, connection: type, recorded: Recorded
) -> None:
    """Note every statement a store's connection runs (with its first row of arguments)."""
    for name in ("execute", "fetch", "fetchrow", "fetchval"):
        original = getattr(connection, name)

        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            async def noted(self: Any, sql: str, *args: Any) -> Any:
                recorded.append((sql, args))
                return await original(self, sql, *args)

            return noted

        monkeypatch.setattr(connection, name, make(original))
    original_many = connection.executemany

    async def noted_many(self: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            recorded.append((sql, tuple(rows[0])))
        await original_many(self, sql, rows)

    monkeypatch.setattr(connection, "executemany", noted_many)


async def a_day_of_work(store: SqliteStore | PostgresStore) -> None:
    """Messages stored, decided, sent, retried, refused, reported on, echoed and pruned."""
    clients = [f"97250{n:07d}" for n in range(6)]
    for n, client in enumerate(clients):
        for k in range(2):
            await store.add_inbound(message(f"m{n}-{k}", client=client), T0 + n + k / 10)
    now = T0 + 60
    batches, _ = await store.claim_clients(
        now=now, window_s=0, max_wait_s=0, limit=10, worker="w", lease_s=60
    )
    assert len(batches) == len(clients)
    await store.client_record(clients[0], now)
    decided = [
        DecidedBatch(
            batch,
            [MessageOutcome(p.message_id, "reply", "sales", "matched") for p in batch.messages],
            [OutboxDraft(batch.client, batch.client, "sales", batch.messages[0].message_id, CARD)],
            batch.messages[-1].received_at,
        )
        for batch in batches
    ]
    assert all(await store.finish_batches(decided, now))
    items, _ = await store.claim_sends(now=now, limit=10, worker="w", lease_s=60)
    assert len(items) == len(clients)
    await store.record_outgoing(unique="echo-0", client=clients[0], now=now, pause_until=now + 1)
    await store.mark_sent(items[0].id, unique="gw-0", now=now, window_left_min=1400)
    await store.mark_sent(items[1].id, unique="gw-1", now=now, window_left_min=None)
    await store.mark_retry(items[2].id, error="reason 6", next_attempt_at=now + 30)
    await store.mark_final(
        items[3].id, state="refused", code="7", reason=7, error="window", now=now
    )
    await store.record_status("gw-0", "delivered", now + 1)
    await store.record_outgoing(unique="gw-1", client=clients[1], now=now, pause_until=now + 1)
    await store.record_outgoing(unique="person", client=clients[5], now=now, pause_until=now + 9)
    await store.record_event("ignored", "poll", now)
    await store.claim_sends(now=now + 1, limit=10, worker="w", lease_s=60)
    await store.claim_clients(now=now, window_s=0, max_wait_s=0, limit=10, worker="w", lease_s=60)
    await store.stats(since=T0, now=now)
    await reports.unanswered_count(store, since=T0)
    await reports.failures(store, since=T0)
    await reports.hourly_activity(store, now=now)
    await reports.rule_hits(store, ["sales"], today=T0 + 30, week=T0 - 7 * 86400, now=now)
    await reports.recent_messages(store, limit=20)
    await store.prune(older_than=T0 - 86400)


def first_of_each(recorded: Recorded) -> dict[str, tuple[Any, ...]]:
    """Each statement once, with the arguments it first ran with."""
    statements: dict[str, tuple[Any, ...]] = {}
    for sql, args in recorded:
        statements.setdefault(sql, args)
    return statements


def whole_reads_sqlite(plan: list[str], sql: str) -> list[str]:
    """The lines of a SQLite plan that read a history table whole."""
    stopped_by_limit = " LIMIT " in sql.upper() and not any(
        line.startswith("USE TEMP B-TREE FOR ORDER BY") for line in plan
    )
    bad = []
    for line in plan:
        words = line.split()
        if "AUTOMATIC" in words:  # an index built for this one statement: a read of it all
            bad.append(line)
            continue
        if _unbounded_client_search(words):
            bad.append(line)
            continue
        # "SEARCH t" with no index: the row id's range, which for these tables is all of them
        whole = words[:1] == ["SEARCH"] and "USING" not in words
        if not (words[:1] == ["SCAN"] or whole) or len(words) < 2:
            continue
        table = _sqlite_table(sql, words[1])
        if table not in HISTORY_TABLES:
            continue
        index = words[words.index("INDEX") + 1] if "INDEX" in words else None
        if not whole and (index in IN_FLIGHT_INDEXES or (index is not None and stopped_by_limit)):
            continue
        bad.append(line)
    return bad


def _unbounded_client_search(words: list[str]) -> bool:
    """A search of a per-client index by the client alone: every message of their month."""
    if "INDEX" not in words:
        return False
    index = words[words.index("INDEX") + 1]
    bound = PER_CLIENT_HISTORY.get(index)
    return bound is not None and bound not in " ".join(words)


def _sqlite_table(sql: str, name: str) -> str:
    """The table behind a plan's name for it (a table or an alias such as `o`)."""
    if name in HISTORY_TABLES:
        return name
    words = sql.replace(",", " ").split()
    for before, after in itertools.pairwise(words):
        if after == name and before in HISTORY_TABLES:
            return before
    return name


async def test_every_sqlite_statement_of_a_message_is_an_index_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rulebot.db"
    recorded: Recorded = []
    store = await open_store(str(path))
    assert isinstance(store, SqliteStore)
    record_statements(monkeypatch, _SqliteConnection, recorded)
    try:
        await a_day_of_work(store)
    finally:
        await store.close()
    assert len(recorded) > 30
    conn = sqlite3.connect(path)
    try:
        failures = []
        for sql, args in first_of_each(recorded).items():
            plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
            if bad := whole_reads_sqlite(plan, sql):
                failures.append(f"{' '.join(sql.split())}\n    reads whole: {bad}")
    finally:
        conn.close()
    assert not failures, "\n".join(failures)


def whole_reads_postgres(plan: dict[str, Any], sql: str) -> list[str]:
    """The nodes of a PostgreSQL plan (enable_seqscan off) that read a history table whole."""
    limited = " LIMIT " in sql.upper()
    bad = []

    def visit(node: dict[str, Any], under_limit: bool) -> None:
        kind = node["Node Type"]
        table = node.get("Relation Name")
        under_limit = under_limit or (kind == "Limit" and limited)
        if table in HISTORY_TABLES:
            index = node.get("Index Name")
            bounded = "Index Cond" in node or index in IN_FLIGHT_INDEXES
            if index in PER_CLIENT_HISTORY:
                bounded = PER_CLIENT_HISTORY[index] in node.get("Index Cond", "")
            if kind == "Seq Scan" or (index is not None and not bounded and not under_limit):
                bad.append(f"{kind} on {table}" + (f" using {index}" if index else ""))
        for child in node.get("Plans", ()):
            visit(child, under_limit)

    visit(plan["Plan"], False)
    return bad


@pytest.mark.postgres
async def test_every_postgres_statement_of_a_message_is_an_index_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded: Recorded = []
    async with postgres_schema() as url:
        store = await open_store(url)
        assert isinstance(store, PostgresStore)
        record_statements(monkeypatch, _PostgresConnection, recorded)
        try:
            await a_day_of_work(store)
        finally:
            await store.close()
        monkeypatch.undo()
        assert len(recorded) > 30
        failures = []
        async with _explaining(url) as conn:
            for sql, args in first_of_each(recorded).items():
                text = POSTGRES.sql(sql)
                # A Seq Scan that remains with enable_seqscan off is one no index can replace.
                plan = json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {text}", *args))[0]
                if bad := whole_reads_postgres(plan, text):
                    failures.append(f"{' '.join(text.split())}\n    reads whole: {bad}")
        assert not failures, "\n".join(failures)


class _explaining:
    """A connection that plans as if every table were large (sequential scans priced out)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: Any = None

    async def __aenter__(self) -> Any:
        self._conn = await asyncpg.connect(self._url)
        await self._conn.execute("SET enable_seqscan = off")
        return self._conn

    async def __aexit__(self, *exc: object) -> None:
        await self._conn.close()
