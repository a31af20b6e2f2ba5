"""The core's value types: what a message is, what we know of its client, what to answer.

Plain frozen dataclasses with no behaviour beyond small derived values, so the webhook parser,
the engine, `rulebot try` and the decider all speak the same language without importing each
other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.card import Card

#: a WhatsApp conversation (billing, `once_per: conversation`) lasts 24 h from our first send
CONVERSATION = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message a client sent us."""

    id: str  #: the provider's `unique`: dedupe key and `replyTo` of our answer
    client: str  #: stable key for the client: `from_id` when present, else the number
    address: str  #: where to send the answer: the number, or `from_id` for a hidden number
    text: str | None  #: what rules match on (body, or a media caption); None if nothing
    type: str
    timestamp: float  #: unix seconds, as the gateway stamped it
    to: str | None = None  #: our account as the gateway saw it
    name: str | None = None
    is_group: bool = False


@dataclass(frozen=True, slots=True)
class ClientState:
    """What the store knows about one client at decision time (before the message decided)."""

    client: str
    #: when the client's previous message arrived (None: this is their first message ever)
    last_message_at: datetime | None = None
    #: when our current 24 h conversation with them started (first send after a gap), if any
    conversation_started_at: datetime | None = None
    #: rule name ("fallback" for the fallback) -> when we last sent that rule's card
    replies_sent: Mapping[str, datetime] = field(default_factory=dict)

    def after(
        self, decision: Decision, now: datetime, message_at: datetime | None = None
    ) -> ClientState:
        """This client once `decision` is answered at `now` (the one transition everyone uses).

        A send after 24 h without one starts a new conversation, so two messages decided in one
        round after a long silence see the first one's card as sent in this conversation.
        """
        sent = dict(self.replies_sent)
        started = self.conversation_started_at
        if decision.replies:
            if started is None or now - started >= CONVERSATION:
                started = now
            for reply in decision.replies:
                sent[reply.rule] = now
        return replace(
            self,
            last_message_at=message_at or now,
            conversation_started_at=started,
            replies_sent=sent,
        )


@dataclass(frozen=True, slots=True)
class Reply:
    """One card to send, quoting one client message."""

    rule: str  #: rule name, or "fallback"
    card: Card
    reply_to: str  #: the client's message id (`unique`) to quote
    once_per: str | None = None  #: conversation | day | ever | None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to answer, or why nothing: `outcome` is a short code, `explanation` a sentence."""

    replies: tuple[Reply, ...]
    #: reply | no_match | group | empty | conditions | already_sent
    outcome: str
    explanation: str
