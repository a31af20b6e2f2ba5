"""A real `rulebot serve` process killed with SIGKILL again and again during a long run, on SQLite
and on PostgreSQL.

Each kill is aimed at one moment of a message's life and checked, from the store and the
sandbox, to have landed there: while webhooks were being acknowledged, while the decider held
clients it had not finished, while a Send Contact was at the gateway, and after the gateway
accepted a send but before the bot recorded it. A process is killed only once it is up.

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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot.demo import start_sandbox
from bot.sandbox import SEND_CONTACT_PATH, SandboxGateway
from bot.testing import serve_config, write_serve_config
from tests.conftest import ACCOUNT, API_KEY
from tests.pg import postgres_schema
from tests.serve_process import ServeProcess, free_port

MESSAGES = 5000
KILLS = 32
UNMATCHED_EVERY = 10  # every tenth message matches no rule
#: the moments kills are aimed at, in turn
MOMENTS = ("ack", "decide", "send", "mark_done")
#: no step of the run may take longer than this (a dead bot fails the test, never hangs it)
STEP_DEADLINE_S = 60.0
RUN_DEADLINE_S = 600.0
DRAIN_DEADLINE_S = 300.0

#: clients a decider claimed whose messages it has not decided yet
MID_DECISION = (
    "SELECT DISTINCT c.claimed_by FROM clients c WHERE c.claimed_by IS NOT NULL "
    "AND EXISTS (SELECT 1 FROM inbox i WHERE i.client = c.client AND i.state = 'pending')"
)

Query = Callable[[str], Awaitable[list[tuple[Any, ...]]]]


def write_config(folder: Path, *, port: int, gateway_url: str, store: str) -> Path:
    settings = serve_config(
        account=ACCOUNT,
        gateway_url=gateway_url,
        store=store,
        port=port,
        gateway={
            "timeout_s": 5,
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


@dataclass
class Producers:
    """Clients' webhooks posted by 16 concurrent senders, each retried until acknowledged (as
    the provider retries), with a deadline. Counts requests cut off mid-way by a kill."""

    http: aiohttp.ClientSession
    url: str
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    open_posts: int = 0
    cut_off: int = 0  #: requests the bot had taken and died answering

    async def run(self) -> None:
        while not self.queue.empty():
            await self._deliver(self.queue.get_nowait())

    async def _deliver(self, payload: dict[str, Any]) -> None:
        deadline = time.monotonic() + STEP_DEADLINE_S
        while time.monotonic() < deadline:
            self.open_posts += 1
            try:
                async with self.http.post(
                    self.url, json=payload, timeout=aiohttp.ClientTimeout(total=5)
                ) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectorError:
                pass  # nobody listening: the bot is down
            except (TimeoutError, aiohttp.ClientError):
                self.cut_off += 1  # connected, then the answer never came: killed mid-request
            finally:
                self.open_posts -= 1
            await asyncio.sleep(0.05)
        raise AssertionError(f"webhook {payload['unique']} not acknowledged in time")


@dataclass
class KillLog:
    """Where each kill landed, as the store and the sandbox show it right after it."""

    landed: Counter[str] = field(default_factory=Counter)
    #: (card, try) of every send a kill found in flight (the gateway may have had it)
    caught: set[tuple[str, int]] = field(default_factory=set)
    #: claims seen at earlier kills (PostgreSQL keeps a dead process's until they lapse)
    claims: set[str] = field(default_factory=set)
    kills: int = 0


async def _fresh_claims(query: Query, log: KillLog) -> set[str]:
    """Claims on clients with messages not decided yet, other than earlier kills left."""
    return {str(row[0]) for row in await query(MID_DECISION) if row[0]} - log.claims


async def wait_for(condition: Callable[[], Awaitable[bool]], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.001)
    return False


async def aim_and_kill(
    moment: str, bot: ServeProcess, sandbox: SandboxGateway, query: Query, log: KillLog
) -> str | None:
    """Wait for `moment` (a few seconds at most), then SIGKILL the bot. Returns the gateway's
    side of the kill: "send" (a Send Contact was open, not yet answered), "mark_done" (the
    gateway had just written its OK), or None."""
    at_gateway = None
    if moment == "decide":

        async def deciding() -> bool:
            return bool(await _fresh_claims(query, log))

        if await wait_for(deciding, 5.0):
            bot.kill()
    elif moment == "send":
        sandbox.accept_delay_s = 0.2  # a send stays at the gateway long enough to be caught
        try:
            if await wait_for(_sandbox_busy(sandbox), 5.0):
                bot.kill()
                at_gateway = "send"
        finally:
            sandbox.accept_delay_s = 0.0
    elif moment == "mark_done":
        sandbox.after_answer = lambda record: bot.kill()  # the gateway accepted; now the crash
        try:
            if await wait_for(_killed(bot), 5.0):
                at_gateway = "mark_done"
        finally:
            sandbox.after_answer = None
    if bot.running:  # "ack", or a moment that did not come: kill now, webhooks are arriving
        bot.kill()
    return at_gateway


def _sandbox_busy(sandbox: SandboxGateway) -> Callable[[], Awaitable[bool]]:
    async def busy() -> bool:
        return sandbox.open_sends > 0

    return busy


def _killed(bot: ServeProcess) -> Callable[[], Awaitable[bool]]:
    async def dead() -> bool:
        return not bot.running

    return dead


async def where_it_landed(
    at_gateway: str | None, sandbox: SandboxGateway, query: Query, cut: int, log: KillLog
) -> set[str]:
    """The moments the kill caught, as what it left behind shows: requests cut off mid-way
    (`cut`), clients claimed and not finished, a send left `sending` in the outbox while the
    gateway held it unanswered, or one the gateway had accepted."""
    landed = {"ack"} if cut else set()
    fresh = await _fresh_claims(query, log)
    if fresh:
        landed.add("decide")
        log.claims |= fresh
    sending = {row[0] for row in await query("SELECT reply_to FROM outbox WHERE state = 'sending'")}
    accepted = {str(record["replyTo"]) for record in sandbox.state.sent}
    if at_gateway == "send" and sending:
        landed.add("send")
    if at_gateway == "mark_done" and sending & accepted:
        landed.add("mark_done")
    return landed


async def kill_run(tmp_path: Path, store: str, query: Query) -> None:
    sandbox, runner, sandbox_url = await start_sandbox(
        api_key=API_KEY, account=ACCOUNT, webhook_retries=False
    )
    port = free_port()
    config = write_config(
        tmp_path, port=port, gateway_url=sandbox_url + SEND_CONTACT_PATH, store=store
    )
    bot = ServeProcess(config, port=port, log=tmp_path / "bot.log")
    payloads = [
        sandbox.client_message_payload(
            f"97254{n:07d}",
            {"body": "what's the weather?" if n % UNMATCHED_EVERY == 0 else f"sales please #{n}"},
        )
        for n in range(MESSAGES)
    ]
    matching = {str(p["unique"]) for n, p in enumerate(payloads) if n % UNMATCHED_EVERY}
    rng = random.Random(20261125)
    log = KillLog()
    started = time.monotonic()
    bot.start()
    try:
        async with aiohttp.ClientSession() as http:
            producers = Producers(http, bot.webhook)
            for payload in payloads:
                producers.queue.put_nowait(payload)
            await bot.wait_up(http, timeout_s=STEP_DEADLINE_S)
            senders = [asyncio.create_task(producers.run()) for _ in range(16)]
            while log.kills < KILLS:
                assert time.monotonic() - started < RUN_DEADLINE_S, "the kill run took too long"
                await asyncio.sleep(rng.uniform(0.05, 0.3))  # let work pile up after the start
                cut_before = producers.cut_off
                at_gateway = await aim_and_kill(MOMENTS[log.kills % 4], bot, sandbox, query, log)
                log.kills += 1
                await asyncio.sleep(0.05)  # requests cut off by the kill see their reset
                cut = producers.cut_off - cut_before
                log.landed.update(await where_it_landed(at_gateway, sandbox, query, cut, log))
                # One try caught by a kill, however many kills find it (PostgreSQL leaves a
                # dead process's send `sending` until its lease lapses).
                for card, attempt in await query(
                    "SELECT reply_to, attempts FROM outbox WHERE state = 'sending'"
                ):
                    log.caught.add((str(card), int(attempt)))
                bot.start()
                await bot.wait_up(http, timeout_s=STEP_DEADLINE_S)  # never kill a starting bot
            await asyncio.wait_for(asyncio.gather(*senders), timeout=RUN_DEADLINE_S)

            async def all_answered() -> bool:
                return matching <= {s["replyTo"] for s in sandbox.state.sent}

            # Sends go one at a time (concurrency 1): the last ones may take a while to drain.
            if not await wait_for(all_answered, DRAIN_DEADLINE_S):
                missing = matching - {s["replyTo"] for s in sandbox.state.sent}
                inbox = await query("SELECT state, outcome, COUNT(*) FROM inbox GROUP BY 1, 2")
                outbox = await query("SELECT state, error, COUNT(*) FROM outbox GROUP BY 1, 2")
                raise AssertionError(
                    f"{len(missing)} cards missing after the run; inbox {inbox}; outbox "
                    f"{outbox}; log: {bot.log_tail(1500)}"
                )
            await asyncio.sleep(0.5)  # anything left in flight lands now, or never
        exit_code = await bot.stop_async()
        assert exit_code == 0, bot.log_tail()
        flagged = await query("SELECT reply_to FROM outbox WHERE possible_duplicate = 1")
        uncertain = {str(row[0]) for row in flagged}
        stored = (await query("SELECT COUNT(*) FROM inbox"))[0][0]
    finally:
        if bot.running:
            bot.kill()
        await runner.cleanup()

    cards = Counter(s["replyTo"] for s in sandbox.state.sent)
    lost = matching - set(cards)
    duplicates = sum(count - 1 for count in cards.values())
    print(
        f"\nkill run ({'postgresql' if '://' in store else 'sqlite'}): {MESSAGES} messages "
        f"({len(matching)} matching), "
        f"{log.kills} kills landing in {dict(log.landed)}, {len(lost)} lost, "
        f"{duplicates} duplicates, {len(uncertain)} sends uncertain at a kill"
    )
    assert stored == MESSAGES
    assert not lost
    assert set(cards) <= matching  # nothing answered that should not be
    # A card goes out again only for a kill that caught its send in flight, and is counted.
    caught = Counter(card for card, _ in log.caught)
    assert all(count - 1 <= caught[card] for card, count in cards.items()), (cards, log)
    assert {card for card, count in cards.items() if count > 1} <= uncertain, log
    # Uncertain sends: those a kill caught in flight, and any whose answer was late (a slow
    # machine), each logged as such.
    late = bot.log_text().count("may have accepted the send")
    assert len(log.caught) <= log.kills, log  # one send at a time
    assert len(uncertain) <= log.kills + late, (len(uncertain), log, late)
    # Every moment of a message's life was hit by some kill.
    assert all(log.landed[moment] >= 1 for moment in MOMENTS), dict(log.landed)


@asynccontextmanager
async def sqlite_store(folder: Path) -> AsyncIterator[tuple[str, Query]]:
    path = folder / "rulebot.db"

    async def query(sql: str) -> list[tuple[Any, ...]]:
        if not path.exists():
            return [(0,)]
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            try:
                return db.execute(sql).fetchall()
            except sqlite3.OperationalError:  # not migrated yet
                return [(0,)]

    yield str(path), query


@asynccontextmanager
async def postgres_store() -> AsyncIterator[tuple[str, Query]]:
    async with postgres_schema() as url:
        conn = await asyncpg.connect(url)

        async def query(sql: str) -> list[tuple[Any, ...]]:
            try:
                return [tuple(row) for row in await conn.fetch(sql)]
            except asyncpg.UndefinedTableError:  # not migrated yet
                return [(0,)]

        try:
            yield url, query
        finally:
            await conn.close()


@pytest.mark.slow
async def test_sigkill_at_every_moment_loses_nothing_on_sqlite(tmp_path: Path) -> None:
    async with sqlite_store(tmp_path) as (store, query):
        await kill_run(tmp_path, store, query)


@pytest.mark.slow
async def test_sigkill_at_every_moment_loses_nothing_on_postgres(tmp_path: Path) -> None:
    async with postgres_store() as (store, query):
        await kill_run(tmp_path, store, query)


async def test_with_on_uncertain_skip_a_send_in_flight_at_a_kill_is_never_sent_again(
    tmp_path: Path,
) -> None:
    sandbox, runner, sandbox_url = await start_sandbox(api_key=API_KEY, account=ACCOUNT)
    port = free_port()
    settings = serve_config(
        account=ACCOUNT,
        gateway_url=sandbox_url + SEND_CONTACT_PATH,
        store=tmp_path / "rulebot.db",
        port=port,
        gateway={"timeout_s": 10, "on_uncertain": "skip"},
        log_format="text",
        log_level="WARNING",
    )
    bot = ServeProcess(
        write_serve_config(tmp_path / "config.yaml", settings), port=port, log=tmp_path / "log"
    )
    async with sqlite_store(tmp_path) as (_, query):
        try:
            async with aiohttp.ClientSession() as http:
                bot.start()
                await bot.wait_up(http, timeout_s=STEP_DEADLINE_S)
                sandbox.webhook_url = bot.webhook
                sandbox.accept_delay_s = 5.0  # accepted, and the answer never reaches the bot
                async with http.post(
                    f"{sandbox_url}/clients/972541234567/messages", json={"body": "sales"}
                ) as response:
                    assert (await response.json())["webhook_status"] == 200
                assert await wait_for(_sandbox_busy(sandbox), STEP_DEADLINE_S)
                bot.kill()
                sandbox.accept_delay_s = 0.0
                bot.start()
                await bot.wait_up(http, timeout_s=STEP_DEADLINE_S)

                async def settled() -> bool:
                    rows = await query("SELECT state FROM outbox")
                    return rows == [("uncertain",)]

                assert await wait_for(settled, STEP_DEADLINE_S), await query("SELECT * FROM outbox")
            assert await bot.stop_async() == 0
        finally:
            if bot.running:
                bot.kill()
            await runner.cleanup()
        (row,) = await query("SELECT possible_duplicate, error FROM outbox")
    assert len(sandbox.state.sent) == 1  # the gateway had it; the bot did not send it again
    assert row[0] == 1 and "on_uncertain: skip" in row[1]
