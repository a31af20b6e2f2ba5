"""Per-client bounds at the webhook: messages waiting to be decided, and bytes stored a day.

A client over either bound is still acknowledged (200: the provider must not retry it), but
its message is not stored: it is recorded as dropped with the reason. Ordinary clients never
come near the bounds, so the check costs them a dictionary lookup; the store is asked how many
messages really wait only when a client's own count says it may be over. The counts live in
this process (bounded to MAX_CLIENTS, least recent forgotten); with several instances each
keeps its own, so a client gets at most that many times the bound.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

#: clients whose counts are kept; beyond it the least recent is forgotten (and starts again)
MAX_CLIENTS = 100_000
#: a client found over the waiting bound is not asked about again within this
_RECHECK_S = 1.0
_DAY_S = 86400


@dataclass(slots=True)
class _Tally:
    day: int  #: the UTC day the bytes count
    bytes_today: int
    waiting: int  #: messages waiting to be decided, as last counted plus those stored since
    over_until: float = 0.0  #: found over the waiting bound: drop without asking until then


class ClientLimits:
    """Decides whether a client's next message may be stored, and counts what was."""

    def __init__(
        self,
        *,
        max_waiting: int,
        max_bytes_per_day: int,
        count_waiting: Callable[[str], Awaitable[int]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_waiting = max_waiting
        self._max_bytes = max_bytes_per_day
        self._count_waiting = count_waiting
        self._clock = clock
        self._tallies: OrderedDict[str, _Tally] = OrderedDict()

    async def refusal(self, client: str, size: int, now: float) -> str | None:
        """Why this message must not be stored (over a bound), or None to store it."""
        tally = self._tally(client, now)
        if tally.bytes_today + size > self._max_bytes:
            return (
                f"over {self._max_bytes} bytes of messages from this client today (UTC): "
                "dropped, not stored"
            )
        if tally.waiting + 1 > self._max_waiting:
            if self._clock() >= tally.over_until:
                tally.waiting = await self._count_waiting(client)
            if tally.waiting + 1 > self._max_waiting:
                tally.over_until = self._clock() + _RECHECK_S
                return (
                    f"{self._max_waiting} messages from this client already wait to be "
                    "decided: dropped, not stored"
                )
        return None

    def stored(self, client: str, size: int, now: float) -> None:
        """A message of `size` bytes from `client` was stored."""
        tally = self._tally(client, now)
        tally.bytes_today += size
        tally.waiting += 1

    def _tally(self, client: str, now: float) -> _Tally:
        day = int(now // _DAY_S)
        tally = self._tallies.pop(client, None)
        if tally is None:
            tally = _Tally(day=day, bytes_today=0, waiting=0)
        elif tally.day != day:
            tally.day, tally.bytes_today = day, 0
        self._tallies[client] = tally  # most recent last
        while len(self._tallies) > MAX_CLIENTS:
            self._tallies.popitem(last=False)
        return tally

    def __len__(self) -> int:
        return len(self._tallies)
