"""`rulebot try MESSAGE...`: what the bot would answer, and why, without sending anything."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.cli.options import load_config_of, print_line, rules_and_region
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
    tryout.add_argument("messages", nargs="+", metavar="MESSAGE", help="message text(s)")
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
        help="when the first message arrives, in the rules' timezone",
    )
    tryout.add_argument(
        "--gap",
        type=float,
        default=DEFAULT_GAP_S,
        metavar="SECONDS",
        help=f"seconds between messages (default {DEFAULT_GAP_S:g})",
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
    """`rulebot try MESSAGE... [--from N] [--at T] [--gap S] [--rules PATH]`."""
    stream = out or sys.stdout
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
