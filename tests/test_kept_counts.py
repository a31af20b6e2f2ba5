"""Kept figures equal an exact count: queue depths (kept by triggers in queue_counts) and
"today's" figures (finished hours kept between views, bot/store/period_counts.py), after a day
of mixed traffic (messages stored, decided, sent, retried, failed, refused, uncertain; old rows
pruned; a restart), on a real SQLite file and on real PostgreSQL, and with two store instances
sharing one PostgreSQL schema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.store import DecidedBatch, MessageOutcome, OutboxDraft, StoreStats, open_store
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.pg import postgres_schema
from tests.test_store import message

HOUR = 3600.0
#: a UTC midnight; the day under test starts here or half an hour later (a +0:30 zone)
DAY0 = 1_699_920_000.0
CARD = {"contact_name": "Sales", "contact_phone": "972500000099"}
FAILED = ("failed", "refused", "window_expired")

AnyStore = SqliteStore | PostgresStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "rulebot.db")
    else:
        async with postgres_schema() as url:
            yield url


async def exact(store: AnyStore, since: float) -> dict[str, Any]:
    """The figures counted from the rows, the plain way."""

    async def one(sql: str, *params: float) -> int:
        return int((await store.query(sql, *params))[0]["n"])

    outcomes = await store.query(
        "SELECT outcome, COUNT(*) AS n FROM inbox WHERE decided_at >= ? GROUP BY outcome", since
    )
    sends = await store.query(
        "SELECT state, COUNT(*) AS n FROM outbox WHERE finished_at >= ? GROUP BY state", since
    )
    failures = await store.query(
        "SELECT state, COALESCE(error, '') AS error, COUNT(*) AS n FROM outbox "
        "WHERE finished_at >= ? AND state IN ('failed', 'refused', 'window_expired') "
        "GROUP BY state, COALESCE(error, '')",
        since,
    )
    return {
        "inbox_pending": await one("SELECT COUNT(*) AS n FROM inbox WHERE state = 'pending'"),
        "outbox_pending": await one("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'"),
        "outbox_in_flight": await one("SELECT COUNT(*) AS n FROM outbox WHERE state = 'sending'"),
        "received": await one("SELECT COUNT(*) AS n FROM inbox WHERE received_at >= ?", since),
        "outcomes": {r["outcome"]: r["n"] for r in outcomes},
        "sends": {r["state"]: r["n"] for r in sends},
        "failures": {(r["state"], r["error"]): r["n"] for r in failures},
        "uncertain": await one(
            "SELECT COUNT(*) AS n FROM outbox WHERE possible_duplicate = 1 AND created_at >= ?",
            since,
        ),
        "warned": await one(
            "SELECT COUNT(*) AS n FROM outbox WHERE warning IS NOT NULL AND finished_at >= ?", since
        ),
        "conversations": await one(
            "SELECT COUNT(*) AS n FROM conversations WHERE started_at >= ?", since
        ),
    }


def kept(stats: StoreStats) -> dict[str, Any]:
    return {
        "inbox_pending": stats.inbox_pending,
        "outbox_pending": stats.outbox_pending,
        "outbox_in_flight": stats.outbox_in_flight,
        "received": stats.received,
        "outcomes": dict(stats.outcomes),
        "sends": dict(stats.sends),
        "failures": dict(stats.failures),
        "uncertain": stats.uncertain,
        "warned": stats.accepted_with_warnings,
        "conversations": stats.conversations,
    }


async def traffic(store: AnyStore, now: float, step: int, worker: str) -> None:
    """One round of mixed work at `now`: a few messages stored, some decided (a reply or no
    match), and the sends due claimed and ended every way a send ends."""
    for n in range(4):
        await store.add_inbound(message(f"{worker}-{step}-{n}", client=f"97250{step % 5:07d}"), now)
    batches, _ = await store.claim_clients(
        now=now, window_s=0, max_wait_s=0, limit=3, worker=worker, lease_s=30
    )
    decided = []
    for i, batch in enumerate(batches):
        outcome = "no_match" if i == 2 else "reply"
        outcomes = [
            MessageOutcome(m.message_id, outcome, "sales" if outcome == "reply" else None, "x")
            for m in batch.messages
        ]
        drafts = [
            OutboxDraft(batch.client, batch.client, "sales", m.message_id, CARD)
            for m in batch.messages
            if outcome == "reply"
        ]
        last = max(m.received_at for m in batch.messages)
        decided.append(DecidedBatch(batch, outcomes, drafts, last))
    await store.finish_batches(decided, now)
    items, _ = await store.claim_sends(now=now, limit=6, worker=worker, lease_s=30)
    for i, item in enumerate(items):
        kind = (i + step) % 6
        if kind == 0:
            await store.mark_sent(
                item.id, unique=f"u{worker}{item.id}", now=now, window_left_min=None
            )
        elif kind == 1:
            await store.mark_sent(
                item.id, unique=f"u{worker}{item.id}", now=now, window_left_min=None, warning="odd"
            )
        elif kind == 2:
            await store.mark_retry(item.id, error="reason 6", next_attempt_at=now + 1800)
        elif kind == 3:
            await store.mark_retry(
                item.id, error="timeout", next_attempt_at=now + 600, uncertain=True
            )
        elif kind == 4:
            await store.mark_final(
                item.id, state="refused", code="4", reason=4, error=f"bad to {step % 2}", now=now
            )
        # kind 5: left claimed (in flight) until its lease lapses


#: the second writer's clock runs this far behind (less than SETTLE_S): its messages land in an
#: hour that a view by the first may have just seen end
LAG_S = 90.0


async def check_a_day(stores: list[AnyStore], since: float) -> None:
    """Two writers (`stores` may name one store twice), the second's clock behind; after each
    write every store's view, at its own clock, equals the rows."""
    # History a month old first: pruned midway, which must not change today's figures.
    for n, store in enumerate(stores):
        await traffic(store, DAY0 - 30 * 86400, 0, f"old{n}")
    now = DAY0 - 2 * HOUR + 17  # views at every point of an hour, including just after it ends
    step = 1
    while now < DAY0 + 27 * HOUR:
        for n, store in enumerate(stores):
            await traffic(store, now - LAG_S * n, step, f"w{n}")
            if step == 20:
                await store.prune(older_than=DAY0 - 20 * 86400)
            if step == 40:  # a restart: sends in flight released (SQLite), the depths recounted
                await store.recover(now)
            for m, viewer in enumerate(stores):
                view = await viewer.stats(since=since, now=now - LAG_S * m)
                assert kept(view) == await exact(viewer, since)
            if step % 10 == 0:  # a period longer than the hours kept (since=0: the whole store)
                for longer in (0.0, DAY0 - 3 * 86400):
                    view = await stores[0].stats(since=longer, now=now)
                    assert kept(view) == await exact(stores[0], longer)
        now += HOUR * 0.37
        step += 1
    assert step > 60


