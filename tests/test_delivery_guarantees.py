"""What the gateway accepted is never sent again, and every count tells the truth: a running bot
(the same Service `rulebot serve` starts), a real SQLite file, and the sandbox in the mode that
reaches each path (odd OK answers, a late acceptance, a 200 that is not JSON, a refusal)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.core.values import InboundMessage
from bot.inbound import parse_webhook
from bot.inbox_rows import inbox_row
from bot.sandbox import ODD_ANSWERS, FaultPlan
from bot.status import format_stats
from bot.store import open_store
from tests.conftest import Bot, RunningSandbox, make_config, wait_until

CLIENT = "972541234567"
BotFactory = Callable[..., Awaitable[Bot]]

ONCE_EVER_RULES = """
contacts:
  sales: {name: "Dana - Sales", phone: "+972 52 555 0123"}
rules:
  - name: sales
    keywords: [sales, price]
    reply: {contact: sales}
    once_per: ever
"""


async def rows(bot: Bot, sql: str, *params: Any) -> list[dict[str, Any]]:
    return await bot.service.store.query(sql, *params)  # type: ignore[attr-defined]


async def outbox(bot: Bot) -> list[dict[str, Any]]:
    return await rows(
        bot,
        "SELECT state, attempts, possible_duplicate, gateway_unique, warning, error, error_code "
        "FROM outbox ORDER BY id",
    )


async def stats(bot: Bot) -> Any:
    return await bot.service.store.stats(since=0, now=bot.clock())


def once_ever_rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(ONCE_EVER_RULES, encoding="utf-8")
    return path


# -- an OK is never sent again -------------------------------------------------------------------


@pytest.mark.parametrize("odd", [kind for kind in ODD_ANSWERS if kind != "not_json"])
async def test_an_odd_ok_is_sent_once_counted_and_kept_with_a_warning(
    bot_factory: BotFactory, odd: str
) -> None:
    bot = await bot_factory(max_attempts=4)
    bot.sandbox.gateway.odd_answers = (odd,)
    await bot.client_writes(CLIENT, "sales")
    await bot.settle()
    assert len(bot.sent) == 1  # accepted once, never re-sent
    (row,) = await outbox(bot)
    assert (row["state"], row["attempts"], row["possible_duplicate"]) == ("sent", 1, 0)
    figures = await stats(bot)
    assert (figures.conversations, figures.uncertain) == (1, 0)
    assert bot.sandbox.gateway.state.conversations == 1  # what the provider bills
    if odd == "fractional_timestamp":
        assert row["warning"] is None and row["gateway_unique"] == bot.sent[0]["unique"]
    else:
        assert row["warning"]
        assert figures.accepted_with_warnings == 1
    if odd == "numeric_unique":  # still matches the statuses the gateway posts
        assert row["gateway_unique"] == bot.sent[0]["unique"]
    if odd == "no_unique":
        assert row["gateway_unique"] is None and "message id" in row["warning"]


@pytest.mark.parametrize(("policy", "sends"), [("resend", 2), ("skip", 1)])
async def test_a_200_that_is_not_json_is_uncertain_and_counted(
    bot_factory: BotFactory, policy: str, sends: int
) -> None:
    bot = await bot_factory(max_attempts=2, on_uncertain=policy)
    bot.sandbox.gateway.odd_answers = ("not_json",)
    await bot.client_writes(CLIENT, "sales")
    await bot.settle()
    assert len(bot.sent) == sends  # resend: the client has the card twice, and we say so
    (row,) = await outbox(bot)
    assert (row["state"], row["possible_duplicate"]) == ("uncertain", 1)
    assert row["error_code"] == "bad_response"
    assert "not JSON" in row["error"]
    figures = await stats(bot)
    assert (figures.uncertain, figures.sends) == (1, {"uncertain": 1})
    assert "1  uncertain sends" in format_stats(figures)


async def test_an_acceptance_after_the_timeout_is_counted_and_resent_by_default(
    bot_factory: BotFactory,
) -> None:
    # The retry waits long enough (0.5-1 s) for the test to end the slowness first.
    bot = await bot_factory(timeout_s=0.3, backoff_base_s=1.0, backoff_max_s=1.0)
    gateway = bot.sandbox.gateway
    gateway.accept_delay_s = 1.0  # accepted at once, answered after the bot gave up
    await bot.client_writes(CLIENT, "sales")

    async def first_try_timed_out() -> bool:
        found = await rows(bot, "SELECT state, possible_duplicate FROM outbox")
        return bool(found) and found[0]["possible_duplicate"] == 1

    await wait_until(first_try_timed_out)
    gateway.accept_delay_s = 0.0
    await bot.settle()
    assert len(bot.sent) == 2  # the at-least-once window: the same card, twice
    (row,) = await outbox(bot)
    assert (row["state"], row["attempts"], row["possible_duplicate"]) == ("sent", 2, 1)
    figures = await stats(bot)
    assert (figures.uncertain, figures.conversations) == (1, 1)


async def test_with_on_uncertain_skip_a_late_acceptance_is_never_sent_again(
    bot_factory: BotFactory,
) -> None:
    bot = await bot_factory(timeout_s=0.3, on_uncertain="skip")
    bot.sandbox.gateway.accept_delay_s = 1.0
    await bot.client_writes(CLIENT, "sales")
    await bot.settle()
    assert len(bot.sent) == 1
    (row,) = await outbox(bot)
    assert (row["state"], row["attempts"], row["possible_duplicate"]) == ("uncertain", 1, 1)
    assert "on_uncertain: skip" in row["error"]
    assert (await stats(bot)).uncertain == 1


async def test_a_fail_with_a_reason_in_words_is_refused_verbatim_and_not_retried(
    tmp_path: Path, sandbox: RunningSandbox, bot_factory: BotFactory
) -> None:
    tries: list[bytes] = []

    async def gateway(request: web.Request) -> web.Response:
        tries.append(await request.read())
        return web.json_response({"status": "FAIL", "reason": "Account suspended"})

    runner, url = await _serve_one_route(gateway)
    try:
        config = make_config(tmp_path, sandbox)
        config = config.model_copy(
            update={"gateway": config.gateway.model_copy(update={"url": url})}
        )
        bot = await bot_factory(config=config)
        await bot.client_writes(CLIENT, "sales")
        await bot.settle()
    finally:
        await runner.cleanup()
    assert len(tries) == 1
    (row,) = await outbox(bot)
    assert (row["state"], row["error_code"]) == ("refused", "unknown_reason")
    assert "'Account suspended'" in row["error"]


async def test_a_redirect_is_refused_with_its_location_and_nothing_reaches_the_other_host(
    tmp_path: Path, sandbox: RunningSandbox, bot_factory: BotFactory
) -> None:
    elsewhere = f"{sandbox.send_contact_url}?moved=1"

    async def gateway(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": elsewhere})

    runner, url = await _serve_one_route(gateway)
    try:
        config = make_config(tmp_path, sandbox)
        config = config.model_copy(
            update={"gateway": config.gateway.model_copy(update={"url": url})}
        )
        bot = await bot_factory(config=config)
        await bot.client_writes(CLIENT, "sales")
        await bot.settle()
    finally:
        await runner.cleanup()
    assert bot.sent == [] and bot.sandbox.gateway.state.refused == []
    (row,) = await outbox(bot)
    assert (row["state"], row["error_code"], row["attempts"]) == ("refused", "redirected", 1)
    assert elsewhere in row["error"]


# -- limits count only what was accepted or is on its way ---------------------------------------


async def test_a_refused_card_does_not_count_for_once_per_ever(
    tmp_path: Path, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(rules=once_ever_rules(tmp_path))
    bot.sandbox.gateway.faults = FaultPlan(rate=1.0, kinds=("reason6",))
    await bot.client_writes(CLIENT, "price?")
    await bot.settle()
    assert bot.sent == []
    await bot_is_quiet_then(bot, FaultPlan())
    await bot.client_writes(CLIENT, "price please")
    await bot.settle()
    assert len(bot.sent) == 1  # the first card never went out: this one may
    await bot.client_writes(CLIENT, "price again")
    await bot.settle()
    assert len(bot.sent) == 1  # now it has: once, ever
    states = [row["state"] for row in await outbox(bot)]
    assert states == ["failed", "sent"]


async def bot_is_quiet_then(bot: Bot, faults: FaultPlan) -> None:
    """The outbox holds nothing in flight; then the sandbox takes `faults`."""
    await bot.settle()
    bot.sandbox.gateway.faults = faults


async def test_the_hourly_cap_counts_only_cards_accepted_or_on_their_way(
    bot_factory: BotFactory,
) -> None:
    bot = await bot_factory(max_replies_per_hour=2, max_attempts=1)
    bot.sandbox.gateway.faults = FaultPlan(rate=1.0, kinds=("reason6",))
    for text in ("sales", "support"):
        await bot.client_writes(CLIENT, text)
        await bot.settle()
    assert bot.sent == []
    bot.sandbox.gateway.faults = FaultPlan()
    for text in ("sales", "support", "sales again"):
        await bot.client_writes(CLIENT, text)
        await bot.settle()
    # Two refused cards left the cap untouched: two go out, the third is the one too many.
    assert len(bot.sent) == 2
    outcomes = await rows(bot, "SELECT outcome FROM inbox ORDER BY id")
    assert [r["outcome"] for r in outcomes][-1] == "rate_limited"


async def test_a_card_on_its_way_counts_for_once_per(
    tmp_path: Path, bot_factory: BotFactory
) -> None:
    bot = await bot_factory(rules=once_ever_rules(tmp_path), max_attempts=50)
    bot.sandbox.gateway.faults = FaultPlan(rate=1.0, kinds=("http500",))  # an outage
    await bot.client_writes(CLIENT, "price?")

    async def retrying() -> bool:
        found = await rows(bot, "SELECT attempts FROM outbox")
        return bool(found) and found[0]["attempts"] >= 2

    await wait_until(retrying)
    await bot.client_writes(CLIENT, "price please")  # while the first card is still on its way
    await wait_until(lambda: _decided(bot, 2))
    bot.sandbox.gateway.faults = FaultPlan()
    await bot.settle()
    assert len(bot.sent) == 1
    outcomes = await rows(bot, "SELECT outcome FROM inbox ORDER BY id")
    assert [r["outcome"] for r in outcomes] == ["reply", "already_sent"]


async def _decided(bot: Bot, count: int) -> bool:
    found = await rows(bot, "SELECT COUNT(*) AS n FROM inbox WHERE state = 'done'")
    return bool(found[0]["n"] >= count)


async def _serve_one_route(handler: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/send", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/send"


# -- conversations, cards and the sandbox as faithful as the provider ---------------------------

GREETING_RULES = """
burst_window_s: 0
contacts:
  owner: {name: "Owner", phone: "+972 52 555 0123", website: null, email: ~, city: "",
          street: "  "}
