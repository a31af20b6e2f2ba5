"""The `rulebot` command as a newcomer and an operator run it: demo, status, config errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from bot.status import render_status
from bot.testing import serve_config, write_serve_config
from tests.conftest import ACCOUNT, Bot

ROOT = Path(__file__).resolve().parent.parent


def rulebot(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=dict(os.environ, **(env or {})),
    )


def test_demo_answers_sales_and_support_and_explains_the_rest() -> None:
    done = rulebot("demo")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("-> replied with the contact card") == 3
    assert 'Noa (972521111111) wrote: "hi, who handles sales?"' in out
    assert 'replied with the contact card "Demo Sales" (972525550123) to 972521111111' in out
    assert 'replied with the contact card "Demo Sales" (972525550123) to 972522222222' in out
    assert 'replied with the contact card "Demo Support" (97235550101) to 972523333333' in out
    assert "-- no reply: No rule matched" in out
    assert (
        "-- no reply: Group chats are never answered: the gateway sends contacts to private" in out
    )
    assert "3 cards" in out


def test_demo_serve_prints_the_webhook_url_and_keeps_running() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "curl -s http" in line and "/sent" in line:
                break
        text = "".join(lines)
        assert "Webhook URL for a gateway: http://127.0.0.1:" in text
        assert "/webhook?token=" in text
        assert "/clients/972501234567/messages" in text
        assert process.poll() is None  # still serving
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


def test_python_dash_m_bot_is_the_rulebot_command() -> None:
    done = rulebot("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("rulebot ")


def test_unset_environment_variable_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("gateway:\n  api_key: ${RULEBOT_TEST_UNSET_KEY}\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"gateway\.api_key: environment variable RULEBOT_TEST_UNSET_KEY"
    ):
        load_config(config, environ={})
    done = rulebot("--config", str(config), "serve")
    assert done.returncode == 2
    assert "RULEBOT_TEST_UNSET_KEY is not set" in done.stderr


def test_misspelt_setting_is_named(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("server:\n  prot: 8080\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown setting 'server\.prot'"):
        load_config(config)


def test_secret_never_appears_in_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("server:\n  port: ${PORT_SECRET}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config, environ={"PORT_SECRET": "s3cr3t-value"})
    assert "s3cr3t-value" not in str(caught.value)


def test_serve_refuses_to_start_on_invalid_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: x\n    keywords: [a]\n    reply: {contact: nobody}\n")
    config = write_serve_config(
        tmp_path / "config.yaml",
        serve_config(
            account=ACCOUNT,
            gateway_url="http://127.0.0.1:9/unused",
            store=tmp_path / "r.db",
            rules=rules,
            api_key="k",
            webhook_token="t",
        ),
    )
    done = rulebot("--config", str(config), "serve")
    assert done.returncode == 2
    assert f"{rules}:4:" in done.stderr
    assert "nobody" in done.stderr


async def test_status_reports_depths_counts_and_errors_in_plain_words(bot: Bot) -> None:
    await bot.client_writes("972541234567", "sales")
    await bot.post_webhook({"unique": "x-1", "from": "972547777777", "body": "sales"})
    await bot.client_writes("972541234568", "what's the weather?")
    await bot.settle()
    report = await render_status(bot.service.config, now=time.time())
    assert "inbox:  0 waiting to be decided" in report
    assert "outbox: 0 waiting, 0 being sent" in report
    assert "today: 3 messages in, 1 conversations started" in report
    assert "       1  sent (accepted by the gateway)" in report
    assert "       1  refused by the gateway" in report
    assert "       1  no rule matched" in report
    assert "refused by the gateway: 9725****7777 never wrote to us" in report


@pytest.mark.parametrize("account", ["0501234567", "050-123-4567", "97250123"])
def test_account_must_be_international_digits(tmp_path: Path, account: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f'account: "{account}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"account: .*international digits|international"):
        load_config(config)


def test_account_in_international_form_is_kept_as_digits(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text('account: "+972 50-123-4567"\n', encoding="utf-8")
    assert load_config(config).account == "972501234567"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.99digital.co.il/whatsapp/v2/sendContact", True),
        ("http://127.0.0.1:8099/whatsapp/v2/sendContact", True),
        ("http://localhost:8099/sendContact", True),
        ("http://[::1]:8099/sendContact", True),
        ("http://api.99digital.co.il/whatsapp/v2/sendContact", False),
        ("http://10.0.0.5/sendContact", False),
        ("ftp://api.99digital.co.il/sendContact", False),
    ],
)
def test_gateway_url_must_be_https_except_on_loopback(tmp_path: Path, url: str, ok: bool) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"gateway:\n  url: {url}\n", encoding="utf-8")
    if ok:
        assert load_config(config).gateway.url == url
    else:
        with pytest.raises(ConfigError, match=r"gateway\.url: .*https://"):
            load_config(config)


async def test_status_says_when_the_rule_file_is_broken(bot: Bot, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "timezone: Asia/Jerusalem\n"
        "contacts: {a: {name: A, phone: '052-555-0123'}}\n"
        "rules:\n  - {name: x, keywords: [x], reply: {contact: nob}}\n",
        encoding="utf-8",
    )
    config = bot.service.config.model_copy(update={"rules": rules})
    report = await render_status(config, now=time.time())
    first = report.splitlines()[:3]
    assert first[0] == f"rules: 1 error, 1 warning in {rules}"
    assert "keeps its last good rules" in first[1]
    assert f"{rules}:4:47: error: unknown contact 'nob' (known contacts: a)" in first[2]
