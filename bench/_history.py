"""A month of stored history for the benchmarks, written fast: N answered messages from a pool
of returning clients, spread over the retention period, as the store would have kept them.

Each message is an inbox row (decided, answered), its send (sent, delivered, read), and its
client's record; every client's conversations over the month are there too. The rows go in with
one multi-row statement per thousand (SQLite) or COPY (PostgreSQL), after the store itself has
created the schema, so the benchmark measures the schema and indexes a deployment has.

    python bench/_history.py STORE_URL --history 1000000 --clients 5000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

#: history ends this long before now, so nothing in it counts toward the hourly reply cap
_QUIET_S = 2 * 3600
#: and starts a day inside the 30 days kept, so pruning does not delete it during a run
_SPAN_S = 29 * 86400 - _QUIET_S
_CHUNK = 1000
_CARD = orjson.dumps({"name": "Dana - Sales", "phone": "972501234567"})


def client_number(n: int) -> str:
    """The pool's n-th client (the benchmarks' webhooks write from the same numbers)."""
    return f"97254{n:07d}"


def _rows(history: int, clients: int, now: float) -> Iterator[tuple[tuple, tuple]]:
    """(inbox row, outbox row) per message, oldest first; client k writes every k-th message."""
    start = now - _QUIET_S - _SPAN_S
    step = _SPAN_S / max(1, history)
    for i in range(history):
        at = start + i * step
        client = client_number(i % clients)
        message_id = f"history-{i:08d}"
        payload = orjson.dumps({"id": message_id, "client": client, "text": "price?"})
        inbox = (message_id, client, client, payload, at, "done", "reply", "sales", "sales", at)
        outbox = (
            client, client, "sales", message_id, _CARD, "sent", 1, at, f"gw-{message_id}",
            "read", at + 5, at, at + 0.2,
        )  # fmt: skip
        yield inbox, outbox


def _client_rows(history: int, clients: int, now: float) -> list[tuple]:
    """Each client's record as of the end of the history."""
    start = now - _QUIET_S - _SPAN_S
    step = _SPAN_S / max(1, history)
    rows = []
    for n in range(min(clients, history)):
        last_index = n + ((history - 1 - n) // clients) * clients
        last = start + last_index * step
        rows.append((client_number(n), client_number(n), last, last, last + 86400, last))
    return rows


def _conversation_rows(history: int, clients: int, now: float) -> Iterator[tuple[str, float]]:
    """One conversation a day per client while they wrote (a 24 h conversation per day)."""
    start = now - _QUIET_S - _SPAN_S
    step = _SPAN_S / max(1, history)
    seen: set[tuple[int, int]] = set()
    for i in range(history):
        at = start + i * step
        key = (i % clients, int((at - start) // 86400))
        if key not in seen:
            seen.add(key)
            yield client_number(key[0]), at


_INBOX_COLUMNS = (
    "message_id, client, address, payload, received_at, state, outcome, rule, explanation, "
    "decided_at"
)
_OUTBOX_COLUMNS = (
    "client, address, rule, reply_to, contact, state, attempts, next_attempt_at, "
    "gateway_unique, delivery_status, delivery_at, created_at, finished_at"
)
_CLIENT_COLUMNS = (
    "client, address, last_message_at, conversation_started_at, gateway_window_end, "
    "gateway_window_reported_at"
)


def fill_sqlite(path: str, *, history: int, clients: int, now: float) -> None:
    """Write the history into a migrated SQLite file."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        inbox_marks = "(" + ", ".join("?" * 10) + ")"
        outbox_marks = "(" + ", ".join("?" * 13) + ")"
        batch: list[tuple[tuple, tuple]] = []

        def flush() -> None:
            conn.execute(
                f"INSERT INTO inbox({_INBOX_COLUMNS}) VALUES "
                + ", ".join([inbox_marks] * len(batch)),
                [v for inbox, _ in batch for v in inbox],
            )
            conn.execute(
                f"INSERT INTO outbox({_OUTBOX_COLUMNS}) VALUES "
                + ", ".join([outbox_marks] * len(batch)),
                [v for _, outbox in batch for v in outbox],
            )
            batch.clear()

        for pair in _rows(history, clients, now):
            batch.append(pair)
            if len(batch) == _CHUNK:  # 13,000 variables: SQLite allows 32,766 a statement
                flush()
        if batch:
            flush()
        conn.executemany(
            f"INSERT INTO clients({_CLIENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(client) DO NOTHING",
            _client_rows(history, clients, now),
        )
        conn.executemany(
            "INSERT INTO client_replies(client, rule, last_sent_at) VALUES (?, 'sales', ?) "
            "ON CONFLICT DO NOTHING",
            [(row[0], row[2]) for row in _client_rows(history, clients, now)],
        )
        conn.executemany(
            "INSERT INTO conversations(client, started_at) VALUES (?, ?)",
            _conversation_rows(history, clients, now),
        )
        # No ANALYZE: rulebot never runs it, so the benchmark plans as a deployment does.
        conn.execute("COMMIT")
    finally:
        conn.close()


async def fill_postgres(url: str, *, history: int, clients: int, now: float) -> None:
    """Write the history into a migrated PostgreSQL database (COPY)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        schema = await conn.fetchval("SELECT current_schema()")
        pairs = list(_rows(history, clients, now))
        await conn.copy_records_to_table(
            "inbox", records=[p[0] for p in pairs], columns=_split(_INBOX_COLUMNS),
            schema_name=schema,
        )  # fmt: skip
        await conn.copy_records_to_table(
            "outbox", records=[p[1] for p in pairs], columns=_split(_OUTBOX_COLUMNS),
            schema_name=schema,
        )  # fmt: skip
        del pairs
        client_rows = _client_rows(history, clients, now)
        await conn.executemany(
            f"INSERT INTO clients({_CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (client) DO NOTHING",
            client_rows,
        )
        await conn.executemany(
            "INSERT INTO client_replies(client, rule, last_sent_at) VALUES ($1, 'sales', $2) "
            "ON CONFLICT DO NOTHING",
            [(row[0], row[2]) for row in client_rows],
        )
        await conn.copy_records_to_table(
            "conversations", records=list(_conversation_rows(history, clients, now)),
            columns=["client", "started_at"], schema_name=schema,
        )  # fmt: skip
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _split(columns: str) -> list[str]:
    return [name.strip() for name in columns.split(",")]


async def fill(url: str, *, history: int, clients: int, now: float | None = None) -> float:
    """Migrate the store at `url` (a SQLite path or postgresql:// URL) through rulebot itself,
    then write the history into it. Returns the seconds it took."""
    from bot.store import open_store

    began = time.monotonic()
    store = await open_store(url)
    await store.close()
    when = time.time() if now is None else now
    if history:
        if url.startswith(("postgresql://", "postgres://")):
            await fill_postgres(url, history=history, clients=clients, now=when)
        else:
            fill_sqlite(url, history=history, clients=clients, now=when)
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="a SQLite path or a postgresql:// URL")
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=5000)
    args = parser.parse_args()
    if not args.store.startswith("postgres") and Path(args.store).exists():
        sys.exit(f"{args.store} exists; the history goes into a new store")
    took = asyncio.run(fill(args.store, history=args.history, clients=args.clients))
    print(f"{args.history} messages from {args.clients} clients stored in {took:.1f} s")


if __name__ == "__main__":
    main()
