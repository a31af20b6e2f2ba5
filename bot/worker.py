"""The loop behind the webhook: inbox -> engine -> outbox -> gateway, with retries.

Two loops share one process: the decider claims clients whose messages are ready (at once, or
once a burst window has passed), runs the pure engine and queues sends in the same transaction
that marks the messages decided; the sender delivers queued sends, retrying what can be retried
with exponential backoff and jitter, and records every refusal with its reason. Nothing lives
only in memory: a crash at any point resumes from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bot.config import Config
from bot.core import RuleSet
from bot.core.engine import decide, decide_burst
from bot.core.values import ClientState, Decision, InboundMessage, Reply
from bot.errors import GatewayError, StoreError
from bot.gateway import GatewayClient, WindowExpired
from bot.inbox_rows import client_state, inbound_message
from bot.metrics import DECISIONS, MATCHES, SEND_LATENCY, SENDS
from bot.rulebook import RuleBook
from bot.store import (
    ClientBatch,
    ClientRecord,
    DecidedBatch,
    MessageOutcome,
    OutboxDraft,
    OutboxItem,
    Store,
)
from bot.store.rows import OUTCOME_PAUSED, OUTCOME_RATE_LIMITED

log = logging.getLogger("rulebot.worker")

WINDOW_S = 24 * 3600
_CLAIM_LIMIT = 512
#: after a round, wait this long for more messages before the next one: under a flood of
#: webhooks, fewer and larger rounds leave the CPU to acknowledging (decisions lag by this)
_GATHER_S = 0.02
#: clients decided between two returns to the event loop: deciding is CPU work on the loop's
#: thread, and a whole round at once would hold webhook answers back for milliseconds
_DECIDE_SLICE = 32
_PRUNE_EVERY_S = 3600.0


def window_end(item: OutboxItem) -> float | None:
    """When the client's 24 h window closes, as best we know; None if we never saw them write.

    The gateway's own figure (templateTimeLeft) wins while no newer client message came in.
    """
    last = item.client_last_message_at
    if (
        item.gateway_window_end is not None
        and item.gateway_window_reported_at is not None
        and (last is None or last <= item.gateway_window_reported_at)
    ):
        return item.gateway_window_end
    return None if last is None else last + WINDOW_S


def backoff_delay(attempts: int, *, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: about base * 2^(attempts-1), capped, never below half."""
    delay = min(max_s, base_s * 2 ** max(0, attempts - 1))
    return rng.uniform(delay / 2, delay)


