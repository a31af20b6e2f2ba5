"""`rulebot init [PATH]`: a commented starter rule file and the schema editors check it with."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from bot.cli.options import print_line
from bot.core.schema import rulebook_schema_text

#: the file name the starter file's `yaml-language-server` line points at
SCHEMA_NAME = "rulebook.schema.json"


def add_init_command(commands: Any) -> None:
    """Add `init` to the top-level parser's subcommands."""
    init = commands.add_parser(
        "init", help="write a starter rule file (Hebrew/English) and its schema"
    )
    init.add_argument("path", nargs="?", default="rules.yaml", help="default: rules.yaml")
    init.add_argument("--force", action="store_true", help="overwrite an existing rule file")
    init.set_defaults(func=run_init)


def starter_rules_text() -> str:
    """The starter rule file shipped in the package."""
    return resources.files("bot").joinpath("defaults/starter-rules.yaml").read_text("utf-8")


def run_init(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Write PATH (never over an existing file without --force) and the schema beside it."""
    stream = out or sys.stdout
    target = Path(args.path)
    if target.is_dir():
        target = target / "rules.yaml"
    if target.exists() and not args.force:
        print_line(stream, f"error: {target} already exists (use --force to overwrite it)")
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(starter_rules_text(), encoding="utf-8")
    schema = target.parent / SCHEMA_NAME
    schema.write_text(rulebook_schema_text(), encoding="utf-8")
    print_line(stream, f"wrote {target} and {schema}")
    print_line(stream, f"next: edit the contacts and words, then run  rulebot check {target}")
    return 0
