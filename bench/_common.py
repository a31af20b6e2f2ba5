"""Shared pieces of the benchmarks: free ports, child servers, configs, figures."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.testing import serve_config, write_serve_config

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-api-key"
TOKEN = "bench-token"
ACCOUNT = "972500000001"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s} s")


def spawn(
    args: list[str], *, log: Path, env: dict[str, str] | None = None, cpus: str | None = None
) -> subprocess.Popen[bytes]:
    """A child Python process running `args` (module or script), its output to `log`; pinned to
    the CPUs `cpus` names ("0", "1-3") when given and taskset is installed."""
    environment = dict(os.environ, RULEBOT_API_KEY=API_KEY, RULEBOT_WEBHOOK_TOKEN=TOKEN)
    environment.update(env or {})
    pin = ["taskset", "-c", cpus] if cpus is not None and shutil.which("taskset") else []
    with log.open("ab") as out:
        return subprocess.Popen(
            [*pin, sys.executable, *args],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def spawn_sandbox(port: int, *, log: Path, cpus: str | None = None) -> subprocess.Popen[bytes]:
    """The bundled sandbox gateway on `port`, knowing the benchmarks' account and API key."""
    return spawn(
        ["-m", "bot", "sandbox", "--port", str(port), "--api-key", API_KEY, "--account", ACCOUNT],
        log=log,
        cpus=cpus,
    )


def sandbox_send_url(port: int) -> str:
    """The Send Contact URL of a sandbox on `port`, for `write_config(gateway_url=...)`."""
    return f"http://127.0.0.1:{port}/whatsapp/v2/sendContact"


def pinning() -> tuple[str | None, str | None]:
    """(the server's CPU, the load's CPUs): one core for the server, the others for the load,
    so neither steals the other's time; (None, None) on a single core or without taskset."""
    count = os.cpu_count() or 1
    if count < 2 or not shutil.which("taskset"):
        return None, None
    return "0", f"1-{count - 1}" if count > 2 else "1"


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_config(
    folder: Path,
    *,
    port: int,
    gateway_url: str,
    rules: Path,
    store: Path | str,
    delivery: dict[str, object] | None = None,
) -> Path:
    """A `rulebot serve` config for a benchmark run: no reply limit, few log lines."""
    settings = serve_config(
        account=ACCOUNT,
        gateway_url=gateway_url,
        store=store,
        port=port,
        rules=rules,
        gateway={"timeout_s": 5, "concurrency": 64},
        delivery={"max_replies_per_hour": 1000000, **(delivery or {})},
        log_format="text",
        log_level="WARNING",
    )
    return write_serve_config(folder / f"config-{port}.yaml", settings)


#: where PostgreSQL runs for the benchmarks (a schema of its own per run, dropped after)
POSTGRES_URL = os.environ.get("RULEBOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


async def postgres_schema_url(name: str) -> str | None:
    """A fresh schema `name` on the benchmarks' PostgreSQL, as a store URL; None if unreachable."""
    import asyncpg

    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"(PostgreSQL at {POSTGRES_URL} unreachable: {exc}; set RULEBOT_BENCH_POSTGRES)")
        return None
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await conn.execute(f"CREATE SCHEMA {name}")
    finally:
        await conn.close()
    separator = "&" if "?" in POSTGRES_URL else "?"
    # application_name tells this store's backends apart (postgres_backend_cpu)
    return f"{POSTGRES_URL}{separator}search_path={name}&application_name={name}"


async def postgres_backend_cpu(application: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving connections named `application`
    (the server on this machine: its work for the bot is part of the bot's cost)."""
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1", application
        )
    finally:
        await conn.close()
    found = {row["pid"]: cpu_seconds(row["pid"]) for row in pids}
    return {pid: cpu for pid, cpu in found.items() if cpu is not None}


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes in `after` spent since `before` (new ones: all of theirs)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


async def drop_postgres_schema(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    finally:
        await conn.close()


async def open_windows(sandbox_url: str, numbers: list[str], *, now: float) -> None:
    """Tell the sandbox gateway these clients wrote just now (their 24 h window is open)."""
    import asyncio

    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as http:

        async def one(number: str) -> None:
            url = f"{sandbox_url}/control/clients/{number}"
            async with http.post(url, json={"last_message_at": now}) as response:
                response.raise_for_status()

        for start in range(0, len(numbers), 500):
            await asyncio.gather(*(one(n) for n in numbers[start : start + 500]))


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def get_json(url: str) -> object:
    import json

    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values, by the nearest-rank method."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def describe(values: list[float]) -> str:
    """p50/p90/p99/max of latencies given in seconds, printed in ms."""
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 50) * 1000:.1f} ms, p90 {percentile(values, 90) * 1000:.1f} ms, "
        f"p99 {percentile(values, 99) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms, "
        f"mean {statistics.fmean(values) * 1000:.1f} ms"
    )
