"""What one view of the store's figures costs (`rulebot status`, the dashboard's header, the
/metrics gauges), with a month of history and a backlog waiting: the first view in a process,
then the mean of the next views.

    python bench/status_figures.py STORE_URL --fill [--history 1000000] [--backlog 20000]
    python bench/status_figures.py STORE_URL

STORE_URL is a SQLite path or a postgresql:// URL with a search_path. With --fill the history
and the backlog are written first; without, the store is measured as it is (fill once, then
measure several versions of the code on the same rows).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from _history import fill

from bot.status import start_of_day
from bot.store import InboxRow, open_store, reports

_VIEWS = 20


async def _backlog(url: str, count: int) -> None:
    """`count` messages waiting to be decided (the webhooks got ahead of the deciding)."""
    store = await open_store(url)
    try:
        now = time.time()
        for start in range(0, count, 500):
            await asyncio.gather(
                *(
                    store.add_inbound(
                        InboxRow(f"backlog-{n}", f"97259{n:07d}", f"97259{n:07d}", b"{}"), now
                    )
                    for n in range(start, min(count, start + 500))
                )
            )
    finally:
        await store.close()


async def _measure(url: str) -> None:
    store = await open_store(url)
    try:
        now = time.time()
        today = start_of_day(now)
        views = []
        for _ in range(_VIEWS + 1):
            began = time.perf_counter()
            stats = await store.stats(since=today, now=now)
            views.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        for _ in range(_VIEWS):
            await store.stats(since=now, now=now)  # what a /metrics scrape asks
        scrape = (time.perf_counter() - began) * 1000 / _VIEWS
        extra = ""
        if hasattr(reports, "failures"):  # the dashboard's own counts of today, before 18b
            began = time.perf_counter()
            await reports.failures(store, since=today)
            await reports.unanswered_count(store, since=today)
            extra = (
                f", dashboard's failures+unanswered {(time.perf_counter() - began) * 1000:.1f} ms"
            )
        print(
            f"today: {stats.received} in, {stats.inbox_pending} waiting; "
            f"first view {views[0]:.1f} ms, next views {statistics.mean(views[1:]):.2f} ms "
            f"(median {statistics.median(views[1:]):.2f}); /metrics view {scrape:.2f} ms{extra}"
        )
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="a SQLite path or a postgresql:// URL")
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--fill", action="store_true", help="write history and backlog first")
    args = parser.parse_args()
    if args.fill:
        asyncio.run(fill(args.store, history=args.history, clients=args.clients))
        asyncio.run(_backlog(args.store, args.backlog))
    asyncio.run(_measure(args.store))


if __name__ == "__main__":
    main()
