"""`rulebot serve` against `rulebot sandbox --odd-answers all --accept-delay S`, both real child
processes: every OK, however odd, is sent once and counted; a 200 that is not JSON and an
answer later than the bot's timeout are uncertain, counted, and (with on_uncertain: skip)
never sent again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.sandbox import ODD_ANSWERS, SEND_CONTACT_PATH
from bot.testing import serve_config, write_serve_config
from tests.conftest import ACCOUNT, API_KEY
from tests.serve_process import ServeProcess, free_port

DEADLINE_S = 60.0


@contextlib.asynccontextmanager
async def sandbox_process(
    tmp_path: Path, webhook: str, *options: str
) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """`rulebot sandbox` on a free loopback port; yields its URL and a session to drive it."""
    port = free_port()
    command = [sys.executable, "-m", "bot", "sandbox", "--port", str(port), "--api-key", API_KEY,
               "--account", ACCOUNT, "--webhook", webhook, *options]  # fmt: skip
    with (tmp_path / "sandbox.log").open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + DEADLINE_S
            while time.monotonic() < deadline:
                assert process.poll() is None, (tmp_path / "sandbox.log").read_text()
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{url}/stats") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.05)
            yield url, http
    finally:
        process.terminate()
        process.wait(timeout=10)


async def run_against_odd_sandbox(
    tmp_path: Path, *, on_uncertain: str, sandbox_options: tuple[str, ...], timeout_s: float
) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]], str]:
    port = free_port()
    webhook = f"http://127.0.0.1:{port}/webhook?token=test-webhook-token"
    async with sandbox_process(tmp_path, webhook, *sandbox_options) as (sandbox_url, http):
        settings = serve_config(
            account=ACCOUNT,
            gateway_url=sandbox_url + SEND_CONTACT_PATH,
            store=tmp_path / "rulebot.db",
            port=port,
            gateway={
                "timeout_s": timeout_s,
                "max_attempts": 3,
                "backoff_base_s": 0.05,
                "backoff_max_s": 0.1,
                "on_uncertain": on_uncertain,
            },
            log_format="text",
            log_level="WARNING",
        )
        config = write_serve_config(tmp_path / "config.yaml", settings)
        bot = ServeProcess(config, port=port, log=tmp_path / "bot.log")
        bot.start()
        try:
            await bot.wait_up(http, timeout_s=DEADLINE_S)
            for n in range(len(ODD_ANSWERS)):
                async with http.post(
                    f"{sandbox_url}/clients/97254000000{n}/messages", json={"body": "sales"}
                ) as response:
                    assert (await response.json())["webhook_status"] == 200
            db = tmp_path / "rulebot.db"

            def settled() -> bool:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                    (busy,) = conn.execute(
                        "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')"
                    ).fetchone()
                    (total,) = conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
                return busy == 0 and total == len(ODD_ANSWERS)

            deadline = time.monotonic() + DEADLINE_S
            while not settled():
                assert time.monotonic() < deadline, bot.log_tail()
                await asyncio.sleep(0.1)
            await asyncio.sleep(max(0.5, 2 * timeout_s))  # a late answer would land by now
            async with http.get(f"{sandbox_url}/sent") as response:
                sent = await response.json()
            status = subprocess.run(
                [sys.executable, "-m", "bot", "status", "--config", str(config)],
                capture_output=True, text=True, timeout=DEADLINE_S, check=True,
                env={**os.environ, "RULEBOT_API_KEY": API_KEY,
                     "RULEBOT_WEBHOOK_TOKEN": "test-webhook-token"},
            ).stdout  # fmt: skip
            assert await bot.stop_async() == 0
        finally:
            if bot.running:
                bot.kill()
    with sqlite3.connect(tmp_path / "rulebot.db") as conn:
        rows = conn.execute(
            "SELECT reply_to, state, possible_duplicate, warning FROM outbox ORDER BY id"
        ).fetchall()
    return sent, rows, status


@pytest.mark.slow
async def test_odd_answers_are_accepted_once_and_a_non_json_200_is_uncertain(
    tmp_path: Path,
) -> None:
    sent, rows, status = await run_against_odd_sandbox(
        tmp_path, on_uncertain="skip", sandbox_options=("--odd-answers", "all"), timeout_s=2.0
    )
    # The sandbox answers its n-th accepted send the n-th odd way: one of each.
    assert len(sent) == len(ODD_ANSWERS)  # nothing sent twice
    by_card = {row[0]: row for row in rows}
    states = [by_card[record["replyTo"]][1] for record in sent]
    assert states == ["sent", "sent", "sent", "sent", "uncertain"]
    warnings = [by_card[record["replyTo"]][3] for record in sent]
    assert [bool(w) for w in warnings] == [True, True, True, False, False]
    assert "       4  sent (accepted by the gateway)" in status
    assert "       1  uncertain sends" in status
    assert "       3  accepted with a warning" in status


@pytest.mark.slow
async def test_an_acceptance_later_than_the_timeout_is_resent_and_counted(
    tmp_path: Path,
) -> None:
    sent, rows, status = await run_against_odd_sandbox(
        tmp_path, on_uncertain="resend", sandbox_options=("--accept-delay", "1.5"), timeout_s=1.0
    )
    # Every try is accepted and answered late: each card goes out max_attempts times, and
    # each send ends uncertain, counted.
    assert len(sent) == 3 * len(ODD_ANSWERS)
    assert all(row[1:3] == ("uncertain", 1) for row in rows)
    assert f"       {len(ODD_ANSWERS)}  uncertain sends" in status
