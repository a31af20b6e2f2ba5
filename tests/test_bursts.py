"""A client who writes in bursts gets one fitting answer, in order (real server, store, sandbox)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import decider as decider_module
from bot.config import Config
from bot.pipeline import Pipeline
from bot.service import Service
from bot.store import DecidedBatch
from tests.conftest import Bot, RunningSandbox, make_config, wait_until

WINDOW_S = 1.0
MAX_WAIT_S = 3.0
CLIENT = "972541234567"
OTHER = "972549876543"

BotFactory = Callable[..., Awaitable[Bot]]


def burst_rules(
    folder: Path, *, window_s: float = WINDOW_S, max_wait_s: float = MAX_WAIT_S
) -> Path:
    path = folder / "burst.yaml"
    path.write_text(
        f"""
burst_window_s: {window_s}
burst_max_wait_s: {max_wait_s}
contacts:
  sales: {{name: "Dana - Sales", phone: "050-123-4567"}}
  support: {{name: "Support desk", phone: "03-555-0101"}}
  reception: {{name: "Reception", phone: "03-555-0100"}}
rules:
  - name: sales
    keywords: [sales, price]
    reply: {{contact: sales}}
  - name: support
    keywords: [support]
    reply: {{contact: support}}
  - name: greeting
    first_message: true
    reply: {{contact: reception}}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    return burst_rules(tmp_path)


async def outcomes(bot: Bot) -> list[tuple[str, str | None]]:
    rows = await bot.service.store.query(  # type: ignore[attr-defined]
        "SELECT outcome, rule FROM inbox ORDER BY received_at, id"
    )
    return [(row["outcome"], row["rule"]) for row in rows]


async def test_three_messages_in_the_window_get_one_card_quoting_the_matching_one(
    bot_factory: BotFactory, rules: Path
) -> None:
    bot = await bot_factory(rules=rules)
    first = time.monotonic()
    ids = [await bot.client_writes(CLIENT, text) for text in ("hi", "I need sales", "sales??")]
    await asyncio.sleep(WINDOW_S / 2)
    assert bot.sent == []  # still inside the window: the client may not be done
    await bot.settle()
    assert time.monotonic() - first >= WINDOW_S
    assert [(s["contact_name"], s["replyTo"]) for s in bot.sent] == [("Dana - Sales", ids[1])]
    assert await outcomes(bot) == [("in_burst", None), ("reply", "sales"), ("in_burst", None)]


async def test_two_different_requests_in_one_burst_get_two_cards(
    bot_factory: BotFactory, rules: Path
) -> None:
    bot = await bot_factory(rules=rules)
    ids = [await bot.client_writes(CLIENT, text) for text in ("sales", "and support")]
    await bot.settle()
    assert [(s["contact_name"], s["replyTo"]) for s in bot.sent] == [
        ("Dana - Sales", ids[0]),
        ("Support desk", ids[1]),
    ]


async def test_a_greeting_alone_answers_when_nothing_else_matches(
    bot_factory: BotFactory, rules: Path
) -> None:
    bot = await bot_factory(rules=rules)
    ids = [await bot.client_writes(CLIENT, text) for text in ("hi", "anyone there?")]
    await bot.settle()
    assert [(s["contact_name"], s["replyTo"]) for s in bot.sent] == [("Reception", ids[0])]


async def test_messages_further_apart_than_the_window_are_answered_one_by_one(
    bot_factory: BotFactory, rules: Path
) -> None:
    bot = await bot_factory(rules=rules)
    ids = []
    for text in ("hi", "I need sales", "sales??"):
        ids.append(await bot.client_writes(CLIENT, text))
        await bot.settle()
    assert [(s["contact_name"], s["replyTo"]) for s in bot.sent] == [
        ("Reception", ids[0]),
        ("Dana - Sales", ids[1]),
        ("Dana - Sales", ids[2]),
    ]


