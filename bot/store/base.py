"""The store's interface; SQLite and PostgreSQL both satisfy it (the rows are in rows.py).

Times are unix seconds (float) throughout; callers pass `now` in, so tests can move the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.store.rows import (
    ClientBatch,
    ClientRecord,
    DecidedBatch,
    InboxRow,
    OutboxItem,
    StoreStats,
)


class Store(Protocol):
    """Persistence for the inbox, the outbox and per-client state."""

    async def close(self) -> None:
        """Flush and close."""

    async def add_inbound(self, row: InboxRow, received_at: float) -> bool:
        """Durably store a client message; False if its id was already stored (a retry)."""

    async def recover(self, now: float) -> int:
        """At start: release work claimed by a dead process; returns sends marked uncertain."""

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
        """Claim clients whose messages are ready; also returns when the next will be ready."""

    async def client_record(self, client: str, now: float) -> ClientRecord:
        """What we know about a client (for the engine, rate limits and hand-off)."""

    async def finish_batch(self, decided: DecidedBatch, now: float) -> None:
        """In one transaction: mark the messages decided, queue the sends, release the claim.
        Raises StoreError when the claim lapsed (another worker holds the client now)."""

    async def finish_batches(self, items: Sequence[DecidedBatch], now: float) -> list[bool]:
        """finish_batch for many batches at once; False for each whose claim had lapsed."""

    async def claim_sends(
        self, *, now: float, limit: int, worker: str, lease_s: float
    ) -> tuple[list[OutboxItem], float | None]:
        """Claim due sends; also returns when the next retry falls due."""

    async def mark_sent(
        self,
        item_id: int,
        *,
        unique: str | None,
        now: float,
        window_left_min: float | None,
        warning: str | None = None,
    ) -> None:
        """The gateway accepted the send (`warning`: what its OK lacked); the card counts for
        `once_per` from now, and a conversation starts if none is active."""

    async def mark_retry(
        self, item_id: int, *, error: str, next_attempt_at: float, uncertain: bool = False
    ) -> None:
        """Try again at `next_attempt_at`; `uncertain`: this try's outcome is unknown (the send
        is flagged as a possible duplicate)."""

    async def mark_final(
        self, item_id: int, *, state: str, code: str, reason: int | None, error: str, now: float
    ) -> None:
        """The send is not tried again: `state` is failed, refused or window_expired (it never
        went out), or uncertain (it may have; counted for `once_per` and as uncertain)."""

    async def record_status(self, unique: str, status: str, now: float) -> bool:
        """Store a delivery status against the send with that gateway id; False if unknown."""

    async def record_outgoing(
        self, *, unique: str, client: str, now: float, pause_until: float
    ) -> bool:
        """A message left our account: if not one of the bot's sends, pause the client (hand-off)
        and return True."""

    async def record_event(self, kind: str, detail: str, now: float) -> None:
        """Note something acknowledged but not acted on (an unknown hook or type)."""

    async def stats(self, *, since: float, now: float) -> StoreStats:
        """Figures since `since`."""

    async def prune(self, *, older_than: float) -> int:
        """Delete finished rows older than that; never rows in flight. Returns rows deleted."""

    async def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows of a read-only report query written with `?` placeholders (portable SQL)."""

    async def schema_version(self) -> int:
        """The schema version the store is at."""
