"""The `rulebot` command: argument parsing and printing only; the work is in the modules."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence

from bot import __version__
from bot.config import load_config
from bot.errors import RulebotError


def _run(coro: object) -> object:
    try:
        import uvloop

        return uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]


def _serve(args: argparse.Namespace) -> int:
    from bot.logs import configure_logging
    from bot.service import serve

    config = load_config(args.config)
    configure_logging(args.log_format or config.log_format, config.log_level)
    _run(serve(config))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo
    from bot.logs import configure_logging

    configure_logging("text", "WARNING")
    return int(_run(run_demo(serve=args.serve, port=args.port, sandbox_port=args.sandbox_port)))  # type: ignore[call-overload]


def _sandbox(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.logs import configure_logging
    from bot.sandbox import FAULT_KINDS, SEND_CONTACT_PATH, FaultPlan, SandboxGateway

    configure_logging("text", "INFO")
    kinds = tuple(k for k in args.fault_kinds.split(",") if k)
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise SystemExit(f"rulebot sandbox: unknown fault kinds {unknown}; known: {FAULT_KINDS}")
    sandbox = SandboxGateway(
        api_key=args.api_key,
        account=args.account,
        webhook_url=args.webhook,
        faults=FaultPlan(rate=args.fault_rate, kinds=kinds, seed=args.seed),
        status_webhooks=args.status_webhooks,
    )
    print(f"sandbox gateway on http://{args.host}:{args.port}{SEND_CONTACT_PATH}")
    web.run_app(sandbox.app, host=args.host, port=args.port, print=None)
    return 0


def _status(args: argparse.Namespace) -> int:
    from bot.status import render_status

    config = load_config(args.config)
    print(_run(render_status(config, now=time.time())))
    return 0


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

    serve = commands.add_parser("serve", help="run the webhook server and the sender")
    serve.add_argument("--config", "-c", dest="config", default=argparse.SUPPRESS)
    serve.add_argument("--log-format", choices=("json", "text"), default=None)
    serve.set_defaults(func=_serve)

    demo = commands.add_parser("demo", help="a local demo with the sandbox gateway, no account")
    demo.add_argument("--serve", action="store_true", help="keep the bot and sandbox running")
    demo.add_argument("--port", type=int, default=0, help="bot port (default: a free one)")
    demo.add_argument("--sandbox-port", type=int, default=0, help="sandbox port (default: free)")
    demo.set_defaults(func=_demo)

    sandbox = commands.add_parser("sandbox", help="run the local emulation of the gateway")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8099)
    sandbox.add_argument("--api-key", default="sandbox-key", help="the key it accepts")
    sandbox.add_argument("--account", default="972500000001", help="the `from` it accepts")
    sandbox.add_argument("--webhook", default=None, help="the bot's webhook URL (with token)")
    sandbox.add_argument("--fault-rate", type=float, default=0.0, help="share of sends to fail")
    sandbox.add_argument("--fault-kinds", default="reason6,http500,timeout")
    sandbox.add_argument("--seed", type=int, default=None)
    sandbox.add_argument("--status-webhooks", action="store_true", help="post sent/delivered")
    sandbox.set_defaults(func=_sandbox)

    status = commands.add_parser("status", help="queue depths, today's counts, last errors")
    status.add_argument("--config", "-c", dest="config", default=argparse.SUPPRESS)
    status.set_defaults(func=_status)

    from bot.rules.commands import add_rules_commands

    add_rules_commands(commands)
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
