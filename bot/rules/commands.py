"""`rulebot check` and `rulebot try`: argument parsing and printing around lint and tryout."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.engine import ClientState
from bot.errors import RulebotError, RuleError
from bot.rules.card import international_digits
from bot.rules.lint import check_rules
from bot.rules.reading import load_rules
from bot.rules.tryout import DEFAULT_GAP_S, try_messages

#: where the client state for `try --from` comes from: (config, client, now) -> state or None
ClientStateProvider = Callable[[Any, str, datetime], Coroutine[Any, Any, ClientState | None]]
_FALLBACK_RULES = Path("rules/example.yaml")


def add_rules_commands(subparsers: Any) -> None:
    """Add `check` and `try` to the top-level parser's subcommands."""
    check = subparsers.add_parser(
        "check", help="find every problem in the rule files (exit 1 on errors)"
    )
    check.add_argument("path", nargs="?", default=None, help="rule file or folder")
    check.add_argument("--strict", action="store_true", help="warnings fail too")
    check.add_argument("--config", "-c", dest="config", default=argparse.SUPPRESS)
    check.set_defaults(func=run_check)

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


def run_check(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """`rulebot check [PATH] [--strict]`: print every problem and a summary; exit 1 on failure."""
    stream = out or sys.stdout
    try:
        config = _config(args)
    except RulebotError as exc:
        _print(stream, f"error: {exc}")
        return 1
    path, region = _rules_and_region(args.path, config)
    report = check_rules(path, default_region=region)
    for line in report.lines():
        _print(stream, line)
    return 1 if report.failed(strict=args.strict) else 0


def run_try(
    args: argparse.Namespace,
    *,
    client_state: ClientStateProvider | None = None,
    out: TextIO | None = None,
) -> int:
    """`rulebot try MESSAGE... [--from N] [--at T] [--gap S] [--rules PATH]`."""
    stream = out or sys.stdout
    try:
        config = _config(args)
        path, region = _rules_and_region(args.rules, config)
        ruleset = load_rules(path, default_region=region)
        at = parse_at(args.at, ruleset.timezone) if args.at else datetime.now(UTC)
    except RuleError as exc:
        _print(stream, f"error: {exc.location_text()}")
        return 1
    except (RulebotError, ValueError) as exc:
        _print(stream, f"error: {exc}")
        return 1
    if args.gap < 0:
        _print(stream, "error: --gap cannot be negative")
        return 1
    state: ClientState | None = None
    if args.sender:
        client = _client_key(args.sender, region)
        provider = client_state or store_client_state
        try:
            state = asyncio.run(provider(config, client, at))
        except RulebotError as exc:
            _print(stream, f"warning: no client history ({exc}); trying as a new client")
        state = state or ClientState(client=client)
    result = try_messages(ruleset, args.messages, at=at, client=state, gap_s=args.gap)
    for line in result.text().splitlines():
        _print(stream, line)
    return 0


def parse_at(text: str, tz: ZoneInfo) -> datetime:
    """'2026-11-27 20:15' read in the rules' timezone (an explicit offset wins) -> aware UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("T", " "))
    except ValueError:
        raise ValueError(f"--at '{text}' is not a date and time like '2026-11-27 20:15'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


async def store_client_state(config: Any, client: str, now: datetime) -> ClientState | None:
    """The client's state from the configured store, or None when there is no store to ask."""
    url = getattr(config, "store", None)
    if not url or url == ":memory:" or ("://" not in url and not Path(url).exists()):
        return None  # don't create an empty database just to try a message
    try:
        from bot.store import open_store
    except ImportError:  # a build without the store
        return None
    store = await open_store(url)
    try:
        return await store.client_state(client, now.timestamp())
    finally:
        await store.close()


def _config(args: argparse.Namespace) -> Any:
    try:
        from bot.config import load_config
    except ImportError:  # running the rules package on its own
        return None
    return load_config(getattr(args, "config", None))


def _rules_and_region(path: str | None, config: Any) -> tuple[Path, str]:
    region = getattr(config, "default_region", None) or "IL"
    if path:
        return Path(path), region
    configured = getattr(config, "rules", None)
    return (Path(configured) if configured else _FALLBACK_RULES), region


def _client_key(sender: str, region: str) -> str:
    """A typed number -> the store's key (international digits); anything else unchanged."""
    try:
        return international_digits(sender, region)[0]
    except ValueError:
        return sender.strip()


def _print(stream: TextIO, line: str) -> None:
    try:
        print(line, file=stream)
    except UnicodeEncodeError:  # a terminal that cannot show Hebrew/Arabic: keep the line
        encoding = getattr(stream, "encoding", None) or "ascii"
        print(line.encode(encoding, "replace").decode(encoding), file=stream)
