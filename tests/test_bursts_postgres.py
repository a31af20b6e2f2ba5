"""Bursts on PostgreSQL with two real `rulebot serve` instances sharing one schema (issue #9).

The test plays the provider: it builds each client's webhook with the sandbox (which opens the
client's 24 h window there) and posts it to the instance it picks, so one client's messages
land on different instances. Both instances decide and send; the sandbox records every card.

What it shows:
- one client's messages are decided in arrival order and by one instance at a time: the cap of
  five replies an hour lets exactly the first five through, whichever instance decides, and
  the two instances' /metrics add up to one decision per message (a message decided by both,
  even if only one decision was recorded, would count twice);
- a burst spread over both instances gets one card, quoting the message that asked for it;
- a client who keeps writing holds up nobody else, on either instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.demo import start_sandbox
from bot.sandbox import SEND_CONTACT_PATH, SandboxGateway
from bot.store.postgres import PostgresStore
from bot.testing import serve_config, write_serve_config
from tests.conftest import ACCOUNT, API_KEY, wait_until
from tests.pg import postgres_schema
from tests.serve_process import ServeProcess, free_port
from tests.test_bursts import burst_rules

pytestmark = pytest.mark.postgres

WINDOW_S = 1.0
MAX_WAIT_S = 3.0
RATE_CAP = 5
CLIENTS = 4
MESSAGES_PER_CLIENT = 12
SETTLE_S = 20.0

_DECISIONS = re.compile(r'^rulebot_decisions_total\{outcome="([a-z_]+)"\} ([0-9.e+]+)$', re.M)


def number(n: int) -> str:
    return f"97254{n:07d}"


class Instance(ServeProcess):
    """One `rulebot serve` child process on its own port, with its config written."""

    def __init__(
        self,
        folder: Path,
        name: str,
        *,
        rules: Path,
        store_url: str,
        gateway: str,
        max_replies_per_hour: int,
    ) -> None:
        port = free_port()
        settings = serve_config(
            account=ACCOUNT,
            gateway_url=gateway,
            store=store_url,
            port=port,
            rules=rules,
            gateway={"timeout_s": 2, "backoff_base_s": 0.05, "backoff_max_s": 0.5},
            delivery={"max_replies_per_hour": max_replies_per_hour},
            log_format="text",
            log_level="WARNING",
        )
        config = write_serve_config(folder / f"{name}.yaml", settings)
        super().__init__(config, port=port, log=folder / f"{name}.log", name=name)

    async def decisions(self, http: aiohttp.ClientSession) -> Counter[str]:
        """This instance's decisions by outcome (its /metrics)."""
        async with http.get(f"{self.url}/metrics") as response:
            text = await response.text()
        return Counter({outcome: int(float(n)) for outcome, n in _DECISIONS.findall(text)})


@dataclass
class Cluster:
    """Two instances on one schema, the sandbox they send to, and a store to look with."""

    instances: list[Instance]
    sandbox: SandboxGateway
    store: PostgresStore
    http: aiohttp.ClientSession

    async def write(self, client: str, text: str, *, to: int) -> str:
        """`client` writes `text`; the webhook goes to instance `to`. Returns the message id."""
        payload = self.sandbox.client_message_payload(client, {"body": text})
        async with self.http.post(self.instances[to].webhook, json=payload) as response:
            answer = await response.json()
            assert response.status == 200 and answer["result"] == "queued", answer
        return str(payload["unique"])

    @property
    def sent(self) -> list[dict[str, Any]]:
        return self.sandbox.state.sent

    async def settle(self, messages: int, timeout_s: float = SETTLE_S) -> None:
        """Wait until `messages` are stored and nothing waits in the inbox or the outbox."""

        async def idle() -> bool:
            stats = await self.store.stats(since=0, now=time.time())
            return stats.received >= messages and not (
                stats.inbox_pending or stats.outbox_pending or stats.outbox_in_flight
            )

        await wait_until(idle, timeout_s=timeout_s)

    async def inbox(self) -> list[dict[str, Any]]:
        return await self.store.query(
            "SELECT message_id, address, outcome, rule, received_at, decided_at FROM inbox "
            "ORDER BY received_at, id"
        )


