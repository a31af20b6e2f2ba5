"""The rows that cross the store's interface: plain values, times as unix seconds (float).

The store keeps rows, not rules: a message is an opaque serialised payload with the keys it is
found by, a client is a record of times. Turning them into the core's values (and back) happens
at the edge that uses the store (bot/inbox_rows.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: outbox states; the first two are "in flight" and never pruned
IN_FLIGHT_STATES = ("pending", "sending")
#: "uncertain": the last try's outcome is unknown and the send is not tried again
FINAL_STATES = ("sent", "failed", "refused", "window_expired", "uncertain")

#: inbox outcomes besides the engine's own (reply, no_match, group, empty, conditions, already_sent)
OUTCOME_RATE_LIMITED = "rate_limited"
OUTCOME_PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class InboxRow:
    """A client message as the inbox stores it: the keys it is found by, and the message."""

    message_id: str  #: the dedupe key: a second row with this id is a retried webhook
    client: str
    address: str
    payload: bytes  #: the message, serialised by whoever stored it; the store never looks inside


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A client message waiting in the inbox, as a claim hands it out."""

    message_id: str
    payload: bytes  #: as InboxRow.payload
    received_at: float


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """Everything the store knows about a client that deciding needs."""

    client: str
    #: when the client's latest decided message arrived (None: never)
    last_message_at: float | None = None
    #: when our current 24 h conversation with them started (None: none running)
    conversation_started_at: float | None = None
    #: rule name -> when we last queued that rule's card for them
    replies_sent: Mapping[str, float] = field(default_factory=dict)
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


@dataclass(frozen=True, slots=True)
class DecidedBatch:
    """A claimed batch with how its messages were decided and the sends that follow."""

    batch: ClientBatch
    outcomes: Sequence[MessageOutcome]
    drafts: Sequence[OutboxDraft]
    #: the client's latest message time, as the 24 h window counts it (never moves back)
    last_message_at: float


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
    #: an earlier try's outcome is unknown (the process died mid-send, the answer timed out or
    #: was not JSON): the gateway may already have it
    possible_duplicate: bool
    client_last_message_at: float | None
    #: when the gateway last told us the window's end (templateTimeLeft), and when it said it
    gateway_window_end: float | None
    gateway_window_reported_at: float | None


@dataclass(slots=True)
class PeriodFigures:
    """What happened in a span of time."""

    received: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  #: inbox outcomes decided
    sends: Counter[str] = field(default_factory=Counter)  #: outbox final states reached
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)  #: (state, error)
    warned: int = 0  #: sends accepted with a warning
    conversations: int = 0

    def add(self, other: PeriodFigures) -> None:
        self.received += other.received
        self.outcomes.update(other.outcomes)
        self.sends.update(other.sends)
        self.failures.update(other.failures)
        self.warned += other.warned
        self.conversations += other.conversations


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Figures for `rulebot status` and the dashboard, for the period since `since`."""

    inbox_pending: int
    outbox_pending: int
    outbox_in_flight: int
    received: int
    outcomes: Mapping[str, int]  #: inbox outcomes since `since`
    sends: Mapping[str, int]  #: outbox final states since `since` (sent, failed, ...)
    #: sends since `since` whose outcome was unknown at least once (the client may have the
    #: card twice if it was sent again)
    uncertain: int
    conversations: int
    #: sends accepted since `since` whose OK answer lacked something (see outbox.warning)
    accepted_with_warnings: int = 0
    #: sends since `since` that did not go out, by (state, error text)
    failures: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: (when, outbox state, error text), newest first
    recent_errors: Sequence[tuple[float, str, str]] = field(default_factory=tuple)
