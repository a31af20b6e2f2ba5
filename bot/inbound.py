"""Gateway webhook payloads -> one typed event: a client message, a status update, or an echo.

The provider (99 Digital's WhatsApp API v2) posts `hook: "new"` for a client message with
`unique`, `from`, `from_id`, `to`, `type`, `body`, `caption`, `timestamp` (a string). Other
gateways use `id`/`message_id` and `text`/`message`; both shapes are read here, so another
provider's shape is one more function in this module and nothing else changes.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import orjson

from bot.core.values import InboundMessage
from bot.errors import InboundError

#: message types whose text rules match on: `body` for these ...
_BODY_TYPES = frozenset({"text", "chat", "button", "list", "buttons_response", "list_response"})
#: ... and `caption` for media
_CAPTION_TYPES = frozenset({"image", "video", "document", "sticker"})
#: the other documented types: real client messages (they reset the 24 h window) with no text
_TEXTLESS_TYPES = frozenset({"audio", "ptt", "location", "contacts", "reaction", "order", "vcard"})
_KNOWN_TYPES = _BODY_TYPES | _CAPTION_TYPES | _TEXTLESS_TYPES

_DELIVERY_STATUSES = frozenset({"sent", "delivered", "read", "failed", "played"})

# v1 group ids look like `<number>-<digits>`; other gateways use `...@g.us`.
_GROUP_ID = re.compile(r"^\d+-\d+$|@g\.us$")
_PHONE = re.compile(r"^\+?\d{6,20}$")
# Hidden-number clients: two-letter country, a dot, 16 digits (e.g. IL.1605856887361213).
_FROM_ID = re.compile(r"^[A-Z]{2}\.\d{6,20}$")
_MAX_ID_LENGTH = 200
#: most of an ignored webhook's body kept (the webhook body itself is bounded by the server)
KEPT_BODY_CHARS = 4000
#: where a message's id may be, first found wins (the provider's `unique`, other gateways' names)
MESSAGE_ID_KEYS = ("unique", "id", "message_id", "messageId")
#: fields that name a message, a client or a kind of event: they become keys in the store, and
#: PostgreSQL refuses a NUL byte in text (SQLite would take it), so neither store gets one
_KEY_FIELDS = (
    *MESSAGE_ID_KEYS, "hook", "event", "status", "from", "sender", "phone", "from_id", "to",
    "type", "chatId", "chat_id", "groupId", "group_id",
)  # fmt: skip
_NON_DIGITS = re.compile(r"\D")


@dataclass(frozen=True, slots=True)
class OutgoingEcho:
    """A message sent *from our account*: by the bot (ignored) or by a person (hand-off)."""

    id: str
    client: str  #: the client it was sent to
    timestamp: float


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery status for a message we sent, keyed by the `unique` the gateway gave it."""

    id: str
    status: str  #: sent | delivered | read | failed | played
    timestamp: float


@dataclass(frozen=True, slots=True)
class IgnoredEvent:
    """A notification we acknowledge and record but do not act on (unknown hook or type, a
    status we cannot match): `body` keeps the payload, bounded, for later analysis."""

    kind: str
    body: str = ""


InboundEvent = InboundMessage | OutgoingEcho | StatusUpdate | IgnoredEvent


def parse_webhook(payload: Any, *, account: str, now: float | None = None) -> InboundEvent:
    """Read one webhook body. Raises InboundError with a one-line reason when it is malformed."""
    if not isinstance(payload, dict):
        raise InboundError("body must be a JSON object")
    for key in _KEY_FIELDS:
        value = payload.get(key)
        if isinstance(value, str) and "\x00" in value:
            raise InboundError(f"'{key}' contains a NUL byte")
    received_at = time.time() if now is None else now
    hook = _text(payload.get("hook") or payload.get("event"))
    status = _text(payload.get("status"))
    is_message_hook = hook in (None, "new", "message", "incoming")
    if not is_message_hook and status is not None and status.lower() in _DELIVERY_STATUSES:
        message_id = _known_id(payload)
        if message_id is None:
            # Well formed, but its id sits under a key we do not know: acknowledged and kept.
            return IgnoredEvent(kind=f"status:{status.lower()}:no_id", body=_kept(payload))
        return StatusUpdate(
            id=message_id,
            status=status.lower(),
            timestamp=_timestamp(payload, received_at),
        )
    if hook not in (None, "new", "message", "incoming", "outgoing", "sent"):
        return IgnoredEvent(kind=f"hook:{hook}", body=_kept(payload))

    message_id = _message_id(payload)
    sender = _text(payload.get("from") or payload.get("sender") or payload.get("phone"))
    from_id = _text(payload.get("from_id"))
    if sender is None and from_id is None:
        raise InboundError("message has no sender ('from' or 'from_id')")
    timestamp = _timestamp(payload, received_at)

    digits_account = _digits(account)
    from_me = _truthy(payload.get("fromMe") or payload.get("from_me") or payload.get("isFromMe"))
    if hook in ("outgoing", "sent") or from_me or (sender and _digits(sender) == digits_account):
        client = _text(payload.get("to")) or ""
        return OutgoingEcho(id=message_id, client=_digits(client) or client, timestamp=timestamp)

    message_type = (_text(payload.get("type")) or "text").lower()
    if message_type not in _KNOWN_TYPES:
        return IgnoredEvent(kind=f"type:{message_type}", body=_kept(payload))

    is_group = _is_group(payload, sender, from_id)
    address = _address(sender, from_id, is_group)
    # from_id is the provider's stable key for a client; other gateways only give the number.
    client = from_id if from_id and _FROM_ID.match(from_id) else address
    return InboundMessage(
        id=message_id,
        client=client,
        address=address,
        text=_matchable_text(payload, message_type),
        type=message_type,
        timestamp=timestamp,
        to=_text(payload.get("to")),
        name=_text(payload.get("senderName") or payload.get("name") or payload.get("pushname")),
        is_group=is_group,
    )