class Worker:
    """Decides stored messages and delivers the resulting sends."""

    def __init__(
        self,
        *,
        store: Store,
        rulebook: RuleBook,
        gateway: GatewayClient,
        config: Config,
        clock: Callable[[], float] = time.time,
        worker_id: str | None = None,
    ) -> None:
        self._store = store
        self._rulebook = rulebook
        self._gateway = gateway
        self._config = config
        self._clock = clock
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:8]}"
        self._inbox_wake = asyncio.Event()
        self._outbox_wake = asyncio.Event()
        self._sends_in_flight: set[asyncio.Task[None]] = set()
        self._rng = random.Random()
        self._next_send_due: float | None = None

    def notify_inbox(self) -> None:
        """A message was stored: decide now rather than at the next poll."""
        self._inbox_wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then finish the sends in flight (bounded by their timeout)."""
        recovered = await self._store.recover(self._clock())
        if recovered:
            log.warning(
                "resuming %d sends that were in flight when the process stopped; the gateway "
                "may already have them (counted as possible duplicates)",
                recovered,
            )
        tasks = [
            asyncio.create_task(self._decide_loop(stop), name="decide"),
            asyncio.create_task(self._send_loop(stop), name="send"),
            asyncio.create_task(self._prune_loop(stop), name="prune"),
        ]
        try:
            await stop.wait()
        finally:
            self._inbox_wake.set()
            self._outbox_wake.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._sends_in_flight:
                await asyncio.gather(*self._sends_in_flight, return_exceptions=True)

    # -- deciding ---------------------------------------------------------------------------

    async def decide_pending(self) -> tuple[int, float | None]:
        """Decide every client whose messages are ready. Returns (clients decided, next due)."""
        rules = self._rulebook.current
        now = self._clock()
        batches, next_due = await self._store.claim_clients(
            now=now,
            window_s=rules.burst_window_s,
            max_wait_s=rules.burst_max_wait_s,
            limit=_CLAIM_LIMIT,
            worker=self.worker_id,
            lease_s=self._config.delivery.lease_s,
        )
        if batches:
            await self._decide_batches(batches, rules, now)
            self._outbox_wake.set()
        return len(batches), next_due

    async def _decide_batches(self, batches: list[ClientBatch], rules: RuleSet, now: float) -> None:
        # Stores that read the records while claiming hand them over; others are asked now.
        missing = [batch.client for batch in batches if batch.record is None]
        fetched = await asyncio.gather(*(self._store.client_record(c, now) for c in missing))
        asked = dict(zip(missing, fetched, strict=True))
        decided: list[DecidedBatch] = []
        for start in range(0, len(batches), _DECIDE_SLICE):
            if start:
                await asyncio.sleep(0)  # let waiting webhooks be answered between slices
            for batch in batches[start : start + _DECIDE_SLICE]:
                record = batch.record if batch.record is not None else asked[batch.client]
                decided.append(self._decide(batch, record, rules, now))
        try:
            recorded = await self._store.finish_batches(decided, now)
        except StoreError as exc:
            # The write failed: the messages stay pending and are decided again once the
            # claims lapse; nothing is lost.
            log.error("could not record decisions: %s", exc)
            return
        for item, ok in zip(decided, recorded, strict=True):
            if not ok:
                # Not recorded: whoever holds the client now decides (and counts) its messages.
                log.warning(
                    "the claim on %s lapsed; another worker has it", _mask(item.batch.client)
                )
                continue
            for outcome in item.outcomes:
                DECISIONS.labels(outcome.outcome).inc()
            for draft in item.drafts:
                MATCHES.labels(draft.rule).inc()

    async def _decide_loop(self, stop: asyncio.Event) -> None:
        poll = self._config.delivery.poll_interval_s
        while not stop.is_set():
            try:
                decided, next_due = await self.decide_pending()
            except StoreError as exc:
                log.error("cannot read the inbox: %s", exc)
                decided, next_due = 0, None
            except Exception:  # a bug must not stop the loop: the inbox keeps the messages
                log.exception("deciding failed; trying again")
                decided, next_due = 0, None
            if decided:
                if decided < _CLAIM_LIMIT:
                    await asyncio.sleep(_GATHER_S)
                continue
            wait = poll if next_due is None else max(0.0, min(poll, next_due - self._clock()))
            self._inbox_wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._inbox_wake.wait(), timeout=wait)

    def _decide(
        self, batch: ClientBatch, record: ClientRecord, rules: RuleSet, now: float
    ) -> DecidedBatch:
        """The engine's decisions for one client's messages, with our own limits applied."""
        messages = [inbound_message(pending) for pending in batch.messages]
        # The gateway counts its 24 h from the message; a future stamp (clock skew) counts as
        # its arrival.
        last_message_at = max(
            min(m.timestamp, p.received_at) for m, p in zip(messages, batch.messages, strict=True)
        )
        state = client_state(record)
        moment = datetime.fromtimestamp(now, UTC)
        try:
            if rules.burst_window_s > 0:
                decisions = [(messages, decide_burst(messages, rules, state, moment))]
            else:
                decisions = list(_one_by_one(messages, rules, state, moment))
        except Exception as exc:  # a bug or a bad rule must not wedge the client's inbox
            log.exception("deciding client %s failed", _mask(batch.client))
            error = f"could not decide: {type(exc).__name__}"
            failed = [MessageOutcome(m.id, "error", None, error) for m in messages]
            return DecidedBatch(batch, failed, (), last_message_at)
        outcomes: list[MessageOutcome] = []
        drafts: list[OutboxDraft] = []
        budget = self._config.delivery.max_replies_per_hour - record.replies_last_hour
        paused = record.paused_until is not None and record.paused_until > now
        by_id = {m.id: m for m in messages}
        for group, decision in decisions:
            answered: dict[str, Reply] = {reply.reply_to: reply for reply in decision.replies}
            for message in group:
                reply = answered.get(message.id)
                if reply is None:
                    outcome = decision.outcome if not decision.replies else "in_burst"
                    explanation = decision.explanation
                    if decision.replies:
                        quoted = ", ".join(r.rule for r in decision.replies)
                        explanation = f"answered together with its burst ({quoted})"
                    outcomes.append(MessageOutcome(message.id, outcome, None, explanation))
                elif paused:
                    outcomes.append(
                        MessageOutcome(
                            message.id,
                            OUTCOME_PAUSED,
                            reply.rule,
                            "a person answered this client from our account: auto-replies paused",
                        )
                    )
                elif budget <= 0:
                    outcomes.append(
                        MessageOutcome(
                            message.id,
                            OUTCOME_RATE_LIMITED,
                            reply.rule,
                            f"already {self._config.delivery.max_replies_per_hour} automatic "
                            "replies to this client in the last hour: staying silent",
                        )
                    )
                elif by_id[reply.reply_to].is_group:  # the engine never should; the gateway refuses
                    outcomes.append(MessageOutcome(message.id, "group", None, "group chat"))
                else:
                    budget -= 1
                    outcomes.append(
                        MessageOutcome(message.id, "reply", reply.rule, decision.explanation)
                    )
                    drafts.append(
                        OutboxDraft(
                            client=batch.client,
                            address=message.address,
                            rule=reply.rule,
                            reply_to=reply.reply_to,
                            contact=reply.card.gateway_fields(),
                        )
                    )
        return DecidedBatch(batch, outcomes, drafts, last_message_at)

    # -- sending ----------------------------------------------------------------------------

    async def send_due(self) -> int:
        """Start every due send that fits in the free slots. Returns how many started."""
        free = self._config.gateway.concurrency - len(self._sends_in_flight)
        if free <= 0:
            return 0
        items, self._next_send_due = await self._store.claim_sends(
            now=self._clock(),
            limit=free,
            worker=self.worker_id,
            lease_s=self._config.delivery.lease_s + self._config.gateway.timeout_s,
        )
        for item in items:
            task = asyncio.create_task(self._deliver(item))
            self._sends_in_flight.add(task)
            task.add_done_callback(self._send_done)
        return len(items)

    def _send_done(self, task: asyncio.Task[None]) -> None:
        self._sends_in_flight.discard(task)
        self._outbox_wake.set()

    async def drain(self, *, timeout_s: float = 30.0) -> None:
        """Decide and send until nothing is ready (for tests, the demo and `rulebot try`)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            decided, _ = await self.decide_pending()
            started = await self.send_due()
            if self._sends_in_flight:
                await asyncio.gather(*self._sends_in_flight, return_exceptions=True)
                continue
            if not decided and not started:
                return

    async def _send_loop(self, stop: asyncio.Event) -> None:
        poll = self._config.delivery.poll_interval_s
        while not stop.is_set():
            self._outbox_wake.clear()
            try:
                started = await self.send_due()
            except StoreError as exc:
                log.error("cannot read the outbox: %s", exc)
                started = 0
            except Exception:  # a bug must not stop the loop: the outbox keeps the sends
                log.exception("sending failed; trying again")
                started = 0
            if started:
                continue
            due = self._next_send_due
            wait = poll if due is None else max(0.01, min(poll, due - self._clock()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._outbox_wake.wait(), timeout=wait)

    async def _deliver(self, item: OutboxItem) -> None:
        try:
            await self._deliver_unguarded(item)
        except StoreError as exc:
            # The send stays claimed; its lease lapses and it is tried again.
            log.error("could not record the outcome of send %d: %s", item.id, exc)
        except Exception:  # the send stays claimed; its lease lapses and it is tried again
            log.exception("send %d failed unexpectedly", item.id)

    async def _deliver_unguarded(self, item: OutboxItem) -> None:
        now = self._clock()
        closes = window_end(item)
        if closes is not None and now >= closes:
            # The gateway would refuse (reason 7): don't ask, record why.
            SENDS.labels("window_expired", "local").inc()
            await self._store.mark_final(
                item.id,
                state="window_expired",
                code="window_expired",
                reason=None,
                error="the reply waited past the client's 24 h window; only a template may be "
                "sent now, so it was not sent",
                now=now,
            )
            return
        started = time.monotonic()
        try:
            sent = await self._gateway.send_contact(
                to=item.address, contact=item.contact, reply_to=item.reply_to
            )
        except GatewayError as err:
            SEND_LATENCY.observe(time.monotonic() - started)
            await self._record_failure(item, err)
            return
        SEND_LATENCY.observe(time.monotonic() - started)
        SENDS.labels("sent", "1").inc()
        await self._store.mark_sent(
            item.id,
            unique=sent.unique,
            now=self._clock(),
            window_left_min=sent.template_time_left_min,
        )
        log.info(
            "sent %s card to %s quoting %s",
            item.rule,
            _mask(item.address),
            item.reply_to,
            extra={"message_id": item.reply_to},
        )

    async def _record_failure(self, item: OutboxItem, err: GatewayError) -> None:
        now = self._clock()
        reason = str(err.reason) if err.reason is not None else err.code
        gateway = self._config.gateway
        if err.retryable and item.attempts < gateway.max_attempts:
            delay = backoff_delay(
                item.attempts,
                base_s=gateway.backoff_base_s,
                max_s=gateway.backoff_max_s,
                rng=self._rng,
            )
            SENDS.labels("retry", reason).inc()
            log.warning(
                "send %d (attempt %d) failed: %s; retrying in %.1f s",
                item.id,
                item.attempts,
                err,
                delay,
                extra={"message_id": item.reply_to},
            )
            await self._store.mark_retry(item.id, error=str(err), next_attempt_at=now + delay)
            return
        if err.retryable:
            state, text = "failed", f"gave up after {item.attempts} attempts: {err}"
        elif isinstance(err, WindowExpired):
            state, text = "window_expired", str(err)
        else:
            state, text = "refused", str(err)
        SENDS.labels(state, reason).inc()
        log.error("send %d %s: %s", item.id, state, text, extra={"message_id": item.reply_to})
        await self._store.mark_final(
            item.id, state=state, code=err.code, reason=err.reason, error=text, now=now
        )

    # -- housekeeping -----------------------------------------------------------------------

    async def _prune_loop(self, stop: asyncio.Event) -> None:
        keep_s = self._config.delivery.retention_days * 86400
        while not stop.is_set():
            try:
                deleted = await self._store.prune(older_than=self._clock() - keep_s)
                if deleted:
                    log.info("pruned %d rows older than %g days", deleted, keep_s / 86400)
            except Exception as exc:  # never fatal: the next round tries again
                log.error("pruning failed: %s", exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=_PRUNE_EVERY_S)


def _one_by_one(
    messages: Sequence[InboundMessage], rules: RuleSet, state: ClientState, moment: datetime
) -> list[tuple[list[InboundMessage], Decision]]:
    """No burst window: each message decided alone, in order, seeing the replies before it."""
    decided = []
    for position, message in enumerate(messages, start=1):
        decision = decide(message, rules, state, moment)
        decided.append(([message], decision))
        if position == len(messages):
            break
        state = state.after(decision, moment, datetime.fromtimestamp(message.timestamp, UTC))
    return decided


def _mask(number: str) -> str:
    """A number for logs: the middle hidden (972501234567 -> 9725****4567)."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
