"""The provider's webhook delivery as the sandbox plays it: one POST with a 5 s limit, and, when
the bot does not answer 200 in time, the provider's re-deliveries (at once, then after 5 min,
20 min, 1 h, 4 h and 24 h) on the sandbox's clock, so a test can move time to reach them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

#: after a failed delivery, the provider tries again after these delays (provider-webhook.md)
RETRY_DELAYS_S = (0.0, 5 * 60.0, 20 * 60.0, 3600.0, 4 * 3600.0, 24 * 3600.0)
#: the provider counts a delivery as failed unless the answer is 200 within this
ANSWER_LIMIT_S = 5.0
#: how often due re-deliveries are looked for (real time)
_TICK_S = 0.05


@dataclass
class _Retry:
    due: float
    tries: int  #: deliveries made so far
    payload: dict[str, Any]


@dataclass
class WebhookDelivery:
    """Posts webhooks to `url()` and re-delivers those not acknowledged; `log` keeps every try."""

    url: Callable[[], str | None]
    clock: Callable[[], float]
    retries: bool = True
    #: every delivery: (the body's unique, try number from 1, HTTP status or None)
    log: list[tuple[str, int, int | None]] = field(default_factory=list)
    _queue: list[_Retry] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None
    _ticker: asyncio.Task[None] | None = None

    async def deliver(self, payload: dict[str, Any]) -> int | None:
        """The first delivery of `payload`; its HTTP status (None: no answer in time)."""
        return await self._try(payload, 1)

    @property
    def waiting(self) -> int:
        """Re-deliveries scheduled and not yet made."""
        return len(self._queue)

    async def deliver_due(self) -> int:
        """Make every re-delivery that is due now; returns how many were made."""
        now = self.clock()
        due = [retry for retry in self._queue if retry.due <= now]
        self._queue = [retry for retry in self._queue if retry.due > now]
        for retry in due:
            await self._try(retry.payload, retry.tries + 1)
        return len(due)

    def start(self) -> None:
        """Look for due re-deliveries in the background (until close)."""
        if self._ticker is None:
            self._ticker = asyncio.ensure_future(self._tick())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            await self.deliver_due()

    async def _try(self, payload: dict[str, Any], tries: int) -> int | None:
        status = await self._post(payload)
        self.log.append((str(payload.get("unique", "")), tries, status))
        if status != 200 and self.retries and tries <= len(RETRY_DELAYS_S):
            delay = RETRY_DELAYS_S[tries - 1]
            self._queue.append(_Retry(self.clock() + delay, tries, payload))
        return status

    async def _post(self, payload: dict[str, Any]) -> int | None:
        url = self.url()
        if url is None:
            return None
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(
                url,
                data=orjson.dumps(payload),
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=ANSWER_LIMIT_S),
            ) as response:
                await response.read()
                return response.status
        except (TimeoutError, aiohttp.ClientError):
            return None
