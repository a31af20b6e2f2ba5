"""Shared fixtures: a real sandbox gateway and a real bot on loopback ports, real SQLite files."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, settings

from bot.config import Config
from bot.core import RuleSet, load_rules
from bot.demo import start_sandbox
from bot.sandbox import SEND_CONTACT_PATH, SandboxGateway
from bot.service import Service
from bot.testing import serve_config

# Property tests check behaviour, not speed (benchmarks do that): a busy or shared machine
# must not fail them on hypothesis's per-example deadline or its slow-generation check.
settings.register_profile("rulebot", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("rulebot")

API_KEY = "test-api-key-0123456789"
TOKEN = "test-webhook-token"
ACCOUNT = "972500000001"


@dataclass
class RunningSandbox:
    """A sandbox gateway on a loopback port."""

    gateway: SandboxGateway
    url: str

    @property
    def send_contact_url(self) -> str:
        return self.url + SEND_CONTACT_PATH


@pytest.fixture
async def sandbox() -> AsyncIterator[RunningSandbox]:
    gateway, runner, url = await start_sandbox(api_key=API_KEY, account=ACCOUNT)
    try:
        yield RunningSandbox(gateway, url)
    finally:
        await runner.cleanup()


def rule_book(folder: Path, text: str) -> RuleSet:
    """`text` written as `folder`/book.yaml and loaded the way the server loads it."""
    path = folder / "book.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rules(path)


def make_config(
    tmp_path: Path,
    sandbox: RunningSandbox,
    *,
    rules: Path | None = None,
    store: str | None = None,
    admin_token: str | None = None,
    **delivery: Any,
) -> Config:
    """A config pointing at the sandbox, a SQLite file in tmp_path and a free port (the
    dashboard on when `admin_token` is given; other options are delivery settings)."""
    gateway = {
        "timeout_s": delivery.pop("timeout_s", 2.0),
        "backoff_base_s": delivery.pop("backoff_base_s", 0.01),
        "backoff_max_s": delivery.pop("backoff_max_s", 0.05),
        "max_attempts": delivery.pop("max_attempts", 8),
        "on_uncertain": delivery.pop("on_uncertain", "resend"),
    }
    return Config.model_validate(
        serve_config(
            account=ACCOUNT,
            gateway_url=sandbox.send_contact_url,
            store=store or tmp_path / "rulebot.db",
            rules=rules,
            api_key=API_KEY,
            webhook_token=TOKEN,
            gateway=gateway,
            delivery=delivery,
            admin_token=admin_token,
        )
    )


class Clock:
    """An injectable clock: real time plus an offset the test moves."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Bot:
    """A running bot wired to a running sandbox, with helpers to play clients."""

    service: Service
    sandbox: RunningSandbox
    http: aiohttp.ClientSession
    clock: Clock

    async def client_writes(self, number: str, text: str, **fields: Any) -> str:
        """A client writes to the business: the sandbox posts the webhook. Returns the id."""
        async with self.http.post(
            f"{self.sandbox.url}/clients/{number}/messages", json={"body": text, **fields}
        ) as response:
            answer = await response.json()
            assert answer["webhook_status"] == 200, answer
            return str(answer["unique"])

    async def post_webhook(
        self, payload: Any, *, token: str | None = TOKEN, **kw: Any
    ) -> aiohttp.ClientResponse:
        """POST a raw webhook body to the bot (the response is read and released)."""
        params = {"token": token} if token is not None else {}
        kw.setdefault("json", payload)
        async with self.http.post(f"{self.service.url}/webhook", params=params, **kw) as response:
            await response.read()
            return response

    async def settle(self, timeout_s: float = 10.0) -> None:
        """Wait until nothing is waiting in the inbox or the outbox."""
        await wait_until(self._idle, timeout_s=timeout_s)

    async def _idle(self) -> bool:
        stats = await self.service.store.stats(since=0, now=self.clock())
        return not (stats.inbox_pending or stats.outbox_pending or stats.outbox_in_flight)

    @property
    def sent(self) -> list[dict[str, Any]]:
        return self.sandbox.gateway.state.sent


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, timeout_s: float = 10.0, interval_s: float = 0.02
) -> None:
    """Poll an async condition until it holds; fail the test after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bot_factory(
    tmp_path: Path, sandbox: RunningSandbox, clock: Clock
) -> AsyncIterator[Callable[..., Awaitable[Bot]]]:
    """Start bots wired to the sandbox (options go to make_config); all stopped at the end."""
    started: list[Bot] = []

    async def start(**options: Any) -> Bot:
        config = options.pop("config", None) or make_config(tmp_path, sandbox, **options)
        service = await Service.start(config, clock=clock, watch_rules=False)
        sandbox.gateway.webhook_url = service.webhook_url
        bot = Bot(service, sandbox, aiohttp.ClientSession(), clock)
        started.append(bot)
        return bot

    yield start
    for running in started:
        await running.http.close()
        await running.service.stop()


@pytest.fixture
async def bot(bot_factory: Callable[..., Awaitable[Bot]]) -> Bot:
    """A bot on the demo rules, wired to the sandbox."""
    return await bot_factory()


__all__ = [
    "ACCOUNT",
    "API_KEY",
    "TOKEN",
    "Bot",
    "Clock",
    "RunningSandbox",
    "make_config",
    "wait_until",
]