@pytest.mark.parametrize("offset", [0.0, 0.5 * HOUR])
async def test_todays_figures_kept_per_hour_equal_an_exact_count(
    store_url: str, offset: float
) -> None:
    store = await open_store(store_url)
    assert isinstance(store, SqliteStore | PostgresStore)
    try:
        await check_a_day([store, store], DAY0 + offset)
        assert store._period_counts._final  # finished hours were kept, not counted again
    finally:
        await store.close()


@pytest.mark.postgres
async def test_two_instances_on_one_postgresql_each_see_exact_figures() -> None:
    async with postgres_schema() as url:
        a, b = await PostgresStore.open(url), await PostgresStore.open(url)
        try:
            await check_a_day([a, b], DAY0 + 0.5 * HOUR)
        finally:
            await a.close()
            await b.close()


@pytest.mark.postgres
async def test_queue_depths_stay_exact_with_two_instances_writing_at_once() -> None:
    """Both instances store, decide and send concurrently, one of them restarting (which folds
    the kept rows into one exact count) meanwhile: the sum is the count of the rows, and each
    instance's connections wrote rows of their own (no counter row shared by all writers)."""
    async with postgres_schema() as url:
        a, b = await PostgresStore.open(url), await PostgresStore.open(url)
        try:
            now = DAY0
            for step in range(1, 25):
                await asyncio.gather(
                    traffic(a, now, step, "a"),
                    traffic(b, now, step, "b"),
                    traffic(a, now, step + 100, "a2"),
                    *([a.recover(now)] if step == 12 else []),
                )
                now += 97.0
            await a.add_inbound(message("late-a", client="972580000001"), now)
            await b.add_inbound(message("late-b", client="972580000002"), now)
            shards = await a.query("SELECT COUNT(DISTINCT shard) AS n FROM queue_counts")
            assert shards[0]["n"] >= 2
            for store in (a, b):
                view = kept(await store.stats(since=DAY0, now=now))
                assert view == await exact(store, DAY0)
            assert view["inbox_pending"] and view["outbox_pending"] and view["outbox_in_flight"]
        finally:
            await a.close()
            await b.close()