def _message_id(payload: dict[str, Any]) -> str:
    found = _known_id(payload)
    if found is None:
        raise InboundError("message has no id ('unique', 'id' or 'message_id')")
    return found


def _known_id(payload: dict[str, Any]) -> str | None:
    for key in MESSAGE_ID_KEYS:
        value = _text(payload.get(key))
        if value is not None:
            if len(value) > _MAX_ID_LENGTH:
                raise InboundError(f"message id is longer than {_MAX_ID_LENGTH} characters")
            return value
    return None


def _kept(payload: dict[str, Any]) -> str:
    """The payload as kept with an ignored event: JSON, cut at KEPT_BODY_CHARS."""
    try:
        text = orjson.dumps(payload).decode()
    except TypeError:  # an integer beyond 64 bits (ids are read exactly): the slower writer
        text = json.dumps(payload, ensure_ascii=False, default=str)
    return text if len(text) <= KEPT_BODY_CHARS else text[:KEPT_BODY_CHARS] + "..."


def _timestamp(payload: dict[str, Any], default: float) -> float:
    raw = payload.get("timestamp")
    if raw is None or raw is False or raw == "":
        return default
    if isinstance(raw, bool):
        raise InboundError("'timestamp' must be unix seconds")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InboundError("'timestamp' must be unix seconds") from None
    if value != value or not 0 <= value < 1e11:  # NaN or absurd
        raise InboundError("'timestamp' must be unix seconds")
    if value > 1e10:  # milliseconds, as some gateways send
        value /= 1000
    return value


def _is_group(payload: dict[str, Any], sender: str | None, from_id: str | None) -> bool:
    if _truthy(payload.get("isGroup")) or _truthy(payload.get("group")):
        return True
    if payload.get("groupId") or payload.get("group_id"):
        return True
    ids = (sender, from_id, _text(payload.get("chatId")), _text(payload.get("chat_id")))
    return any(value is not None and _GROUP_ID.search(value) for value in ids)


def _address(sender: str | None, from_id: str | None, is_group: bool) -> str:
    if sender is not None and _PHONE.match(sender.replace(" ", "")):
        return _digits(sender)
    for hidden in (from_id, sender):  # a hidden number: the from_id is the address
        if hidden is not None and _FROM_ID.match(hidden):
            return hidden
    if is_group:
        return sender or from_id or ""
    raise InboundError("sender must be an international number (digits) or a from_id")


def _matchable_text(payload: dict[str, Any], message_type: str) -> str | None:
    if message_type in _BODY_TYPES:
        keys: tuple[str, ...] = ("body", "text", "message")
    elif message_type in _CAPTION_TYPES:
        keys = ("caption",)
    else:
        return None
    for key in keys:
        value = payload.get(key)
        if isinstance(value, dict):  # some gateways nest: {"text": {"body": "..."}}
            value = value.get("body")
        text = _text(value)
        if text is not None:
            return text
    return None


def _text(value: Any) -> str | None:
    """A string field, tolerant of numbers; `false`/null/empty mean absent (provider's habit)."""
    if value is None or value is False or value is True:
        return None
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value) and value is not None


def _digits(number: str) -> str:
    # Most numbers arrive as plain digits already: skip the regex for them.
    if number.isascii() and number.isdigit():
        return number
    return _NON_DIGITS.sub("", number)
