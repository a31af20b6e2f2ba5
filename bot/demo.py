"""`rulebot demo`: the bot and the sandbox gateway on loopback, a few client messages, a report.

Needs no account and no network: the sandbox plays the provider (it posts the webhooks a real
client's messages would cause and answers Send Contact as the provider does).
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from bot.config import Config, DeliverySettings, GatewaySettings, ServerSettings
from bot.sandbox import SEND_CONTACT_PATH, SandboxGateway
from bot.service import Service, stop_on_signals

DEMO_ACCOUNT = "972500000001"


@dataclass(frozen=True)
class DemoMessage:
    """One simulated client message."""

    number: str
    name: str
    text: str
    group: bool = False


DEMO_MESSAGES = (
    DemoMessage("972521111111", "Noa", "hi, who handles sales?"),
    DemoMessage("972522222222", "Yossi", "אני צריך מכירות"),
    DemoMessage("972523333333", "Maya", "support please"),
    DemoMessage("972524444444", "Avi", "what's the weather like tomorrow?"),
    DemoMessage("972525555555", "Family group", "who do I call for sales?", group=True),
)


def demo_rules_path() -> Path:
    """The embedded demo rule file, shipped inside the package."""
    return Path(str(resources.files("bot") / "defaults" / "demo-rules.yaml"))


def demo_config(*, gateway_url: str, store: Path, api_key: str, token: str, port: int) -> Config:
    """A config for the demo: embedded rules, a temporary store, loopback only."""
    return Config(
        account=DEMO_ACCOUNT,
        gateway=GatewaySettings(url=gateway_url, api_key=SecretStr(api_key), timeout_s=5),
        server=ServerSettings(host="127.0.0.1", port=port, webhook_token=SecretStr(token)),
        rules=demo_rules_path(),
        store=str(store),
        delivery=DeliverySettings(poll_interval_s=0.1),
        log_format="text",
    )


async def start_sandbox(
    *, api_key: str, account: str, port: int = 0, **options: Any
) -> tuple[SandboxGateway, web.AppRunner, str]:
    """Run a sandbox gateway on loopback; returns it, its runner and its base URL."""
    sandbox = SandboxGateway(api_key=api_key, account=account, **options)
    runner = web.AppRunner(sandbox.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return sandbox, runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def run_demo(*, serve: bool = False, port: int = 0, sandbox_port: int = 0) -> int:
    """Run the demo and print what happened. Returns the exit code."""
    api_key = secrets.token_urlsafe(24)
    token = secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="rulebot-demo-") as folder:
        sandbox, sandbox_runner, sandbox_url = await start_sandbox(
            api_key=api_key, account=DEMO_ACCOUNT, port=sandbox_port, status_webhooks=True
        )
        config = demo_config(
            gateway_url=sandbox_url + SEND_CONTACT_PATH,
            store=Path(folder) / "rulebot.db",
            api_key=api_key,
            token=token,
            port=port,
        )
        service = await Service.start(config, watch_rules=False)
        sandbox.webhook_url = service.webhook_url
        try:
            print("rulebot demo: the bot and a local sandbox gateway, no account needed\n")
            print(f"  bot webhook      {service.url}/webhook")
            print(f"  sandbox gateway  {sandbox_url}{SEND_CONTACT_PATH}\n")
            ok = await _play(service, sandbox, sandbox_url)
            if serve:
                stopping = stop_on_signals()
                _print_serve_help(service, sandbox_url)
                await stopping.wait()
            return 0 if ok else 1
        finally:
            await service.stop()
            await sandbox_runner.cleanup()


async def _play(service: Service, sandbox: SandboxGateway, sandbox_url: str) -> bool:
    uniques: list[str] = []
    async with aiohttp.ClientSession() as http:
        for message in DEMO_MESSAGES:
            async with http.post(
                f"{sandbox_url}/clients/{message.number}/messages",
                json={"body": message.text, "name": message.name, "group": message.group},
            ) as response:
                uniques.append((await response.json())["unique"])
    await _settle(service)
    sent = {record["replyTo"]: record for record in sandbox.state.sent}
    ok = True
    for number, (message, unique) in enumerate(zip(DEMO_MESSAGES, uniques, strict=True), 1):
        who = f"group {message.name}" if message.group else f"{message.name} ({message.number})"
        print(f'{number}. {who} wrote: "{message.text}"')
        rows = await service.store.query(
            "SELECT outcome, rule, explanation FROM inbox WHERE message_id = ?", unique
        )
        row = rows[0] if rows else None
        card = sent.get(unique)
        if card is not None:
            print(
                f'   -> replied with the contact card "{card["contact_name"]}" '
                f"({card['contact_phone']}) to {card['to']}, quoting their message {unique[:8]}…"
                f"  [rule: {row['rule'] if row else '?'}]"
            )
        elif row is not None and row["outcome"] != "reply":
            print(f"   -- no reply: {row['explanation']}")
        else:
            ok = False
            print("   !! expected a reply that did not arrive (see the log above)")
        print()
    print(f"What arrived at the gateway (GET {sandbox_url}/sent): {len(sandbox.state.sent)} cards")
    for record in sandbox.state.sent:
        fields = ", ".join(
            f"{key}={record[key]}"
            for key in (
                "to",
                "contact_name",
                "contact_phone",
                "contact_email",
                "website",
                "replyTo",
            )
            if key in record
        )
        print(f"  {fields}")
    return ok


async def _settle(service: Service, timeout_s: float = 15.0) -> None:
    """Wait until every message is decided and every send has an outcome."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stats = await service.store.stats(since=0, now=time.time())
        if not (stats.inbox_pending or stats.outbox_pending or stats.outbox_in_flight):
            await asyncio.sleep(0.2)  # let the sandbox's status webhooks land
            return
        await asyncio.sleep(0.05)


def _print_serve_help(service: Service, sandbox_url: str) -> None:
    print(
        f"""
Both keep running (Ctrl-C stops them).
  Webhook URL for a gateway: {service.webhook_url}

Play a client writing to the business (the sandbox posts the webhook, as the provider does):
  curl -s -X POST {sandbox_url}/clients/972501234567/messages \\
       -H 'Content-Type: application/json' -d '{{"body": "I need a price quote"}}'
Then see what the gateway received:
  curl -s {sandbox_url}/sent
"""
    )
