"""The store's interface and the records that cross it; SQLite and PostgreSQL both satisfy it.

Times are unix seconds (float) throughout; callers pass `now` in, so tests can move the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from bot.core.values import ClientState, InboundMessage

#: outbox states; the first two are "in flight" and never pruned
IN_FLIGHT_STATES = ("pending", "sending")
FINAL_STATES = ("sent", "failed", "refused", "window_expired")

#: inbox outcomes besides the engine's own (reply, no_match, group, empty, conditions, already_sent)
OUTCOME_RATE_LIMITED = "rate_limited"
OUTCOME_PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A client message waiting in the inbox."""

    message: InboundMessage
    received_at: float


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """Everything the worker needs about a client to decide: the engine's part and ours."""

    state: ClientState
    paused_until: float | None = None
    #: automatic replies queued or sent to this client in the last hour (loop protection)
    replies_last_hour: int = 0


@dataclass(frozen=True, slots=True)
class ClientBatch:
    """A client's pending messages, claimed by one worker (arrival order)."""

    client: str
    messages: tuple[PendingMessage, ...]
    claim: str  #: the claim token; finishing the batch releases it
    #: the client's record read in the claiming transaction, when the store does that
    record: ClientRecord | None = None


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    """How one inbox message was decided."""

    message_id: str
    outcome: str
    rule: str | None
    explanation: str


@dataclass(frozen=True, slots=True)
class OutboxDraft:
    """A send the worker decided on, not yet in the outbox."""

    client: str
    address: str
    rule: str
    reply_to: str
    contact: Mapping[str, str]  #: the card's Send Contact fields


#: a claimed batch with how its messages were decided and the sends that follow
DecidedBatch = tuple["ClientBatch", Sequence["MessageOutcome"], Sequence["OutboxDraft"]]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A send claimed for delivery, with what the sender needs to check the 24 h window."""

    id: int
    client: str
    address: str
    rule: str
    reply_to: str
    contact: Mapping[str, str]
    attempts: int
    created_at: float
    #: the process died while this send was in flight: the gateway may already have it
    possible_duplicate: bool
    client_last_message_at: float | None
    #: when the gateway last told us the window's end (templateTimeLeft), and when it said it
    gateway_window_end: float | None
    gateway_window_reported_at: float | None


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Figures for `rulebot status` and the dashboard, for the period since `since`."""

    inbox_pending: int
    outbox_pending: int
    outbox_in_flight: int
    received: int
    outcomes: Mapping[str, int]  #: inbox outcomes since `since`
    sends: Mapping[str, int]  #: outbox final states since `since` (sent, failed, ...)
    possible_duplicates: int
    conversations: int
    #: (when, outbox state, error text), newest first
    recent_errors: Sequence[tuple[float, str, str]] = field(default_factory=tuple)


class Store(Protocol):
    """Persistence for the inbox, the outbox and per-client state."""

    async def close(self) -> None:
        """Flush and close."""

    async def add_inbound(self, message: InboundMessage, received_at: float) -> bool:
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

    async def client_state(self, client: str, now: float) -> ClientState:
        """The engine's view of a client."""

    async def finish_batch(
        self,
        batch: ClientBatch,
        outcomes: Sequence[MessageOutcome],
        drafts: Sequence[OutboxDraft],
        now: float,
    ) -> None:
        """In one transaction: mark the messages decided, queue the sends, release the claim.
        Raises StoreError when the claim lapsed (another worker holds the client now)."""

    async def finish_batches(self, items: Sequence[DecidedBatch], now: float) -> list[bool]:
        """finish_batch for many batches at once; False for each whose claim had lapsed."""

    async def claim_sends(
        self, *, now: float, limit: int, worker: str, lease_s: float
    ) -> tuple[list[OutboxItem], float | None]:
        """Claim due sends; also returns when the next retry falls due."""

    async def mark_sent(
        self, item_id: int, *, unique: str, now: float, window_left_min: float | None
    ) -> None:
        """The gateway accepted the send; starts a conversation if none is active."""

    async def mark_retry(self, item_id: int, *, error: str, next_attempt_at: float) -> None:
        """A retryable failure: try again at `next_attempt_at`."""

    async def mark_final(
        self, item_id: int, *, state: str, code: str, reason: int | None, error: str, now: float
    ) -> None:
        """The send will never happen: `state` is failed, refused or window_expired."""

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


def message_to_json(message: InboundMessage) -> bytes:
    """The inbox's serialised form of a message (orjson reads dataclasses natively)."""
    return orjson.dumps(message)


def message_from_json(raw: str | bytes) -> InboundMessage:
    """Inverse of message_to_json."""
    data: dict[str, Any] = orjson.loads(raw)
    return InboundMessage(**data)
