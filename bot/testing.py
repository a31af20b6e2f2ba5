"""The one `rulebot serve` configuration that tests and benchmarks start the bot with.

In-process tests validate it into a Config; tests and benchmarks that run `rulebot serve` as a
child process write it to a YAML file. Either way the same settings: a gateway (usually the
sandbox), a store, rules (the demo's by default), a port, and the secrets, which default to the
`${RULEBOT_API_KEY}` and `${RULEBOT_WEBHOOK_TOKEN}` references a deployed config uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bot.demo import demo_rules_path

API_KEY_FROM_ENV = "${RULEBOT_API_KEY}"
WEBHOOK_TOKEN_FROM_ENV = "${RULEBOT_WEBHOOK_TOKEN}"
#: a bot under test looks for work often, so a test or a benchmark waits on it little
_POLL_INTERVAL_S = 0.05


def serve_config(
    *,
    account: str,
    gateway_url: str,
    store: str | Path,
    port: int = 0,
    rules: Path | None = None,
    api_key: str = API_KEY_FROM_ENV,
    webhook_token: str = WEBHOOK_TOKEN_FROM_ENV,
    gateway: Mapping[str, Any] | None = None,
    server: Mapping[str, Any] | None = None,
    delivery: Mapping[str, Any] | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """The settings, shaped as config.yaml: `gateway`, `server` and `delivery` add to their
    sections, other keyword arguments (log_level, admin_token, ...) are top-level settings."""
    return {
        "account": account,
        "gateway": {"url": gateway_url, "api_key": api_key, **(gateway or {})},
        "server": {"port": port, "webhook_token": webhook_token, **(server or {})},
        "rules": str(rules if rules is not None else demo_rules_path()),
        "store": str(store),
        "delivery": {"poll_interval_s": _POLL_INTERVAL_S, **(delivery or {})},
        **settings,
    }


def write_serve_config(path: Path, settings: Mapping[str, Any]) -> Path:
    """Write `settings` (from serve_config) to `path` for `rulebot serve --config`; returns it."""
    path.write_text(yaml.safe_dump(dict(settings), sort_keys=False), encoding="utf-8")
    return path
