"""The Store contract, run against every backend: SQLite (a temp file) and PostgreSQL (a fresh
schema; skipped when no server answers, failed under CI=true).

Times are explicit (`now=`), so every lease, window and retention case is exact.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from bot.errors import StoreError
from bot.store import (
    ClientBatch,
    DecidedBatch,
    InboxRow,
    MessageOutcome,
    OutboxDraft,
    open_store,
)
from bot.store import operations as ops
from bot.store.dialect import to_numbered_placeholders
from bot.store.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from bot.store.operations import EVENT_DETAIL
from bot.store.postgres import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.pg import postgres_schema

T0 = 1_700_000_000.0
DAY = 24 * 3600.0
CLIENT = "972501234567"
HIDDEN = "IL.1605856887361213"  # a hidden-number client: key from_id, address the number
CARD = {"contact_name": "Sales", "contact_phone": "972500000099"}

AnyStore = SqliteStore | PostgresStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Where a store lives: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "rulebot.db")
    else:
        async with postgres_schema() as url:
            yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[AnyStore]:
    opened = await open_store(store_url)
    assert isinstance(opened, SqliteStore | PostgresStore)
    yield opened
    await opened.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema, for the tests of several instances on one database."""
    async with postgres_schema() as url:
        yield url


def message(mid: str, *, client: str = CLIENT, address: str | None = None) -> InboxRow:
    """An inbox row; the store keeps its payload as opaque bytes."""
    payload = orjson.dumps({"id": mid, "client": client, "text": "hello"})
    return InboxRow(message_id=mid, client=client, address=address or client, payload=payload)


def draft(client: str = CLIENT, rule: str = "sales", reply_to: str = "m1") -> OutboxDraft:
    return OutboxDraft(client=client, address=client, rule=rule, reply_to=reply_to, contact=CARD)


def replied(batch: ClientBatch, rule: str = "sales") -> list[MessageOutcome]:
    return [MessageOutcome(p.message_id, "reply", rule, "matched") for p in batch.messages]


async def finish(
    store: AnyStore,
    batch: ClientBatch,
    outcomes: Sequence[MessageOutcome],
    drafts: Sequence[OutboxDraft],
    now: float,
    last_message_at: float | None = None,
) -> None:
    """Record a batch's decisions; the client's last message time defaults to its latest arrival."""
    if last_message_at is None:
        last_message_at = max(p.received_at for p in batch.messages)
    await store.finish_batch(DecidedBatch(batch, outcomes, drafts, last_message_at), now)


async def claim(
    store: AnyStore,
    now: float,
    *,
    window_s: float = 0.0,
    max_wait_s: float = 0.0,
    limit: int = 10,
    worker: str = "w1",
    lease_s: float = 30.0,
) -> tuple[list[ClientBatch], float | None]:
    return await store.claim_clients(
        now=now,
        window_s=window_s,
        max_wait_s=max_wait_s,
        limit=limit,
        worker=worker,
        lease_s=lease_s,
    )


async def queue_send(
    store: AnyStore, now: float = T0, client: str = CLIENT, rule: str = "sales"
) -> None:
    """Store a message, claim it and queue one send answering it."""
    await store.add_inbound(message(f"m-{client}-{now}-{rule}", client=client), now)
    batches, _ = await claim(store, now)
    (batch,) = [b for b in batches if b.client == client]
    await finish(store, batch, replied(batch, rule), [draft(client, rule)], now)


async def send_once(store: AnyStore, now: float = T0, **kw: Any) -> int:
    """Queue a send, claim it and report it sent; returns its id."""
    await queue_send(store, now)
    (item,), _ = await store.claim_sends(now=now, limit=10, worker="s1", lease_s=30)
    await store.mark_sent(
        item.id,
        unique=kw.get("unique", f"u-{now}"),
        now=now,
        window_left_min=kw.get("window_left_min"),
    )
    return item.id


# -- the inbox ---------------------------------------------------------------------------------


async def test_add_inbound_stores_a_message_once(store: AnyStore) -> None:
    assert await store.add_inbound(message("m1"), T0) is True
    assert await store.add_inbound(message("m1"), T0 + 5) is False
    rows = await store.query("SELECT message_id, state FROM inbox")
    assert rows == [{"message_id": "m1", "state": "pending"}]