rules:
  - name: hello
    keywords: [hello]
    once_per: conversation
    reply: {contact: owner}
"""


async def test_two_messages_decided_in_one_round_after_a_silence_get_one_card(
    tmp_path: Path, sandbox: RunningSandbox, bot_factory: BotFactory
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(GREETING_RULES, encoding="utf-8")
    config = make_config(tmp_path, sandbox, rules=rules)
    # Both messages wait in the inbox before the bot starts: its first round decides them.
    store = await open_store(config.store)
    for text in ("hello", "hello again"):
        payload = sandbox.gateway.client_message_payload(CLIENT, {"body": text})
        event = parse_webhook(payload, account=config.account)
        assert isinstance(event, InboundMessage)
        assert await store.add_inbound(inbox_row(event), float(payload["timestamp"]))
    await store.close()
    bot = await bot_factory(config=config)
    await bot.settle()
    assert len(bot.sent) == 1
    outcomes = await rows(bot, "SELECT outcome FROM inbox ORDER BY id")
    assert [r["outcome"] for r in outcomes] == ["reply", "already_sent"]


async def test_empty_optional_contact_fields_are_not_sent(
    tmp_path: Path, bot_factory: BotFactory
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(GREETING_RULES, encoding="utf-8")
    bot = await bot_factory(rules=rules)
    await bot.client_writes(CLIENT, "hello")
    await bot.settle()
    (card,) = bot.sent
    fields = {key for key in card if key.startswith(("contact_", "address_", "website"))}
    assert fields == {"contact_name", "contact_phone"}  # null, ~, "" and blanks mean absent


async def test_a_person_answering_from_the_phone_starts_a_counted_conversation(
    bot: Bot,
) -> None:
    await bot.client_writes(CLIENT, "what's the weather like?")  # no rule answers
    await bot.settle()
    assert bot.sent == []
    async with bot.http.post(
        f"{bot.sandbox.url}/control/agent-message", json={"to": CLIENT, "body": "Hi, Dana here"}
    ) as response:
        assert (await response.json())["webhook_status"] == 200
    assert bot.sandbox.gateway.state.conversations == 1  # the provider bills it
    assert (await stats(bot)).conversations == 1  # and the bot counts it


async def test_an_unacknowledged_webhook_is_delivered_again_on_the_providers_schedule(
    bot: Bot,
) -> None:
    gateway = bot.sandbox.gateway
    webhook = gateway.webhook_url
    gateway.webhook_url = f"{bot.service.url}/webhook?token=wrong"  # refused with 401
    async with bot.http.post(
        f"{bot.sandbox.url}/clients/{CLIENT}/messages", json={"body": "sales"}
    ) as response:
        unique = (await response.json())["unique"]

    async def retried_at_once() -> bool:
        return [tries for seen, tries, _ in gateway.webhooks.log if seen == unique] == [1, 2]

    await wait_until(retried_at_once)  # the first re-delivery comes at once, refused too
    gateway.webhook_url = webhook
    assert await gateway.webhooks.deliver_due() == 0  # the next one waits 5 minutes
    gateway.advance_clock(5 * 60)
    await wait_until(lambda: _delivered(gateway, unique, 3))
    await bot.settle()
    assert [s["replyTo"] for s in bot.sent] == [unique]
    gateway.advance_clock(24 * 3600)  # acknowledged: never delivered again
    assert await gateway.webhooks.deliver_due() == 0
    assert [status for seen, _, status in gateway.webhooks.log if seen == unique] == [
        401,
        401,
        200,
    ]


async def _delivered(gateway: Any, unique: str, tries: int) -> bool:
    return any(seen == unique and n == tries for seen, n, _ in gateway.webhooks.log)
