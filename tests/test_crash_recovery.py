"""A real `rulebot serve` process killed with SIGKILL again and again during a long run.

Nothing acknowledged may be lost: after the last restart every matching message has its card.
A card may go out twice only when its send was in flight at a kill (the process cannot know
whether the gateway got it), and such sends are counted (outbox.possible_duplicate).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from bot.demo import start_sandbox
from bot.sandbox import SEND_CONTACT_PATH
from bot.testing import serve_config, write_serve_config
from tests.conftest import ACCOUNT, API_KEY
from tests.serve_process import ServeProcess, free_port

MESSAGES = 2000
KILLS = 6
UNMATCHED_EVERY = 10  # every tenth message matches no rule


def write_config(folder: Path, *, port: int, gateway_url: str) -> Path:
    settings = serve_config(
        account=ACCOUNT,
        gateway_url=gateway_url,
        store=folder / "rulebot.db",
        port=port,
        gateway={
            "timeout_s": 2,
            "backoff_base_s": 0.05,
            "backoff_max_s": 0.5,
            "max_attempts": 50,
            # One send in flight at a time: a kill can leave at most one send uncertain.
            "concurrency": 1,
        },
        delivery={"max_replies_per_hour": 100},
        log_format="text",
        log_level="WARNING",
    )
    return write_serve_config(folder / "config.yaml", settings)


async def deliver(http: aiohttp.ClientSession, url: str, payload: dict[str, object]) -> None:
    """Post a webhook until it is acknowledged, as the provider retries a failed delivery."""
    while True:
        try:
            async with http.post(url, json=payload, timeout=aiohttp.ClientTimeout(total=5)) as r:
                if r.status == 200:
                    return
        except (TimeoutError, aiohttp.ClientError):
            pass
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    sandbox, runner, sandbox_url = await start_sandbox(api_key=API_KEY, account=ACCOUNT)
    port = free_port()
    config = write_config(tmp_path, port=port, gateway_url=sandbox_url + SEND_CONTACT_PATH)
    bot = ServeProcess(config, port=port, log=tmp_path / "bot.log")
    webhook = bot.webhook
    payloads = [
        sandbox.client_message_payload(
            f"97254{n:07d}",
            {"body": "what's the weather?" if n % UNMATCHED_EVERY == 0 else f"sales please #{n}"},
        )
        for n in range(MESSAGES)
    ]
    matching = {str(p["unique"]) for n, p in enumerate(payloads) if n % UNMATCHED_EVERY}
    rng = random.Random(20261125)
    bot.start()
    try:
        async with aiohttp.ClientSession() as http:
            queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
            for payload in payloads:
                queue.put_nowait(payload)

            async def producer() -> None:
                while not queue.empty():
                    await deliver(http, webhook, queue.get_nowait())

            producers = [asyncio.create_task(producer()) for _ in range(16)]
            kills = 0
            while kills < KILLS:
                await asyncio.sleep(rng.uniform(0.4, 1.6))
                bot.kill()
                kills += 1
                bot.start()
            await asyncio.gather(*producers)

            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                answered = {s["replyTo"] for s in sandbox.state.sent}
                if matching <= answered:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)  # anything left in flight lands now, or never
        exit_code = bot.stop()
        assert exit_code == 0, bot.log_tail()
    finally:
        if bot.running:
            bot.kill()
        await runner.cleanup()

    cards = Counter(s["replyTo"] for s in sandbox.state.sent)
    lost = matching - set(cards)
    duplicates = sum(count - 1 for count in cards.values())
    with sqlite3.connect(tmp_path / "rulebot.db") as db:
        (uncertain,) = db.execute(
            "SELECT COUNT(*) FROM outbox WHERE possible_duplicate = 1"
        ).fetchone()
        (stored,) = db.execute("SELECT COUNT(*) FROM inbox").fetchone()
    print(
        f"\nkill run: {MESSAGES} messages ({len(matching)} matching), {KILLS} kills, "
        f"{len(lost)} lost, {duplicates} duplicates, {uncertain} sends uncertain at a kill"
    )
    assert stored == MESSAGES
    assert not lost
    assert set(cards) <= matching  # nothing answered that should not be
    assert max(cards.values()) <= 2
    assert duplicates <= uncertain <= KILLS