async def test_concurrent_retries_of_one_webhook_store_it_once(store: AnyStore) -> None:
    results = await asyncio.gather(*(store.add_inbound(message("same"), T0) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert (await store.stats(since=0, now=T0)).received == 1


async def test_concurrent_different_messages_are_all_stored(store: AnyStore) -> None:
    ids = [f"m{i}" for i in range(50)]
    results = await asyncio.gather(
        *(store.add_inbound(message(i, client=f"97250000{n:04d}"), T0) for n, i in enumerate(ids))
    )
    assert all(results)
    rows = await store.query("SELECT COUNT(*) AS n FROM inbox WHERE state = ?", "pending")
    assert rows[0]["n"] == 50


async def test_add_inbound_after_close_is_a_store_error(store_url: str) -> None:
    closed = await open_store(store_url)
    await closed.close()
    with pytest.raises(StoreError):
        await closed.add_inbound(message("m1"), T0)


# -- claiming clients --------------------------------------------------------------------------


async def test_claim_returns_a_clients_messages_in_arrival_order(store: AnyStore) -> None:
    await store.add_inbound(message("b"), T0)
    await store.add_inbound(message("a"), T0 + 1)
    batches, next_due = await claim(store, T0 + 2, worker="w1")
    assert [b.client for b in batches] == [CLIENT]
    assert [p.message_id for p in batches[0].messages] == ["b", "a"]
    assert [p.received_at for p in batches[0].messages] == [T0, T0 + 1]
    assert batches[0].messages[0].payload == message("b").payload
    assert batches[0].claim.startswith("w1:")
    assert next_due is None


async def test_a_claimed_client_is_not_claimed_again_while_leased(store: AnyStore) -> None:
    await store.add_inbound(message("m1"), T0)
    first, _ = await claim(store, T0, worker="w1", lease_s=30)
    assert len(first) == 1
    assert await claim(store, T0 + 29, worker="w2") == ([], None)


async def test_a_lapsed_client_claim_is_taken_over_and_the_old_claim_cannot_finish(
    store: AnyStore,
) -> None:
    await store.add_inbound(message("m1"), T0)
    (old,), _ = await claim(store, T0, worker="w1", lease_s=30)
    (new,), _ = await claim(store, T0 + 31, worker="w2")
    assert new.claim.startswith("w2:") and new.claim != old.claim
    with pytest.raises(StoreError, match="lapsed"):
        await finish(store, old, replied(old), [draft()], T0 + 32)
    # Nothing of the lapsed decision was written.
    assert (await store.query("SELECT state FROM inbox"))[0]["state"] == "pending"
    assert await store.query("SELECT id FROM outbox") == []
    assert (await store.client_record(CLIENT, T0 + 32)).replies_sent == {}
    await finish(store, new, replied(new), [draft()], T0 + 32)
    assert (await store.query("SELECT state FROM inbox"))[0]["state"] == "done"


async def test_a_burst_waits_for_its_window(store: AnyStore) -> None:
    await store.add_inbound(message("m1"), T0)
    assert await claim(store, T0 + 1, window_s=5, max_wait_s=30) == ([], T0 + 5)
    await store.add_inbound(message("m2"), T0 + 3)
    assert await claim(store, T0 + 6, window_s=5, max_wait_s=30) == ([], T0 + 8)
    batches, _ = await claim(store, T0 + 8, window_s=5, max_wait_s=30)
    assert [p.message_id for p in batches[0].messages] == ["m1", "m2"]


async def test_a_burst_that_keeps_going_is_cut_at_max_wait(store: AnyStore) -> None:
    for n in range(8):  # a message every 4 s: the 5 s window never closes
        await store.add_inbound(message(f"m{n}"), T0 + 4 * n)
    assert await claim(store, T0 + 28, window_s=5, max_wait_s=30) == ([], T0 + 30)
    batches, _ = await claim(store, T0 + 30, window_s=5, max_wait_s=30)
    assert len(batches[0].messages) == 8


async def test_claim_respects_its_limit_and_says_more_are_due(store: AnyStore) -> None:
    for n in range(3):
        await store.add_inbound(message(f"m{n}", client=f"97250000000{n}"), T0 + n)
    batches, next_due = await claim(store, T0 + 10, limit=2)
    assert [b.client for b in batches] == ["972500000000", "972500000001"]  # oldest first
    assert next_due is not None and next_due <= T0 + 10


async def test_a_finished_client_is_claimed_again_for_its_next_message(store: AnyStore) -> None:
    await store.add_inbound(message("m1"), T0)
    (batch,), _ = await claim(store, T0)
    await finish(store, batch, replied(batch), [], T0)
    assert await claim(store, T0 + 1) == ([], None)
    await store.add_inbound(message("m2"), T0 + 2)
    (again,), _ = await claim(store, T0 + 2)
    assert [p.message_id for p in again.messages] == ["m2"]


# -- finishing a batch and the client's record -------------------------------------------------


async def test_finish_batch_records_outcomes_sends_and_once_per_marks(store: AnyStore) -> None:
    await store.add_inbound(message("m1"), T0)
    await store.add_inbound(message("m2"), T0 + 1)
    (batch,), _ = await claim(store, T0 + 1)
    outcomes = [
        MessageOutcome("m1", "reply", "sales", "matched 'price'"),
        MessageOutcome("m2", "in_burst", None, "answered together with its burst"),
    ]
    await finish(store, batch, outcomes, [draft(reply_to="m1")], T0 + 2, last_message_at=T0 + 1)
    rows = await store.query(
        "SELECT message_id, state, outcome, rule, explanation, decided_at FROM inbox ORDER BY id"
    )
    assert rows == [
        {"message_id": "m1", "state": "done", "outcome": "reply", "rule": "sales",
         "explanation": "matched 'price'", "decided_at": T0 + 2},
        {"message_id": "m2", "state": "done", "outcome": "in_burst", "rule": None,
         "explanation": "answered together with its burst", "decided_at": T0 + 2},
    ]  # fmt: skip
    record = await store.client_record(CLIENT, T0 + 3)
    assert record.last_message_at == T0 + 1
    assert record.replies_sent == {"sales": T0 + 2}
    assert record.replies_last_hour == 1
    assert record.paused_until is None


async def test_a_client_nobody_knows_has_an_empty_record(store: AnyStore) -> None:
    record = await store.client_record("972509999999", T0)
    assert record.client == "972509999999"
    assert record.last_message_at is None
    assert record.conversation_started_at is None
    assert record.replies_sent == {}
    assert (record.paused_until, record.replies_last_hour) == (None, 0)


async def test_once_per_marks_are_updated_not_duplicated(store: AnyStore) -> None:
    await queue_send(store, T0, rule="sales")
    await queue_send(store, T0 + 50, rule="sales")
    await queue_send(store, T0 + 60, rule="support")
    record = await store.client_record(CLIENT, T0 + 70)
    assert record.replies_sent == {"sales": T0 + 50, "support": T0 + 60}


async def test_replies_last_hour_counts_only_the_last_hour(store: AnyStore) -> None:
    await queue_send(store, T0)
    await queue_send(store, T0 + 1800)
    await queue_send(store, T0 + 3000)
    assert (await store.client_record(CLIENT, T0 + 3100)).replies_last_hour == 3
    assert (await store.client_record(CLIENT, T0 + 3600 + 1000)).replies_last_hour == 2


async def test_last_message_time_never_goes_back(store: AnyStore) -> None:
    await store.add_inbound(message("m1"), T0 + 10)
    (batch,), _ = await claim(store, T0 + 10)
    await finish(store, batch, replied(batch), [], T0 + 10, last_message_at=T0 + 10)
    await store.add_inbound(message("m0"), T0 + 11)  # a late message, written at T0
    (batch,), _ = await claim(store, T0 + 11)
    await finish(store, batch, replied(batch), [], T0 + 11, last_message_at=T0)
    assert (await store.client_record(CLIENT, T0 + 12)).last_message_at == T0 + 10


# -- claiming and finishing sends --------------------------------------------------------------


async def test_claim_sends_returns_what_the_sender_needs(store: AnyStore) -> None:
    await queue_send(store, T0)
    items, next_due = await store.claim_sends(now=T0 + 1, limit=10, worker="s1", lease_s=30)
    (item,) = items
    assert (item.client, item.address, item.rule, item.reply_to) == (CLIENT, CLIENT, "sales", "m1")
    assert dict(item.contact) == CARD
    assert (item.attempts, item.created_at, item.possible_duplicate) == (1, T0, False)
    assert item.client_last_message_at == T0
    assert (item.gateway_window_end, item.gateway_window_reported_at) == (None, None)
    assert next_due == T0 + 31  # its own lease
    stats = await store.stats(since=0, now=T0 + 1)
    assert (stats.outbox_pending, stats.outbox_in_flight) == (0, 1)


async def test_a_leased_send_is_not_claimed_twice(store: AnyStore) -> None:
    await queue_send(store, T0)
    assert len((await store.claim_sends(now=T0, limit=10, worker="s1", lease_s=30))[0]) == 1
    assert (await store.claim_sends(now=T0 + 29, limit=10, worker="s2", lease_s=30))[0] == []


async def test_a_lapsed_send_is_taken_over_as_a_possible_duplicate(store: AnyStore) -> None:
    await queue_send(store, T0)
    (first,), _ = await store.claim_sends(now=T0, limit=10, worker="s1", lease_s=30)
    (again,), _ = await store.claim_sends(now=T0 + 31, limit=10, worker="s2", lease_s=30)
    assert again.id == first.id
    assert (again.attempts, again.possible_duplicate) == (2, True)
    assert (await store.stats(since=0, now=T0 + 31)).uncertain == 1


async def test_claim_sends_respects_its_limit(store: AnyStore) -> None:
    for n in range(3):
        await queue_send(store, T0, client=f"97250000000{n}")
    items, next_due = await store.claim_sends(now=T0, limit=2, worker="s1", lease_s=30)
    assert len(items) == 2
    assert next_due == T0  # the third is due now


async def test_a_retry_waits_for_its_time(store: AnyStore) -> None:
    await queue_send(store, T0)
    (item,), _ = await store.claim_sends(now=T0, limit=10, worker="s1", lease_s=30)
    await store.mark_retry(item.id, error="reason 6: try again", next_attempt_at=T0 + 10)
    assert await store.claim_sends(now=T0 + 9, limit=10, worker="s1", lease_s=30) == ([], T0 + 10)
    assert (await store.stats(since=0, now=T0)).recent_errors == (
        (T0 + 10, "pending", "reason 6: try again"),
    )
    (retry,), _ = await store.claim_sends(now=T0 + 10, limit=10, worker="s1", lease_s=30)
    assert (retry.id, retry.attempts, retry.possible_duplicate) == (item.id, 2, False)


async def test_mark_final_records_why_a_send_never_happened(store: AnyStore) -> None:
    await queue_send(store, T0)
    (item,), _ = await store.claim_sends(now=T0, limit=10, worker="s1", lease_s=30)
    await store.mark_final(
        item.id, state="refused", code="bad_number", reason=4, error="a group", now=T0 + 1
    )
    rows = await store.query("SELECT state, error_code, reason, error, finished_at FROM outbox")
    assert rows == [
        {"state": "refused", "error_code": "bad_number", "reason": 4, "error": "a group",
         "finished_at": T0 + 1}
    ]  # fmt: skip
    stats = await store.stats(since=T0, now=T0 + 1)
    assert stats.sends == {"refused": 1}
    assert stats.recent_errors == ((T0 + 1, "refused", "a group"),)
    assert await store.claim_sends(now=T0 + 100, limit=10, worker="s1", lease_s=30) == ([], None)


async def test_mark_final_refuses_a_state_that_is_not_a_failure(store: AnyStore) -> None:
    with pytest.raises(ValueError):
        await store.mark_final(1, state="sent", code="x", reason=None, error="", now=T0)


async def test_a_send_starts_a_conversation_but_a_second_within_24h_does_not(
    store: AnyStore,
) -> None:
    await send_once(store, T0)
    await send_once(store, T0 + 3600)
    assert (await store.stats(since=0, now=T0 + 3600)).conversations == 1
    record = await store.client_record(CLIENT, T0 + 3600)
    assert record.conversation_started_at == T0
    assert (await store.client_record(CLIENT, T0 + DAY)).conversation_started_at is None
    await send_once(store, T0 + DAY + 1)
    stats = await store.stats(since=0, now=T0 + DAY + 1)
    assert (stats.conversations, stats.sends) == (2, {"sent": 3})


async def test_mark_sent_keeps_the_gateways_window_figure(store: AnyStore) -> None:
    await send_once(store, T0, window_left_min=90)
    await queue_send(store, T0 + 10)
    (item,), _ = await store.claim_sends(now=T0 + 10, limit=10, worker="s1", lease_s=30)
    assert item.gateway_window_end == T0 + 90 * 60
    assert item.gateway_window_reported_at == T0


async def test_delivery_statuses_only_move_forward(store: AnyStore) -> None:
    await send_once(store, T0, unique="g1")
    assert await store.record_status("unknown", "read", T0) is False
    assert await store.record_status("g1", "read", T0 + 2) is True
    assert await store.record_status("g1", "delivered", T0 + 3) is True  # late, out of order
    rows = await store.query("SELECT delivery_status, delivery_at FROM outbox")
    assert rows == [{"delivery_status": "read", "delivery_at": T0 + 2}]


# -- hand-off and events -----------------------------------------------------------------------


async def test_the_echo_of_the_bots_own_send_is_not_a_hand_off(store: AnyStore) -> None:
    await send_once(store, T0, unique="g1")
    assert (
        await store.record_outgoing(unique="g1", client=CLIENT, now=T0, pause_until=T0 + 99)
        is False
    )
    assert (await store.client_record(CLIENT, T0)).paused_until is None


async def test_an_echo_while_a_send_is_in_flight_is_not_a_hand_off(store: AnyStore) -> None:
    await queue_send(store, T0)
    await store.claim_sends(now=T0, limit=10, worker="s1", lease_s=30)
    assert (
        await store.record_outgoing(unique="x", client=CLIENT, now=T0, pause_until=T0 + 99) is False
    )


async def test_a_person_answering_pauses_the_client(store: AnyStore) -> None:
    await store.add_inbound(message("m1"), T0)
    assert await store.record_outgoing(unique="p1", client=CLIENT, now=T0, pause_until=T0 + 99)
    assert (await store.client_record(CLIENT, T0)).paused_until == T0 + 99
    # A shorter pause never shortens a longer one.
    assert await store.record_outgoing(unique="p2", client=CLIENT, now=T0, pause_until=T0 + 50)
    assert (await store.client_record(CLIENT, T0)).paused_until == T0 + 99
    events = await store.query("SELECT kind, detail FROM events")
    assert events == [{"kind": "handoff", "detail": CLIENT}] * 2


async def test_a_hand_off_finds_a_hidden_number_client_by_address(store: AnyStore) -> None:
    await store.add_inbound(message("m1", client=HIDDEN, address=CLIENT), T0)
    assert await store.record_outgoing(unique="p1", client=CLIENT, now=T0, pause_until=T0 + 99)
    assert (await store.client_record(HIDDEN, T0)).paused_until == T0 + 99


async def test_a_hand_off_to_an_unknown_client_pauses_them_in_advance(store: AnyStore) -> None:
    assert await store.record_outgoing(unique="p1", client=CLIENT, now=T0, pause_until=T0 + 99)
    assert (await store.client_record(CLIENT, T0)).paused_until == T0 + 99
    await store.add_inbound(message("m1"), T0 + 1)  # their first message keeps the pause
    assert (await store.client_record(CLIENT, T0 + 1)).paused_until == T0 + 99


async def test_record_event_keeps_a_bounded_detail(store: AnyStore) -> None:
    await store.record_event("ignored", "x" * 9000, T0)
    (row,) = await store.query("SELECT at, kind, detail FROM events")
    assert (row["at"], row["kind"], len(row["detail"])) == (T0, "ignored", EVENT_DETAIL)


# -- figures, housekeeping, schema -------------------------------------------------------------


async def test_stats_count_the_period(store: AnyStore) -> None:
    await store.add_inbound(message("old"), T0 - 100)
    (batch,), _ = await claim(store, T0 - 100)
    await finish(store, batch, [MessageOutcome("old", "no_match", None, "")], [], T0 - 100)
    await send_once(store, T0)
    await store.add_inbound(message("waiting", client="972500000077"), T0 + 1)
    await queue_send(store, T0 + 2, client="972500000088")
    stats = await store.stats(since=T0, now=T0 + 2)
    assert (stats.inbox_pending, stats.outbox_pending, stats.outbox_in_flight) == (1, 1, 0)
    assert stats.received == 3
    assert stats.outcomes == {"reply": 2}
    assert stats.sends == {"sent": 1}
    assert (stats.conversations, stats.uncertain) == (1, 0)
    assert (await store.stats(since=0, now=T0 + 2)).outcomes == {"reply": 2, "no_match": 1}


async def test_prune_deletes_old_finished_rows_but_never_work_in_flight(store: AnyStore) -> None:
    await send_once(store, T0)  # finished: pruned
    await store.record_event("ignored", "x", T0)
    await queue_send(store, T0, client="972500000011")  # pending send: kept
    await queue_send(store, T0, client="972500000022")
    await store.claim_sends(now=T0, limit=1, worker="s1", lease_s=30)  # one 'sending': kept
    await store.add_inbound(message("undecided", client="972500000033"), T0)  # kept
    deleted = await store.prune(older_than=T0 + DAY)
    assert deleted == 3 + 1 + 1 + 1  # 3 decided messages, 1 send, 1 conversation, 1 event
    outbox = await store.query("SELECT state FROM outbox ORDER BY state")
    assert [row["state"] for row in outbox] == ["pending", "sending"]
    inbox = await store.query("SELECT message_id FROM inbox")
    assert inbox == [{"message_id": "undecided"}]
    assert await store.prune(older_than=T0 - 1) == 0


async def test_pruning_goes_in_small_batches_and_lets_webhooks_in_between(
    store: AnyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A month of rows is not one transaction: a message arriving meanwhile is stored between
    two batches, long before the pruning ends."""
    monkeypatch.setattr(ops, "PRUNE_BATCH", 50)
    batches: list[list[int]] = []
    batch = ops.prune_batch

    async def counted(*args: Any) -> list[int]:
        deleted = await batch(*args)
        batches.append(deleted)
        return deleted

    monkeypatch.setattr(ops, "prune_batch", counted)
    for k in range(1000):
        await store.record_event("ignored", f"old-{k}", T0 + k)
    pruning = asyncio.create_task(store.prune(older_than=T0 + DAY))
    while not batches:
        await asyncio.sleep(0.001)
    assert await store.add_inbound(message("during-pruning"), T0 + DAY)
    assert not pruning.done()
    assert await pruning == 1000
    assert len(batches) >= 1000 // 50
    assert all(max(deleted) <= 50 for deleted in batches)  # no ties among these stamps


async def test_opening_twice_migrates_once(store_url: str) -> None:
    first = await open_store(store_url)
    await first.add_inbound(message("m1"), T0)
    await first.close()
    second = await open_store(store_url)
    try:
        assert isinstance(second, SqliteStore | PostgresStore)
        expected = len(
            SQLITE_MIGRATIONS if isinstance(second, SqliteStore) else POSTGRES_MIGRATIONS
        )
        assert await second.schema_version() == expected
        assert await second.add_inbound(message("m1"), T0) is False  # the data survived
    finally:
        await second.close()


async def test_query_takes_question_mark_placeholders(store: AnyStore) -> None:
    await store.add_inbound(message("m1"), T0)
    rows = await store.query(
        "SELECT message_id, 'what?' AS literal FROM inbox WHERE client = ? AND received_at >= ?",
        CLIENT,
        T0,
    )
    assert rows == [{"message_id": "m1", "literal": "what?"}]


async def test_recover_never_loses_a_send_that_was_in_flight(store: AnyStore) -> None:
    await queue_send(store, T0)
    await store.claim_sends(now=T0, limit=10, worker="dead", lease_s=30)
    await store.recover(T0 + 31)
    (item,), _ = await store.claim_sends(now=T0 + 31, limit=10, worker="s2", lease_s=30)
    assert item.possible_duplicate is True


# -- PostgreSQL only: several instances on one database ----------------------------------------


def test_placeholders_in_quotes_and_comments_are_left_alone() -> None:
    sql = "SELECT '?', \"a?\", 'it''s ?' -- why?\nFROM t WHERE a = ? /* ? */ AND b = ?"
    assert to_numbered_placeholders(sql) == (
        "SELECT '?', \"a?\", 'it''s ?' -- why?\nFROM t WHERE a = $1 /* ? */ AND b = $2"
    )


@pytest.mark.postgres
async def test_postgres_recover_leaves_live_claims_of_other_instances(pg_url: str) -> None:
    live = await PostgresStore.open(pg_url)
    starting = await PostgresStore.open(pg_url)
    try:
        await queue_send(live, T0)
        await live.add_inbound(message("m2", client="972500000055"), T0)
        await claim(live, T0, lease_s=30)
        await live.claim_sends(now=T0, limit=10, worker="live", lease_s=30)
        assert await starting.recover(T0 + 1) == 0
        assert await claim(starting, T0 + 1) == ([], None)
        assert (await starting.claim_sends(now=T0 + 1, limit=10, worker="new", lease_s=30))[0] == []
        # Once the lease lapses (the instance died) recover flags the send it had in flight.
        assert await starting.recover(T0 + 31) == 1
        (item,), _ = await starting.claim_sends(now=T0 + 31, limit=10, worker="new", lease_s=30)
        assert item.possible_duplicate is True
    finally:
        await live.close()
        await starting.close()


@pytest.mark.postgres
async def test_postgres_instances_starting_together_migrate_once(pg_url: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(pg_url) for _ in range(4)))
    try:
        assert [await s.schema_version() for s in stores] == [len(POSTGRES_MIGRATIONS)] * 4
    finally:
        await asyncio.gather(*(s.close() for s in stores))


@pytest.mark.postgres
async def test_postgres_two_instances_never_claim_the_same_client_or_send(pg_url: str) -> None:
    a = await PostgresStore.open(pg_url)
    b = await PostgresStore.open(pg_url)
    try:
        clients = [f"9725000{n:05d}" for n in range(60)]
        await asyncio.gather(
            *(a.add_inbound(message(f"m{n}-{c}", client=c), T0) for c in clients for n in range(3))
        )
        claimed: dict[str, list[ClientBatch]] = {"a": [], "b": []}

        async def decide(name: str, store: PostgresStore) -> None:
            while True:
                batches, _ = await claim(store, T0, limit=4, worker=name)
                if not batches:
                    return
                claimed[name].extend(batches)
                for batch in batches:
                    drafts = [draft(batch.client, reply_to=batch.messages[0].message_id)]
                    await finish(store, batch, replied(batch), drafts, T0)

        await asyncio.gather(decide("a", a), decide("b", b), decide("a", a), decide("b", b))
        won = [batch.client for batches in claimed.values() for batch in batches]
        assert sorted(won) == sorted(clients)  # each client decided once, by one instance
        assert claimed["a"] and claimed["b"]
        assert all(len(batch.messages) == 3 for batches in claimed.values() for batch in batches)

        sent: dict[str, list[int]] = {"a": [], "b": []}

        async def deliver(name: str, store: PostgresStore) -> None:
            while True:
                items, _ = await store.claim_sends(now=T0, limit=3, worker=name, lease_s=30)
                if not items:
                    return
                for item in items:
                    sent[name].append(item.id)
                    await store.mark_sent(
                        item.id, unique=f"g{item.id}", now=T0, window_left_min=None
                    )

        await asyncio.gather(deliver("a", a), deliver("b", b), deliver("a", a), deliver("b", b))
        ids = sent["a"] + sent["b"]
        assert len(ids) == len(set(ids)) == len(clients)
        assert sent["a"] and sent["b"]
        stats = await a.stats(since=0, now=T0)
        assert (stats.conversations, stats.uncertain) == (len(clients), 0)
    finally:
        await a.close()
        await b.close()


async def test_postgres_unreachable_server_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot open the PostgreSQL store") as caught:
        await PostgresStore.open("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(caught.value)  # the password stays out of logs


def test_the_store_never_imports_the_core() -> None:
    """Storage knows rows, not rules: no store module pulls in bot.core, even indirectly."""
    code = (
        "import sys; import bot.store, bot.store.sqlite, bot.store.postgres, bot.store.reports; "
        "print(sorted(m for m in sys.modules if m.startswith('bot.core')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
