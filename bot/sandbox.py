"""A faithful local emulation of the provider, for the demo, the tests and the benchmarks.

It plays both of the provider's roles: it answers Send Contact exactly as documented
(including its refusals: reasons 2-8, groups, the 24 h window) and, when a simulated client
writes (`POST /clients/{number}/messages`), it posts the provider's incoming-message webhook
to the bot. A fault mode fails a share of sends with reason 6, HTTP 5xx/429 or a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

SEND_CONTACT_PATH = "/whatsapp/v2/sendContact"
WINDOW_S = 24 * 3600
FAULT_KINDS = ("reason6", "http500", "http429", "timeout", "slow_accept")

_NUMBER = re.compile(r"^\d{8,15}$")
_FROM_ID = re.compile(r"^[A-Z]{2}\.\d{6,20}$")
_GROUP = re.compile(r"^\d+-\d+$|@g\.us$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class FaultPlan:
    """Which share of sends fail, and how. `rate` 0 turns fault mode off."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("reason6", "http500", "timeout")
    #: how long a "timeout" fault keeps the request hanging (longer than the bot's timeout)
    delay_s: float = 3.0
    seed: int | None = None


@dataclass
class _Client:
    last_message_at: float
    conversation_started_at: float | None = None


@dataclass
class SandboxState:
    """What the sandbox has seen; readable by tests through GET /sent etc."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    clients: dict[str, _Client] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    conversations: int = 0
    faults_injected: int = 0


class SandboxGateway:
    """The aiohttp application emulating the provider. `app` is ready to run."""

    def __init__(
        self,
        *,
        api_key: str,
        account: str,
        webhook_url: str | None = None,
        faults: FaultPlan | None = None,
        status_webhooks: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key
        self.account = account
        self.webhook_url = webhook_url
        self.faults = faults or FaultPlan()
        self.status_webhooks = status_webhooks
        self.state = SandboxState()
        self._clock = clock
        self._clock_offset = 0.0
        self._random = random.Random(self.faults.seed)
        self._session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.app = web.Application(client_max_size=1024 * 1024)
        self.app.add_routes(
            [
                web.post(SEND_CONTACT_PATH, self._send_contact),
                web.post("/sendContact", self._send_contact),
                web.get("/sent", self._list_sent),
                web.get("/refused", self._list_refused),
                web.get("/conversations", self._conversations),
                web.get("/stats", self._stats),
                web.post("/clients/{client}/messages", self._client_writes),
                web.post("/control/faults", self._set_faults),
                web.post("/control/clients/{client}", self._set_client),
                web.post("/control/clock", self._shift_clock),
                web.post("/control/agent-message", self._agent_writes),
                web.post("/control/reset", self._reset),
            ]
        )
        self.app.on_cleanup.append(self._cleanup)

    def now(self) -> float:
        """The sandbox's clock (shiftable through /control/clock)."""
        return self._clock() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox's clock forward, as if that much time had passed."""
        self._clock_offset += seconds

    # -- Send Contact ---------------------------------------------------------------------

    async def _send_contact(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return self._fail({}, 2, "JSON syntax error")
        if not isinstance(body, dict):
            return self._fail({}, 2, "JSON syntax error")
        fault = self._pick_fault()
        if fault is not None:
            self.state.faults_injected += 1
            if fault == "reason6":
                return self._fail(body, 6, "WhatsApp error, try again")
            if fault == "http500":
                return web.Response(status=500, text="Internal Server Error")
            if fault == "http429":
                return web.Response(status=429, text="Too Many Requests")
            if fault == "timeout":
                # Hang past the caller's timeout without accepting anything.
                await asyncio.sleep(self.faults.delay_s)
                return web.Response(status=504, text="Gateway Timeout")
        api_key = body.get("apiKey")
        if not isinstance(api_key, str) or not hmac.compare_digest(
            api_key.encode(), self.api_key.encode()
        ):
            return self._fail(body, 3, "wrong apiKey")
        if str(body.get("from", "")) != self.account:
            return self._fail(body, 2, "unknown from account")
        to = str(body.get("to") or "")
        if not to or _GROUP.search(to) or not (_NUMBER.match(to) or _FROM_ID.match(to)):
            # Contacts go to private chats only: a group id is as bad as a malformed number.
            return self._fail(body, 4, "to is empty, malformed or a group")
        name, phone = body.get("contact_name"), body.get("contact_phone")
        if not isinstance(name, str) or not name.strip():
            return self._fail(body, 5, "contact_name is empty")
        if not isinstance(phone, str) or not phone.strip():
            return self._fail(body, 5, "contact_phone is empty")
        birthday = body.get("contact_birthday")
        if birthday is not None and not (isinstance(birthday, str) and _DATE.match(birthday)):
            return self._fail(body, 5, "contact_birthday must be YYYY-MM-DD")
        now = self.now()
        client = self.state.clients.get(to)
        if client is None:
            return self._fail(body, 8, "first message to this contact: use a template")
        left_s = client.last_message_at + WINDOW_S - now
        if left_s <= 0:
            return self._fail(body, 7, "over 24 h since the client's last message")
        if (
            client.conversation_started_at is None
            or now - client.conversation_started_at >= WINDOW_S
        ):
            client.conversation_started_at = now
            self.state.conversations += 1
        unique = secrets.token_hex(11)
        record = {key: value for key, value in body.items() if key != "apiKey"}
        record.update(unique=unique, accepted_at=now)
        self.state.sent.append(record)
        if fault == "slow_accept":
            # Accepted, but the answer comes too late: the caller cannot know it went out.
            await asyncio.sleep(self.faults.delay_s)
        response: dict[str, Any] = {
            "status": "OK",
            "unique": unique,
            "contact_name": name,
            "contact_phone": phone,
            "timestamp": int(now),
            "from": self.account,
            "to": to,
            "templateTimeLeft": str(int(left_s // 60)),
            "conversationTimeLeft": 0,
            "reason": 1,
        }
        if str(body.get("showRequest", "0")) == "1":
            response["request"] = {k: v for k, v in body.items() if k != "apiKey"}
        if self.status_webhooks and self.webhook_url:
            self._spawn(self._post_statuses(unique))
        return web.json_response(response)

    def _fail(self, body: dict[str, Any], reason: int, why: str) -> web.Response:
        record = {key: value for key, value in body.items() if key != "apiKey"}
        record.update(reason=reason, why=why)
        self.state.refused.append(record)
        return web.json_response({"status": "FAIL", "reason": reason})

    def _pick_fault(self) -> str | None:
        if self.faults.rate <= 0 or self._random.random() >= self.faults.rate:
            return None
        return self._random.choice(self.faults.kinds)

    # -- the provider's other role: a client writes, the webhook goes to the bot ------------

    async def _client_writes(self, request: web.Request) -> web.Response:
        client = request.match_info["client"]
        body = await _json_object(request)
        payload = self.client_message_payload(client, body)
        status = await self._post_webhook(payload) if self.webhook_url else None
        return web.json_response({"unique": payload["unique"], "webhook_status": status})

    def client_message_payload(self, client: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Record a client's message (it opens their 24 h window) and build the webhook body."""
        now = self.now()
        unique = str(fields.get("unique") or secrets.token_hex(16).upper())
        group = fields.get("group")
        sender = f"{client}-{int(now)}" if group else client
        if not group:
            known = self.state.clients.get(client)
            if known is None:
                self.state.clients[client] = _Client(last_message_at=now)
            else:
                known.last_message_at = now
        hidden = bool(_FROM_ID.match(client))
        payload = {
            "status": "OK",
            "hook": "new",
            "unique": unique,
            "from": sender,
            "from_id": client if hidden else stable_from_id(client),
            "username": None,
            "country": "IL",
            "phone": None if hidden else client,
            "to": self.account,
            "senderName": fields.get("name", "Client"),
            "type": fields.get("type", "text"),
            "body": fields.get("body", ""),
            "caption": fields.get("caption", False),
            "isForwarded": False,
            "timestamp": str(int(fields.get("timestamp", now))),
            "media": False,
            "quote": False,
            "quoteUnique": False,
            "conversationTimeLeft": "0",
        }
        if hidden:
            payload["from"] = client
        self.state.messages[unique] = payload
        return payload

    async def _agent_writes(self, request: web.Request) -> web.Response:
        """A person answers a client from our account (WhatsApp on the shop's phone)."""
        body = await _json_object(request)
        to = str(body.get("to", ""))
        payload = {
            "status": "OK",
            "hook": "outgoing",
            "unique": secrets.token_hex(16).upper(),
            "from": self.account,
            "to": to,
            "type": "text",
            "body": body.get("body", ""),
            "timestamp": str(int(self.now())),
        }
        status = await self._post_webhook(payload) if self.webhook_url else None
        return web.json_response({"unique": payload["unique"], "webhook_status": status})

    async def _post_statuses(self, unique: str) -> None:
        for status in ("sent", "delivered"):
            await self._post_webhook(
                {"hook": "status", "unique": unique, "status": status, "timestamp": int(self.now())}
            )

    async def _post_webhook(self, payload: dict[str, Any]) -> int | None:
        assert self.webhook_url is not None
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                self.webhook_url,
                data=orjson.dumps(payload),
                headers={"Content-Type": "application/json"},
                # The provider gives up after 5 s (and retries later).
                timeout=aiohttp.ClientTimeout(total=5),
            ) as response:
                await response.read()
                return response.status
        except (TimeoutError, aiohttp.ClientError):
            return None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- inspection and control -------------------------------------------------------------

    async def _list_sent(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.sent)

    async def _list_refused(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.refused)

    async def _stats(self, request: web.Request) -> web.Response:
        state = self.state
        return web.json_response(
            {
                "sent": len(state.sent),
                "refused": len(state.refused),
                "conversations": state.conversations,
                "faults_injected": state.faults_injected,
                "last_accepted_at": state.sent[-1]["accepted_at"] if state.sent else None,
            }
        )

    async def _conversations(self, request: web.Request) -> web.Response:
        return web.json_response({"conversations": self.state.conversations})

    async def _set_faults(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        kinds = tuple(body.get("kinds", self.faults.kinds))
        unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
        if unknown:
            raise web.HTTPBadRequest(text=f"unknown fault kinds: {unknown}")
        self.faults = FaultPlan(
            rate=float(body.get("rate", 0.0)),
            kinds=kinds,
            delay_s=float(body.get("delay_s", self.faults.delay_s)),
            seed=body.get("seed"),
        )
        self._random = random.Random(self.faults.seed)
        return web.json_response({"rate": self.faults.rate, "kinds": list(kinds)})

    async def _set_client(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        client = request.match_info["client"]
        if body.get("forget"):
            self.state.clients.pop(client, None)
        else:
            self.state.clients[client] = _Client(last_message_at=float(body["last_message_at"]))
        return web.json_response({"ok": True})

    async def _shift_clock(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        self.advance_clock(float(body.get("advance_s", 0)))
        return web.json_response({"now": self.now()})

    async def _reset(self, request: web.Request) -> web.Response:
        self.state = SandboxState()
        self.faults = FaultPlan()
        return web.json_response({"ok": True})

    async def _cleanup(self, app: web.Application) -> None:
        for task in list(self._background):
            task.cancel()
        if self._session is not None:
            await self._session.close()


def stable_from_id(number: str) -> str:
    """The provider's per-client `from_id` (country, dot, 16 digits), stable for a number."""
    digest = hashlib.sha256(number.encode()).hexdigest()
    return f"IL.{int(digest, 16) % 10**16:016d}"


async def _json_object(request: web.Request) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        if request.can_read_body:
            body = await request.json()
            if isinstance(body, dict):
                return body
            raise web.HTTPBadRequest(text="expected a JSON object")
        return {}
    raise web.HTTPBadRequest(text="expected a JSON object")