@pytest.fixture
async def store_url() -> AsyncIterator[str]:
    async with postgres_schema() as url:
        yield url


@contextlib.asynccontextmanager
async def two_instances(
    folder: Path, store_url: str, *, rules: Path, max_replies_per_hour: int = 100
) -> AsyncIterator[Cluster]:
    sandbox, runner, sandbox_url = await start_sandbox(api_key=API_KEY, account=ACCOUNT)
    store = await PostgresStore.open(store_url)  # migrates before the instances start
    instances = [
        Instance(
            folder,
            name,
            rules=rules,
            store_url=store_url,
            gateway=sandbox_url + SEND_CONTACT_PATH,
            max_replies_per_hour=max_replies_per_hour,
        )
        for name in ("a", "b")
    ]
    try:
        for instance in instances:
            instance.start()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            for instance in instances:
                await instance.wait_up(http)
            yield Cluster(instances, sandbox, store, http)
        codes = {instance.name: instance.stop(timeout_s=20) for instance in instances}
        assert codes == {"a": 0, "b": 0}, {i.name: i.log_tail() for i in instances}
    finally:
        for instance in instances:
            if instance.running:
                instance.kill()
        await store.close()
        await runner.cleanup()


async def test_each_clients_messages_are_decided_in_arrival_order_by_one_instance_at_a_time(
    tmp_path: Path, store_url: str
) -> None:
    """Clients write to both instances in turn; both decide. With a cap of five replies an
    hour, exactly each client's first five messages get a card: a message decided out of order,
    or by two instances at once (both seeing room under the cap), would break the count.

    Half the clients are decided as their messages come in. The other half are held (their
    claim is taken, as a third instance busy with them would) while they write, then released
    at once: both instances race for the whole backlog, and one decides it, in order."""
    rules = burst_rules(tmp_path, window_s=0)
    live, held = range(CLIENTS), range(CLIENTS, 2 * CLIENTS)
    held_numbers = [number(c) for c in held]
    async with two_instances(
        tmp_path, store_url, rules=rules, max_replies_per_hour=RATE_CAP
    ) as cluster:
        firsts = {c: await cluster.write(number(c), "sales 0", to=c % 2) for c in held}
        await cluster.settle(len(held))  # decided: the hold below takes no instance's claim
        await cluster.store.query(
            "UPDATE clients SET claimed_by = 'held-by-the-test', claim_until = ? "
            "WHERE address = ANY(?::text[])",
            time.time() + 600,
            held_numbers,
        )

        async def client_writes(c: int, start: int) -> list[str]:
            # One client's messages one after another (the provider keeps a chat's order),
            # alternating between the instances; the clients all at once.
            return [
                await cluster.write(number(c), f"sales {n}", to=(c + n) % 2)
                for n in range(start, MESSAGES_PER_CLIENT)
            ]

        written = await asyncio.gather(
            *(client_writes(c, 0) for c in live), *(client_writes(c, 1) for c in held)
        )
        await cluster.store.query(
            "UPDATE clients SET claimed_by = NULL, claim_until = NULL "
            "WHERE claimed_by = 'held-by-the-test'"
        )
        await cluster.settle(2 * CLIENTS * MESSAGES_PER_CLIENT)
        rows = await cluster.inbox()
        decided = [await instance.decisions(cluster.http) for instance in cluster.instances]

    sent_ids = dict(zip([*live, *held], written, strict=True))
    for c in held:
        sent_ids[c] = [firsts[c], *sent_ids[c]]
    outcome = {row["message_id"]: row["outcome"] for row in rows}
    decided_at = {row["message_id"]: row["decided_at"] for row in rows}
    for c, ids in sent_ids.items():
        arrived = [row["message_id"] for row in rows if row["address"] == number(c)]
        assert arrived == ids  # stored in the order the client wrote
        assert [outcome[i] for i in ids] == ["reply"] * RATE_CAP + ["rate_limited"] * (
            MESSAGES_PER_CLIENT - RATE_CAP
        ), c
        if c in held:  # the backlog was decided as one batch, by one instance
            assert len({decided_at[i] for i in ids[1:]}) == 1
    cards = [(card["to"], card["replyTo"]) for card in cluster.sent]
    assert len(cards) == len(set(cards)) == 2 * CLIENTS * RATE_CAP  # no duplicates
    assert sorted(cards) == sorted(
        (number(c), i) for c, ids in sent_ids.items() for i in ids[:RATE_CAP]
    )
    assert {card["contact_name"] for card in cluster.sent} == {"Dana - Sales"}
    # Both instances took part in deciding, and between them decided every message once.
    assert all(d["reply"] + d["rate_limited"] > 0 for d in decided), decided
    assert sum(decided, Counter()) == Counter(
        reply=2 * CLIENTS * RATE_CAP, rate_limited=2 * CLIENTS * (MESSAGES_PER_CLIENT - RATE_CAP)
    )


