""" "Today's" figures for `rulebot status`, the dashboard and /metrics, kept per finished hour.

Counting today's rows costs a range over every message of the day (about 40 ms a view at 1M
stored). But an hour that has passed never changes these figures: a message's received_at, its
decided_at and outcome, a send's finished_at and final state, and a conversation's started_at
are written once, at the time they name, and pruning reaches only rows far older than a day.
So each finished hour is counted once and kept; a view counts the current hour (and the part of
an hour before `since`, where the day starts off the hour) and adds the kept hours.

Sends flagged as possible duplicates are not kept: the flag is set on a send created earlier,
when a later try's outcome is unknown, so an hour's count of them can still change. They are
few (a partial index holds only them) and are counted at every view.
"""

from __future__ import annotations

from bot.store.operations import Connection
from bot.store.rows import PeriodFigures

HOUR_S = 3600
#: an hour is final this long after it ends (instances' clocks differ by a little, and a
#: webhook acknowledged at the end of an hour is written a moment later)
SETTLE_S = 120.0
#: how far back hours are kept: "today" in any time zone, on a day with a DST change
KEPT_HOURS = 48
#: send states that did not go out (the dashboard's failures)
_FAILED_STATES = frozenset({"failed", "refused", "window_expired"})


def _hour_of(column: str, conn: Connection) -> str:
    # SQLite's CAST truncates (positive times: floors); PostgreSQL's rounds, so it gets FLOOR.
    if conn.dialect.name == "postgresql":
        return f"CAST(FLOOR({column} / {HOUR_S}) AS BIGINT)"
    return f"CAST({column} / {HOUR_S} AS INTEGER)"


async def count_by_hour(conn: Connection, since: float, until: float) -> dict[int, PeriodFigures]:
    """Each hour's figures from the rows with times in [since, until): index range scans on
    inbox_received, inbox_decided, outbox_finished and conversations_started."""
    by_hour: dict[int, PeriodFigures] = {}

    def hour(row: object) -> PeriodFigures:
        return by_hour.setdefault(int(row[0]), PeriodFigures())  # type: ignore[index]

    received = _hour_of("received_at", conn)
    for row in await conn.fetch(
        f"SELECT {received}, COUNT(*) FROM inbox WHERE received_at >= ? AND received_at < ? "
        f"GROUP BY {received}",
        since,
        until,
    ):
        hour(row).received = int(row[1])
    decided = _hour_of("decided_at", conn)
    for row in await conn.fetch(
        f"SELECT {decided}, outcome, COUNT(*) FROM inbox "
        f"WHERE decided_at >= ? AND decided_at < ? GROUP BY {decided}, outcome",
        since,
        until,
    ):
        if row[1] is not None:
            hour(row).outcomes[str(row[1])] = int(row[2])
    finished = _hour_of("finished_at", conn)
    for row in await conn.fetch(
        f"SELECT {finished}, state, COALESCE(error, ''), COUNT(*), "
        "SUM(CASE WHEN warning IS NOT NULL THEN 1 ELSE 0 END) FROM outbox "
        "WHERE finished_at >= ? AND finished_at < ? "
        f"GROUP BY {finished}, state, COALESCE(error, '')",
        since,
        until,
    ):
        figures = hour(row)
        state, error, n = str(row[1]), str(row[2]), int(row[3])
        figures.sends[state] += n
        figures.warned += int(row[4] or 0)
        if state in _FAILED_STATES:
            figures.failures[(state, error)] += n
    started = _hour_of("started_at", conn)
    for row in await conn.fetch(
        f"SELECT {started}, COUNT(*) FROM conversations WHERE started_at >= ? AND started_at < ? "
        f"GROUP BY {started}",
        since,
        until,
    ):
        hour(row).conversations = int(row[1])
    return by_hour


class PeriodCounts:
    """Figures since a time, with finished hours kept between calls (one per store object).
    Instances sharing a database each keep their own: a kept hour is final, so they agree."""

    def __init__(self) -> None:
        self._final: dict[int, PeriodFigures] = {}

    async def since(self, conn: Connection, since: float, now: float) -> PeriodFigures:
        """The figures for everything from `since` on (exact: kept hours plus the rest counted)."""
        current = int(now // HOUR_S)
        settled = int((now - SETTLE_S) // HOUR_S) - 1  # the last hour that can no longer change
        first_whole = -(-since // HOUR_S)  # the first hour that starts at or after `since`
        # Hours are kept for a day or two back; a longer period (a test's since=0) is counted.
        first_whole = int(min(max(first_whole, current - KEPT_HOURS), current))
        for old in [h for h in self._final if h < first_whole]:
            del self._final[old]
        total = PeriodFigures()
        if since < first_whole * HOUR_S:  # the day starts off the hour: its first part, exactly
            for figures in (await count_by_hour(conn, since, first_whole * HOUR_S)).values():
                total.add(figures)
        missing = [h for h in range(first_whole, current) if h not in self._final]
        if missing:
            counted = await count_by_hour(conn, missing[0] * HOUR_S, current * HOUR_S)
            for hour in missing:
                figures = counted.get(hour, PeriodFigures())
                if hour <= settled:
                    self._final[hour] = figures
                else:
                    total.add(figures)  # ended moments ago: counted again next time
        for hour in range(first_whole, current):
            if hour in self._final:
                total.add(self._final[hour])
        # The current hour, and anything stamped later by an instance whose clock runs ahead.
        for figures in (
            await count_by_hour(conn, max(since, current * HOUR_S), float("inf"))
        ).values():
            total.add(figures)
        return total
