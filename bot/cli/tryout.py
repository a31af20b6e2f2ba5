"""`rulebot try MESSAGE...`: what the bot would answer, and why, without sending anything.

`--json` prints the same as one JSON object; `--file PATH` replays a WhatsApp chat export or
a JSONL file of cases (bot/cli/replay.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.cli.options import load_config_of, print_line, rules_and_region
from bot.cli.replay import print_json, run_file
from bot.core.card import international_digits
from bot.core.reading import load_rules
from bot.core.tryout import DEFAULT_GAP_S, parse_at, try_messages
from bot.core.values import ClientState
from bot.errors import RulebotError, RuleError

__all__ = ["parse_at", "run_try"]

#: where the client state for `try --from` comes from: (config, client, now) -> state or None
ClientStateProvider = Callable[[Any, str, datetime], Coroutine[Any, Any, ClientState | None]]


def add_try_command(subparsers: Any) -> None:
    """Add `try` to the top-level parser's subcommands."""
    tryout = subparsers.add_parser("try", help="show what the bot would answer to messages")
    tryout.add_argument("messages", nargs="*", metavar="MESSAGE", help="message text(s)")
    tryout.add_argument(
        "--file",
        default=None,
        metavar="PATH",
        help="try every message of a WhatsApp chat export (.txt) or a JSONL file of cases",
    )
    tryout.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    tryout.add_argument(
        "--client",
        default=None,
        metavar="NAME",
        help="chat export: the sender whose messages are tried",
    )
    tryout.add_argument(
        "--me",
        default=None,
        metavar="NAME",
        help="chat export: your own name in the chat (everyone else is the client)",
    )
    tryout.add_argument(
        "--from",
        dest="sender",
        default=None,
        metavar="NUMBER",
        help="the client (their state comes from the store, if there is one)",
    )
    tryout.add_argument(
        "--at",
        default=None,
        metavar="'YYYY-MM-DD HH:MM'",
        help="when the first message arrives (JSONL: every case), in the rules' timezone",
    )
    tryout.add_argument(
        "--gap",
        type=float,
        default=DEFAULT_GAP_S,
        metavar="SECONDS",
        help=f"seconds between MESSAGEs (default {DEFAULT_GAP_S:g})",
    )
    tryout.add_argument("--rules", default=None, metavar="PATH", help="rule file or folder")
    tryout.add_argument("--config", "-c", dest="config", default=argparse.SUPPRESS)
    tryout.set_defaults(func=run_try)


def run_try(
    args: argparse.Namespace,
    *,
    client_state: ClientStateProvider | None = None,
    out: TextIO | None = None,
) -> int:
    """`rulebot try (MESSAGE... | --file PATH) [--json] [--from N] [--at T] [--gap S] ...`."""
    stream = out or sys.stdout
    problem = _usage_problem(args)
    if problem:
        print_line(stream, f"error: {problem}")
        return 1
    try:
        config = load_config_of(args)
        path, region = rules_and_region(args.rules, config)
        ruleset = load_rules(path, default_region=region)
        at = parse_at(args.at, ruleset.timezone) if args.at else datetime.now(UTC)
    except RuleError as exc:
        print_line(stream, f"error: {exc.location_text()}")
        return 1
    except (RulebotError, ValueError) as exc:
        print_line(stream, f"error: {exc}")
        return 1
    if args.gap < 0:
        print_line(stream, "error: --gap cannot be negative")
        return 1
    if getattr(args, "file", None):
        return run_file(args, ruleset, at=at if args.at else None, out=stream)
    state: ClientState | None = None
    if args.sender:
        client = _client_key(args.sender, region)
        provider = client_state or store_client_state
        try:
            state = asyncio.run(provider(config, client, at))
        except RulebotError as exc:
            print_line(stream, f"warning: no client history ({exc}); trying as a new client")
        state = state or ClientState(client=client)
    result = try_messages(ruleset, args.messages, at=at, client=state, gap_s=args.gap)
    if getattr(args, "json", False):
        print_json(stream, result.to_dict())
        return 0
    for line in result.text().splitlines():
        print_line(stream, line)
    return 0


async def store_client_state(config: Any, client: str, now: datetime) -> ClientState | None:
    """The client's state from the configured store, or None when there is no store to ask."""
    url = getattr(config, "store", None)
    if not url or url == ":memory:" or ("://" not in url and not Path(url).exists()):
        return None  # don't create an empty database just to try a message
    try:
        from bot.inbox_rows import client_state
        from bot.store import open_store
    except ImportError:  # a build without the store
        return None
    store = await open_store(url)
    try:
        return client_state(await store.client_record(client, now.timestamp()))
    finally:
        await store.close()


def _client_key(sender: str, region: str) -> str:
    """A typed number -> the store's key (international digits); anything else unchanged."""
    try:
        return international_digits(sender, region)[0]
    except ValueError:
        return sender.strip()


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the combination of arguments, if anything."""
    if getattr(args, "file", None):
        if args.messages:
            return "give MESSAGEs or --file PATH, not both"
        if args.sender:
            return "--from cannot be used with --file: a file is tried from a new client"
        return None
    if not args.messages:
        return "nothing to try: give a MESSAGE or --file PATH"
    if getattr(args, "client", None) or getattr(args, "me", None):
        return "--client and --me apply only to a chat export given with --file"
    return None
