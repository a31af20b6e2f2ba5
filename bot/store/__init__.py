"""Persistence behind one small interface: SQLite (default, one file) or PostgreSQL."""

from __future__ import annotations

from bot.store.base import Store
from bot.store.rows import (
    ClientBatch,
    ClientRecord,
    DecidedBatch,
    InboxRow,
    MessageOutcome,
    OutboxDraft,
    OutboxItem,
    PendingMessage,
    StoreStats,
)

__all__ = [
    "ClientBatch",
    "ClientRecord",
    "DecidedBatch",
    "InboxRow",
    "MessageOutcome",
    "OutboxDraft",
    "OutboxItem",
    "PendingMessage",
    "Store",
    "StoreStats",
    "open_store",
]


async def open_store(url: str) -> Store:
    """Open (and migrate) the store named by `url`: a SQLite path or a postgresql:// URL."""
    if url.startswith(("postgresql://", "postgres://")):
        from bot.store.postgres import PostgresStore

        return await PostgresStore.open(url)
    from bot.store.sqlite import SqliteStore

    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    return await SqliteStore.open(path)
