"""Shared pieces of the benchmarks: free ports, child servers, configs, figures."""

from __future__ import annotations

import os
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
    args: list[str], *, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A child Python process running `args` (module or script), its output to `log`."""
    environment = dict(os.environ, RULEBOT_API_KEY=API_KEY, RULEBOT_WEBHOOK_TOKEN=TOKEN)
    environment.update(env or {})
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], env=environment, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_config(folder: Path, *, port: int, gateway_url: str, rules: Path, store: Path) -> Path:
    """A `rulebot serve` config for a benchmark run: no reply limit, few log lines."""
    settings = serve_config(
        account=ACCOUNT,
        gateway_url=gateway_url,
        store=store,
        port=port,
        rules=rules,
        gateway={"timeout_s": 5, "concurrency": 64},
        delivery={"max_replies_per_hour": 1000000},
        log_format="text",
        log_level="WARNING",
    )
    return write_serve_config(folder / f"config-{port}.yaml", settings)


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
