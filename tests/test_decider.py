"""The decider over a real SQLite store: what it records about a client besides the sends."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import Config
from bot.core.values import InboundMessage
from bot.decider import Decider
from bot.inbox_rows import inbox_row
from bot.rulebook import RuleBook
from bot.store import open_store
from bot.testing import serve_config
from tests.conftest import ACCOUNT, API_KEY, TOKEN

T0 = 1_700_000_000.0
CLIENT = "972541234567"


async def test_a_message_stamped_in_the_future_counts_from_its_arrival(tmp_path: Path) -> None:
    """The 24 h window runs from the message's stamp, but a clock running ahead on the other
    side must not stretch it: such a message counts from when it reached us."""
    config = Config.model_validate(
        serve_config(
            account=ACCOUNT,
            gateway_url="http://127.0.0.1:9/unused",
            store=tmp_path / "rulebot.db",
            api_key=API_KEY,
            webhook_token=TOKEN,
        )
    )
    rulebook = RuleBook(config.rules, default_region=config.default_region)
    rulebook.load()
    store = await open_store(config.store)
    try:
        early = InboundMessage(
            id="m1", client=CLIENT, address=CLIENT, text="hi", type="text", timestamp=T0 - 2
        )
        ahead = InboundMessage(
            id="m2", client=CLIENT, address=CLIENT, text="hi", type="text", timestamp=T0 + 100
        )
        await store.add_inbound(inbox_row(early), T0)
        await store.add_inbound(inbox_row(ahead), T0 + 1)
        decider = Decider(
            store=store, rulebook=rulebook, config=config, worker_id="w1", clock=lambda: T0 + 600
        )
        assert (await decider.decide_pending())[0] == 1
        assert (await store.client_record(CLIENT, T0 + 600)).last_message_at == T0 + 1
    finally:
        await store.close()


async def test_the_log_says_what_matched_and_how(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        'contacts: {courier: {name: Courier, phone: "052-555-0123"}}\n'
        "rules:\n  - {name: delivery, keywords: [shipping], reply: {contact: courier}}\n",
        encoding="utf-8",
    )
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
    try:
        message = InboundMessage(
            id="m1",
            client=CLIENT,
            address=CLIENT,
            text="was it shipped?",
            type="text",
            timestamp=T0,
        )
        await store.add_inbound(inbox_row(message), T0)
        decider = Decider(
            store=store, rulebook=rulebook, config=config, worker_id="w1", clock=lambda: T0 + 1
        )
        with caplog.at_level(logging.INFO, logger="rulebot.decider"):
            await decider.decide_pending()
    finally:
        await store.close()
    (line,) = [r for r in caplog.records if r.getMessage().startswith("decided")]
    assert line.getMessage() == (
        "decided: reply by rule 'delivery': "
        "Rule 'delivery' matched 'shipped', a form of 'shipping'."
    )
    assert line.__dict__["message_id"] == "m1"
    assert CLIENT not in line.getMessage()
