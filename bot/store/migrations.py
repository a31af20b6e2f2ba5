"""The schema, described once; SQLite's and PostgreSQL's DDL are both rendered from it.

A store runs, at open, every migration above the version it finds (SQLite: PRAGMA
user_version; PostgreSQL: the schema_version table). Never edit a released migration: add one.

Column types are the schema's own words, spelled per database by bot/store/dialect.py: ID (the
row id), TEXT, INTEGER (flags as 0/1, counts, codes), SECONDS (unix seconds, a float) and BYTES
(JSON payloads). Tables and columns are the same on both, so a report written for one runs on
the other (see `Store.query`). Anything else (indexes) is portable SQL, the same text on both.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.dialect import POSTGRES, SQLITE, Dialect


@dataclass(frozen=True, slots=True)
class Table:
    """CREATE TABLE: each column is "name TYPE [constraints]", TYPE one of the schema's types."""

    name: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...] = ()  #: a composite key (a single one is the column's ID type)

    def ddl(self, dialect: Dialect) -> str:
        lines = []
        for column in self.columns:
            name, kind, *rest = column.split(" ", 2)
            lines.append(" ".join([name, dialect.types[kind], *rest]))
        if self.primary_key:
            lines.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        body = ",\n    ".join(lines)
        return f"CREATE TABLE {self.name} (\n    {body}\n)"


@dataclass(frozen=True, slots=True)
class PerDialect:
    """Statements each database writes its own way (triggers)."""

    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        return self.postgresql if dialect.name == "postgresql" else self.sqlite


#: one migration: tables and statements, in order
Migration = tuple[Table | str | PerDialect, ...]

#: what the queue depths are kept for: "table:state" (see queue_counts below)
QUEUE_FIGURES = ("inbox:pending", "outbox:pending", "outbox:sending")
#: queue_counts filled with an exact count (at migration, and when recovery folds the shards)
RECOUNT_QUEUES = tuple(
    f"INSERT INTO queue_counts(shard, figure, n) SELECT 0, '{figure}', COUNT(*) "
    f"FROM {figure.split(':')[0]} WHERE state = '{figure.split(':')[1]}'"
    for figure in QUEUE_FIGURES
)


def _sqlite_queue_triggers(table: str) -> tuple[str, ...]:
    # One process writes a SQLite file, so one row per figure (shard 0) serialises nothing.
    # A figure that is not kept (a finished state) matches no row and costs a key lookup.
    counted = (
        "UPDATE queue_counts SET n = n {sign} 1 "
        "WHERE shard = 0 AND figure = '{table}:' || {row}.state"
    )
    return (
        f"CREATE TRIGGER {table}_queue_insert AFTER INSERT ON {table} BEGIN "
        f"{counted.format(sign='+', table=table, row='NEW')}; END",
        f"CREATE TRIGGER {table}_queue_delete AFTER DELETE ON {table} BEGIN "
        f"{counted.format(sign='-', table=table, row='OLD')}; END",
        f"CREATE TRIGGER {table}_queue_update AFTER UPDATE OF state ON {table} "
        f"WHEN OLD.state IS NOT NEW.state BEGIN "
        f"{counted.format(sign='-', table=table, row='OLD')}; "
        f"{counted.format(sign='+', table=table, row='NEW')}; END",
    )


def _postgres_queue_triggers(table: str) -> tuple[str, ...]:
    run = "FOR EACH STATEMENT EXECUTE FUNCTION rulebot_count_queue()"
    return (
        f"CREATE TRIGGER {table}_queue_insert AFTER INSERT ON {table} "
        f"REFERENCING NEW TABLE AS new_rows {run}",
        f"CREATE TRIGGER {table}_queue_delete AFTER DELETE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows {run}",
        f"CREATE TRIGGER {table}_queue_update AFTER UPDATE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {run}",
    )


#: Several instances write one PostgreSQL: each connection adds its statements' changes to its
#: own row (its backend's pid), so no two transactions ever wait on one counter row; the depth is
#: the sum of the rows. Statement triggers see each statement's rows at once (one upsert per
#: statement, not per row).
_POSTGRES_COUNT_FUNCTION = """
CREATE FUNCTION rulebot_count_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO queue_counts(shard, figure, n)
        SELECT pg_backend_pid(), TG_TABLE_NAME || ':' || state, COUNT(*) FROM new_rows
        WHERE state IN ('pending', 'sending') GROUP BY state
        ON CONFLICT (shard, figure) DO UPDATE SET n = queue_counts.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO queue_counts(shard, figure, n)
        SELECT pg_backend_pid(), TG_TABLE_NAME || ':' || state, -COUNT(*) FROM old_rows
        WHERE state IN ('pending', 'sending') GROUP BY state
        ON CONFLICT (shard, figure) DO UPDATE SET n = queue_counts.n + EXCLUDED.n;
    ELSE
        INSERT INTO queue_counts(shard, figure, n)
        SELECT pg_backend_pid(), TG_TABLE_NAME || ':' || state, SUM(change) FROM (
            SELECT state, 1 AS change FROM new_rows WHERE state IN ('pending', 'sending')
            UNION ALL
            SELECT state, -1 FROM old_rows WHERE state IN ('pending', 'sending')
        ) changed GROUP BY state HAVING SUM(change) <> 0
        ON CONFLICT (shard, figure) DO UPDATE SET n = queue_counts.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$
"""

