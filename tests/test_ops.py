"""Operations: health and readiness probes, Prometheus metrics, and what the logs may say."""

from __future__ import annotations

import io
import logging
import re
import shlex
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
import pytest

from bot.cli import build_parser
from bot.config import Config, load_config
from bot.logs import REDACTED, RedactingFilter, add_secrets, make_handler, mask_phone_numbers
from bot.sandbox import FaultPlan
from tests.conftest import API_KEY, TOKEN, Bot, wait_until

BotFactory = Callable[..., Awaitable[Bot]]
CLIENT = "972541234567"

RULES = """\
contacts:
  sales: {name: "Sales", phone: "+972 52 555 0123"}
rules:
  - name: sales
    keywords: [sales]
    reply: {contact: sales}
"""


async def get(bot: Bot, path: str) -> tuple[int, str, str]:
    async with bot.http.get(bot.service.url + path) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


# -- probes ---------------------------------------------------------------------------------


async def test_healthz_answers_while_the_process_is_up(bot: Bot) -> None:
    status, _, body = await get(bot, "/healthz")
    assert status == 200
    assert orjson.loads(body) == {"ok": True}


async def test_readyz_reports_the_rules_version_in_force(bot: Bot) -> None:
    status, _, body = await get(bot, "/readyz")
    ready = orjson.loads(body)
    assert status == 200
    assert ready["ok"] is True
    assert ready["store"] == "ok"
    assert ready["rules"]["version"] == bot.service.rulebook.current.version
    assert ready["rules_error"] is False


