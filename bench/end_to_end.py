"""End to end: cost per message from webhook to contact accepted by the sandbox gateway, as the
store grows: a month of history and a pool of clients who write again and again.

`rulebot serve` and `rulebot sandbox` run as child processes; this process plays the gateway's
webhook deliveries. For each store (SQLite, PostgreSQL) and each history size (default 0, 100k
and 1M answered messages over 29 days, written by bench/_history.py before the bot starts), a
burst of messages from the same pool of clients (default 5,000) is posted, then drained, then
the instance is left idle. Printed side by side: ack req/s and p99, the bot's CPU per
acknowledged message (during the burst, deciding included as it happens), CPU per message
end to end (ack + decide + send, until the last card is accepted), the drain time and the
CPU an idle instance uses. `--bursts` adds the burst-window comparison (window 0 against 3 s,
four messages per client). Prints, never asserts.

    python bench/end_to_end.py [--history 0,100000,1000000] [--clients 5000] [--messages 5000]
                               [--store sqlite,postgres] [--idle-seconds 20] [--bursts]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ACCOUNT,
    TOKEN,
    cpu_seconds,
    cpu_since,
    describe,
    drop_postgres_schema,
    free_port,
    get_json,
    open_windows,
    percentile,
    postgres_backend_cpu,
    postgres_schema_url,
    sandbox_send_url,
    spawn,
    spawn_sandbox,
    stop,
    wait_for_port,
    write_config,
)
from _history import client_number, fill

RULES = """
burst_window_s: {window}
contacts:
  sales: {{name: "Dana - Sales", phone: "050-123-4567", email: sales@example.co.il}}
  support: {{name: "Support desk", phone: "03-555-0101"}}
rules:
  - name: sales
    keywords: [sales, price, quote, מכירות, מחיר]
    reply: {{contact: sales}}
  - name: support
    keywords: [support, תמיכה]
    reply: {{contact: support}}
