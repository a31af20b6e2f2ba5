"""A client that floods the bot with messages that are slow to match: every client is still
acknowledged in time, the flood's messages are all stored and decided in order, and a round
gives the flooder only its share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from bot.client_limits import ClientLimits
from bot.config import Config
from bot.core.values import InboundMessage
from bot.decider import MATCH_CHARS, Decider
from bot.inbox_rows import inbox_row
from bot.metrics import DEFERRED
from bot.rulebook import RuleBook
from bot.store import open_store
from bot.testing import serve_config
from tests.conftest import ACCOUNT, API_KEY, TOKEN, Bot

#: a shop's ordinary rules: a `pattern` that backtracks badly on spaces, and a `fuzzy` rule
RULES = """\
timezone: Asia/Jerusalem
contacts:
  orders: {name: "Orders desk", phone: "+972 3 555 0101"}
  support: {name: "Help desk", phone: "+972 3 555 0102"}
rules:
  - name: order status
    pattern: 'order(\\s*\\w*)*\\s*#\\d{5,}'
    reply: {contact: orders}
  - name: support
    keywords: [support, broken, refund]
    fuzzy: true
    reply: {contact: support}
"""
FLOOD_TEXT = "order" + " " * 10_000 + "?"
#: the provider counts a webhook not answered within this as failed, and retries it later
PROVIDER_LIMIT_S = 5.0


def _message(unique: str, sender: str, text: str) -> dict[str, Any]:
    return {"hook": "new", "unique": unique, "from": sender, "to": ACCOUNT, "type": "text",
            "body": text, "timestamp": str(int(time.time()))}  # fmt: skip


async def _flood(bot: Bot, senders: list[str]) -> tuple[list[float], list[float]]:
    """300 long messages from `senders` on 16 connections while an ordinary client writes
    every 50 ms; returns (the flood's ack times, the ordinary client's ack times)."""
    url = f"{bot.service.url}/webhook?token={TOKEN}"

    async def post(payload: dict[str, Any]) -> float:
        began = time.perf_counter()
        async with bot.http.post(url, json=payload) as response:
            assert response.status == 200, await response.text()
        return time.perf_counter() - began

    queue = [_message(f"flood-{k:03d}", senders[k % len(senders)], FLOOD_TEXT) for k in range(300)]
    queue.reverse()
    flood_acks: list[float] = []
    ordinary_acks: list[float] = []

    async def connection() -> None:
        while queue:
            flood_acks.append(await post(queue.pop()))

    async def ordinary() -> None:
        for k in range(40):
            ordinary_acks.append(await post(_message(f"ok-{k}", "972521111111", "my order broke")))
            await asyncio.sleep(0.05)

    await asyncio.gather(ordinary(), *(connection() for _ in range(16)))
    return flood_acks, ordinary_acks


async def _decided_in_order(bot: Bot) -> list[dict[str, Any]]:
    """Every flooded message once all are decided, in arrival order."""
    store: Any = bot.service.store
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        rows = await store.query(
            "SELECT client, message_id, state, decided_at FROM inbox "
            "WHERE message_id LIKE 'flood-%' ORDER BY received_at, id"
        )
        if all(row["state"] == "done" for row in rows):
            return list(rows)
        await asyncio.sleep(0.2)
    raise AssertionError("the flood was not decided within 90 s")


def _assert_in_order(rows: list[dict[str, Any]]) -> None:
    last: dict[str, float] = {}
    for row in rows:
        assert row["decided_at"] >= last.get(row["client"], 0.0), row
        last[row["client"]] = row["decided_at"]


async def test_a_flood_from_one_client_leaves_every_ack_in_time(
    bot_factory: Callable[..., Awaitable[Bot]], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    bot = await bot_factory(rules=rules)
    flood_acks, ordinary_acks = await _flood(bot, ["972549999999"])
    assert len(flood_acks) == 300
    assert max(ordinary_acks) < PROVIDER_LIMIT_S
    assert max(flood_acks) < PROVIDER_LIMIT_S
    rows = await _decided_in_order(bot)
    assert [row["message_id"] for row in rows] == [f"flood-{k:03d}" for k in range(300)]
    _assert_in_order(rows)


async def test_a_flood_from_200_clients_leaves_every_ack_in_time(
    bot_factory: Callable[..., Awaitable[Bot]], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    bot = await bot_factory(rules=rules)
    senders = [f"97254{n:07d}" for n in range(200)]
    flood_acks, ordinary_acks = await _flood(bot, senders)
    assert max(ordinary_acks) < PROVIDER_LIMIT_S
    assert max(flood_acks) < PROVIDER_LIMIT_S
    rows = await _decided_in_order(bot)
    assert len(rows) == 300
    _assert_in_order(rows)


async def _decider(tmp_path: Path, rules_text: str) -> tuple[Decider, Any]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(rules_text, encoding="utf-8")
    config = Config.model_validate(
        serve_config(
            account=ACCOUNT,
            gateway_url="http://127.0.0.1:9/unused",
            store=tmp_path / "rulebot.db",
            rules=rules,
            api_key=API_KEY,
            webhook_token=TOKEN,
        )
    )
    rulebook = RuleBook(config.rules, default_region=config.default_region)
    rulebook.load()
    store = await open_store(config.store)
    decider = Decider(store=store, rulebook=rulebook, config=config, worker_id="w1")
    return decider, store


def _inbound(unique: str, client: str, text: str) -> InboundMessage:
    return InboundMessage(
        id=unique, client=client, address=client, text=text, type="text", timestamp=time.time()
    )


async def test_a_flooding_client_gets_its_share_of_a_round_and_the_others_are_decided(
    tmp_path: Path,
) -> None:
    decider, store = await _decider(tmp_path, RULES)
    try:
        now = time.time()
        for k in range(20):
            await store.add_inbound(inbox_row(_inbound(f"f{k}", "972549999999", FLOOD_TEXT)), now)
        for n in range(5):
            client = f"9725211111{n:02d}"
            await store.add_inbound(inbox_row(_inbound(f"ok{n}", client, "refund please")), now)
        deferred_before = DEFERRED._value.get()
        await decider.decide_pending()
        rows = await store.query("SELECT message_id, state FROM inbox ORDER BY id")
        state = {row["message_id"]: row["state"] for row in rows}
        assert all(state[f"ok{n}"] == "done" for n in range(5))
        flood_done = [k for k in range(20) if state[f"f{k}"] == "done"]
        # The first message always, then only while its share lasts: a slow pattern takes
        # longer than the share, so the rest wait, in order, and are counted.
        assert flood_done == list(range(len(flood_done)))
        assert 1 <= len(flood_done) <= 4
        assert DEFERRED._value.get() - deferred_before == 20 - len(flood_done)
        while (await decider.decide_pending())[0]:
            pass
        rows = await store.query("SELECT state FROM inbox WHERE state = 'pending'")
        assert rows == []
    finally:
        decider.close()
        await store.close()


async def test_a_long_message_is_matched_on_its_prefix_and_stored_whole(tmp_path: Path) -> None:
    decider, store = await _decider(tmp_path, RULES)
    try:
        hidden = "x " * MATCH_CHARS + "refund"  # the keyword lies past the prefix rules look at
        seen = "refund " + "x " * MATCH_CHARS
        now = time.time()
        await store.add_inbound(inbox_row(_inbound("hidden", "972521111101", hidden)), now)
        await store.add_inbound(inbox_row(_inbound("seen", "972521111102", seen)), now)
        await decider.decide_pending()
        rows = await store.query("SELECT message_id, rule, payload FROM inbox ORDER BY id")
        by_id = {row["message_id"]: row for row in rows}
        assert by_id["hidden"]["rule"] != "support"
        assert by_id["seen"]["rule"] == "support"
        assert orjson.loads(by_id["hidden"]["payload"])["text"] == hidden
    finally:
        decider.close()
        await store.close()


async def test_a_client_over_its_bounds_is_acknowledged_and_its_message_dropped_with_the_reason(
    bot_factory: Callable[..., Awaitable[Bot]], tmp_path: Path
) -> None:
    """Messages waiting to be decided and bytes a day are bounded per client: over a bound the
    webhook is still 200 (the provider must not retry), the message is recorded as dropped
    with the reason and not stored; another client is stored as ever."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("timezone:", "burst_window_s: 60\ntimezone:"), encoding="utf-8")
    bot = await bot_factory(rules=rules, max_pending_per_client=3, max_bytes_per_client_day=4096)
    store: Any = bot.service.store
    url = f"{bot.service.url}/webhook?token={TOKEN}"

    async def post(unique: str, sender: str, text: str) -> dict[str, Any]:
        async with bot.http.post(url, json=_message(unique, sender, text)) as response:
            assert response.status == 200
            return dict(await response.json())

    answers = [await post(f"w{k}", "972549999999", "my order broke") for k in range(5)]
    assert [a["result"] for a in answers] == ["queued"] * 3 + ["dropped"] * 2
    assert "3 messages from this client already wait to be decided" in answers[3]["reason"]
    assert (await post("other", "972521111111", "refund please"))["result"] == "queued"
    # Bytes a day: a few long messages from a third client reach 4 KiB.
    long = "x" * 1500
    answers = [await post(f"b{k}", "972521111112", long) for k in range(3)]
    assert [a["result"] for a in answers] == ["queued", "queued", "dropped"]
    assert "over 4096 bytes of messages from this client today" in answers[2]["reason"]
    stored = await store.query("SELECT message_id FROM inbox ORDER BY id")
    assert [r["message_id"] for r in stored] == ["w0", "w1", "w2", "other", "b0", "b1"]
    dropped = await store.query("SELECT detail FROM events WHERE kind = 'dropped' ORDER BY id")
    assert len(dropped) == 3
    assert dropped[0]["detail"].startswith("9725****9999 w3: 3 messages")
    assert "972549999999" not in str(dropped)


async def test_a_client_may_write_again_once_its_messages_are_decided_and_the_day_turns() -> None:
    waiting = {"972549999999": 2}

    async def count_waiting(client: str) -> int:
        return waiting[client]

    limits = ClientLimits(max_waiting=2, max_bytes_per_day=1000, count_waiting=count_waiting)
    day = 20_000 * 86400.0
    client = "972549999999"
    for _ in range(2):
        assert await limits.refusal(client, 100, day) is None
        limits.stored(client, 100, day)
    assert await limits.refusal(client, 100, day) is not None  # the store says 2 wait
    waiting[client] = 0  # decided meanwhile
    limits._tallies[client].over_until = 0.0  # (the 1 s before asking again has passed)
    assert await limits.refusal(client, 100, day) is None
    limits.stored(client, 700, day)
    assert "bytes" in (await limits.refusal(client, 200, day) or "")
    assert await limits.refusal(client, 200, day + 86400) is None  # a new UTC day
