"""Both backends end up with one schema: the same tables, columns, types (as each database
spells them), keys and indexes, whether migrated from nothing or from an older version.

The schema is described once (bot/store/migrations.py); this reads what a real SQLite file and a
real PostgreSQL schema hold after migrating, so drift between the rendered DDL shows up here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import asyncpg

from bot.store import open_store
from bot.store.migrations import MIGRATIONS, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from tests.pg import postgres_schema

#: PostgreSQL's type names in SQLite's words (BIGINT is PostgreSQL's row id, BIGSERIAL)
PG_TYPES = {
    "text": "TEXT",
    "integer": "INTEGER",
    "bigint": "INTEGER",
    "double precision": "REAL",
    "bytea": "BLOB",
}

#: per table: {column: (type, not null, default, primary key)}, and the set of indexes as
#: (table, name or None for a constraint's, columns, unique, partial)
Schema = tuple[dict[str, dict[str, tuple[str, bool, str | None, bool]]], set[tuple[Any, ...]]]


def sqlite_schema(path: Path) -> Schema:
    conn = sqlite3.connect(path)
    try:
        tables: dict[str, dict[str, tuple[str, bool, str | None, bool]]] = {}
        indexes: set[tuple[Any, ...]] = set()
        names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in names:
            tables[table] = {
                name: (kind, bool(notnull or pk), default, pk > 0)
                for _cid, name, kind, notnull, default, pk in conn.execute(
                    f"PRAGMA table_info({table})"
                )
            }
            for _seq, index, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
                if origin == "pk":  # a composite primary key: compared through the columns
                    continue
                columns = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index})"))
                named = index if origin == "c" else None
                indexes.add((table, named, columns, bool(unique), bool(partial)))
        return tables, indexes
    finally:
        conn.close()


async def postgres_schema_of(url: str) -> Schema:
    conn = await asyncpg.connect(url)
    try:
        keys = {
            (r["table_name"], r["column_name"])
            for r in await conn.fetch(
                "SELECT tc.table_name, k.column_name FROM information_schema.table_constraints tc "
                "JOIN information_schema.key_column_usage k "
                "  ON k.constraint_schema = tc.constraint_schema "
                "  AND k.constraint_name = tc.constraint_name "
                "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()"
            )
        }
        tables: dict[str, dict[str, tuple[str, bool, str | None, bool]]] = {}
        for r in await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = current_schema()"
        ):
            default = r["column_default"]
            if default is not None and default.startswith("nextval("):
                default = None  # BIGSERIAL's sequence: SQLite's INTEGER PRIMARY KEY has none
            elif default is not None:
                default = default.removesuffix("::text")
            key = (r["table_name"], r["column_name"])
            tables.setdefault(r["table_name"], {})[r["column_name"]] = (
                PG_TYPES.get(r["data_type"], r["data_type"]),
                r["is_nullable"] == "NO",
                default,
                key in keys,
            )
        indexes: set[tuple[Any, ...]] = set()
        for r in await conn.fetch(
            "SELECT t.relname AS table, i.relname AS name, x.indisunique AS unique, "
            "x.indisprimary AS primary, x.indpred IS NOT NULL AS partial, "
            "EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) AS owned, "
            "ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY AS k(num, n) "
            "  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.num "
            "  ORDER BY k.n) AS columns "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace s ON s.oid = t.relnamespace "
            "WHERE s.nspname = current_schema()"
        ):
            if r["primary"]:
                continue
            named = None if r["owned"] else r["name"]
            indexes.add((r["table"], named, tuple(r["columns"]), r["unique"], r["partial"]))
        # PostgreSQL keeps its schema version in a table, SQLite in PRAGMA user_version.
        tables.pop("schema_version")
        return tables, indexes
    finally:
        await conn.close()


async def migrated_sqlite(path: Path) -> Schema:
    store = await open_store(str(path))
    try:
        assert await store.schema_version() == len(MIGRATIONS)  # type: ignore[attr-defined]
    finally:
        await store.close()
    return sqlite_schema(path)


async def migrated_postgres(url: str) -> Schema:
    store = await open_store(url)
    try:
        assert await store.schema_version() == len(MIGRATIONS)  # type: ignore[attr-defined]
    finally:
        await store.close()
    return await postgres_schema_of(url)


async def test_sqlite_and_postgres_migrate_to_the_same_schema(tmp_path: Path) -> None:
    lite = await migrated_sqlite(tmp_path / "rulebot.db")
    async with postgres_schema() as url:
        pg = await migrated_postgres(url)
    assert pg[0] == lite[0]
    assert pg[1] == lite[1]
    assert {
        "inbox",
        "clients",
        "client_replies",
        "outbox",
        "conversations",
        "events",
        "queue_counts",
    } == set(lite[0])


async def test_stores_created_by_the_first_release_migrate_to_the_same_schema(
    tmp_path: Path,
) -> None:
    """Version 1 as each backend shipped it: PostgreSQL's had the outbox_address index."""
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    for statement in SQLITE_MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    fresh = await migrated_sqlite(tmp_path / "fresh.db")
    assert await migrated_sqlite(path) == fresh
    async with postgres_schema() as url:
        pg = await asyncpg.connect(url)
        try:
            await pg.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            await pg.execute("INSERT INTO schema_version(version) VALUES (1)")
            for statement in POSTGRES_MIGRATIONS[0]:
                await pg.execute(statement)
            await pg.execute(
                "CREATE INDEX outbox_address ON outbox(address) WHERE state = 'sending'"
            )
        finally:
            await pg.close()
        assert await migrated_postgres(url) == fresh