"""


async def run(
    work: Path, *, clients: int, per_client: int, window_s: float, concurrency: int
) -> dict[str, float]:
    sandbox_port, bot_port = free_port(), free_port()
    label = f"w{window_s:g}-{per_client}"
    rules = work / f"rules-{label}.yaml"
    rules.write_text(RULES.format(window=window_s), encoding="utf-8")
    sandbox = spawn_sandbox(sandbox_port, log=work / f"sandbox-{label}.log")
    config = write_config(
        work, port=bot_port, rules=rules, store=work / f"rulebot-{label}.db",
        gateway_url=sandbox_send_url(sandbox_port),
    )  # fmt: skip
    bot = spawn(["-m", "bot", "--config", str(config), "serve"], log=work / f"bot-{label}.log")
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    webhook = f"http://127.0.0.1:{bot_port}/webhook?token={TOKEN}"
    numbers = [f"97254{n:07d}" for n in range(clients)]
    try:
        wait_for_port(sandbox_port)
        wait_for_port(bot_port)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
            now = time.time()
            # The clients wrote just now, as far as the gateway knows (their 24 h window is open).
            await asyncio.gather(
                *(_post(http, f"{sandbox_url}/control/clients/{n}", {"last_message_at": now})
                  for n in numbers)
            )  # fmt: skip
            texts = ["hi", "I need the sales number", "sales??", "thanks"]
            payloads = [
                {"hook": "new", "unique": f"{label}-{n}-{k}", "from": number, "to": ACCOUNT,
                 "type": "text", "body": texts[k % len(texts)] if per_client > 1 else "price?",
                 "timestamp": str(int(now))}
                for k in range(per_client) for n, number in enumerate(numbers)
            ]  # fmt: skip
            posted: dict[str, float] = {}
            queue = list(reversed(payloads))
            began = time.time()

            async def deliver() -> None:
                while queue:
                    payload = queue.pop()
                    posted[str(payload["unique"])] = time.time()
                    await _post(http, webhook, payload)

            await asyncio.gather(*(deliver() for _ in range(concurrency)))
            posted_all = time.time()
            # Without a window every message naming sales gets a card; with one, one per client.
            matching = sum("sales" in texts[k % len(texts)] for k in range(per_client))
            expected = clients if (window_s > 0 or per_client == 1) else clients * matching
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                stats = get_json(f"{sandbox_url}/stats")
                assert isinstance(stats, dict)
                if stats["sent"] >= expected:
                    break
                await asyncio.sleep(0.1)
            async with http.get(f"{sandbox_url}/sent") as response:
                sent = await response.json()
            cpu_s = cpu_seconds(bot.pid)
    finally:
        stop(bot)
        stop(sandbox)
    finished = max(s["accepted_at"] for s in sent)
    latencies = [s["accepted_at"] - posted[s["replyTo"]] for s in sent]
    elapsed = finished - began
    return {
        "messages": len(payloads),
        "replies": len(sent),
        "post_s": posted_all - began,
        "elapsed_s": elapsed,
        "messages_per_s": len(payloads) / elapsed,
        "replies_per_s": len(sent) / elapsed,
        # The window holds every message for window_s by design: take it out to see the cost.
        "messages_per_s_less_window": len(payloads) / max(1e-9, elapsed - window_s),
        "latency": describe(latencies),  # type: ignore[dict-item]
        # What the bot process spent per message (user + system CPU, start-up included).
        "cpu_ms_per_message": float("nan") if cpu_s is None else cpu_s * 1000 / len(payloads),
    }


async def _post(http: aiohttp.ClientSession, url: str, body: object) -> None:
    for _ in range(50):
        try:
            async with http.post(url, json=body) as response:
                await response.read()
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never answered 200")


async def growth_run(
    work: Path,
    *,
    store: str,
    history: int,
    clients: int,
    messages: int,
    concurrency: int,
    idle_s: float,
) -> dict[str, float]:
    """One store with `history` messages stored: a burst from the pool, drained, then idle."""
    label = f"{store}-{history}"
    schema = f"rulebot_bench_{history}"
    if store == "postgresql":
        url = await postgres_schema_url(schema)
        if url is None:
            return {}
    else:
        url = str(work / f"rulebot-{label}.db")
    fill_s = await fill(url, history=history, clients=clients)
    sandbox_port, bot_port = free_port(), free_port()
    rules = work / "rules-growth.yaml"
    rules.write_text(RULES.format(window=0), encoding="utf-8")
    sandbox = spawn_sandbox(sandbox_port, log=work / f"sandbox-{label}.log")
    config = write_config(
        work, port=bot_port, rules=rules, store=url,
        gateway_url=sandbox_send_url(sandbox_port),
        # The default poll interval, as deployed (the tests' short one would busy an idle bot).
        delivery={"poll_interval_s": 0.5},
    )  # fmt: skip
    bot = spawn(["-m", "bot", "--config", str(config), "serve"], log=work / f"bot-{label}.log")
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    webhook = f"http://127.0.0.1:{bot_port}/webhook?token={TOKEN}"
    texts = ["hi", "I need the sales number", "sales??", "thanks"]
    try:
        wait_for_port(sandbox_port)
        wait_for_port(bot_port, timeout_s=120)
        now = time.time()
        await open_windows(sandbox_url, [client_number(n) for n in range(clients)], now=now)
        # Client k % clients writes message k: each client of the pool writes again and again.
        payloads = [
            {"hook": "new", "unique": f"{label}-{k}", "from": client_number(k % clients),
             "to": ACCOUNT, "type": "text", "body": texts[k % len(texts)],
             "timestamp": str(int(now))}
            for k in range(messages)
        ]  # fmt: skip
        expected = sum("sales" in str(p["body"]) for p in payloads)
        latencies: list[float] = []
        queue = list(reversed(payloads))
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

            async def deliver() -> None:
                while queue:
                    payload = queue.pop()
                    started = time.monotonic()
                    await _post(http, webhook, payload)
                    latencies.append(time.monotonic() - started)

            async def database_cpu() -> dict[int, float]:
                return await postgres_backend_cpu(schema) if store == "postgresql" else {}

            db_start = await database_cpu()
            cpu_start = cpu_seconds(bot.pid) or 0.0
            began = time.monotonic()
            await asyncio.gather(*(deliver() for _ in range(concurrency)))
            posted = time.monotonic()
            cpu_posted = cpu_seconds(bot.pid) or 0.0
            db_posted = await database_cpu()
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                stats = get_json(f"{sandbox_url}/stats")
                assert isinstance(stats, dict)
                if stats["sent"] + stats["refused"] >= expected:
                    break
                await asyncio.sleep(0.05)
            drained = time.monotonic()
            cpu_drained = cpu_seconds(bot.pid) or 0.0
            db_drained = await database_cpu()
        await asyncio.sleep(2)  # the last sends' bookkeeping
        idle_from = cpu_seconds(bot.pid) or 0.0
        db_idle_from = await database_cpu()
        idle_began = time.monotonic()
        await asyncio.sleep(idle_s)
        idle_spent = (cpu_seconds(bot.pid) or 0.0) - idle_from
        idle_spent += cpu_since(db_idle_from, await database_cpu())
        idle_cpu = idle_spent / (time.monotonic() - idle_began)
    finally:
        stop(bot)
        stop(sandbox)
        if store == "postgresql":
            await drop_postgres_schema(schema)
    return {
        "history": history,
        "fill_s": fill_s,
        "ack_per_s": messages / (posted - began),
        "ack_p99_ms": percentile(latencies, 99) * 1000,
        # The bot's CPU plus, on PostgreSQL, its database backends' (the server's share).
        "cpu_ms_per_ack": (cpu_posted - cpu_start + cpu_since(db_start, db_posted))
        * 1000
        / messages,
        "cpu_ms_per_message": (cpu_drained - cpu_start + cpu_since(db_start, db_drained))
        * 1000
        / messages,
        "db_ms_per_message": cpu_since(db_start, db_drained) * 1000 / messages,
        "drain_s": drained - posted,
        "idle_cpu_percent": idle_cpu * 100,
        "cards": expected,
    }


def print_growth(store: str, rows: list[dict[str, float]], clients: int, messages: int) -> None:
    print(
        f"\n{store}: {messages} messages from a pool of {clients} returning clients, "
        "half of them answered"
    )
    print(
        "  stored history   ack req/s  ack p99   CPU/acked msg  CPU/msg end to end  "
        "drain   idle CPU"
    )
    for row in rows:
        print(
            f"  {row['history']:>14,.0f}  {row['ack_per_s']:9.0f}  {row['ack_p99_ms']:5.0f} ms  "
            f"{row['cpu_ms_per_ack']:10.3f} ms  {row['cpu_ms_per_message']:15.3f} ms  "
            f"{row['drain_s']:5.1f} s  {row['idle_cpu_percent']:6.2f} %"
        )
    if store == "postgresql":
        print(
            "  (CPU includes the PostgreSQL backends serving the bot: "
            + ", ".join(f"{r['db_ms_per_message']:.3f}" for r in rows)
            + " ms per message of it)"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(
            f"  at {last['history']:,.0f} against {first['history']:,.0f}: CPU per acked message "
            f"x{last['cpu_ms_per_ack'] / first['cpu_ms_per_ack']:.2f}, per message end to end "
            f"x{last['cpu_ms_per_message'] / first['cpu_ms_per_message']:.2f}   (target <= 1.30)"
        )
    print("  (history written in " + ", ".join(f"{r['fill_s']:.0f} s" for r in rows) + ")")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--history",
        default="0,100000,1000000",
        help="messages stored before each run, comma-separated",
    )
    parser.add_argument("--clients", type=int, default=5000, help="the pool of returning clients")
    parser.add_argument("--messages", type=int, default=10000, help="messages in each burst")
    parser.add_argument(
        "--store",
        default="sqlite,postgresql",
        help="sqlite, postgresql or both (default %(default)s)",
    )
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--bursts",
        action="store_true",
        help="also compare burst_window_s 0 and 3 (four messages per client)",
    )
    args = parser.parse_args()  # fmt: skip
    histories = [int(float(n)) for n in args.history.split(",")]
    with tempfile.TemporaryDirectory(prefix="rulebot-e2e-") as folder:
        work = Path(folder)
        for store in args.store.split(","):
            store = "postgresql" if store.startswith("postgres") else "sqlite"
            rows = []
            for history in histories:
                row = asyncio.run(
                    growth_run(work, store=store, history=history, clients=args.clients,
                               messages=args.messages, concurrency=args.concurrency,
                               idle_s=args.idle_seconds)
                )  # fmt: skip
                if not row:
                    break
                rows.append(row)
            if rows:
                print_growth(store, rows, args.clients, args.messages)
        if args.bursts:
            print_bursts(work, args.messages, args.concurrency)


def print_bursts(work: Path, messages: int, concurrency: int) -> None:
    burst_runs = {}
    for window in (0.0, 3.0):
        burst_runs[window] = asyncio.run(
            run(work, clients=messages // 4, per_client=4, window_s=window,
                concurrency=concurrency)
        )  # fmt: skip
    plain, windowed = burst_runs[0.0], burst_runs[3.0]
    print("\n   burst_window_s           0            3")
    print(f"   messages            {plain['messages']:8.0f}     {windowed['messages']:8.0f}")
    print(f"   cards               {plain['replies']:8.0f}     {windowed['replies']:8.0f}")
    print(
        f"   messages/s          {plain['messages_per_s']:8.0f}     "
        f"{windowed['messages_per_s']:8.0f}   (raw, window included)"
    )
    print(
        f"   messages/s - window {plain['messages_per_s_less_window']:8.0f}     "
        f"{windowed['messages_per_s_less_window']:8.0f}   ratio "
        f"{windowed['messages_per_s_less_window'] / plain['messages_per_s_less_window']:.2f}"
        "   (target >= 0.90)"
    )
    print(
        f"   bot CPU ms/message  {plain['cpu_ms_per_message']:8.3f}     "
        f"{windowed['cpu_ms_per_message']:8.3f}   ratio "
        f"{windowed['cpu_ms_per_message'] / plain['cpu_ms_per_message']:.2f}"
        "   (the window's cost: target <= 1.10)"
    )
    print(f"   latency, no window:  {plain['latency']}")
    print(f"   latency, window 3 s: {windowed['latency']}")


if __name__ == "__main__":
    main()
