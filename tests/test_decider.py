"""The decider over a real SQLite store: what it records about a client besides the sends."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.core.values import InboundMessage
from bot.decider import Decider
from bot.inbox_rows import inbox_row
from bot.rulebook import RuleBook
from bot.store import Store, open_store
from bot.store.postgres import PostgresStore
from bot.testing import serve_config
from tests.conftest import ACCOUNT, API_KEY, TOKEN
from tests.pg import postgres_schema

T0 = 1_700_000_000.0
CLIENT = "972541234567"


@asynccontextmanager
async def opened(store: str | Path, rules: Path | None = None) -> AsyncIterator[Setup]:
    """A serve config on `store` (and `rules`, else the default rules), its loaded rule book and
    the open store, closed at the end."""
    config = Config.model_validate(
        serve_config(
            account=ACCOUNT,
            gateway_url="http://127.0.0.1:9/unused",
            store=store,
            rules=rules,
            api_key=API_KEY,
            webhook_token=TOKEN,
        )
    )
    rulebook = RuleBook(config.rules, default_region=config.default_region)
    rulebook.load()
    opened_store = await open_store(config.store)
    try:
        yield Setup(config, rulebook, opened_store)
    finally:
        await opened_store.close()


@dataclass(frozen=True)
class Setup:
    config: Config
    rulebook: RuleBook
    store: Store

    def decider(self, now: float) -> Decider:
        return Decider(
            store=self.store,
            rulebook=self.rulebook,
            config=self.config,
            worker_id="w1",
            clock=lambda: now,
        )


async def test_a_message_stamped_in_the_future_counts_from_its_arrival(tmp_path: Path) -> None:
    """The 24 h window runs from the message's stamp, but a clock running ahead on the other
    side must not stretch it: such a message counts from when it reached us."""
    async with opened(tmp_path / "rulebot.db") as setup:
        early = InboundMessage(
            id="m1", client=CLIENT, address=CLIENT, text="hi", type="text", timestamp=T0 - 2
        )
        ahead = InboundMessage(
            id="m2", client=CLIENT, address=CLIENT, text="hi", type="text", timestamp=T0 + 100
        )
        await setup.store.add_inbound(inbox_row(early), T0)
        await setup.store.add_inbound(inbox_row(ahead), T0 + 1)
        assert (await setup.decider(T0 + 600).decide_pending())[0] == 1
        record = await setup.store.client_record(CLIENT, T0 + 600)
        assert record.last_message_at == T0 + 1


async def test_the_log_says_what_matched_and_how(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        'contacts: {courier: {name: Courier, phone: "052-555-0123"}}\n'
        "rules:\n  - {name: delivery, keywords: [shipping], reply: {contact: courier}}\n",
        encoding="utf-8",
    )
    async with opened(tmp_path / "rulebot.db", rules) as setup:
        message = InboundMessage(
            id="m1",
            client=CLIENT,
            address=CLIENT,
            text="was it shipped?",
            type="text",
            timestamp=T0,
        )
        await setup.store.add_inbound(inbox_row(message), T0)
        with caplog.at_level(logging.INFO, logger="rulebot.decider"):
            await setup.decider(T0 + 1).decide_pending()
    (line,) = [r for r in caplog.records if r.getMessage().startswith("decided")]
    assert line.getMessage() == (
        "decided: reply by rule 'delivery': "
        "Rule 'delivery' matched 'shipped', a form of 'shipping'."
    )
    assert line.__dict__["message_id"] == "m1"
    assert CLIENT not in line.getMessage()


@pytest.mark.postgres
async def test_a_round_of_hundreds_of_clients_takes_one_pooled_connection_at_a_time(
    tmp_path: Path,
) -> None:
    """On PostgreSQL the sender and the webhook share the decider's connection pool: a round
    that asked for each client's record and recorded each client in transactions of their
    own, all at once, held every connection while it lasted (sends then waited ~20 ms for a
    connection, twice each, and a kill run could not catch up). One claim reads every
    record, and each slice is recorded in one transaction."""
    async with postgres_schema() as url, opened(url) as setup:
        store = setup.store
        assert isinstance(store, PostgresStore)
        held = most_held = 0
        run = store._run

        async def counted(operation: Any, *args: Any) -> Any:
            nonlocal held, most_held
            held += 1
            most_held = max(most_held, held)
            try:
                return await run(operation, *args)
            finally:
                held -= 1

        clients = [f"97254{n:07d}" for n in range(300)]
        for n, client in enumerate(clients):
            text = "sales please" if n % 2 else "what's the weather?"
            message = InboundMessage(
                id=f"m{n}", client=client, address=client, text=text, type="text", timestamp=T0
            )
            await store.add_inbound(inbox_row(message), T0)
        store._run = counted  # type: ignore[method-assign]
        assert (await setup.decider(T0 + 1).decide_pending())[0] == len(clients)
        store._run = run  # type: ignore[method-assign]
        stats = await store.stats(since=0, now=T0 + 1)
    assert most_held == 1
    assert (stats.inbox_pending, stats.outbox_pending) == (0, len(clients) // 2)
