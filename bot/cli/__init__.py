"""The `rulebot` command: one module per command, argument parsing and printing only."""

from __future__ import annotations

import argparse
import os
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


#: the exit status when the reader of our output went away (`rulebot ... | head`): 128 + SIGPIPE,
#: what `cat` or `yes` end with in the same pipe
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rulebot` console script.

    Output piped into a reader that stops early (`rulebot try ... | head -1`) ends quietly with
    status 141, as other Unix tools do, instead of a BrokenPipeError traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows here, not at exit where it can't be caught
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except RulebotError as exc:
        print(f"rulebot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush has nowhere to fail.

    What the Python documentation recommends for SIGPIPE (library/signal.html#note-on-sigpipe).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor behind stdout (tests)
        pass


__all__ = ["EXIT_BROKEN_PIPE", "build_parser", "main"]
