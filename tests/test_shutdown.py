"""`rulebot serve` as a real process: SIGTERM while a send is in flight finishes that send,
records it, and exits 0 in bounded time; its JSON logs keep secrets and numbers out."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import pytest

from bot.sandbox import FaultPlan
from bot.testing import serve_config, write_serve_config
from tests.conftest import ACCOUNT, API_KEY, TOKEN, RunningSandbox, wait_until
from tests.serve_process import ServeProcess, free_port, rulebot_command

CLIENT = "972541234567"
#: the gateway holds the accepted send this long before answering (fault `slow_accept`)
SLOW_ACCEPT_S = 2.0
#: SIGTERM to exit, with a send of SLOW_ACCEPT_S in flight
EXIT_BOUND_S = SLOW_ACCEPT_S + 8.0


@dataclass
class Served:
    """The running `rulebot serve` and its SQLite file."""

    serve: ServeProcess
    store: Path


@pytest.fixture
async def served(tmp_path: Path, sandbox: RunningSandbox) -> AsyncIterator[Served]:
    port = free_port()
    store = tmp_path / "rulebot.db"
    config = write_serve_config(
        tmp_path / "config.yaml",
        serve_config(
            account=ACCOUNT,
            gateway_url=sandbox.send_contact_url,
            store=store,
            port=port,
            gateway={"timeout_s": 10},
            server={"host": "127.0.0.1"},
            log_format="json",
        ),
    )
    running = Served(
        ServeProcess(config, port=port, log=tmp_path / "serve.log", program=rulebot_command()),
        store,
    )
    sandbox.gateway.webhook_url = running.serve.webhook
    running.serve.start()
    try:
        async with aiohttp.ClientSession() as http:
            await running.serve.wait_up(http)
        yield running
    finally:
        if running.serve.running:
            running.serve.kill()


async def stop_and_wait(running: Served, bound_s: float) -> tuple[int, float, str]:
    """SIGTERM, then wait for the exit; returns (exit code, seconds, stderr)."""
    started = time.monotonic()
    code = await running.serve.stop_async(timeout_s=bound_s)
    return code, time.monotonic() - started, running.serve.log_text()


async def test_sigterm_with_a_send_in_flight_finishes_it_and_exits_0(
    served: Served, sandbox: RunningSandbox
) -> None:
    sandbox.gateway.faults = FaultPlan(rate=1.0, kinds=("slow_accept",), delay_s=SLOW_ACCEPT_S)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sandbox.url}/clients/{CLIENT}/messages", json={"body": "sales please"}
        ) as response,
    ):
        unique = (await response.json())["unique"]

    async def in_flight() -> bool:
        return bool(sandbox.gateway.state.sent)

    await wait_until(in_flight, timeout_s=10)  # the gateway has it and is slow to answer
    code, took, stderr = await stop_and_wait(served, EXIT_BOUND_S)

    assert code == 0, stderr[-2000:]
    assert SLOW_ACCEPT_S / 2 < took < EXIT_BOUND_S  # it did wait for the gateway's answer
    with sqlite3.connect(served.store) as db:
        rows = db.execute("SELECT state, gateway_unique, reply_to FROM outbox").fetchall()
    accepted = sandbox.gateway.state.sent[0]["unique"]
    assert rows == [("sent", accepted, unique)]

    lines = [orjson.loads(line) for line in stderr.splitlines() if line.strip()]
    messages = [line["msg"] for line in lines]
    assert "shutting down: finishing sends in flight" in messages
    assert messages[-1] == "stopped"
    assert any(line.get("message_id") == unique for line in lines)
    assert not [line for line in lines if line["level"] in ("ERROR", "CRITICAL")]
    assert CLIENT not in stderr
    assert TOKEN not in stderr
    assert API_KEY not in stderr


async def test_sigterm_when_idle_exits_0_at_once(served: Served) -> None:
    code, took, stderr = await stop_and_wait(served, 5.0)
    assert code == 0, stderr[-2000:]
    assert took < 5.0
