"""Outbox -> gateway: queued sends delivered, retried, or recorded as refused with the reason.

An OK is final: the send is accepted, whatever the answer lacks (recorded as a warning), and
is never sent again. A temporary failure that certainly sent nothing (no connection, 5xx, 429,
reason 6) is retried with exponential backoff and jitter; a refusal, or a reply that waited
past the client's 24 h window, is final. A try whose outcome is unknown (timeout or dropped
connection after the request was written, an answer that is not JSON, a process that died
mid-send: its lease lapses or recovery finds it) is flagged uncertain and counted, then sent
again or not as `gateway.on_uncertain` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

from bot.config import Config
from bot.errors import GatewayError, StoreError
from bot.gateway import GatewayClient, WindowExpired
from bot.logs import mask_number
from bot.metrics import SEND_LATENCY, SENDS
from bot.polling import IdleWait
from bot.store import OutboxItem, Store

log = logging.getLogger("rulebot.sender")

WINDOW_S = 24 * 3600


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


class Sender:
    """Delivers queued sends through the gateway, at most `gateway.concurrency` at a time."""

    def __init__(
        self,
        *,
        store: Store,
        gateway: GatewayClient,
        config: Config,
        worker_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._config = config
        self._clock = clock
        self._worker_id = worker_id
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._rng = random.Random()
        self._next_due: float | None = None

    def notify_outbox(self) -> None:
        """Sends were queued: look now rather than at the next poll."""
        self._wake.set()

    @property
    def sending(self) -> bool:
        """Whether any send is waiting on the gateway."""
        return bool(self._in_flight)

    async def recover(self) -> int:
        """At start: take back what a dead process left claimed; returns sends it had in flight."""
        recovered = await self._store.recover(self._clock())
        if recovered:
            log.warning(
                "resuming %d sends that were in flight when the process stopped; the gateway "
                "may already have them (counted as possible duplicates)",
                recovered,
            )
        return recovered

    async def send_due(self) -> int:
        """Start every due send that fits in the free slots. Returns how many started."""
        free = self._config.gateway.concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        items, self._next_due = await self._store.claim_sends(
            now=self._clock(),
            limit=free,
            worker=self._worker_id,
            lease_s=self._config.delivery.lease_s + self._config.gateway.timeout_s,
        )
        for item in items:
            task = asyncio.create_task(self._deliver(item))
            self._in_flight.add(task)
            task.add_done_callback(self._send_done)
        return len(items)

    async def finish_in_flight(self) -> None:
        """Wait for the sends started so far (each is bounded by the gateway timeout)."""
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Send as sends fall due, until `stop` is set (sends in flight are not waited for)."""
        idle = IdleWait(self._config.delivery.poll_interval_s)
        while not stop.is_set():
            self._wake.clear()
            try:
                started = await self.send_due()
            except StoreError as exc:
                log.error("cannot read the outbox: %s", exc)
                started = 0
            except Exception:  # a bug must not stop the loop: the outbox keeps the sends
                log.exception("sending failed; trying again")
                started = 0
            if started:
                idle.reset()
                continue
            due = self._next_due
            wait = idle.next()
            if due is not None:
                wait = max(0.01, min(wait, due - self._clock()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
                idle.reset()  # woken: sends were queued or one finished

    def _send_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()

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
        if item.possible_duplicate and self._config.gateway.on_uncertain == "skip":
            # A try was in flight when its process died: the gateway may have it.
            SENDS.labels("uncertain", "in_flight").inc()
            log.warning(
                "send %d was in flight when its process stopped; not sent again "
                "(gateway.on_uncertain: skip)",
                item.id,
                extra={"message_id": item.reply_to},
            )
            await self._store.mark_final(
                item.id,
                state="uncertain",
                code="uncertain",
                reason=None,
                error="in flight when the process stopped: the gateway may have accepted it; "
                "not sent again (gateway.on_uncertain: skip)",
                now=now,
            )
            return
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
        warning = "; ".join(sent.warnings) or None
        if warning:
            log.warning(
                "send %d accepted, but %s", item.id, warning, extra={"message_id": item.reply_to}
            )
        await self._store.mark_sent(
            item.id,
            unique=sent.unique,
            now=self._clock(),
            window_left_min=sent.template_time_left_min,
            warning=warning,
        )
        log.info(
            "sent %s card to %s quoting %s",
            item.rule,
            mask_number(item.address),
            item.reply_to,
            extra={"message_id": item.reply_to},
        )

    async def _record_failure(self, item: OutboxItem, err: GatewayError) -> None:
        now = self._clock()
        reason = str(err.reason) if err.reason is not None else err.code
        gateway = self._config.gateway
        if err.uncertain:
            SENDS.labels("uncertain", err.code).inc()
            if gateway.on_uncertain == "skip":
                text = f"{err}; not sent again (gateway.on_uncertain: skip)"
                log.error(
                    "send %d uncertain: %s", item.id, text, extra={"message_id": item.reply_to}
                )
                await self._store.mark_final(
                    item.id, state="uncertain", code=err.code, reason=None, error=text, now=now
                )
                return
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
            await self._store.mark_retry(
                item.id, error=str(err), next_attempt_at=now + delay, uncertain=err.uncertain
            )
            return
        if err.uncertain:
            state, text = "uncertain", f"gave up after {item.attempts} attempts: {err}"
        elif err.retryable:
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
