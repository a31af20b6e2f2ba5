"""How long a worker loop waits for work that nobody woke it for."""

from __future__ import annotations

#: an idle loop looks at most this many poll intervals apart
IDLE_CEILING = 10


class IdleWait:
    """The poll interval after work or a wake-up, doubling with each look that found nothing,
    up to IDLE_CEILING intervals: a busy loop looks at once, an idle one rarely.

    Work this process stores wakes its loops (the webhook wakes the decider, the decider the
    sender), and retries and burst windows come with their own due times; the poll is only a
    safety net for work others leave (instances sharing a database, a lapsed lease).
    """

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._ceiling_s = interval_s * IDLE_CEILING
        self._wait_s = interval_s

    def reset(self) -> None:
        """Work was found or the loop was woken: look again soon."""
        self._wait_s = self._interval_s

    def next(self) -> float:
        """How long to wait now; the wait after it is twice as long (up to the ceiling)."""
        wait = self._wait_s
        self._wait_s = min(self._ceiling_s, self._wait_s * 2)
        return wait
