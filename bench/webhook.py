"""Webhook ingest: requests/s and ack latency of POST /webhook against a bare aiohttp handler,
with the bot's store holding a month of history and its clients writing again and again.

Both servers run as child processes started the same way, pinned to one core (taskset) while
the load runs on the others; the load comes from wrk (Debian package `wrk`) when installed, else
from an aiohttp client. The bot answers through the sandbox gateway, so deciding and sending
cost what they cost a user. The two are loaded in alternation for several rounds, because a
shared machine's speed drifts within a minute: each round's ratio compares runs seconds apart,
and the median of the rounds is the figure. Beside requests/s it prints each server's CPU time
per request (from /proc), the cost that does not drift with the machine's load. Then a paced
run at a fixed rate (default 500 requests/s) measures the ack latency a gateway would see.
All of it for each history size (`--history`, messages stored over 29 days by
bench/_history.py), the webhooks coming from a pool of `--clients` returning clients.
Prints, never asserts.

    python bench/webhook.py [--history 0,100000,1000000] [--clients 5000] [--seconds 5]
                            [--rounds 3] [--connections 32] [--rate 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ACCOUNT,
    ROOT,
    TOKEN,
    cpu_seconds,
    describe,
    free_port,
    open_windows,
    pinning,
    sandbox_send_url,
    spawn,
    spawn_sandbox,
    stop,
    wait_for_port,
    write_config,
)
from _history import client_number, fill

_WRK_SCRIPT = r"""
local counter = 0
local prefix = "%s"
local clients = %d
local texts = {"hi", "I need the sales number", "price?", "thanks"}
setup = function(thread)
  thread:set("tid", tostring(math.random(1, 1e9)))
end
request = function()
  counter = counter + 1
  local body = string.format(
    '{"hook":"new","unique":"%%s-%%s-%%d","from":"97254%%07d","to":"%s","type":"text",' ..
    '"body":"%%s","timestamp":"%%d"}',
    prefix, tid, counter, (counter + tonumber(tid)) %% clients, texts[counter %% 4 + 1],
    os.time())
  return wrk.format("POST", "/webhook?token=%s", {["Content-Type"] = "application/json"}, body)
end
"""


def wrk_run(
    port: int, seconds: int, connections: int, prefix: str, clients: int, cpus: str | None
) -> tuple[float, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % (prefix, clients, ACCOUNT, TOKEN))
    pin = ["taskset", "-c", cpus] if cpus is not None else []
    threads = max(1, len(os.sched_getaffinity(0)) - 1) if cpus is not None else 2
    out = subprocess.run(
        [*pin, "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", script.name, f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = " ".join(
        f"p{m.group(1)} {m.group(2)}" for m in re.finditer(r"^\s+(50|90|99)%\s+(\S+)", out, re.M)
    )
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        latency += f" ({errors.group(1)} non-2xx!)"
    return rate, latency


async def client_run(
    port: int, seconds: float, connections: int, prefix: str, clients: int
) -> tuple[float, str]:
    """Closed-loop load from aiohttp when wrk is not installed."""
    url = f"http://127.0.0.1:{port}/webhook?token={TOKEN}"
    latencies: list[float] = []
    end = time.monotonic() + seconds

    async def worker(n: int, http: aiohttp.ClientSession) -> None:
        i = 0
        while time.monotonic() < end:
            i += 1
            body = {"hook": "new", "unique": f"{prefix}-{n}-{i}",
                    "from": client_number((n * 7919 + i) % clients), "body": "price?",
                    "timestamp": str(int(time.time()))}  # fmt: skip
            started = time.monotonic()
            async with http.post(url, json=body) as response:
                await response.read()
            latencies.append(time.monotonic() - started)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        began = time.monotonic()
        await asyncio.gather(*(worker(n, http) for n in range(connections)))
        elapsed = time.monotonic() - began
    return len(latencies) / elapsed, describe(latencies)


async def paced_run(port: int, rate: float, seconds: float, prefix: str, clients: int) -> str:
    """Open-loop load at a fixed rate: the ack latency the gateway sees at that rate."""
    url = f"http://127.0.0.1:{port}/webhook?token={TOKEN}"
    latencies: list[float] = []
    failures = 0

    async def one(i: int, http: aiohttp.ClientSession) -> None:
        nonlocal failures
        body = {"hook": "new", "unique": f"{prefix}-paced-{i}", "from": client_number(i % clients),
                "body": "price?", "timestamp": str(int(time.time()))}  # fmt: skip
        started = time.monotonic()
        async with http.post(url, json=body) as response:
            await response.read()
            failures += response.status != 200
        latencies.append(time.monotonic() - started)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as http:
        tasks = []
        began = time.monotonic()
        for i in range(int(rate * seconds)):
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, http)))
        await asyncio.gather(*tasks)
    return describe(latencies) + (f", {failures} failed" if failures else "")


def measure(
    server: subprocess.Popen[bytes], port: int, args: argparse.Namespace, prefix: str
) -> tuple[float, str, float | None]:
    """(requests/s, latency text, CPU ms the server spent per 1,000 requests)."""
    cpu_before = cpu_seconds(server.pid)
    began = time.monotonic()
    if shutil.which("wrk"):
        _server_cpu, load_cpus = pinning()
        rate, latency = wrk_run(
            port, args.seconds, args.connections, prefix, args.clients, load_cpus
        )
    else:
        rate, latency = asyncio.run(
            client_run(port, args.seconds, args.connections, prefix, args.clients)
        )
    elapsed = time.monotonic() - began
    cpu_after = cpu_seconds(server.pid)
    if cpu_before is None or cpu_after is None or rate <= 0:
        return rate, latency, None
    return rate, latency, (cpu_after - cpu_before) * 1000 / (rate * elapsed) * 1000


def wait_until_quiet(pid: int, *, timeout_s: float = 120.0) -> None:
    """Until the process uses under 5 % of a core over half a second (its backlog is done)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        after = cpu_seconds(pid)
        if before is None or after is None or after - before < 0.025:
            return


