"""The sandbox's Send Contact and its control routes (package docstring: bot/sandbox).

Send Contact is answered as documented: refusals (reasons 2-8, groups), the 24 h window from the
client's last message as the message itself is stamped, a conversation (billing) started by
whatever leaves our account, `from_id` accepted as a target for every client. Switches reach
the bot's other paths: a fault mode (reason 6, HTTP 5xx/429, a timeout without accepting, a
slow acceptance), odd but accepting answers, and an acceptance delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from bot.sandbox.answers import ODD_ANSWERS, accepted_response, documented_answer
from bot.sandbox.payloads import agent_message_body, client_message_body, stable_from_id
from bot.sandbox.webhooks import WebhookDelivery

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
    #: keyed by the number (or the from_id of a client who hides it)
    clients: dict[str, _Client] = field(default_factory=dict)
    #: a visible client's from_id -> their number: either is a valid target
    from_ids: dict[str, str] = field(default_factory=dict)
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
        odd_answers: tuple[str, ...] = (),
        accept_delay_s: float = 0.0,
        webhook_retries: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key
        self.account = account
        self.webhook_url = webhook_url
        self.faults = faults or FaultPlan()
        self.status_webhooks = status_webhooks
        #: accepted sends are answered in these odd ways, in turn (empty: as documented)
        self.odd_answers = _known_odd_answers(odd_answers)
        #: every acceptance is answered this much later (the send is in already)
        self.accept_delay_s = accept_delay_s
        self.state = SandboxState()
        #: Send Contact requests being answered right now
        self.open_sends = 0
        #: called with each accepted send's record once its answer is written (tests)
        self.after_answer: Callable[[dict[str, Any]], None] | None = None
        self.webhooks = WebhookDelivery(
            url=lambda: self.webhook_url, clock=self.now, retries=webhook_retries
        )
        self._clock = clock
        self._clock_offset = 0.0
        self._random = random.Random(self.faults.seed)
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
                web.post("/control/answers", self._set_answers),
                web.post("/control/clients/{client}", self._set_client),
                web.post("/control/clock", self._shift_clock),
                web.post("/control/agent-message", self._agent_writes),
                web.post("/control/reset", self._reset),
            ]
        )
        self.app.on_startup.append(self._startup)
        self.app.on_cleanup.append(self._cleanup)

    def now(self) -> float:
        """The sandbox's clock (shiftable through /control/clock)."""
        return self._clock() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox's clock forward, as if that much time had passed."""
        self._clock_offset += seconds

    # -- Send Contact ---------------------------------------------------------------------

    async def _send_contact(self, request: web.Request) -> web.StreamResponse:
        self.open_sends += 1
        try:
            return await self._answer_send(request)
        finally:
            self.open_sends -= 1

    async def _answer_send(self, request: web.Request) -> web.StreamResponse:
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
        client = self.state.clients.get(self.state.from_ids.get(to, to))
        if client is None:
            return self._fail(body, 8, "first message to this contact: use a template")
        left_s = client.last_message_at + WINDOW_S - now
        if left_s <= 0:
            return self._fail(body, 7, "over 24 h since the client's last message")
        self._start_conversation(client, now)
        odd = self._next_odd_answer()
        unique = (
            str(secrets.randbelow(10**15)) if odd == "numeric_unique" else secrets.token_hex(11)
        )
        record = {key: value for key, value in body.items() if key != "apiKey"}
        record.update(unique=unique, accepted_at=now)
        self.state.sent.append(record)
        if fault == "slow_accept":
            # Accepted, but the answer comes too late: the caller cannot know it went out.
            await asyncio.sleep(self.faults.delay_s)
        if self.accept_delay_s > 0:
            await asyncio.sleep(self.accept_delay_s)
        answer = documented_answer(
            unique=unique,
            name=name,
            phone=phone,
            now=now,
            account=self.account,
            to=to,
            left_s=left_s,
        )
        if str(body.get("showRequest", "0")) == "1":
            answer["request"] = {k: v for k, v in body.items() if k != "apiKey"}
        if self.status_webhooks and self.webhook_url:
            self._spawn(self._post_statuses(unique))
        response = accepted_response(answer, odd)
        if self.after_answer is not None:
            # The answer is on its way to the caller; what the test does now (a kill) lands
            # after the gateway accepted and before the caller could record it.
            await response.prepare(request)
            await response.write_eof()
            self.after_answer(record)
        return response

    def _start_conversation(self, client: _Client, now: float) -> None:
        """Something left our account for `client`: a billed 24 h conversation starts unless
        one is running."""
        started = client.conversation_started_at
        if started is None or now - started >= WINDOW_S:
            client.conversation_started_at = now
            self.state.conversations += 1

    def _next_odd_answer(self) -> str | None:
        if not self.odd_answers:
            return None
        return self.odd_answers[len(self.state.sent) % len(self.odd_answers)]

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
        status = await self.webhooks.deliver(payload) if self.webhook_url else None
        return web.json_response({"unique": payload["unique"], "webhook_status": status})

    def client_message_payload(self, client: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Record a client's message and build the webhook body. The message's own timestamp
        (`fields["timestamp"]`, default now) opens the client's 24 h window, as the provider
        counts it: a message stamped 25 h ago opens nothing."""
        now = self.now()
        stamp = float(fields.get("timestamp", now))
        unique = str(fields.get("unique") or secrets.token_hex(16).upper())
        group = fields.get("group")
        sender = f"{client}-{int(now)}" if group else client
        hidden = bool(_FROM_ID.match(client))
        from_id = client if hidden else stable_from_id(client)
        known = self.state.clients.get(client)
        if not group:
            if known is None:
                known = self.state.clients[client] = _Client(last_message_at=stamp)
            else:
                known.last_message_at = max(known.last_message_at, stamp)
            if not hidden:
                self.state.from_ids[from_id] = client
        payload = client_message_body(
            unique=unique,
            sender=client if hidden else sender,
            from_id=from_id,
            phone=None if hidden else client,
            account=self.account,
            fields=fields,
            stamp=stamp,
            conversation_minutes_left=_conversation_minutes_left(known, now),
        )
        self.state.messages[unique] = payload
        return payload

    async def _agent_writes(self, request: web.Request) -> web.Response:
        """A person answers a client from our account (WhatsApp on the shop's phone)."""
        body = await _json_object(request)
        to = str(body.get("to", ""))
        client = self.state.clients.get(self.state.from_ids.get(to, to))
        if client is not None:  # billed like any message from our account
            self._start_conversation(client, self.now())
        payload = agent_message_body(
            account=self.account, to=to, text=str(body.get("body", "")), now=self.now()
        )
        status = await self.webhooks.deliver(payload) if self.webhook_url else None
        return web.json_response({"unique": payload["unique"], "webhook_status": status})

    async def _post_statuses(self, unique: str) -> None:
        for status in ("sent", "delivered"):
            await self.webhooks.deliver(
                {"hook": "status", "unique": unique, "status": status, "timestamp": int(self.now())}
            )

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
                "webhook_deliveries": len(self.webhooks.log),
                "webhook_retries_waiting": self.webhooks.waiting,
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

    async def _set_answers(self, request: web.Request) -> web.Response:
        body = await _json_object(request)
        try:
            self.odd_answers = _known_odd_answers(tuple(body.get("odd", ())))
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        self.accept_delay_s = float(body.get("accept_delay_s", 0.0))
        return web.json_response(
            {"odd": list(self.odd_answers), "accept_delay_s": self.accept_delay_s}
        )

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

    async def _startup(self, app: web.Application) -> None:
        self.webhooks.start()

    async def _cleanup(self, app: web.Application) -> None:
        for task in list(self._background):
            task.cancel()
        await self.webhooks.close()


def _known_odd_answers(kinds: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [kind for kind in kinds if kind not in ODD_ANSWERS]
    if unknown:
        raise ValueError(f"unknown odd answers {unknown}; known: {list(ODD_ANSWERS)}")
    return kinds


def _conversation_minutes_left(client: _Client | None, now: float) -> str:
    """The webhook's `conversationTimeLeft`: minutes left of the running conversation, as text."""
    started = client.conversation_started_at if client is not None else None
    if started is None or now - started >= WINDOW_S:
        return "0"
    return str(int((started + WINDOW_S - now) // 60))


async def _json_object(request: web.Request) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        if request.can_read_body:
            body = await request.json()
            if isinstance(body, dict):
                return body
            raise web.HTTPBadRequest(text="expected a JSON object")
        return {}
    raise web.HTTPBadRequest(text="expected a JSON object")
