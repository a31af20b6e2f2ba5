"""The store's interface implemented once over bot/store/operations.py; SqliteStore and
PostgresStore add how they run an operation (`_run`) and what only their database does."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from bot.store import operations as ops
from bot.store import outcomes
from bot.store.operations import Connection
from bot.store.period_counts import PeriodCounts
from bot.store.rows import (
    FINAL_STATES,
    ClientBatch,
    ClientRecord,
    DecidedBatch,
    InboxRow,
    OutboxItem,
    StoreStats,
)

T = TypeVar("T")
#: between two batches of pruning: whatever queued on the store (webhooks first) runs now
_PRUNE_PAUSE_S = 0.01


class SqlStore(ABC):
    """Everything both stores do alike; see bot/store/base.py for what each method promises."""

    def __init__(self) -> None:
        #: "today's" figures: finished hours counted once, kept for the next view
        self._period_counts = PeriodCounts()

    @abstractmethod
    async def _run(self, operation: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run `operation(connection, *args)` in one transaction."""

    # -- what each database does its own way ----------------------------------------------------

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int: ...

    @abstractmethod
    async def add_inbound(self, row: InboxRow, received_at: float) -> bool: ...

    @abstractmethod
    async def recover(self, now: float) -> int: ...

    @abstractmethod
    async def claim_clients(
        self,
        *,
        now: float,
        window_s: float,
        max_wait_s: float,
        limit: int,
        worker: str,
        lease_s: float,
    ) -> tuple[list[ClientBatch], float | None]: ...

    @abstractmethod
    async def claim_sends(
        self, *, now: float, limit: int, worker: str, lease_s: float
    ) -> tuple[list[OutboxItem], float | None]: ...

    # -- the same on both -----------------------------------------------------------------------

    async def client_record(self, client: str, now: float) -> ClientRecord:
        return (await self._run(ops.client_records, (client,), now))[client]

    async def finish_batch(self, decided: DecidedBatch, now: float) -> None:
        await self._run(ops.finish_batch, decided, now)

    async def finish_batches(self, items: Sequence[DecidedBatch], now: float) -> list[bool]:
        return await self._run(ops.finish_batches, tuple(items), now)

    async def mark_sent(
        self,
        item_id: int,
        *,
        unique: str | None,
        now: float,
        window_left_min: float | None,
        warning: str | None = None,
    ) -> None:
        await self._run(outcomes.mark_sent, item_id, unique, now, window_left_min, warning)

    async def mark_retry(
        self, item_id: int, *, error: str, next_attempt_at: float, uncertain: bool = False
    ) -> None:
        await self._run(outcomes.mark_retry, item_id, error, next_attempt_at, uncertain)

    async def mark_final(
        self, item_id: int, *, state: str, code: str, reason: int | None, error: str, now: float
    ) -> None:
        if state not in FINAL_STATES or state == "sent":
            raise ValueError(f"not a final failure state: {state}")
        await self._run(outcomes.mark_final, item_id, state, code, reason, error, now)

    async def record_status(self, unique: str, status: str, now: float) -> bool:
        return await self._run(outcomes.record_status, unique, status, now)

    async def record_outgoing(
        self, *, unique: str, client: str, now: float, pause_until: float
    ) -> bool:
        return await self._run(outcomes.record_outgoing, unique, client, now, pause_until)

    async def record_event(self, kind: str, detail: str, now: float) -> None:
        await self._run(ops.record_event, kind, detail, now)

    async def stats(self, *, since: float, now: float) -> StoreStats:
        return await self._run(_stats, since, now, self._period_counts)

    async def prune(self, *, older_than: float) -> int:
        """In batches of ops.PRUNE_BATCH rows a table, each its own transaction, with a pause
        between them: webhooks are stored in between, never behind a month of deletes."""
        total = 0
        while True:
            deleted = await self._run(ops.prune_batch, older_than, ops.PRUNE_BATCH)
            total += sum(deleted)
            if max(deleted) < ops.PRUNE_BATCH:  # each table's last batch
                return total
            await asyncio.sleep(_PRUNE_PAUSE_S)

    async def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows as dicts (for the dashboard and tests); `?` placeholders on both databases."""
        return await self._run(ops.query, sql, params)


async def _stats(conn: Connection, since: float, now: float, counts: PeriodCounts) -> StoreStats:
    return await ops.stats(conn, since, await counts.since(conn, since, now))


def settle(future: asyncio.Future[T], value: T, error: BaseException | None) -> None:
    """Hand a result to a waiting caller, unless it went away (the work is done all the same)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