async def test_a_burst_spread_over_both_instances_gets_one_card_quoting_the_matching_message(
    tmp_path: Path, store_url: str
) -> None:
    rules = burst_rules(tmp_path, window_s=WINDOW_S, max_wait_s=MAX_WAIT_S)
    async with two_instances(tmp_path, store_url, rules=rules) as cluster:

        async def burst(c: int) -> list[str]:
            # Each message to the other instance than the one before: a, b, a or b, a, b.
            texts = ("hi", "I need sales", "sales??")
            return [await cluster.write(number(c), t, to=(c + n) % 2) for n, t in enumerate(texts)]

        ids = await asyncio.gather(*(burst(c) for c in range(CLIENTS)))
        await asyncio.sleep(WINDOW_S / 2)
        assert cluster.sent == []  # inside the window: the clients may not be done
        await cluster.settle(3 * CLIENTS)
        rows = await cluster.inbox()

    cards = sorted((card["to"], card["contact_name"], card["replyTo"]) for card in cluster.sent)
    assert cards == sorted((number(c), "Dana - Sales", i[1]) for c, i in enumerate(ids))
    for c, client_ids in enumerate(ids):
        mine = [row for row in rows if row["address"] == number(c)]
        assert [row["message_id"] for row in mine] == client_ids
        assert [(row["outcome"], row["rule"]) for row in mine] == [
            ("in_burst", None),
            ("reply", "sales"),
            ("in_burst", None),
        ]
        # Decided together, once the window after the last message had passed.
        assert len({row["decided_at"] for row in mine}) == 1
        assert mine[0]["decided_at"] - mine[-1]["received_at"] >= WINDOW_S


async def test_two_clients_interleaved_over_both_instances_do_not_wait_on_each_other(
    tmp_path: Path, store_url: str
) -> None:
    rules = burst_rules(tmp_path, window_s=WINDOW_S, max_wait_s=MAX_WAIT_S)
    chatty, other = number(1), number(2)
    async with two_instances(tmp_path, store_url, rules=rules) as cluster:

        async def chatter(seconds: float) -> str:
            end = time.monotonic() + seconds
            first = await cluster.write(chatty, "sales", to=0)
            n = 1
            while time.monotonic() < end:  # every 0.3 s: the window never closes by itself
                await asyncio.sleep(0.3)
                await cluster.write(chatty, "and one more thing", to=n % 2)
                n += 1
            return first

        async def card_for(unique: str) -> bool:
            return any(card["replyTo"] == unique for card in cluster.sent)

        busy = asyncio.create_task(chatter(2.5))
        started = time.monotonic()
        await asyncio.sleep(0.2)
        asked = await cluster.write(other, "I need support", to=1)
        await asyncio.sleep(0.2)
        await cluster.write(other, "anyone?", to=0)
        last = time.monotonic()
        await wait_until(lambda: card_for(asked), timeout_s=10)
        assert time.monotonic() - last < WINDOW_S + 1.0  # not held up by the chatty client
        first = await busy
        await wait_until(lambda: card_for(first), timeout_s=10)
        # The chatty client is answered by the maximum wait, not when it stops writing.
        assert time.monotonic() - started < MAX_WAIT_S + 1.0
        await asyncio.sleep(0.3)  # nothing more should follow
        cards = sorted((card["to"], card["contact_name"], card["replyTo"]) for card in cluster.sent)

    assert cards == sorted([(chatty, "Dana - Sales", first), (other, "Support desk", asked)])
