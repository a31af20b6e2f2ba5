"""A flood from hostile clients: ordinary clients' webhook acks with and without it.

`rulebot serve` and `rulebot sandbox` run as child processes, with a shop's ordinary rules (one
`pattern` that backtracks badly on spaces, one `fuzzy` rule). Ordinary clients post short
messages at a steady pace (default 50/s) for a few seconds while, in the flooded runs, 300 long
messages ("order" and 10,000 spaces) arrive as fast as the connections allow: first all from one
client, then spread over 200 clients. Each run starts a fresh bot; after the ordinary traffic it
waits until every flooded message is decided, and counts those whose outcome is recorded. The
figure is the ordinary clients' ack latency (p50/p99/max) side by side, and its ratio to the
quiet run in the same process, because a shared machine's speed drifts. Prints, never asserts.

    python bench/flood.py [--seconds 6] [--rate 50] [--flood 300]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ACCOUNT,
    TOKEN,
    free_port,
    percentile,
    sandbox_send_url,
    spawn,
    spawn_sandbox,
    stop,
    wait_for_port,
    write_config,
)

RULES = """\
timezone: Asia/Jerusalem
burst_window_s: 0
contacts:
  orders: {name: "Orders desk", phone: "+972 3 555 0101"}
  support: {name: "Help desk", phone: "+972 3 555 0102"}
rules:
  - name: order status
    pattern: 'order(\\s*\\w*)*\\s*#\\d{5,}'
    reply: {contact: orders}
  - name: support
    keywords: [support, broken, refund, "not working"]
    fuzzy: true
    reply: {contact: support}
"""
#: the attack run's message: a keyword, then spaces a backtracking pattern chews on
FLOOD_TEXT = "order" + " " * 10_000 + "?"
ORDINARY_TEXTS = ("my order is broken", "refund please", "hi, is the shop open?", "suport")


async def scenario(work: Path, name: str, *, flooders: int, args: argparse.Namespace) -> dict:
    sandbox_port, bot_port = free_port(), free_port()
    rules = work / f"rules-{name}.yaml"
    rules.write_text(RULES, encoding="utf-8")
    store = work / f"rulebot-{name}.db"
    sandbox = spawn_sandbox(sandbox_port, log=work / f"sandbox-{name}.log")
    config = write_config(
        work, port=bot_port, rules=rules, store=store,
        gateway_url=sandbox_send_url(sandbox_port),
    )  # fmt: skip
    bot = spawn(["-m", "bot", "--config", str(config), "serve"], log=work / f"bot-{name}.log")
    webhook = f"http://127.0.0.1:{bot_port}/webhook?token={TOKEN}"
    acks: list[float] = []
    flood_ids: list[str] = []
    try:
        wait_for_port(sandbox_port)
        wait_for_port(bot_port)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            stamp = str(int(time.time()))

            async def post(payload: dict) -> float:
                began = time.perf_counter()
                async with http.post(webhook, json=payload) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"webhook answered {response.status}")
                return time.perf_counter() - began

            async def ordinary() -> None:
                interval = 1 / args.rate
                start = time.perf_counter()
                pending = []
                for k in range(int(args.seconds * args.rate)):
                    await asyncio.sleep(max(0.0, start + k * interval - time.perf_counter()))
                    text = ORDINARY_TEXTS[k % len(ORDINARY_TEXTS)]
                    payload = _message(f"{name}-ok-{k}", f"97252{k % 40:07d}", text, stamp)
                    pending.append(asyncio.ensure_future(post(payload)))
                acks.extend(await asyncio.gather(*pending))

            async def flood() -> None:
                await asyncio.sleep(0.5)  # the ordinary pace is steady before the flood starts
                queue = [
                    _message(f"{name}-flood-{k:04d}", f"97254{k % flooders:07d}", FLOOD_TEXT, stamp)
                    for k in range(args.flood)
                ]
                flood_ids.extend(str(p["unique"]) for p in queue)
                queue.reverse()

                async def connection() -> None:
                    while queue:
                        await post(queue.pop())

                await asyncio.gather(*(connection() for _ in range(args.connections)))

            jobs = [ordinary()]
            if flooders:
                jobs.append(flood())
            await asyncio.gather(*jobs)
        decided, waited = _wait_decided(store, flood_ids, timeout_s=120)
        in_order = _decided_in_order(store, flood_ids)
        lags = _decide_lags(store, f"{name}-ok-%")
    finally:
        stop(bot)
        stop(sandbox)
    return {
        "acks": acks,
        "lags": lags,
        "flood": len(flood_ids),
        "decided": decided,
        "decided_after": waited,
        "in_order": in_order,
    }


def _message(unique: str, sender: str, text: str, stamp: str) -> dict[str, str]:
    """A client's text message as the provider posts it."""
    return {"hook": "new", "unique": unique, "from": sender, "to": ACCOUNT, "type": "text",
            "body": text, "timestamp": stamp}  # fmt: skip


