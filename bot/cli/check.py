"""`rulebot check [PATH] [--strict]`: every problem of the rule files, at file:line:column."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from bot.cli.options import load_config_of, print_line, rules_and_region
from bot.core.lint import check_rules
from bot.errors import RulebotError


def add_check_command(subparsers: Any) -> None:
    """Add `check` to the top-level parser's subcommands."""
    check = subparsers.add_parser(
        "check", help="find every problem in the rule files (exit 1 on errors)"
    )
    check.add_argument("path", nargs="?", default=None, help="rule file or folder")
    check.add_argument("--strict", action="store_true", help="warnings fail too")
    check.add_argument("--config", "-c", dest="config", default=argparse.SUPPRESS)
    check.set_defaults(func=run_check)


def run_check(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """`rulebot check [PATH] [--strict]`: print every problem and a summary; exit 1 on failure."""
    stream = out or sys.stdout
    try:
        config = load_config_of(args)
    except RulebotError as exc:
        print_line(stream, f"error: {exc}")
        return 1
    path, region = rules_and_region(args.path, config)
    report = check_rules(path, default_region=region)
    for line in report.lines():
        print_line(stream, line)
    return 1 if report.failed(strict=args.strict) else 0
