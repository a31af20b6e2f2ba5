"""`rulebot serve` as a child process on a loopback port, for the tests that need a real one:
start it, wait until it answers, kill it (SIGKILL) or stop it (SIGTERM), read its log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp

from tests.conftest import API_KEY, TOKEN


def free_port() -> int:
    """A loopback port that is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rulebot_command() -> list[str]:
    """The installed `rulebot` script next to this interpreter, else `python -m bot`."""
    script = Path(sys.executable).with_name("rulebot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


class ServeProcess:
    """One `rulebot serve --config CONFIG` child process listening on `port`.

    Its stdout and stderr go to `log` (appended to, across restarts). The API key and the
    webhook token come from the environment (RULEBOT_API_KEY, RULEBOT_WEBHOOK_TOKEN), with
    `env` added on top. `program` is what runs `rulebot` (default: `python -m bot`).
    """

    def __init__(
        self,
        config: Path,
        *,
        port: int,
        log: Path,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        program: Sequence[str] | None = None,
    ) -> None:
        self.port = port
        self.name = name or f"rulebot serve on port {port}"
        self.url = f"http://127.0.0.1:{port}"
        self.webhook = f"{self.url}/webhook?token={TOKEN}"
        self.log = log
        launcher = list(program) if program is not None else [sys.executable, "-m", "bot"]
        self._command = [*launcher, "serve", "--config", str(config)]
        self._env = dict(os.environ, RULEBOT_API_KEY=API_KEY, RULEBOT_WEBHOOK_TOKEN=TOKEN)
        self._env.update(env or {})
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Started and not exited yet."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self._command, env=self._env, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        """SIGKILL, as a crash; waits for the process to be gone."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, as a service manager stops it; returns the exit code.

        Not exited within `timeout_s`: killed, and subprocess.TimeoutExpired raised."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    async def stop_async(self, timeout_s: float = 30.0) -> int:
        """`stop`, waiting in a thread: the event loop (a sandbox gateway in this process, say)
        goes on meanwhile."""
        return await asyncio.to_thread(self.stop, timeout_s)

    async def wait_up(self, http: aiohttp.ClientSession, timeout_s: float = 20.0) -> None:
        """Wait until GET /healthz answers 200; fails if the process exits first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited with {self.process.returncode}: {self.log_tail()}"
                )
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{self.url}/healthz") as response:
                    await response.read()
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name} did not start: {self.log_tail()}")

    def log_text(self) -> str:
        """Everything the process (and its earlier runs) wrote."""
        return self.log.read_text(errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]