async def test_readyz_stays_ready_on_a_broken_edit_and_says_so(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    bot = await bot_factory(rules=rules)
    version = bot.service.rulebook.current.version
    rules.write_text(RULES + "  - name: broken\n    keywords: [x]\n    reply: {contact: nobody}\n")
    assert bot.service.rulebook.reload_now() is False

    status, _, body = await get(bot, "/readyz")
    ready = orjson.loads(body)
    assert status == 200  # the last good rules still answer clients
    assert ready["rules"]["version"] == version
    assert ready["rules_error"] is True  # the line itself is on the dashboard, not here
    assert str(tmp_path) not in body and "nobody" not in body


async def test_readyz_is_503_when_the_store_is_gone(bot: Bot) -> None:
    await bot.service.store.close()
    status, _, body = await get(bot, "/readyz")
    ready = orjson.loads(body)
    assert status == 503
    assert ready["ok"] is False
    assert ready["store"] == "unreachable"
    assert ready["problems"]


# -- metrics --------------------------------------------------------------------------------


def metric(text: str, name: str) -> float:
    """The value of one sample line `name value` in Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in the scrape")


async def test_metrics_are_prometheus_text_with_the_service_counters(bot: Bot) -> None:
    await bot.client_writes(CLIENT, "sales please")
    await bot.settle()
    status, content_type, text = await get(bot, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    for name in (
        "rulebot_webhooks_total",
        "rulebot_rule_matches_total",
        "rulebot_sends_total",
        "rulebot_send_latency_seconds_bucket",
        "rulebot_inbox_depth",
        "rulebot_outbox_depth",
        "rulebot_rules_error",
    ):
        assert f"\n{name}" in text, name
    assert 'rulebot_rule_matches_total{rule="sales"}' in text
    assert 'rulebot_sends_total{outcome="sent",reason="1"}' in text


async def test_metrics_read_the_queue_depths_at_scrape_time(bot: Bot) -> None:
    bot.sandbox.gateway.faults = FaultPlan(rate=1.0, kinds=("http500",))  # an outage
    await bot.client_writes(CLIENT, "sales please")

    async def queued() -> bool:
        _, _, text = await get(bot, "/metrics")
        return metric(text, "rulebot_outbox_depth") >= 1

    await wait_until(queued, timeout_s=5)
    bot.sandbox.gateway.faults = FaultPlan()
    await bot.settle()
    _, _, text = await get(bot, "/metrics")
    assert metric(text, "rulebot_outbox_depth") == 0
    assert metric(text, "rulebot_inbox_depth") == 0


async def test_metrics_count_rule_reloads_and_flag_a_broken_file(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    bot = await bot_factory(rules=rules)
    _, _, before = await get(bot, "/metrics")
    ok_before = _sample(before, 'rulebot_rule_reloads_total{result="ok"}')
    error_before = _sample(before, 'rulebot_rule_reloads_total{result="error"}')

    rules.write_text(RULES.replace("[sales]", "[sales, price]"), encoding="utf-8")
    assert bot.service.rulebook.reload_now() is True
    _, _, text = await get(bot, "/metrics")
    assert _sample(text, 'rulebot_rule_reloads_total{result="ok"}') == ok_before + 1
    assert metric(text, "rulebot_rules_error") == 0

    rules.write_text("rules: [", encoding="utf-8")
    assert bot.service.rulebook.reload_now() is False
    _, _, text = await get(bot, "/metrics")
    assert _sample(text, 'rulebot_rule_reloads_total{result="error"}') == error_before + 1
    assert metric(text, "rulebot_rules_error") == 1
    _, _, again = await get(bot, "/metrics")  # the same error is counted once
    assert _sample(again, 'rulebot_rule_reloads_total{result="error"}') == error_before + 1


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


# -- logs -----------------------------------------------------------------------------------


@pytest.fixture
async def captured_json_log() -> AsyncIterator[io.StringIO]:
    """The root logger writing JSON lines, exactly as `rulebot serve` does, into a buffer."""
    stream = io.StringIO()
    handler = make_handler("json", stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def test_real_request_logs_are_json_with_ids_and_no_secret_or_full_number(
    bot: Bot, captured_json_log: io.StringIO
) -> None:
    unique = await bot.client_writes(CLIENT, "sales please")
    await bot.settle()
    logging.getLogger("rulebot.test").info(
        "a line quoting the webhook URL %s and the key %s for %s",
        bot.service.webhook_url,
        API_KEY,
        CLIENT,
    )
    text = captured_json_log.getvalue()
    lines = [orjson.loads(line) for line in text.splitlines()]
    about_message = [line for line in lines if line.get("message_id") == unique]
    assert {line["msg"].split()[0] for line in about_message} >= {"message", "sent"}
    assert all({"time", "level", "logger", "msg"} <= set(line) for line in lines)
    assert CLIENT not in text
    assert "9725****4567" in text
    assert TOKEN not in text
    assert API_KEY not in text
    assert f"token={REDACTED}" in text


def test_access_log_line_has_its_token_redacted() -> None:
    add_secrets("s3cret-webhook-token")
    record = logging.makeLogRecord(
        {
            "name": "aiohttp.access",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": '%s "%s" %s',
            "args": ("127.0.0.1", "POST /webhook?token=s3cret-webhook-token HTTP/1.1", 200),
        }
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f'127.0.0.1 "POST /webhook?token={REDACTED} HTTP/1.1" 200'


def test_numbers_are_masked_in_extras_but_message_ids_are_kept() -> None:
    record = logging.makeLogRecord(
        {
            "levelno": logging.WARNING,
            "msg": "client %s",
            "args": ("+972 54 123 4567",),
            "client": "972541234567",
            "message_id": "12345678901234",
        }
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == "client +972 5* *** 4567"
    assert record.__dict__["client"] == "9725****4567"
    assert record.__dict__["message_id"] == "12345678901234"


def test_debug_lines_keep_numbers_but_never_secrets() -> None:
    add_secrets("debug-level-secret")
    record = logging.makeLogRecord(
        {"levelno": logging.DEBUG, "msg": "972541234567 debug-level-secret"}
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == f"972541234567 {REDACTED}"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("972541234567", "9725****4567"),
        ("+972541234567", "+9725****4567"),
        ("050-123-4567", "050-1**-4567"),
        ("send 12 (attempt 3)", "send 12 (attempt 3)"),
        ("version 2ff92777b122", "version 2ff92777b122"),
        ("at 1732521600.25 s", "at 1732521600.25 s"),
        ("id A1B2C3D4E5F60718293", "id A1B2C3D4E5F60718293"),
    ],
)
def test_phone_numbers_lose_their_middle_digits(text: str, masked: str) -> None:
    assert mask_phone_numbers(text) == masked


# -- deployment files say what the code does ------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_ENV = {
    "RULEBOT_API_KEY": "deploy-api-key",
    "RULEBOT_WEBHOOK_TOKEN": "deploy-webhook-token",
    "RULEBOT_ADMIN_TOKEN": "deploy-admin-token",
}


def test_deploy_config_loads_with_the_secrets_from_the_environment() -> None:
    config = load_config(ROOT / "deploy" / "config.yaml", environ=DEPLOY_ENV)
    assert config.server.token() == "deploy-webhook-token"
    assert config.gateway.secret() == "deploy-api-key"
    assert config.admin_token is not None
    assert config.store == "/var/lib/rulebot/rulebot.db"
    assert config.server.port == 8080  # the Dockerfile's EXPOSE and HEALTHCHECK


def test_dockerfile_and_unit_run_the_real_serve_command() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["rulebot"]' in dockerfile
    assert 'CMD ["serve", "--config", "/etc/rulebot/config.yaml"]' in dockerfile
    assert "USER rulebot" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    unit = (ROOT / "deploy" / "rulebot.service").read_text(encoding="utf-8")
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[0].endswith("/rulebot")
    args = build_parser().parse_args(argv[1:])
    assert args.command == "serve" and args.config == "/etc/rulebot/config.yaml"
    assert "EnvironmentFile=/etc/rulebot/secrets.env" in unit
    secrets = (ROOT / "deploy" / "secrets.env.example").read_text(encoding="utf-8")
    assert set(DEPLOY_ENV) <= {
        line.split("=")[0] for line in secrets.splitlines() if "=" in line and line[0] != "#"
    }


def test_operations_doc_uses_real_commands_config_keys_and_screenshots() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    parser = build_parser()
    commands = re.findall(r"`(rulebot [^`]+)`", doc)
    assert len(commands) >= 5
    for command in commands:
        words = shlex.split(command.replace("FILE", "config.yaml"))[1:]
        parser.parse_args(words)  # exits (SystemExit) on an unknown command or flag
    for key in re.findall(r"`((?:server|gateway|delivery)\.[a-z_]+)", doc):
        section, name = key.split(".")
        assert name in type(getattr(Config(), section)).model_fields, key
    for key in re.findall(r"`(admin_token|log_format|log_level|store|rules)[`:]", doc):
        assert key in Config.model_fields, key
    for image in re.findall(r"\]\((img/[^)]+)\)", doc):
        assert (ROOT / "docs" / image).stat().st_size > 10_000, image
