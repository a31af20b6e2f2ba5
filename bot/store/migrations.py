"""Schema migrations, one list of statements per version, for each backend.

A store runs, at open, every migration above the version it finds (SQLite: PRAGMA
user_version; PostgreSQL: the schema_version table). Never edit a released migration: add one.
"""

from __future__ import annotations

SQLITE_MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE inbox (
            id INTEGER PRIMARY KEY,
            message_id TEXT NOT NULL UNIQUE,
            client TEXT NOT NULL,
            address TEXT NOT NULL,
            payload BLOB NOT NULL,
            received_at REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            outcome TEXT,
            rule TEXT,
            explanation TEXT,
            decided_at REAL
        )""",
        "CREATE INDEX inbox_pending ON inbox(client, received_at) WHERE state = 'pending'",
        "CREATE INDEX inbox_received ON inbox(received_at)",
        "CREATE INDEX inbox_decided ON inbox(decided_at)",
        """CREATE TABLE clients (
            client TEXT PRIMARY KEY,
            address TEXT,
            last_message_at REAL,
            conversation_started_at REAL,
            gateway_window_end REAL,
            gateway_window_reported_at REAL,
            paused_until REAL,
            claimed_by TEXT,
            claim_until REAL
        )""",
        "CREATE INDEX clients_address ON clients(address)",
        """CREATE TABLE client_replies (
            client TEXT NOT NULL,
            rule TEXT NOT NULL,
            last_sent_at REAL NOT NULL,
            PRIMARY KEY (client, rule)
        )""",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            client TEXT NOT NULL,
            address TEXT NOT NULL,
            rule TEXT NOT NULL,
            reply_to TEXT,
            contact BLOB NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            claimed_by TEXT,
            lease_until REAL,
            possible_duplicate INTEGER NOT NULL DEFAULT 0,
            gateway_unique TEXT,
            reason INTEGER,
            error_code TEXT,
            error TEXT,
            delivery_status TEXT,
            delivery_at REAL,
            created_at REAL NOT NULL,
            finished_at REAL
        )""",
        "CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state IN ('pending', 'sending')",
        "CREATE INDEX outbox_unique ON outbox(gateway_unique)",
        "CREATE INDEX outbox_client ON outbox(client, created_at)",
        "CREATE INDEX outbox_finished ON outbox(finished_at)",
        """CREATE TABLE conversations (
            client TEXT NOT NULL,
            started_at REAL NOT NULL
        )""",
        "CREATE INDEX conversations_started ON conversations(started_at)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX events_at ON events(at)",
    ),
]

#: PostgreSQL keeps its version here (one row); created before the first migration runs.
POSTGRES_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"

# Same tables and columns as SQLite, so reports written for one run on the other (see
# PostgresStore.query): unix-second times as DOUBLE PRECISION, flags as INTEGER 0/1, payloads as
# the same JSON bytes (BYTEA).
POSTGRES_MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE inbox (
            id BIGSERIAL PRIMARY KEY,
            message_id TEXT NOT NULL UNIQUE,
            client TEXT NOT NULL,
            address TEXT NOT NULL,
            payload BYTEA NOT NULL,
            received_at DOUBLE PRECISION NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            outcome TEXT,
            rule TEXT,
            explanation TEXT,
            decided_at DOUBLE PRECISION
        )""",
        "CREATE INDEX inbox_pending ON inbox(client, received_at) WHERE state = 'pending'",
        "CREATE INDEX inbox_received ON inbox(received_at)",
        "CREATE INDEX inbox_decided ON inbox(decided_at)",
        """CREATE TABLE clients (
            client TEXT PRIMARY KEY,
            address TEXT,
            last_message_at DOUBLE PRECISION,
            conversation_started_at DOUBLE PRECISION,
            gateway_window_end DOUBLE PRECISION,
            gateway_window_reported_at DOUBLE PRECISION,
            paused_until DOUBLE PRECISION,
            claimed_by TEXT,
            claim_until DOUBLE PRECISION
        )""",
        "CREATE INDEX clients_address ON clients(address)",
        """CREATE TABLE client_replies (
            client TEXT NOT NULL,
            rule TEXT NOT NULL,
            last_sent_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (client, rule)
        )""",
        """CREATE TABLE outbox (
            id BIGSERIAL PRIMARY KEY,
            client TEXT NOT NULL,
            address TEXT NOT NULL,
            rule TEXT NOT NULL,
            reply_to TEXT,
            contact BYTEA NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at DOUBLE PRECISION NOT NULL,
            claimed_by TEXT,
            lease_until DOUBLE PRECISION,
            possible_duplicate INTEGER NOT NULL DEFAULT 0,
            gateway_unique TEXT,
            reason INTEGER,
            error_code TEXT,
            error TEXT,
            delivery_status TEXT,
            delivery_at DOUBLE PRECISION,
            created_at DOUBLE PRECISION NOT NULL,
            finished_at DOUBLE PRECISION
        )""",
        "CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state IN ('pending', 'sending')",
        "CREATE INDEX outbox_unique ON outbox(gateway_unique)",
        "CREATE INDEX outbox_client ON outbox(client, created_at)",
        "CREATE INDEX outbox_address ON outbox(address) WHERE state = 'sending'",
        "CREATE INDEX outbox_finished ON outbox(finished_at)",
        """CREATE TABLE conversations (
            client TEXT NOT NULL,
            started_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX conversations_started ON conversations(started_at)",
        """CREATE TABLE events (
            id BIGSERIAL PRIMARY KEY,
            at DOUBLE PRECISION NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX events_at ON events(at)",
    ),
]
