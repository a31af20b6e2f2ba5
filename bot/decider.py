"""Inbox -> core -> outbox: the stored messages decided, and the sends they call for queued.

The decider claims clients whose messages are ready (at once, or once a burst window has
passed), runs the pure engine on them and, in the same transaction that marks the messages
decided, queues the sends, keeping our own limits on top of the engine's answer: a client a
person is answering gets nothing (hand-off), and nobody gets more than so many automatic
replies an hour (loop protection). Nothing lives only in memory: a crash at any point resumes
from the store.

Deciding never holds up acknowledging: the engine runs in a thread of its own, not on the event
loop that answers webhooks, on a bounded prefix of each message, in slices capped by time whose
decisions are recorded as each ends; a round that runs long releases the clients it has not
reached, so the next claim takes them again with those who wrote meanwhile. Short messages go
first. A client that floods is throttled, never the others: each client gets a small share of
a slice (its first message always), and its other messages wait, in order, for the next
round, counted as deferred.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from bot.config import Config
from bot.core import RuleSet, lexicon
from bot.core.engine import decide, decide_burst
from bot.core.values import ClientState, Decision, InboundMessage, Reply
from bot.errors import StoreError
from bot.inbox_rows import client_state, inbound_message
from bot.logs import mask_number
from bot.metrics import DECISIONS, DEFERRED, MATCHES
from bot.polling import IdleWait
from bot.rulebook import RuleBook
from bot.store import (
    ClientBatch,
    ClientRecord,
    DecidedBatch,
    MessageOutcome,
    OutboxDraft,
    PendingMessage,
    Store,
)
from bot.store.rows import OUTCOME_PAUSED, OUTCOME_RATE_LIMITED

log = logging.getLogger("rulebot.decider")

#: most clients claimed in one round
CLAIM_LIMIT = 512
#: after a round, wait this long for more messages before the next one: under a flood of
#: webhooks, fewer and larger rounds leave the CPU to acknowledging (decisions lag by this)
_GATHER_S = 0.02
#: the text a rule looks at: WhatsApp caps a text at 4,096 characters, so a longer body (stored
#: whole, up to the webhook's body limit) is matched on this prefix and costs no more to decide
MATCH_CHARS = 4096
#: the deciding thread hands back what it decided after this much time, to be recorded at once
SLICE_S = 0.1
#: after this long the clients of a round not yet decided are released, so the next claim sees
#: them again together with those that wrote meanwhile (short messages first again)
ROUND_S = 0.5
#: a client's share of a slice, at least: after its first message, more of its messages are
#: decided only while it has used less than its share (the slice's time split between the
#: clients left, never under this); the rest wait, in order, for the next round
CLIENT_SHARE_S = 0.02
#: most messages of one client answered together as one burst in a round (a person's burst is a
#: few messages; a flood is answered a burst at a time)
BURST_CAP = 16


class Decider:
    """Decides stored messages and queues the resulting sends."""

    def __init__(
        self,
        *,
        store: Store,
        rulebook: RuleBook,
        config: Config,
        worker_id: str,
        clock: Callable[[], float] = time.time,
        on_decided: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._rulebook = rulebook
        self._config = config
        self._clock = clock
        self._worker_id = worker_id
        self._on_decided = on_decided  #: sends were (possibly) queued: wake whoever sends them
        self._wake = asyncio.Event()
        # One thread: the engine is CPU work, and on the loop's thread it would delay every
        # webhook answer by as long as a round takes.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rulebot-decide")
        # the engine's word lists load once, at start, rather than on a client's first message
        self._thread.submit(lexicon.warm)

    def close(self) -> None:
        """Let the deciding thread end (it finishes the round it is in)."""
        self._thread.shutdown(wait=False)

    def notify_inbox(self) -> None:
        """A message was stored: decide now rather than at the next poll."""
        self._wake.set()

    async def decide_pending(self) -> tuple[int, float | None]:
        """Decide every client whose messages are ready. Returns (clients decided, next due)."""
        rules = self._rulebook.current
        now = self._clock()
        batches, next_due = await self._store.claim_clients(
            now=now,
            window_s=rules.burst_window_s,
            max_wait_s=rules.burst_max_wait_s,
            limit=CLAIM_LIMIT,
            worker=self._worker_id,
            lease_s=self._config.delivery.lease_s,
        )
        if batches:
            await self._decide_batches(batches, rules, now)
            self._on_decided()
        return len(batches), next_due

    async def run(self, stop: asyncio.Event) -> None:
        """Decide as messages become ready, until `stop` is set."""
        idle = IdleWait(self._config.delivery.poll_interval_s)
        while not stop.is_set():
            # Cleared before looking, so a message stored while we look wakes the next wait.
            self._wake.clear()
            try:
                decided, next_due = await self.decide_pending()
            except StoreError as exc:
                log.error("cannot read the inbox: %s", exc)
                decided, next_due = 0, None
            except Exception:  # a bug must not stop the loop: the inbox keeps the messages
                log.exception("deciding failed; trying again")
                decided, next_due = 0, None
            if decided:
                idle.reset()
                if decided < CLAIM_LIMIT:
                    await asyncio.sleep(_GATHER_S)
                continue
            wait = idle.next()
            if next_due is not None:
                wait = max(0.0, min(wait, next_due - self._clock()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
                idle.reset()  # woken: a message was stored

    async def _decide_batches(self, batches: list[ClientBatch], rules: RuleSet, now: float) -> None:
        # Stores that read the records while claiming hand them over; others are asked now.
        missing = [batch.client for batch in batches if batch.record is None]
        fetched = await asyncio.gather(*(self._store.client_record(c, now) for c in missing))
        asked = dict(zip(missing, fetched, strict=True))
        records = {b.client: b.record or asked[b.client] for b in batches}
        # Short messages first: a long one costs the most to match and ordinary messages are
        # short, so a flood of long messages from many clients does not hold the others back.
        waiting = sorted(batches, key=_next_size)
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        while waiting:
            if time.monotonic() - started > ROUND_S:
                # Release the rest: the next claim sees them again, with any new arrivals.
                await self._record([DecidedBatch(b, (), (), 0.0) for b in waiting], now)
                return
            share = max(CLIENT_SHARE_S, SLICE_S / len(waiting))
            decided = await loop.run_in_executor(
                self._thread, self._decide_slice, waiting, records, rules, now, share
            )
            waiting = waiting[len(decided) :]
            await self._record(decided, now)

    async def _record(self, decided: list[DecidedBatch], now: float) -> None:
        """Record a slice's decisions (and release its clients' claims)."""
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
                client = mask_number(item.batch.client)
                log.warning("the claim on %s lapsed; another worker has it", client)
                continue
            waiting = len(item.batch.messages) - len(item.outcomes)
            if waiting:
                DEFERRED.inc(waiting)
            for outcome in item.outcomes:
                DECISIONS.labels(outcome.outcome).inc()
                # what matched and how, as `rulebot try` says it
                log.info(
                    "decided: %s%s: %s",
                    outcome.outcome,
                    f" by rule '{outcome.rule}'" if outcome.rule else "",
                    outcome.explanation,
                    extra={"message_id": outcome.message_id},
                )
            for draft in item.drafts:
                MATCHES.labels(draft.rule).inc()

    def _decide_slice(
        self,
        batches: Sequence[ClientBatch],
        records: dict[str, ClientRecord],
        rules: RuleSet,
        now: float,
        share: float,
    ) -> list[DecidedBatch]:
        """In the deciding thread: the first clients of `batches`, in order, until SLICE_S is
        used (one at least); each client gets `share` of time for its messages."""
        started = time.perf_counter()
        decided: list[DecidedBatch] = []
        for batch in batches:
            if decided and time.perf_counter() - started > SLICE_S:
                break
            decided.append(self._decide(batch, records[batch.client], rules, now, share))
        return decided

    def _decide(
        self, batch: ClientBatch, record: ClientRecord, rules: RuleSet, now: float, share: float
    ) -> DecidedBatch:
        """The engine's decisions for one client's messages, with our own limits applied."""
        messages = [_bounded(inbound_message(pending)) for pending in batch.messages]
        state = client_state(record)
        moment = datetime.fromtimestamp(now, UTC)
        try:
            if rules.burst_window_s > 0:
                burst = messages[:BURST_CAP]
                decisions = [(burst, decide_burst(burst, rules, state, moment))]
            else:
                decisions = list(_one_by_one(messages, rules, state, moment, share))
        except Exception as exc:  # a bug or a bad rule must not wedge the client's inbox
            log.exception("deciding client %s failed", mask_number(batch.client))
            error = f"could not decide: {type(exc).__name__}"
            failed = [MessageOutcome(m.id, "error", None, error) for m in messages]
            return DecidedBatch(batch, failed, (), _last_message_at(messages, batch.messages))
        taken = sum(len(group) for group, _ in decisions)
        if taken < len(messages):
            log.info(
                "client %s sent more than a round decides: %d of %d messages wait, in order",
                mask_number(batch.client),
                len(messages) - taken,
                len(messages),
            )
        last_message_at = _last_message_at(messages[:taken], batch.messages[:taken])
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


def _last_message_at(messages: Sequence[InboundMessage], rows: Sequence[PendingMessage]) -> float:
    """When the client last wrote, as the 24 h window counts it: the gateway counts from the
    message's own stamp, and a stamp in the future (clock skew) counts as its arrival."""
    return max(min(m.timestamp, row.received_at) for m, row in zip(messages, rows, strict=True))


def _next_size(batch: ClientBatch) -> int:
    """The size of the client's next message as stored: what deciding it may cost."""
    return len(batch.messages[0].payload) if batch.messages else 0


def _bounded(message: InboundMessage) -> InboundMessage:
    """The message as rules see it: its text cut to MATCH_CHARS (the store keeps it whole)."""
    if message.text is None or len(message.text) <= MATCH_CHARS:
        return message
    return dataclasses.replace(message, text=message.text[:MATCH_CHARS])


def _one_by_one(
    messages: Sequence[InboundMessage],
    rules: RuleSet,
    state: ClientState,
    moment: datetime,
    share_s: float,
) -> Iterator[tuple[list[InboundMessage], Decision]]:
    """No burst window: each message decided alone, in order, seeing the replies before it;
    after the first, only while the client's share of the round (`share_s`) lasts."""
    started = time.perf_counter()
    for position, message in enumerate(messages, start=1):
        decision = decide(message, rules, state, moment)
        yield [message], decision
        if position == len(messages) or time.perf_counter() - started > share_s:
            return
        state = state.after(decision, moment, datetime.fromtimestamp(message.timestamp, UTC))