def _wait_decided(store: Path, ids: list[str], *, timeout_s: float) -> tuple[int, float]:
    """How many of the flooded messages have a recorded outcome, once all do (or time is up)."""
    began = time.monotonic()
    decided = 0
    while ids and time.monotonic() - began < timeout_s:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            decided = db.execute(
                "SELECT COUNT(*) FROM inbox WHERE message_id LIKE ? AND state = 'done'",
                (ids[0].rsplit("-", 1)[0] + "-%",),
            ).fetchone()[0]
        if decided >= len(ids):
            break
        time.sleep(0.2)
    return decided, time.monotonic() - began


def _decided_in_order(store: Path, ids: list[str]) -> bool:
    """Whether each flooding client's messages were decided in the order they arrived."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT client, decided_at FROM inbox WHERE message_id LIKE ? ORDER BY received_at, id",
            (ids[0].rsplit("-", 1)[0] + "-%",) if ids else ("-",),
        ).fetchall()
    last: dict[str, float] = {}
    for client, decided_at in rows:
        if decided_at is None or decided_at < last.get(client, 0.0):
            return False
        last[client] = decided_at
    return True


def _decide_lags(store: Path, like: str) -> list[float]:
    """Seconds from arrival to decision of the ordinary clients' messages."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT decided_at - received_at FROM inbox WHERE message_id LIKE ? "
            "AND decided_at IS NOT NULL",
            (like,),
        ).fetchall()
    return [row[0] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="ordinary traffic per run")
    parser.add_argument("--rate", type=float, default=50.0, help="ordinary webhooks per second")
    parser.add_argument("--flood", type=int, default=300, help="flooded messages per run")
    parser.add_argument("--connections", type=int, default=32, help="the flood's connections")
    args = parser.parse_args()
    runs = {}
    with tempfile.TemporaryDirectory(prefix="rulebot-flood-") as folder:
        for name, flooders in (("quiet", 0), ("one", 1), ("many", 200)):
            runs[name] = asyncio.run(scenario(Path(folder), name, flooders=flooders, args=args))
    quiet = runs["quiet"]["acks"]
    print(
        f"Ordinary clients' webhook acks ({args.rate:g}/s for {args.seconds:g} s) while "
        f"{args.flood} messages of {len(FLOOD_TEXT):,} characters arrive:\n"
    )
    print(f"{'':24}{'no flood':>12}{'1 client':>12}{'200 clients':>14}")
    for label, q in (("p50", 50), ("p99", 99), ("max", 100)):
        cells = [percentile(runs[n]["acks"], q) * 1000 for n in ("quiet", "one", "many")]
        print(f"ack {label} (ms){'':13}{cells[0]:12.1f}{cells[1]:12.1f}{cells[2]:14.1f}")
    for label, q in (("p50", 50), ("p99", 99), ("max", 100)):
        base = percentile(quiet, q)
        ratios = [percentile(runs[n]["acks"], q) / base for n in ("one", "many")]
        print(f"ack {label} vs no flood{'':6}{'':12}{ratios[0]:11.2f}x{ratios[1]:13.2f}x")
    print("\nOrdinary clients' messages, arrival to decision (their answers' delay):")
    for label, q in (("p50", 50), ("p99", 99)):
        cells = [percentile(runs[n]["lags"], q) * 1000 for n in ("quiet", "one", "many")]
        print(f"decided {label} (ms){'':9}{cells[0]:12.1f}{cells[1]:12.1f}{cells[2]:14.1f}")
    for n, title in (("one", "1 client"), ("many", "200 clients")):
        run = runs[n]
        order = "in order" if run["in_order"] else "NOT in order"
        print(
            f"\nflood from {title}: {run['decided']}/{run['flood']} flooded messages decided, "
            f"{order} ({run['decided_after']:.1f} s after the ordinary traffic ended)"
        )
    print("\ntarget during a flood: ordinary acks p99 <= 100 ms, max <= 500 ms")


if __name__ == "__main__":
    main()
