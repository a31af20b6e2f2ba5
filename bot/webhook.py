"""aiohttp routes for the gateway's webhook: authenticate, parse, store durably, answer fast.

The provider counts a delivery as failed unless we answer 200 within 5 s, so the request only
validates and writes the message to the inbox (one durable, group-committed write); deciding and
sending happen in the decider and the sender, after the answer.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from bot.client_limits import ClientLimits
from bot.config import Config
from bot.core.values import InboundMessage
from bot.errors import InboundError, StoreError
from bot.inbound import (
    MESSAGE_ID_KEYS,
    IgnoredEvent,
    OutgoingEcho,
    StatusUpdate,
    parse_webhook,
)
from bot.inbox_rows import inbox_row
from bot.logs import RateLimitedLog, mask_number
from bot.metrics import WEBHOOKS
from bot.store import Store

log = logging.getLogger("rulebot.webhook")

STORE_KEY: web.AppKey[Store] = web.AppKey("store", Store)
CONFIG_KEY = web.AppKey("config", Config)

_JSON_TYPES = ("application/json", "text/json")
#: refusals are expected (scanners, a misconfigured gateway): one short line per kind a minute
_refusals = RateLimitedLog(log)
#: a client that has sent its headers must send the whole body within this (slow-body attack)
BODY_TIMEOUT_S = 10.0


@functools.cache
def _counter(outcome: str) -> Any:
    """The webhook counter's child for one outcome (looked up once, not per request)."""
    return WEBHOOKS.labels(outcome)


def _reject(
    status: type[web.HTTPException], reason: str, outcome: str = "rejected"
) -> web.HTTPException:
    _counter(outcome).inc()
    _refusals.note(
        f"{status.status_code}:{reason[:40]}",
        "webhook refused with %d: %s",
        status.status_code,
        reason,
    )
    return status(
        text=orjson.dumps({"ok": False, "error": reason}).decode(),
        content_type="application/json",
    )


def _answer(result: str, **extra: Any) -> web.Response:
    _counter(result).inc()
    body = {"ok": True, "result": result, **extra}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _with_exact_ids(payload: Any, raw: bytes) -> Any:
    """The body with its ids exactly as sent. orjson reads a number beyond 64 bits as a float,
    and two different ids above 2^64 would then look alike (one dropped as a duplicate): such
    a body is read again by the standard library, which keeps integers whole and, here, a
    fraction as its text."""
    if not isinstance(payload, dict) or not any(
        isinstance(payload.get(key), float) for key in MESSAGE_ID_KEYS
    ):
        return payload
    try:
        return json.loads(raw, parse_float=str)
    except ValueError:
        return payload


class WebhookHandler:
    """POST /webhook."""

    def __init__(
        self,
        *,
        config: Config,
        store: Store,
        on_message: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        token = config.server.token()
        self._token = token.encode() if token else None
        self._account = config.account
        self._allowed = frozenset(config.server.allowed_sources)
        self._pause_s = config.delivery.handoff_pause_h * 3600
        self._store = store
        self._on_message = on_message
        self._clock = clock
        self._limits = ClientLimits(
            max_waiting=config.delivery.max_pending_per_client,
            max_bytes_per_day=config.delivery.max_bytes_per_client_day,
            count_waiting=self._count_waiting,
        )

    async def handle(self, request: web.Request) -> web.Response:
        self._authenticate(request)
        content_type = request.content_type
        if content_type not in _JSON_TYPES and not content_type.endswith("+json"):
            raise _reject(web.HTTPUnsupportedMediaType, "send the webhook as application/json")
        try:
            if request.content.is_eof():  # the whole body is in already: nothing to wait for
                raw = await request.read()
            else:
                async with asyncio.timeout(BODY_TIMEOUT_S):
                    raw = await request.read()
        except TimeoutError:
            raise _reject(web.HTTPRequestTimeout, "the body did not arrive in time") from None
        except web.HTTPRequestEntityTooLarge:  # over server.max_body_bytes
            _counter("too_large").inc()
            raise
        try:
            payload = _with_exact_ids(orjson.loads(raw), raw)
        except orjson.JSONDecodeError as exc:
            raise _reject(web.HTTPBadRequest, f"body is not valid JSON ({exc.msg})") from None
        now = self._clock()
        try:
            event = parse_webhook(payload, account=self._account, now=now)
        except InboundError as exc:
            raise _reject(web.HTTPBadRequest, str(exc)) from None
        try:
            return await self._store_event(event, now)
        except StoreError as exc:
            # 503 makes the gateway retry later; the message is not lost.
            log.error("webhook not stored: %s", exc)
            raise _reject(
                web.HTTPServiceUnavailable, "store unavailable, retry later", "error"
            ) from None

    def _authenticate(self, request: web.Request) -> None:
        if self._allowed and request.remote not in self._allowed:
            raise _reject(web.HTTPForbidden, "source address not allowed")
        given = request.query.get("token") or request.headers.get("X-Webhook-Token") or ""
        try:
            raw = given.encode()
        except UnicodeEncodeError:  # stray bytes in a header: no token of ours looks like that
            raw = b""
        # Compare in constant time; an unset token on our side accepts nothing.
        if self._token is None or not raw or not hmac.compare_digest(raw, self._token):
            raise _reject(web.HTTPUnauthorized, "missing or wrong webhook token")

    async def _drop(self, message: InboundMessage, reason: str, now: float) -> web.Response:
        """A client over its bounds: acknowledged (the provider must not retry), not stored,
        recorded as dropped with the reason; the others are not held up."""
        client = mask_number(message.client)
        await self._store.record_event("dropped", f"{client} {message.id[:80]}: {reason}", now)
        _refusals.note(f"dropped:{reason[:20]}", "message from %s dropped: %s", client, reason)
        return _answer("dropped", id=message.id, reason=reason)

    async def _count_waiting(self, client: str) -> int:
        """How many of the client's messages wait to be decided (the inbox_pending index)."""
        query = getattr(self._store, "query", None)
        if query is None:
            return 0
        rows = await query(
            "SELECT COUNT(*) AS n FROM inbox WHERE client = ? AND state = 'pending'", client
        )
        return int(rows[0]["n"])

    async def _store_event(self, event: Any, now: float) -> web.Response:
        if isinstance(event, InboundMessage):
            row = inbox_row(event)
            refusal = await self._limits.refusal(event.client, len(row.payload), now)
            if refusal is not None:
                return await self._drop(event, refusal, now)
            fresh = await self._store.add_inbound(row, now)
            if not fresh:
                log.info("duplicate webhook dropped", extra={"message_id": event.id})
                return _answer("duplicate", id=event.id)
            self._limits.stored(event.client, len(row.payload), now)
            self._on_message()
            log.info("message stored", extra={"message_id": event.id})
            return _answer("queued", id=event.id)
        if isinstance(event, StatusUpdate):
            known = await self._store.record_status(event.id, event.status, now)
            return _answer("status", known=known)
        if isinstance(event, OutgoingEcho):
            person = await self._store.record_outgoing(
                unique=event.id, client=event.client, now=now, pause_until=now + self._pause_s
            )
            if person:
                log.info(
                    "a person answered a client from our account: auto-replies paused for %g h",
                    self._pause_s / 3600,
                    extra={"message_id": event.id},
                )
            return _answer("outgoing", handoff=person)
        assert isinstance(event, IgnoredEvent)
        detail = f"{event.kind} {event.body}" if event.body else event.kind
        await self._store.record_event("ignored", detail, now)
        return _answer("ignored", kind=event.kind)
