"""End to end: messages/s from webhook to contact accepted by the sandbox gateway (SQLite store).

`rulebot serve` and `rulebot sandbox` run as child processes; this process plays the gateway's
webhook deliveries. Three runs, each on a fresh store:
  1. one message per client, no burst window: replies/s and the webhook-to-card latency;
  2. four messages per client, no window (every message answered);
  3. the same with `burst_window_s: 3` (one card per burst): the window must add latency, not
     cost, so its messages/s (less the window itself) is printed beside run 2's.
Prints, never asserts.

    python bench/end_to_end.py [--messages 4000] [--concurrency 64]
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
    API_KEY,
    TOKEN,
    cpu_seconds,
    describe,
    free_port,
    get_json,
    spawn,
    stop,
    wait_for_port,
    write_config,
)

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
    sandbox = spawn(
        ["-m", "bot", "sandbox", "--port", str(sandbox_port), "--api-key", API_KEY,
         "--account", ACCOUNT],
        log=work / f"sandbox-{label}.log",
    )  # fmt: skip
    config = write_config(
        work, port=bot_port, rules=rules, store=work / f"rulebot-{label}.db",
        gateway_url=f"http://127.0.0.1:{sandbox_port}/whatsapp/v2/sendContact",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rulebot-e2e-") as folder:
        work = Path(folder)
        single = asyncio.run(
            run(work, clients=args.messages, per_client=1, window_s=0, concurrency=args.concurrency)
        )
        print(
            f"1. {single['messages']:.0f} clients x 1 message, no window: "
            f"{single['replies_per_s']:.0f} replies/s ({single['replies']:.0f} cards in "
            f"{single['elapsed_s']:.2f} s; webhooks posted in {single['post_s']:.2f} s)\n"
            f"   webhook -> card accepted: {single['latency']}   (target >= 1000 replies/s)\n"
            f"   bot CPU: {single['cpu_ms_per_message']:.3f} ms per message"
        )
        burst_runs = {}
        for window in (0.0, 3.0):
            burst_runs[window] = asyncio.run(
                run(work, clients=args.messages // 4, per_client=4, window_s=window,
                    concurrency=args.concurrency)
            )  # fmt: skip
        plain, windowed = burst_runs[0.0], burst_runs[3.0]
        print("\n   burst_window_s           0            3")
        print(f"2. messages            {plain['messages']:8.0f}     {windowed['messages']:8.0f}")
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
