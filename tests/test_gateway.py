"""The Send Contact client against the sandbox gateway: every answer and refusal, by name."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web

from bot.errors import GatewayError
from bot.gateway import (
    REASONS,
    AccountUnknown,
    BadRecipient,
    EmptyField,
    FirstContact,
    GatewayClient,
    GatewayProtocolError,
    GatewayRedirected,
    GatewayRejected,
    GatewayUnavailable,
    GatewayUncertain,
    ReasonError,
    UnknownReason,
    WhatsAppTemporaryError,
    WindowExpired,
    WrongApiKey,
    error_for_reason,
)
from bot.sandbox import ODD_ANSWERS, FaultPlan, SandboxGateway, stable_from_id
from tests.conftest import ACCOUNT, API_KEY, RunningSandbox

CLIENT = "972541234567"
CARD = {"contact_name": "Dana - Sales", "contact_phone": "972501234567"}


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncIterator[GatewayClient]:
    sandbox.gateway.client_message_payload(CLIENT, {"body": "hi"})  # the client wrote to us
    async with GatewayClient(
        url=sandbox.send_contact_url, api_key=API_KEY, account=ACCOUNT, timeout_s=1.0
    ) as gateway:
        yield gateway


async def test_accepted_send_returns_the_gateway_id_and_window(
    client: GatewayClient, sandbox: RunningSandbox
) -> None:
    card = dict(CARD, contact_email="sales@example.co.il", website="https://example.co.il")
    sent = await client.send_contact(to=CLIENT, contact=card, reply_to="ABC")
    assert sent.unique == sandbox.gateway.state.sent[0]["unique"]
    assert sent.template_time_left_min is not None and 1430 <= sent.template_time_left_min <= 1440
    record = sandbox.gateway.state.sent[0]
    assert record["replyTo"] == "ABC"
    assert record["contact_email"] == "sales@example.co.il"


async def send_expecting(client: GatewayClient, to: str = CLIENT, **card: str) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await client.send_contact(to=to, contact=card or CARD, reply_to=None)
    return caught.value


async def test_wrong_api_key_is_reason_3_and_never_shows_the_key(sandbox: RunningSandbox) -> None:
    async with GatewayClient(
        url=sandbox.send_contact_url, api_key="not-the-key-42", account=ACCOUNT, timeout_s=1
    ) as wrong:
        error = await send_expecting(wrong)
    assert isinstance(error, WrongApiKey)
    assert (error.reason, error.retryable) == (3, False)
    assert "RULEBOT_API_KEY" in str(error)
    assert "not-the-key-42" not in str(error)


async def test_unknown_account_is_reason_2(sandbox: RunningSandbox) -> None:
    async with GatewayClient(
        url=sandbox.send_contact_url, api_key=API_KEY, account="972599999999", timeout_s=1
    ) as other:
        error = await send_expecting(other)
    assert isinstance(error, AccountUnknown)
    assert "972599999999" in str(error)


@pytest.mark.parametrize("to", ["", "hello", "9725001234567-157483929384", "1203630412@g.us"])
async def test_bad_or_group_recipient_is_reason_4(client: GatewayClient, to: str) -> None:
    error = await send_expecting(client, to=to)
    assert isinstance(error, BadRecipient)
    assert not error.retryable


async def test_empty_contact_name_is_reason_5(client: GatewayClient) -> None:
    error = await send_expecting(client, contact_name=" ", contact_phone="972501234567")
    assert isinstance(error, EmptyField)


async def test_never_wrote_is_reason_8(client: GatewayClient) -> None:
    error = await send_expecting(client, to="972549999999")
    assert isinstance(error, FirstContact)
    assert "template" in str(error)


async def test_over_24_hours_is_reason_7(client: GatewayClient, sandbox: RunningSandbox) -> None:
    sandbox.gateway.state.clients[CLIENT].last_message_at = time.time() - 24 * 3600 - 1
    error = await send_expecting(client)
    assert isinstance(error, WindowExpired)
    assert (error.reason, error.code) == (7, "window_expired")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("reason6", WhatsAppTemporaryError),
        ("http500", GatewayUnavailable),
        ("http429", GatewayUnavailable),
        ("timeout", GatewayUncertain),
    ],
)
async def test_temporary_failures_are_retryable(
    client: GatewayClient, sandbox: RunningSandbox, kind: str, expected: type[GatewayError]
) -> None:
    sandbox.gateway.faults = FaultPlan(rate=1.0, kinds=(kind,), delay_s=2.0)
    error = await send_expecting(client)
    assert type(error) is expected
    assert error.retryable
    # Only a timeout leaves the outcome unknown: the request was written.
    assert error.uncertain == (kind == "timeout")


@pytest.mark.parametrize(
    ("kind", "status", "body"),
    [("http500", 500, "Internal Server Error"), ("http429", 429, "Too Many Requests")],
)
async def test_http_failures_keep_the_raw_answer(
    client: GatewayClient, sandbox: RunningSandbox, kind: str, status: int, body: str
) -> None:
    sandbox.gateway.faults = FaultPlan(rate=1.0, kinds=(kind,))
    error = await send_expecting(client)
    assert error.response is not None
    assert (error.response.status, error.response.body) == (status, body)


async def test_a_timeout_has_no_answer_to_keep(
    client: GatewayClient, sandbox: RunningSandbox
) -> None:
    sandbox.gateway.faults = FaultPlan(rate=1.0, kinds=("timeout",), delay_s=2.0)
    error = await send_expecting(client)
    assert isinstance(error, GatewayUncertain)
    assert error.response is None


def test_undocumented_reason_is_permanent_and_kept() -> None:
    error = error_for_reason(42, account=ACCOUNT, to=CLIENT)
    assert isinstance(error, UnknownReason)
    assert (error.reason, error.retryable) == (42, False)
    assert "42" in str(error)


async def test_unreachable_gateway_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with GatewayClient(
        url=f"http://127.0.0.1:{port}/x", api_key=API_KEY, account=ACCOUNT, timeout_s=1
    ) as nowhere:
        error = await send_expecting(nowhere)
    assert isinstance(error, GatewayUnavailable)
    assert not error.uncertain  # no connection: certainly not sent
    assert API_KEY not in str(error)
    assert error.response is None


async def serve(handler: web.Handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/send", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/send"


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        (200, "<html>oops</html>", GatewayProtocolError),
        (200, '{"status": "maybe"}', GatewayProtocolError),
        (200, "[1, 2]", GatewayProtocolError),
        (404, "not found", GatewayRejected),
    ],
)
async def test_answers_that_are_not_the_documented_json(
    status: int, text: str, expected: type[GatewayError]
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, text=text)

    runner, url = await serve(handler)
    try:
        async with GatewayClient(url=url, api_key=API_KEY, account=ACCOUNT, timeout_s=1) as odd:
            error = await send_expecting(odd)
        assert type(error) is expected
        # A 200 we cannot read may still be an acceptance; a 404 certainly is not.
        assert error.uncertain == (status == 200)
        assert error.response is not None
        assert (error.response.status, error.response.body) == (status, text)
    finally:
        await runner.cleanup()


# -- the reason table, against the sandbox ----------------------------------------------------


def _window_closed(gateway: SandboxGateway) -> None:
    gateway.state.clients[CLIENT].last_message_at = time.time() - 24 * 3600 - 1


def _whatsapp_fails(gateway: SandboxGateway) -> None:
    gateway.faults = FaultPlan(rate=1.0, kinds=("reason6",))


def _as_is(gateway: SandboxGateway) -> None:
    pass


#: every documented reason: how the sandbox is made to answer it (a change to the sandbox, what
#: to send differently from `client`'s usual send), the class, and whether a retry can help
SANDBOX_REASONS: list[
    tuple[int, Callable[[SandboxGateway], None], dict[str, str], type[GatewayError], bool]
] = [
    (2, _as_is, {"account": "972599999999"}, AccountUnknown, False),
    (3, _as_is, {"api_key": "not-the-key-42"}, WrongApiKey, False),
    (4, _as_is, {"to": "1203630412@g.us"}, BadRecipient, False),
    (5, _as_is, {"contact_name": " "}, EmptyField, False),
    (6, _whatsapp_fails, {}, WhatsAppTemporaryError, True),
    (7, _window_closed, {}, WindowExpired, False),
    (8, _as_is, {"to": "972549999999"}, FirstContact, False),
]


def test_every_documented_reason_is_in_the_sandbox_table() -> None:
    assert [row[0] for row in SANDBOX_REASONS] == sorted(REASONS)


@pytest.mark.parametrize(
    ("reason", "arrange", "send", "expected", "retryable"),
    SANDBOX_REASONS,
    ids=[f"reason{row[0]}-{row[3].__name__}" for row in SANDBOX_REASONS],
)
async def test_each_reason_raises_its_class_with_its_retryable_and_the_raw_answer(
    client: GatewayClient,
    sandbox: RunningSandbox,
    reason: int,
    arrange: Callable[[SandboxGateway], None],
    send: dict[str, str],
    expected: type[GatewayError],
    retryable: bool,
) -> None:
    arrange(sandbox.gateway)
    async with GatewayClient(
        url=sandbox.send_contact_url,
        api_key=send.get("api_key", API_KEY),
        account=send.get("account", ACCOUNT),
        timeout_s=1,
    ) as gateway:
        card = {key: send.get(key, value) for key, value in CARD.items()}
        error = await send_expecting(gateway, to=send.get("to", CLIENT), **card)
    assert type(error) is expected
    assert isinstance(error, ReasonError)
    assert (error.reason, error.retryable, error.code) == (reason, retryable, REASONS[reason].code)
    assert error.response is not None
    assert error.response.status == 200
    assert orjson.loads(error.response.body) == {"status": "FAIL", "reason": reason}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"status": "FAIL", "reason": 42}, 42),
        ({"status": "FAIL", "reason": "7"}, 7),
        ({"status": "FAIL"}, None),
        ({"status": "FAIL", "reason": "Account suspended"}, None),
        ({"status": "FAIL", "reason": 2.5}, None),
    ],
)
async def test_an_undocumented_or_missing_reason_is_permanent_with_the_raw_answer(
    body: dict[str, Any], reason: int
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body)

    runner, url = await serve(handler)
    try:
        async with GatewayClient(url=url, api_key=API_KEY, account=ACCOUNT, timeout_s=1) as odd:
            error = await send_expecting(odd)
        if reason == 7:  # a documented reason sent as text is still that reason
            assert type(error) is WindowExpired
        else:
            assert type(error) is UnknownReason
            said = body.get("reason")
            assert (str(said) if said is not None else "no reason") in str(error)  # verbatim
        assert (error.reason, error.retryable, error.uncertain) == (reason, False, False)
        assert error.response is not None
        assert orjson.loads(error.response.body) == body
    finally:
        await runner.cleanup()


# -- an OK is an acceptance, whatever it lacks ---------------------------------------------------


@pytest.mark.parametrize(
    ("body", "unique", "minutes", "warned"),
    [
        ({"status": "OK"}, None, None, "without a message id"),
        ({"status": "ok", "unique": 12345, "templateTimeLeft": "90"}, "12345", 90.0, "number"),
        ({"status": "OK", "unique": "u1", "templateTimeLeft": "soon"}, "u1", None, "'soon'"),
        ({"status": "OK", "unique": "u2", "timestamp": 1600115719.25}, "u2", None, None),
        (
            {"status": "OK", "unique": "u3", "templateTimeLeft": 12.5, "reason": "1"},
            "u3",
            12.5,
            None,
        ),
    ],
)
async def test_an_odd_ok_is_accepted_with_what_it_lacks_as_a_warning(
    body: dict[str, Any], unique: str | None, minutes: float | None, warned: str | None
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body)

    runner, url = await serve(handler)
    try:
        async with GatewayClient(url=url, api_key=API_KEY, account=ACCOUNT, timeout_s=1) as odd:
            sent = await odd.send_contact(to=CLIENT, contact=CARD, reply_to="ABC")
    finally:
        await runner.cleanup()
    assert (sent.unique, sent.template_time_left_min) == (unique, minutes)
    if warned is None:
        assert sent.warnings == ()
    else:
        assert len(sent.warnings) == 1 and warned in sent.warnings[0]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_a_refusal_and_never_followed(status: int) -> None:
    elsewhere: list[bytes] = []

    async def other_host(request: web.Request) -> web.Response:
        elsewhere.append(await request.read())
        return web.json_response({"status": "OK", "unique": "stolen"})

    other, other_url = await serve(other_host)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": other_url})

    runner, url = await serve(handler)
    try:
        async with GatewayClient(url=url, api_key=API_KEY, account=ACCOUNT, timeout_s=1) as moved:
            error = await send_expecting(moved)
    finally:
        await runner.cleanup()
        await other.cleanup()
    assert elsewhere == []  # neither the body nor the API key went to the other host
    assert type(error) is GatewayRedirected
    assert (error.retryable, error.uncertain, error.code) == (False, False, "redirected")
    assert error.location == other_url and other_url in str(error)
    assert API_KEY not in str(error)


async def test_a_dropped_connection_after_the_request_is_uncertain() -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        assert request.transport is not None
        request.transport.close()  # the gateway read the send, then the line went dead
        return web.Response()

    runner, url = await serve(handler)
    try:
        async with GatewayClient(url=url, api_key=API_KEY, account=ACCOUNT, timeout_s=1) as cut:
            error = await send_expecting(cut)
    finally:
        await runner.cleanup()
    assert type(error) is GatewayUncertain
    assert (error.retryable, error.uncertain) == (True, True)


# -- the sandbox is as strict and as odd as the provider ----------------------------------------


async def test_the_sandbox_opens_the_window_at_the_messages_own_timestamp(
    sandbox: RunningSandbox,
) -> None:
    late = "972547777777"
    sandbox.gateway.client_message_payload(
        late, {"body": "hi", "timestamp": time.time() - 25 * 3600}
    )
    async with GatewayClient(
        url=sandbox.send_contact_url, api_key=API_KEY, account=ACCOUNT, timeout_s=1
    ) as gateway:
        error = await send_expecting(gateway, to=late)
    assert isinstance(error, WindowExpired)  # received now, but written 25 h ago


async def test_the_sandbox_takes_from_id_as_the_target_of_a_visible_number(
    client: GatewayClient, sandbox: RunningSandbox
) -> None:
    sent = await client.send_contact(to=stable_from_id(CLIENT), contact=CARD, reply_to="ABC")
    assert sent.unique == sandbox.gateway.state.sent[0]["unique"]


async def test_the_sandbox_webhook_tells_the_conversation_time_left(
    client: GatewayClient, sandbox: RunningSandbox
) -> None:
    before = sandbox.gateway.client_message_payload(CLIENT, {"body": "hi"})
    assert before["conversationTimeLeft"] == "0"  # no conversation yet
    await client.send_contact(to=CLIENT, contact=CARD, reply_to="ABC")
    sandbox.gateway.advance_clock(3600)
    after = sandbox.gateway.client_message_payload(CLIENT, {"body": "hi again"})
    assert after["conversationTimeLeft"] == str(23 * 60 - 1)


@pytest.mark.parametrize("odd", ODD_ANSWERS)
async def test_every_odd_sandbox_answer_is_an_acceptance_the_client_reads(
    client: GatewayClient, sandbox: RunningSandbox, odd: str
) -> None:
    sandbox.gateway.odd_answers = (odd,)
    if odd == "not_json":
        error = await send_expecting(client)
        assert type(error) is GatewayProtocolError and error.uncertain
    else:
        sent = await client.send_contact(to=CLIENT, contact=CARD, reply_to="ABC")
        assert sent.unique in (None, sandbox.gateway.state.sent[0]["unique"])
        assert bool(sent.warnings) == (odd != "fractional_timestamp")
    assert len(sandbox.gateway.state.sent) == 1  # accepted every time


async def test_the_sandbox_accept_delay_accepts_before_it_answers(
    client: GatewayClient, sandbox: RunningSandbox
) -> None:
    sandbox.gateway.accept_delay_s = 1.5  # longer than the client's 1 s timeout
    error = await send_expecting(client)
    assert type(error) is GatewayUncertain
    assert len(sandbox.gateway.state.sent) == 1  # it went out all the same
