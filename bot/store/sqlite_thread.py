"""SQLite's one database thread: every store operation runs on it, and the operations queued
at any moment are committed together (group commit).

Why not a statement-per-await driver: each round trip to a database thread costs far more than
the statement itself (engineering notes: aiosqlite bulk inserts 15x slower than sqlite3). So
every store operation is one plain function run on a single database thread, and the thread
runs all operations queued at that moment in ONE transaction (each in its own savepoint) with
one fsync: concurrent webhooks share a commit instead of queueing for one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from bot.errors import StoreError
from bot.store.migrations import SQLITE_MIGRATIONS
from bot.store.sql_store import settle

T = TypeVar("T")
_MAX_BATCH = 512

_Op = tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any], asyncio.AbstractEventLoop]


class DatabaseThread:
    """One connection on one thread; queued operations are committed together."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="rulebot-sqlite", daemon=True)
        self._closed = False

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise StoreError(f"cannot open the SQLite store {self._path}: {self._error}")

    @property
    def closed(self) -> bool:
        return self._closed

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, args, future, loop))
        return await future

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # We acknowledge webhooks after the commit: FULL loses nothing acknowledged.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.row_factory = sqlite3.Row
        _migrate(conn)
        return conn

    def _run(self) -> None:
        try:
            conn = self._connect()
        except (sqlite3.Error, OSError, StoreError) as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < _MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._run_batch(conn, batch)
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        results: list[tuple[Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, args, _future, _loop in batch:
                conn.execute("SAVEPOINT op")
                try:
                    results.append((fn(conn, *args), None))
                    conn.execute("RELEASE op")
                except Exception as exc:  # one bad operation must not sink the others
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    results.append((None, _translate(exc)))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            failure = StoreError(f"SQLite commit failed: {exc}")
            results = [(None, failure)] * len(batch)
        for (_fn, _args, future, loop), (value, error) in zip(batch, results, strict=True):
            loop.call_soon_threadsafe(settle, future, value, error)


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, sqlite3.Error):
        return StoreError(f"SQLite: {exc}")
    return exc


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(SQLITE_MIGRATIONS):
        raise StoreError(
            f"the store's schema version {version} is newer than this rulebot knows "
            f"({len(SQLITE_MIGRATIONS)}): upgrade rulebot"
        )
    for number, script in enumerate(SQLITE_MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in script:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except sqlite3.Error:
            conn.execute("ROLLBACK")
            raise
