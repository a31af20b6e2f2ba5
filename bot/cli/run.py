"""`rulebot serve`, `rulebot demo` and `rulebot sandbox`: the commands that run servers."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Coroutine
from typing import Any

from bot.config import load_config


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run `coro` on uvloop when it is installed (faster), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def add_run_commands(commands: Any) -> None:
    """Add `serve`, `demo` and `sandbox` to the top-level parser's subcommands."""
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
    sandbox.add_argument(
        "--odd-answers",
        default="",
        metavar="KINDS",
        help="answer accepted sends oddly, in turn: comma-separated from no_unique, "
        "numeric_unique, text_minutes, fractional_timestamp, not_json (or 'all')",
    )
    sandbox.add_argument(
        "--accept-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="answer every accepted send this much later (longer than the bot's timeout: the "
        "bot cannot know it went out)",
    )
    sandbox.add_argument(
        "--no-webhook-retries",
        action="store_true",
        help="never re-deliver a webhook the bot failed to acknowledge (the provider does: at "
        "once, then after 5 min, 20 min, 1 h, 4 h and 24 h)",
    )
    sandbox.set_defaults(func=_sandbox)


def _serve(args: argparse.Namespace) -> int:
    from bot.logs import configure_logging
    from bot.service import serve

    config = load_config(args.config)
    configure_logging(args.log_format or config.log_format, config.log_level)
    run_coroutine(serve(config))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo
    from bot.logs import configure_logging

    configure_logging("text", "WARNING")
    return int(
        run_coroutine(run_demo(serve=args.serve, port=args.port, sandbox_port=args.sandbox_port))
    )


def _sandbox(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.logs import configure_logging
    from bot.sandbox import FAULT_KINDS, ODD_ANSWERS, SEND_CONTACT_PATH, FaultPlan, SandboxGateway

    configure_logging("text", "INFO")
    kinds = tuple(k for k in args.fault_kinds.split(",") if k)
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise SystemExit(f"rulebot sandbox: unknown fault kinds {unknown}; known: {FAULT_KINDS}")
    odd = ODD_ANSWERS if args.odd_answers == "all" else tuple(args.odd_answers.split(","))
    odd = tuple(kind for kind in odd if kind)
    if [kind for kind in odd if kind not in ODD_ANSWERS]:
        raise SystemExit(f"rulebot sandbox: --odd-answers takes 'all' or some of {ODD_ANSWERS}")
    if args.accept_delay < 0:
        raise SystemExit("rulebot sandbox: --accept-delay must be 0 or more seconds")
    sandbox = SandboxGateway(
        api_key=args.api_key,
        account=args.account,
        webhook_url=args.webhook,
        faults=FaultPlan(rate=args.fault_rate, kinds=kinds, seed=args.seed),
        status_webhooks=args.status_webhooks,
        odd_answers=odd,
        accept_delay_s=args.accept_delay,
        webhook_retries=not args.no_webhook_retries,
    )
    print(f"sandbox gateway on http://{args.host}:{args.port}{SEND_CONTACT_PATH}")
    web.run_app(sandbox.app, host=args.host, port=args.port, print=None)
    return 0
