"""The webhook bodies the sandbox posts, shaped as the provider's (provider-webhook.md)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any


def stable_from_id(number: str) -> str:
    """The provider's per-client `from_id` (country, dot, 16 digits), stable for a number."""
    digest = hashlib.sha256(number.encode()).hexdigest()
    return f"IL.{int(digest, 16) % 10**16:016d}"


def client_message_body(
    *,
    unique: str,
    sender: str,
    from_id: str,
    phone: str | None,
    account: str,
    fields: dict[str, Any],
    stamp: float,
    conversation_minutes_left: str,
) -> dict[str, Any]:
    """`hook: new`: a client wrote to us (`fields`: body, name, type, caption)."""
    return {
        "status": "OK",
        "hook": "new",
        "unique": unique,
        "from": sender,
        "from_id": from_id,
        "username": None,
        "country": "IL",
        "phone": phone,
        "to": account,
        "senderName": fields.get("name", "Client"),
        "type": fields.get("type", "text"),
        "body": fields.get("body", ""),
        "caption": fields.get("caption", False),
        "isForwarded": False,
        "timestamp": str(int(stamp)),
        "media": False,
        "quote": False,
        "quoteUnique": False,
        "conversationTimeLeft": conversation_minutes_left,
    }


def agent_message_body(*, account: str, to: str, text: str, now: float) -> dict[str, Any]:
    """A person answered a client from our account (WhatsApp on the shop's phone)."""
    return {
        "status": "OK",
        "hook": "outgoing",
        "unique": secrets.token_hex(16).upper(),
        "from": account,
        "to": to,
        "type": "text",
        "body": text,
        "timestamp": str(int(now)),
    }
