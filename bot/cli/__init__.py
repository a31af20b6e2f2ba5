"""The `rulebot` command: one module per command, argument parsing and printing only."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot import __version__
from bot.cli.check import add_check_command
from bot.cli.init import add_init_command
from bot.cli.run import add_run_commands
from bot.cli.status import add_status_command
from bot.cli.tryout import add_try_command
from bot.errors import RulebotError


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = argparse.ArgumentParser(
        prog="rulebot", description="WhatsApp auto-replies with contact cards, from YAML rules."
    )
    parser.add_argument("--version", action="version", version=f"rulebot {__version__}")
    parser.add_argument(
        "--config", "-c", help="config file (default: embedded defaults)", default=None
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_run_commands(commands)
    add_status_command(commands)
    add_check_command(commands)
    add_try_command(commands)
    add_init_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rulebot` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except RulebotError as exc:
        print(f"rulebot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


__all__ = ["build_parser", "main"]