def run_history(args: argparse.Namespace, work: Path, history: int) -> None:
    """The rounds against one store holding `history` messages."""
    server_cpu, load_cpus = pinning()
    store = work / f"rulebot-{history}.db"
    fill_s = asyncio.run(fill(str(store), history=history, clients=args.clients))
    bare_port, bot_port, sandbox_port = free_port(), free_port(), free_port()
    sandbox = spawn_sandbox(sandbox_port, log=work / f"sandbox-{history}.log", cpus=load_cpus)
    bare = spawn(
        [str(ROOT / "bench" / "_bare_server.py"), str(bare_port)],
        log=work / f"bare-{history}.log", cpus=server_cpu,
    )  # fmt: skip
    config = write_config(
        work, port=bot_port, store=store, rules=ROOT / "bot" / "defaults" / "demo-rules.yaml",
        gateway_url=sandbox_send_url(sandbox_port),
        delivery={"poll_interval_s": 0.5},
    )  # fmt: skip
    bot = spawn(
        ["-m", "bot", "--config", str(config), "serve"], log=work / f"bot-{history}.log",
        cpus=server_cpu,
    )  # fmt: skip
    try:
        wait_for_port(sandbox_port)
        wait_for_port(bare_port)
        wait_for_port(bot_port, timeout_s=120)
        numbers = [client_number(n) for n in range(args.clients)]
        asyncio.run(open_windows(f"http://127.0.0.1:{sandbox_port}", numbers, now=time.time()))
        print(
            f"\n--- {history:,} messages stored ({fill_s:.0f} s to write), webhooks from "
            f"{args.clients} returning clients"
        )
        ratios, cpu_ratios, bot_cpus = [], [], []
        for round_number in range(1, args.rounds + 1):
            bare_rate, bare_latency, bare_cpu = measure(bare, bare_port, args, "bare")
            bot_rate, bot_latency, bot_cpu = measure(
                bot, bot_port, args, f"bot{history}-{round_number}"
            )
            ratios.append(bot_rate / bare_rate)
            print(f"round {round_number}")
            print(f"  bare aiohttp handler   {bare_rate:9.0f} req/s   {bare_latency}")
            print(f"  rulebot POST /webhook  {bot_rate:9.0f} req/s   {bot_latency}")
            if bare_cpu is not None and bot_cpu is not None:
                cpu_ratios.append(bare_cpu / bot_cpu)
                bot_cpus.append(bot_cpu)
                print(
                    f"  CPU per 1,000 requests: bare {bare_cpu:.0f} ms, rulebot {bot_cpu:.0f} ms"
                    " (rulebot's includes deciding and sending while the load runs)"
                )
            print(f"  ratio rulebot / bare   {ratios[-1]:9.2f}")
        print(
            f"ratio rulebot / bare, median of {args.rounds} rounds: "
            f"{statistics.median(ratios):.2f}   (target >= 0.50)"
        )
        if cpu_ratios:
            print(
                "bare's CPU per request / rulebot's, median: "
                f"{statistics.median(cpu_ratios):.2f}   (the ratio if both were CPU-bound); "
                f"rulebot {statistics.median(bot_cpus):.0f} ms per 1,000 requests"
            )
        wait_until_quiet(bot.pid)  # the rounds' backlog decided and sent first
        paced = asyncio.run(
            paced_run(bot_port, args.rate, args.seconds, f"bot{history}", args.clients)
        )
        print(f"rulebot at {args.rate:.0f} req/s   {paced}   (target p99 < 20 ms)")
    finally:
        stop(bare)
        stop(bot)
        stop(sandbox)
    stored = sqlite3.connect(store).execute("SELECT COUNT(*) FROM inbox").fetchone()[0]
    print(f"messages durably stored by rulebot: {stored - history} (besides the history)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--history",
        default="0,100000,1000000",
        help="messages stored before each run, comma-separated",
    )
    parser.add_argument("--clients", type=int, default=5000, help="the pool of returning clients")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=500.0)
    args = parser.parse_args()  # fmt: skip
    tool = "wrk" if shutil.which("wrk") else "aiohttp client"
    server_cpu, load_cpus = pinning()
    pinned = f"server on CPU {server_cpu}, load on {load_cpus}" if server_cpu else "not pinned"
    print(
        f"load: {tool}, {args.connections} connections, {args.rounds} rounds of "
        f"{args.seconds} s per server, alternating; {pinned}"
    )
    with tempfile.TemporaryDirectory(prefix="rulebot-bench-") as folder:
        for history in (int(float(n)) for n in args.history.split(",")):
            run_history(args, Path(folder), history)


if __name__ == "__main__":
    main()