async def test_a_client_who_never_stops_writing_is_answered_by_the_maximum_wait(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await bot_factory(rules=burst_rules(tmp_path, window_s=1.0, max_wait_s=2.0))
    started = time.monotonic()
    first = await bot.client_writes(CLIENT, "price?")
    while not bot.sent and time.monotonic() - started < 6:
        await bot.client_writes(CLIENT, "hello?")  # every 0.3 s: the window never closes
        await asyncio.sleep(0.3)
    waited = time.monotonic() - started
    assert bot.sent and bot.sent[0]["replyTo"] == first
    assert 2.0 <= waited < 3.5


async def test_two_interleaved_clients_do_not_wait_on_each_other(
    bot_factory: BotFactory, rules: Path
) -> None:
    bot = await bot_factory(rules=rules)
    busy = asyncio.create_task(chatter(bot, CLIENT, seconds=2.5))
    await asyncio.sleep(0.2)
    asked = time.monotonic()
    other_id = await bot.client_writes(OTHER, "support")
    await wait_until(lambda: has_card_for(bot, other_id))
    assert time.monotonic() - asked < WINDOW_S + 1.0  # not held up by the chatty client
    await busy
    await bot.settle()
    assert sorted(s["to"] for s in bot.sent) == [CLIENT, OTHER]


async def chatter(bot: Bot, number: str, *, seconds: float) -> None:
    end = time.monotonic() + seconds
    await bot.client_writes(number, "sales")
    while time.monotonic() < end:
        await bot.client_writes(number, "and one more thing")
        await asyncio.sleep(0.3)


async def has_card_for(bot: Bot, unique: str) -> bool:
    return any(s["replyTo"] == unique for s in bot.sent)


async def test_a_restart_in_the_middle_of_a_window_loses_nothing(
    tmp_path: Path, sandbox: RunningSandbox, rules: Path, bot_factory: BotFactory
) -> None:
    config = make_config(tmp_path, sandbox, rules=rules)
    bot = await bot_factory(config=config)
    ids = [await bot.client_writes(CLIENT, text) for text in ("hi", "I need sales")]
    await bot.service.stop()  # stopped inside the window: nothing decided yet
    assert bot.sent == []
    restarted = await Service.start(config, watch_rules=False)
    sandbox.gateway.webhook_url = restarted.webhook_url
    try:
        await wait_until(lambda: has_card_for(bot, ids[1]), timeout_s=10)
        assert [s["replyTo"] for s in bot.sent] == [ids[1]]
    finally:
        await restarted.stop()
    bot.service = restarted  # the fixture's cleanup stops it again: harmless


async def test_without_a_window_each_message_is_answered_at_once(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    bot = await bot_factory(rules=burst_rules(tmp_path, window_s=0))
    ids = [await bot.client_writes(CLIENT, text) for text in ("hi", "I need sales")]
    await bot.settle()
    assert [(s["contact_name"], s["replyTo"]) for s in bot.sent] == [
        ("Reception", ids[0]),
        ("Dana - Sales", ids[1]),
    ]


async def test_one_clients_messages_are_decided_in_arrival_order_by_one_worker_at_a_time(
    tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers on one store race for the same clients: each message is decided once,
    in order (the rate cap of 5 an hour lets exactly the first five through), and both
    workers take part (each claims one client a round, so neither can take everything)."""
    monkeypatch.setattr(decider_module, "CLAIM_LIMIT", 1)
    config: Config = make_config(
        tmp_path, sandbox, rules=burst_rules(tmp_path, window_s=0), max_replies_per_hour=5
    )
    numbers = [CLIENT, OTHER, "972541111111", "972542222222"]
    service = await Service.start(config, run_worker=False, watch_rules=False)
    sandbox.gateway.webhook_url = service.webhook_url
    finished: Counter[str] = Counter()  # clients whose decisions each worker recorded
    record = service.store.finish_batches

    async def finish_and_count(items: Sequence[DecidedBatch], now: float) -> list[bool]:
        recorded = await record(items, now)
        for item, ok in zip(items, recorded, strict=True):
            if ok:
                finished[item.batch.claim.split(":")[0]] += 1
            await asyncio.sleep(0)  # the other worker may claim between two records
        return recorded

    monkeypatch.setattr(service.store, "finish_batches", finish_and_count)
    try:
        async with aiohttp.ClientSession() as http:
            for number in numbers:
                for n in range(12):
                    async with http.post(
                        f"{sandbox.url}/clients/{number}/messages", json={"body": f"sales {n}"}
                    ) as response:
                        assert (await response.json())["webhook_status"] == 200
        workers = [
            Pipeline(
                store=service.store,
                rulebook=service.rulebook,
                gateway=service.gateway,
                config=config,
                worker_id=f"w{n}",
            )
            for n in range(2)
        ]
        await asyncio.gather(*(worker.drain() for worker in workers))
        rows: list[dict[str, Any]] = await service.store.query(  # type: ignore[attr-defined]
            "SELECT address, outcome, state FROM inbox ORDER BY received_at, id"
        )
    finally:
        await service.stop()
    assert all(row["state"] == "done" for row in rows)
    for number in numbers:
        decided = [row["outcome"] for row in rows if row["address"] == number]
        assert decided == ["reply"] * 5 + ["rate_limited"] * 7
    cards = [s["replyTo"] for s in sandbox.gateway.state.sent]
    assert len(cards) == len(set(cards)) == 5 * len(numbers)
    assert finished["w0"] >= 1 and finished["w1"] >= 1, finished
    assert sum(finished.values()) == len(numbers)  # each client's messages decided once
