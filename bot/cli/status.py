"""`rulebot status`: queue depths, today's counts and the last errors, from the store."""

from __future__ import annotations

import argparse
import time
from typing import Any

from bot.cli.run import run_coroutine
from bot.config import load_config


def add_status_command(commands: Any) -> None:
    """Add `status` to the top-level parser's subcommands."""
    status = commands.add_parser("status", help="queue depths, today's counts, last errors")
    status.add_argument("--config", "-c", dest="config", default=argparse.SUPPRESS)
    status.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    from bot.status import render_status

    config = load_config(args.config)
    print(run_coroutine(render_status(config, now=time.time())))
    return 0
