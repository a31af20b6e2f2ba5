"""The edge between the core's values and the store's rows, written once for every user of the
store: a message into the inbox and back out, a client's record as the engine's ClientState."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from bot.core.values import ClientState, InboundMessage
from bot.store.rows import ClientRecord, InboxRow, PendingMessage


def inbox_row(message: InboundMessage) -> InboxRow:
    """The row the inbox keeps for a message (orjson serialises dataclasses natively)."""
    return InboxRow(
        message_id=message.id,
        client=message.client,
        address=message.address,
        payload=orjson.dumps(message),
    )


def inbound_message(pending: PendingMessage) -> InboundMessage:
    """The message a claimed inbox row holds (inverse of inbox_row)."""
    data: dict[str, Any] = orjson.loads(pending.payload)
    return InboundMessage(**data)


def client_state(record: ClientRecord) -> ClientState:
    """The engine's view of a client, from the store's record of them."""
    return ClientState(
        client=record.client,
        last_message_at=_as_datetime(record.last_message_at),
        conversation_started_at=_as_datetime(record.conversation_started_at),
        replies_sent={rule: _utc(at) for rule, at in record.replies_sent.items()},
    )


def _utc(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _as_datetime(value: float | None) -> datetime | None:
    return None if value is None else _utc(value)
