"""What runs behind the webhook: the decider and the sender on one store, plus pruning.

One object for the service to start and stop: recovery first (so nothing a dead process left
claimed is lost), then deciding, sending and pruning side by side; on stop, the sends in flight
are finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable

from bot.config import Config
from bot.decider import Decider
from bot.gateway import GatewayClient
from bot.rulebook import RuleBook
from bot.sender import Sender
from bot.store import Store

log = logging.getLogger("rulebot.pipeline")

_PRUNE_EVERY_S = 3600.0


class Pipeline:
    """Stored messages decided and their sends delivered, by one worker (`worker_id`)."""

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
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:8]}"
        self._store = store
        self._config = config
        self._clock = clock
        self.sender = Sender(
            store=store, gateway=gateway, config=config, worker_id=self.worker_id, clock=clock
        )
        self.decider = Decider(
            store=store,
            rulebook=rulebook,
            config=config,
            worker_id=self.worker_id,
            clock=clock,
            on_decided=self.sender.notify_outbox,
        )

    def notify_inbox(self) -> None:
        """A message was stored: decide now rather than at the next poll."""
        self.decider.notify_inbox()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set; then finish the sends in flight (bounded by their timeout)."""
        await self.sender.recover()
        tasks = [
            asyncio.create_task(self.decider.run(stop), name="decide"),
            asyncio.create_task(self.sender.run(stop), name="send"),
            asyncio.create_task(self._prune_loop(stop), name="prune"),
        ]
        try:
            await stop.wait()
        finally:
            self.decider.notify_inbox()
            self.sender.notify_outbox()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.decider.close()
            await self.sender.finish_in_flight()

    async def drain(self, *, timeout_s: float = 30.0) -> None:
        """Decide and send until nothing is ready (for tests)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            decided, _ = await self.decider.decide_pending()
            started = await self.sender.send_due()
            if self.sender.sending:
                await self.sender.finish_in_flight()
                continue
            if not decided and not started:
                return

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
