"""The dashboard's week: per-hour totals kept between views, so a view counts only the hours it
has not counted yet, and the counts stay exact at the edges of today and of the week."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import DecidedBatch, MessageOutcome, OutboxDraft, open_store, reports
from bot.store.sqlite import SqliteStore
from tests.test_store import CARD, message

HOUR = 3600.0
#: a whole hour, so the edges below are exact
T0 = 1_700_000_000.0 // HOUR * HOUR


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await open_store(str(tmp_path / "rulebot.db"))
    assert isinstance(opened, SqliteStore)
    yield opened
    await opened.close()


async def answer(store: SqliteStore, mid: str, at: float, rule: str = "sales") -> None:
    """A client message stored, answered with `rule`'s card and the card sent, all at `at`."""
    client = f"9725{abs(hash(mid)) % 10**8:08d}"
    await store.add_inbound(message(mid, client=client), at)
    batches, _ = await store.claim_clients(
        now=at, window_s=0, max_wait_s=0, limit=10, worker="w", lease_s=60
    )
    decided = [
        DecidedBatch(
            batch,
            [MessageOutcome(p.message_id, "reply", rule, "matched") for p in batch.messages],
            [OutboxDraft(batch.client, batch.client, rule, batch.messages[0].message_id, CARD)],
            at,
        )
        for batch in batches
    ]
    assert all(await store.finish_batches(decided, at))
    items, _ = await store.claim_sends(now=at, limit=10, worker="w", lease_s=60)
    for item in items:
        await store.mark_sent(item.id, unique=f"gw-{item.id}", now=at, window_left_min=None)


async def test_a_second_view_counts_only_the_hours_it_has_not_counted(store: SqliteStore) -> None:
    now = T0 + 30 * HOUR + 600
    await answer(store, "old", T0 + 10 * HOUR + 5)
    counts = reports.WeekCounts()
    first = await reports.hourly_activity(store, now=now, counts=counts)
    assert sum(h.messages for h in first) == 1
    # A row slipped into an hour already counted and final: a kept count does not read it again
    # (no real write lands in a past hour), a fresh one does.
    await answer(store, "late", T0 + 10 * HOUR + 9)
    await answer(store, "new", now + 60)
    again = await reports.hourly_activity(store, now=now + 120, counts=counts)
    fresh = await reports.hourly_activity(store, now=now + 120)
    assert [h.messages for h in again if h.messages] == [1, 1]
    assert [h.messages for h in fresh if h.messages] == [2, 1]
    assert again[-1].replies == 1


async def test_the_current_hour_is_counted_anew_at_every_view(store: SqliteStore) -> None:
    now = T0 + 5 * HOUR + 60
    counts = reports.WeekCounts()
    await answer(store, "a", now - 30)
    assert (await reports.hourly_activity(store, now=now, counts=counts))[-1].messages == 1
    await answer(store, "b", now + 30)
    assert (await reports.hourly_activity(store, now=now + 60, counts=counts))[-1].messages == 2


async def test_rule_hits_are_exact_at_the_start_of_today_and_of_the_week(
    store: SqliteStore,
) -> None:
    now = T0 + 8 * 24 * HOUR + 1800
    week = now - 7 * 24 * HOUR  # half past an hour: that hour counts from its middle
    today = T0 + 8 * 24 * HOUR - 2.5 * HOUR  # a time zone half an hour off UTC
    await answer(store, "before-week", week - 60, rule="sales")
    await answer(store, "week-edge", week + 60, rule="sales")
    await answer(store, "before-today", today - 60, rule="support")
    await answer(store, "today-edge", today + 60, rule="support")
    await answer(store, "just-now", now - 5, rule="sales")
    counts = reports.WeekCounts()
    for _view in range(2):  # the second view from the kept hours: the same figures
        hits = await reports.rule_hits(
            store, ["sales", "support"], today=today, week=week, now=now, counts=counts
        )
        assert [(h.rule, h.today, h.week) for h in hits] == [
            ("sales", 1, 2),
            ("support", 1, 2),
        ]
