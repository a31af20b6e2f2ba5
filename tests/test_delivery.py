"""Delivery guarantees through a real server, a real SQLite file and the sandbox gateway."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.sandbox import FaultPlan
from bot.sender import window_end
from bot.status import format_stats
from bot.store import OutboxItem
from tests.conftest import ACCOUNT, Bot, wait_until

CLIENT = "972541234567"
DAY = 24 * 3600

BotFactory = Callable[..., Awaitable[Bot]]


async def rows(bot: Bot, sql: str, *params: Any) -> list[dict[str, Any]]:
    return await bot.service.store.query(sql, *params)  # type: ignore[attr-defined]


async def test_same_webhook_five_times_concurrently_and_sequentially_gives_one_card(
    bot: Bot,
) -> None:
    payload = bot.sandbox.gateway.client_message_payload(CLIENT, {"body": "sales"})
    answers = await asyncio.gather(*(bot.post_webhook(payload) for _ in range(5)))
    assert [a.status for a in answers] == [200] * 5
    for _ in range(5):
        assert (await bot.post_webhook(payload)).status == 200
    await bot.settle()
    assert len(bot.sent) == 1
    assert bot.sent[0]["replyTo"] == payload["unique"]


async def test_thirty_percent_gateway_failures_still_end_with_every_reply_sent(
    bot_factory: BotFactory,
) -> None:
    bot = await bot_factory(timeout_s=0.3, max_attempts=50)
    bot.sandbox.gateway.faults = FaultPlan(
        rate=0.3, kinds=("reason6", "http500", "timeout"), delay_s=0.6, seed=7
    )
    uniques = [await bot.client_writes(f"9725400000{n:02d}", "price please") for n in range(40)]
    await bot.settle(timeout_s=60)
    assert sorted(s["replyTo"] for s in bot.sent) == sorted(uniques)
    assert bot.sandbox.gateway.state.faults_injected >= 5
    retried = await rows(bot, "SELECT COUNT(*) AS n FROM outbox WHERE attempts > 1")
    assert retried[0]["n"] >= 5


async def test_reply_stuck_past_the_24_hour_window_is_not_sent(bot_factory: BotFactory) -> None:
    bot = await bot_factory(max_attempts=100)
    bot.sandbox.gateway.faults = FaultPlan(rate=1.0, kinds=("http500",))  # an outage
    await bot.client_writes(CLIENT, "sales")

    async def retried() -> bool:
        found = await rows(bot, "SELECT attempts FROM outbox")
        return bool(found) and found[0]["attempts"] >= 2

    await wait_until(retried)
    bot.clock.advance(DAY + 60)  # the outage lasted a day
    bot.sandbox.gateway.faults = FaultPlan()
    await bot.settle()
    assert bot.sent == []
    outbox = await rows(bot, "SELECT state, error FROM outbox")
    assert outbox[0]["state"] == "window_expired"
    assert "24 h" in outbox[0]["error"]


def test_gateway_window_figure_wins_until_the_client_writes_again() -> None:
    def item(last: float, end: float | None, reported: float | None) -> OutboxItem:
        return OutboxItem(
            id=1, client="c", address="c", rule="r", reply_to="m", contact={}, attempts=1,
            created_at=0, possible_duplicate=False, client_last_message_at=last,
            gateway_window_end=end, gateway_window_reported_at=reported,
        )  # fmt: skip

    assert window_end(item(1000.0, None, None)) == 1000.0 + DAY
    # The gateway said at t=2000 that 10 minutes were left: its clock wins.
    assert window_end(item(1000.0, 2600.0, 2000.0)) == 2600.0
    # The client wrote again after that: a fresh 24 h from their message.
    assert window_end(item(3000.0, 2600.0, 2000.0)) == 3000.0 + DAY


async def test_replies_per_client_per_hour_are_capped(bot_factory: BotFactory) -> None:
    bot = await bot_factory(max_replies_per_hour=2)
    for text in ("sales", "support", "price", "sales again"):
        await bot.client_writes(CLIENT, text)
        await bot.settle()
    assert len(bot.sent) == 2
    outcomes = await rows(bot, "SELECT outcome FROM inbox ORDER BY received_at")
    assert [o["outcome"] for o in outcomes] == ["reply", "reply", "rate_limited", "rate_limited"]
    bot.clock.advance(3601)
    await bot.client_writes(CLIENT, "sales")
    await bot.settle()
    assert len(bot.sent) == 3


async def test_messages_from_our_own_account_are_never_answered(bot: Bot) -> None:
    own = {"hook": "new", "unique": "own-1", "from": ACCOUNT, "to": CLIENT, "body": "sales"}
    marked = {"unique": "own-2", "from": CLIENT, "fromMe": True, "body": "sales"}
    for payload in (own, marked):
        assert (await bot.post_webhook(payload)).status == 200
    await bot.settle()
    assert bot.sent == []
    assert await rows(bot, "SELECT * FROM inbox") == []


async def test_a_person_answering_pauses_the_bot_for_that_client(bot: Bot) -> None:
    async with bot.http.post(
        f"{bot.sandbox.url}/control/agent-message", json={"to": CLIENT, "body": "Hi, Dana here"}
    ) as response:
        assert (await response.json())["webhook_status"] == 200
    await bot.client_writes(CLIENT, "sales")
    await bot.client_writes("972549999999", "sales")  # another client is not paused
    await bot.settle()
    assert [s["to"] for s in bot.sent] == ["972549999999"]
    paused = await rows(bot, "SELECT outcome FROM inbox WHERE address = ?", CLIENT)
    assert paused[0]["outcome"] == "paused"
    bot.clock.advance(12 * 3600 + 1)
    await bot.client_writes(CLIENT, "sales")
    await bot.settle()
    assert [s["to"] for s in bot.sent] == ["972549999999", CLIENT]


async def test_the_bots_own_echo_does_not_pause_the_client(bot: Bot) -> None:
    await bot.client_writes(CLIENT, "sales")
    await bot.settle()
    echo = {"hook": "outgoing", "unique": bot.sent[0]["unique"], "from": ACCOUNT, "to": CLIENT}
    assert (await bot.post_webhook(echo)).status == 200
    await bot.client_writes(CLIENT, "support")
    await bot.settle()
    assert len(bot.sent) == 2


async def test_delivery_statuses_are_stored_against_the_send(bot: Bot) -> None:
    bot.sandbox.gateway.status_webhooks = True
    await bot.client_writes(CLIENT, "sales")
    await bot.settle()

    async def delivered() -> bool:
        found = await rows(bot, "SELECT delivery_status FROM outbox")
        return found[0]["delivery_status"] == "delivered"

    await wait_until(delivered)
    read = {"hook": "status", "unique": bot.sent[0]["unique"], "status": "read"}
    late_delivered = dict(read, status="delivered")
    for payload in (read, late_delivered):  # out of order: read stays
        assert (await bot.post_webhook(payload)).status == 200
    found = await rows(bot, "SELECT delivery_status FROM outbox")
    assert found[0]["delivery_status"] == "read"


async def test_conversations_are_counted_per_24_hours_from_our_send(bot: Bot) -> None:
    for text in ("sales", "support"):
        await bot.client_writes(CLIENT, text)
        await bot.settle()
    stats = await bot.service.store.stats(since=0, now=bot.clock())
    assert (stats.sends["sent"], stats.conversations) == (2, 1)
    bot.clock.advance(DAY + 1)
    bot.sandbox.gateway.advance_clock(DAY + 1)
    await bot.client_writes(CLIENT, "sales")
    await bot.settle()
    stats = await bot.service.store.stats(since=0, now=bot.clock())
    assert stats.conversations == 2


async def test_permanent_refusal_is_recorded_at_once_with_its_reason(bot: Bot) -> None:
    bot.sandbox.gateway.faults = FaultPlan()
    payload = {"hook": "new", "unique": "never-1", "from": "972547777777", "body": "sales"}
    # The gateway never saw this client write (it did not come through the sandbox): reason 8.
    assert (await bot.post_webhook(payload)).status == 200
    await bot.settle()
    outbox = await rows(bot, "SELECT state, reason, attempts, error FROM outbox")
    assert outbox == [
        {
            "state": "refused",
            "reason": 8,
            "attempts": 1,
            "error": "972547777777 never wrote to us: the first message must be a template",
        }
    ]
    report = format_stats(await bot.service.store.stats(since=0, now=bot.clock()))
    assert "refused by the gateway: 9725****7777 never wrote to us" in report  # masked


@pytest.mark.parametrize("group_field", [{"isGroup": True}, {"from": "972547777777-1600000000"}])
async def test_group_messages_are_never_answered(bot: Bot, group_field: dict[str, Any]) -> None:
    payload = {"unique": "g-1", "from": "972547777777", "body": "sales", **group_field}
    assert (await bot.post_webhook(payload)).status == 200
    await bot.settle()
    assert bot.sent == []
    assert bot.sandbox.gateway.state.refused == []  # we never even asked
