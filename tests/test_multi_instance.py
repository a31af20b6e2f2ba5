"""Three real `rulebot serve` processes behind a (simulated) load balancer, sharing PostgreSQL.

The test plays both the provider and the load balancer: it posts each client's webhook to the
instances round-robin, moving on to the next instance when one does not answer (as nginx's
`proxy_next_upstream` does), and retrying until one acknowledges it (as the provider does).
Midway one instance is killed with SIGKILL, and started again a little later. In the end every
message is answered exactly once; a card may go out twice only when its send was in flight at
the kill, and such sends are counted (outbox.possible_duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.demo import start_sandbox
from bot.sandbox import SEND_CONTACT_PATH, SandboxGateway
from bot.store.postgres import PostgresStore
from bot.testing import serve_config, write_serve_config
from tests.conftest import ACCOUNT, API_KEY
from tests.pg import postgres_schema
from tests.serve_process import ServeProcess, free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

INSTANCES = 3
MESSAGES = 3000
SAME_TO_ALL = 30  # messages posted to every instance at once (a retried webhook)
UNMATCHED_EVERY = 10  # every tenth message matches no rule
KILL_AT = 0.4  # share of messages acknowledged when one instance is killed
RESTART_AFTER_S = 2.0
POSTERS = 24  # webhooks in flight at once
DEADLINE_S = 60.0


def write_config(folder: Path, *, port: int, gateway_url: str, store_url: str) -> Path:
    settings = serve_config(
        account=ACCOUNT,
        gateway_url=gateway_url,
        store=store_url,
        port=port,
        gateway={
            "timeout_s": 2,
            "backoff_base_s": 0.05,
            "backoff_max_s": 0.5,
            "max_attempts": 50,
            "concurrency": 8,
        },
        # A dead instance's claims lapse quickly and the others take its work over.
        delivery={"max_replies_per_hour": 100, "lease_s": 3},
        log_format="text",
        log_level="WARNING",
    )
    return write_serve_config(folder / f"instance-{port}.yaml", settings)


class LoadBalancer:
    """Round-robin over the instances; an instance that does not answer is skipped."""

    def __init__(self, http: aiohttp.ClientSession, instances: list[ServeProcess]) -> None:
        self._http = http
        self._instances = instances
        self._next = 0
        self.acknowledged = 0
        self.per_instance: Counter[int] = Counter()

    async def deliver(self, payload: dict[str, Any]) -> None:
        """Post until an instance acknowledges it, as the provider retries a failed webhook;
        fails the test when none does within DEADLINE_S (a dead bot must not hang CI)."""
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            instance = self._instances[self._next % len(self._instances)]
            self._next += 1
            if await post(self._http, instance.webhook, payload):
                self.acknowledged += 1
                self.per_instance[instance.port] += 1
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"no instance acknowledged webhook {payload.get('unique')}")


async def post(http: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> bool:
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        async with http.post(url, json=payload, timeout=aiohttp.ClientTimeout(total=5)) as r:
            await r.read()
            return r.status == 200
    return False


@pytest.fixture
async def store_url() -> AsyncIterator[str]:
    async with postgres_schema() as url:
        yield url


def client_payloads(sandbox: SandboxGateway) -> tuple[list[dict[str, Any]], set[str]]:
    """One message per client (the sandbox opens each client's 24 h window), and the ids that
    must be answered."""
    payloads = [
        sandbox.client_message_payload(
            f"97255{n:07d}",
            {"body": "what's the weather?" if n % UNMATCHED_EVERY == 0 else f"sales please #{n}"},
        )
        for n in range(MESSAGES)
    ]
    matching = {str(p["unique"]) for n, p in enumerate(payloads) if n % UNMATCHED_EVERY}
    return payloads, matching


async def test_three_instances_answer_every_message_once_through_a_kill(
    tmp_path: Path, store_url: str
) -> None:
    started = time.monotonic()
    sandbox, runner, sandbox_url = await start_sandbox(api_key=API_KEY, account=ACCOUNT)
    observer = await PostgresStore.open(store_url)  # migrates before the instances start
    instances = []
    for n in range(INSTANCES):
        port = free_port()
        config = write_config(
            tmp_path, port=port, gateway_url=sandbox_url + SEND_CONTACT_PATH, store_url=store_url
        )
        instances.append(ServeProcess(config, port=port, log=tmp_path / f"instance-{n}.log"))
    payloads, matching = client_payloads(sandbox)
    same_to_all, spread = payloads[:SAME_TO_ALL], payloads[SAME_TO_ALL:]
    victim = instances[1]
    kills = 0
    try:
        for instance in instances:
            instance.start()
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(*(instance.wait_up(http) for instance in instances))
            balancer = LoadBalancer(http, instances)

            # A retried webhook reaching every instance at once is stored and answered once.
            for payload in same_to_all:
                answers = await asyncio.gather(*(post(http, i.webhook, payload) for i in instances))
                assert all(answers)

            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            for payload in spread:
                queue.put_nowait(payload)

            async def poster() -> None:
                while not queue.empty():
                    await balancer.deliver(queue.get_nowait())

            posters = [asyncio.create_task(poster()) for _ in range(POSTERS)]
            ramp_deadline = time.monotonic() + DEADLINE_S
            while balancer.acknowledged < KILL_AT * len(spread):
                assert time.monotonic() < ramp_deadline, "webhooks stopped being acknowledged"
                await asyncio.sleep(0.01)
            victim.kill()
            kills += 1
            await asyncio.sleep(RESTART_AFTER_S)
            victim.start()
            await asyncio.wait_for(asyncio.gather(*posters), timeout=DEADLINE_S)
            posted_at = time.monotonic()

            deadline = time.monotonic() + DEADLINE_S
            while time.monotonic() < deadline:
                stats = await observer.stats(since=0, now=time.time())
                busy = stats.inbox_pending + stats.outbox_pending + stats.outbox_in_flight
                if not busy and matching <= {s["replyTo"] for s in sandbox.state.sent}:
                    break
                await asyncio.sleep(0.2)
            settled_at = time.monotonic()
            await asyncio.sleep(0.5)  # anything still in flight lands now, or never
        exit_codes = [instance.stop() for instance in instances]
        assert exit_codes == [0] * INSTANCES, [i.log_tail() for i in instances]

        cards = Counter(s["replyTo"] for s in sandbox.state.sent)
        lost = matching - set(cards)
        duplicates = sum(count - 1 for count in cards.values())
        (row,) = await observer.query(
            "SELECT COUNT(*) AS stored, "
            "(SELECT COUNT(*) FROM outbox WHERE possible_duplicate = ?) AS uncertain FROM inbox",
            1,
        )
        print(
            f"\nmulti-instance run: {INSTANCES} instances, {MESSAGES} messages "
            f"({len(matching)} matching, {SAME_TO_ALL} posted to all {INSTANCES} instances), "
            f"{kills} kill (SIGKILL, restarted after {RESTART_AFTER_S:g} s), {len(lost)} lost, "
            f"{duplicates} duplicates, {row['uncertain']} sends uncertain at the kill; "
            f"posted in {posted_at - started:.1f} s, settled {settled_at - posted_at:.1f} s later; "
            f"webhooks acknowledged per instance: {sorted(balancer.per_instance.values())}"
        )
        assert row["stored"] == MESSAGES
        assert not lost
        assert set(cards) <= matching  # nothing answered that should not be
        assert all(
            cards[str(p["unique"])] == 1 for p in same_to_all if str(p["unique"]) in matching
        )
        assert duplicates <= row["uncertain"]
        assert max(cards.values()) <= 2
    finally:
        for instance in instances:
            if instance.running:
                instance.kill()
        await observer.close()
        await runner.cleanup()