MIGRATIONS: list[Migration] = [
    (
        Table(
            "inbox",
            (
                "id ID",
                "message_id TEXT NOT NULL UNIQUE",
                "client TEXT NOT NULL",
                "address TEXT NOT NULL",
                "payload BYTES NOT NULL",
                "received_at SECONDS NOT NULL",
                "state TEXT NOT NULL DEFAULT 'pending'",
                "outcome TEXT",
                "rule TEXT",
                "explanation TEXT",
                "decided_at SECONDS",
            ),
        ),
        "CREATE INDEX inbox_pending ON inbox(client, received_at) WHERE state = 'pending'",
        "CREATE INDEX inbox_received ON inbox(received_at)",
        "CREATE INDEX inbox_decided ON inbox(decided_at)",
        Table(
            "clients",
            (
                "client TEXT PRIMARY KEY",
                "address TEXT",
                "last_message_at SECONDS",
                "conversation_started_at SECONDS",
                "gateway_window_end SECONDS",
                "gateway_window_reported_at SECONDS",
                "paused_until SECONDS",
                "claimed_by TEXT",
                "claim_until SECONDS",
            ),
        ),
        "CREATE INDEX clients_address ON clients(address)",
        Table(
            "client_replies",
            (
                "client TEXT NOT NULL",
                "rule TEXT NOT NULL",
                "last_sent_at SECONDS NOT NULL",
            ),
            primary_key=("client", "rule"),
        ),
        Table(
            "outbox",
            (
                "id ID",
                "client TEXT NOT NULL",
                "address TEXT NOT NULL",
                "rule TEXT NOT NULL",
                "reply_to TEXT",
                "contact BYTES NOT NULL",
                "state TEXT NOT NULL DEFAULT 'pending'",
                "attempts INTEGER NOT NULL DEFAULT 0",
                "next_attempt_at SECONDS NOT NULL",
                "claimed_by TEXT",
                "lease_until SECONDS",
                "possible_duplicate INTEGER NOT NULL DEFAULT 0",
                "gateway_unique TEXT",
                "reason INTEGER",
                "error_code TEXT",
                "error TEXT",
                "delivery_status TEXT",
                "delivery_at SECONDS",
                "created_at SECONDS NOT NULL",
                "finished_at SECONDS",
            ),
        ),
        "CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state IN ('pending', 'sending')",
        "CREATE INDEX outbox_unique ON outbox(gateway_unique)",
        "CREATE INDEX outbox_client ON outbox(client, created_at)",
        "CREATE INDEX outbox_finished ON outbox(finished_at)",
        Table("conversations", ("client TEXT NOT NULL", "started_at SECONDS NOT NULL")),
        "CREATE INDEX conversations_started ON conversations(started_at)",
        Table(
            "events",
            ("id ID", "at SECONDS NOT NULL", "kind TEXT NOT NULL", "detail TEXT NOT NULL"),
        ),
        "CREATE INDEX events_at ON events(at)",
    ),
    (
        # The hand-off check looks for a send in flight to an address. Version 1 created this
        # index on PostgreSQL only; IF NOT EXISTS gives it to SQLite and leaves PostgreSQL as is.
        "CREATE INDEX IF NOT EXISTS outbox_address ON outbox(address) WHERE state = 'sending'",
    ),
    (
        # Every query the dashboard, /metrics and `rulebot status` run finds its rows through an
        # index bounded by time or by the rows in flight, so a month of history costs nothing:
        # the latest messages with their send (a join on reply_to), sends the gateway may have
        # twice, and the latest errors (finished sends with an error; retries are in flight).
        "CREATE INDEX outbox_reply_to ON outbox(reply_to)",
        "CREATE INDEX outbox_possible_duplicate ON outbox(created_at) WHERE possible_duplicate = 1",
        "CREATE INDEX outbox_failed ON outbox(finished_at) WHERE error IS NOT NULL",
    ),
    (
        # What an accepted send's answer lacked or held oddly (an OK without a message id, a
        # templateTimeLeft that is not a number): the send went out, so it is not an error.
        "ALTER TABLE outbox ADD COLUMN warning TEXT",
    ),
    (
        # A client's cards on their way (for once_per): through outbox_client the lookup read
        # every send of the client's month (150 ms a round of 300 clients at 1M stored); this
        # index holds only the sends in flight.
        "CREATE INDEX outbox_client_in_flight ON outbox(client) "
        "WHERE state IN ('pending', 'sending')",
    ),
    (
        # Queue depths kept as rows change, by triggers (so every writer counts, a person's
        # UPDATE too), instead of counting the rows in flight at each /metrics scrape and view.
        # Triggers before the first count: PostgreSQL's CREATE TRIGGER waits for writers
        # already running, and every later write is counted by the trigger.
        Table(
            "queue_counts",
            ("shard INTEGER NOT NULL", "figure TEXT NOT NULL", "n INTEGER NOT NULL"),
            primary_key=("shard", "figure"),
        ),
        PerDialect(
            sqlite=(*_sqlite_queue_triggers("inbox"), *_sqlite_queue_triggers("outbox")),
            postgresql=(
                _POSTGRES_COUNT_FUNCTION,
                *_postgres_queue_triggers("inbox"),
                *_postgres_queue_triggers("outbox"),
            ),
        ),
        *RECOUNT_QUEUES,
    ),
]


def render(migrations: list[Migration], dialect: Dialect) -> list[tuple[str, ...]]:
    """Each migration as the statements `dialect` runs."""
    rendered = []
    for migration in migrations:
        statements: list[str] = []
        for step in migration:
            if isinstance(step, Table):
                statements.append(step.ddl(dialect))
            elif isinstance(step, PerDialect):
                statements.extend(step.statements(dialect))
            else:
                statements.append(step)
        rendered.append(tuple(statements))
    return rendered


SQLITE_MIGRATIONS = render(MIGRATIONS, SQLITE)
POSTGRES_MIGRATIONS = render(MIGRATIONS, POSTGRES)

#: PostgreSQL keeps its version here (one row); created before the first migration runs.
POSTGRES_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
