"""Hostile or careless input: oversize and mistyped bodies, unknown paths, slow clients,
wrong tokens, and rule files built to explode a YAML reader."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest

from bot import service as service_module
from bot import webhook as webhook_module
from bot.core import load_rules
from bot.errors import RuleError
from bot.metrics import REGISTRY
from tests.conftest import ACCOUNT, TOKEN, Bot

BotFactory = Callable[..., Awaitable[Bot]]
CLIENT = "972541234567"
#: how long the tests give a server to close a connection it should close after 1 s (+ 2 s
#: draining an unread body)
CLOSE_BOUND_S = 5.0


def message(unique: str = "HARD-1", text: str = "sales please") -> dict[str, object]:
    return {"hook": "new", "unique": unique, "from": CLIENT, "to": ACCOUNT, "type": "text",
            "body": text, "timestamp": str(int(time.time()))}  # fmt: skip


# -- bodies, types, paths -------------------------------------------------------------------


async def test_body_over_the_limit_is_refused_with_413(bot: Bot) -> None:
    limit = bot.service.config.server.max_body_bytes
    assert limit == 64 * 1024  # the default
    big = message(text="x" * limit)
    counted = REGISTRY.get_sample_value("rulebot_webhooks_total", {"outcome": "too_large"}) or 0
    answer = await bot.post_webhook(big)
    assert answer.status == 413
    after = REGISTRY.get_sample_value("rulebot_webhooks_total", {"outcome": "too_large"})
    assert after == counted + 1
    just_under = message(text="sales " + "y" * (limit - 1024))
    assert (await bot.post_webhook(just_under)).status == 200


async def test_body_that_is_not_json_typed_is_refused_with_415(bot: Bot) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        answer = await bot.post_webhook(
            None, data=orjson.dumps(message()), headers={"Content-Type": content_type}
        )
        assert answer.status == 415, content_type


async def test_unknown_paths_are_404_and_wrong_methods_405(bot: Bot) -> None:
    for path in ("/", "/webhook/x", "/admin", "/../etc/passwd", "/wp-login.php"):
        async with bot.http.get(bot.service.url + path) as response:
            assert response.status == 404, path
    async with bot.http.get(bot.service.url + "/webhook") as response:
        assert response.status == 405


async def test_webhook_token_wrong_missing_or_right(bot: Bot) -> None:
    assert (await bot.post_webhook(message("T-1"), token="wrong-token")).status == 401
    assert (await bot.post_webhook(message("T-2"), token=TOKEN[:-1])).status == 401
    assert (await bot.post_webhook(message("T-3"), token=TOKEN + "x")).status == 401
    assert (await bot.post_webhook(message("T-4"), token="")).status == 401
    assert (await bot.post_webhook(message("T-5"), token=None)).status == 401
    assert (await bot.post_webhook(message("T-6"), token=TOKEN)).status == 200
    header = await bot.post_webhook(message("T-7"), token=None, headers={"X-Webhook-Token": TOKEN})
    assert header.status == 200
    rows = await bot.service.store.query("SELECT message_id FROM inbox")  # type: ignore[attr-defined]
    assert sorted(r["message_id"] for r in rows) == ["T-6", "T-7"]


@pytest.mark.parametrize(
    "given",
    [
        TOKEN[:-1],  # a prefix
        TOKEN + "x",  # longer
        "X" + TOKEN[1:],  # wrong first character
        TOKEN[:-1] + "X",  # wrong last character
        TOKEN.upper(),
        "טוקן-" + TOKEN,  # not ASCII: compared as bytes, refused, never a 500
        " " + TOKEN,
    ],
)
async def test_only_the_exact_webhook_token_is_accepted(bot: Bot, given: str) -> None:
    refused = await bot.post_webhook(message("TOKEN-1"), token=given)
    assert refused.status == 401
    if given.isascii() and given == given.strip():  # HTTP trims a header; ASCII only
        by_header = await bot.post_webhook(
            message("TOKEN-2"), token=None, headers={"X-Webhook-Token": given}
        )
        assert by_header.status == 401
    assert (await bot.post_webhook(message("TOKEN-3"), token=TOKEN)).status == 200


# -- slow clients ---------------------------------------------------------------------------


@pytest.fixture
async def impatient_bot(bot_factory: BotFactory, monkeypatch: pytest.MonkeyPatch) -> Bot:
    """A bot whose idle and body timeouts are 1 s (the defaults are 15 s and 10 s)."""
    monkeypatch.setattr(service_module, "IDLE_TIMEOUT_S", 1.0)
    monkeypatch.setattr(webhook_module, "BODY_TIMEOUT_S", 1.0)
    return await bot_factory()


async def connect(bot: Bot) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    where = urlsplit(bot.service.url)
    return await asyncio.open_connection(where.hostname, where.port)


async def closed_within(reader: asyncio.StreamReader, bound_s: float) -> tuple[float, bytes]:
    """Read until the server closes; returns (seconds taken, everything it sent)."""
    started = time.monotonic()
    received = b""
    async with asyncio.timeout(bound_s):
        while chunk := await reader.read(65536):
            received += chunk
    return time.monotonic() - started, received


async def test_partial_request_headers_are_cut_off(impatient_bot: Bot) -> None:
    reader, writer = await connect(impatient_bot)
    writer.write(b"POST /webhook?token=" + TOKEN.encode() + b" HTTP/1.1\r\nHost: bot\r\n")
    await writer.drain()
    # A slowloris keeps trickling header bytes; the server must not wait for them forever.
    trickle = asyncio.create_task(_trickle(writer))
    try:
        took, received = await closed_within(reader, CLOSE_BOUND_S)
    finally:
        trickle.cancel()
        writer.close()
    assert took < CLOSE_BOUND_S
    assert received == b""  # nothing was answered: the request never completed


async def _trickle(writer: asyncio.StreamWriter) -> None:
    for n in range(100):
        await asyncio.sleep(0.2)
        writer.write(f"X-Slow-{n}: 1\r\n".encode())
        await writer.drain()


async def test_a_body_that_never_arrives_is_answered_408_and_closed(impatient_bot: Bot) -> None:
    reader, writer = await connect(impatient_bot)
    head = (
        f"POST /webhook?token={TOKEN} HTTP/1.1\r\nHost: bot\r\n"
        "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
    )
    writer.write(head.encode() + b'{"hook": "new", ')
    await writer.drain()
    try:
        took, received = await closed_within(reader, CLOSE_BOUND_S)
    finally:
        writer.close()
    assert received.startswith(b"HTTP/1.1 408")
    assert took < CLOSE_BOUND_S


async def test_an_idle_kept_alive_connection_is_closed(impatient_bot: Bot) -> None:
    reader, writer = await connect(impatient_bot)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n")
    await writer.drain()
    try:
        took, received = await closed_within(reader, CLOSE_BOUND_S)
    finally:
        writer.close()
    assert received.startswith(b"HTTP/1.1 200")
    assert took < CLOSE_BOUND_S


async def test_a_connection_that_sends_nothing_is_closed(impatient_bot: Bot) -> None:
    reader, writer = await connect(impatient_bot)
    try:
        took, received = await closed_within(reader, CLOSE_BOUND_S)
    finally:
        writer.close()
    assert received == b""
    assert took < CLOSE_BOUND_S


def test_default_timeouts_are_bounded() -> None:
    assert 0 < service_module.IDLE_TIMEOUT_S <= 60
    assert 0 < webhook_module.BODY_TIMEOUT_S <= 30


# -- rule files built to hurt ---------------------------------------------------------------

VALID_HEAD = """\
contacts:
  sales: {name: "Sales", phone: "+972 52 555 0123"}
rules:
  - name: sales
    keywords: [sales]
    reply: {contact: sales}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_rule_file_loads(tmp_path: Path) -> None:
    assert load_rules(write(tmp_path, VALID_HEAD)).rule_names == ("sales",)


def test_alias_bomb_is_refused_quickly_with_a_clear_error(tmp_path: Path) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        previous = chr(ord("a") + level - 1)
        name = chr(ord("a") + level)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    path = write(tmp_path, VALID_HEAD + "\n".join(lines) + "\n")
    started = time.monotonic()
    with pytest.raises(RuleError) as caught:
        load_rules(path)
    assert time.monotonic() - started < 2.0
    error = caught.value
    assert error.file is not None and error.file.endswith("rules.yaml")
    assert error.line == VALID_HEAD.count("\n") + 1
    assert "anchor" in error.message or "alias" in error.message


def test_a_single_alias_is_refused_too(tmp_path: Path) -> None:
    text = VALID_HEAD + "  - name: copy\n    keywords: &words [a]\n    reply: {contact: sales}\n"
    with pytest.raises(RuleError, match=r"anchor|alias"):
        load_rules(write(tmp_path, text))


def test_very_deep_nesting_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    deep = "x: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(RuleError) as caught:
        load_rules(write(tmp_path, VALID_HEAD + deep))
    assert "nesting" in caught.value.message or "deep" in caught.value.message
    assert caught.value.line is not None


def test_deep_block_mapping_is_refused(tmp_path: Path) -> None:
    deep = "".join("  " * level + f"k{level}:\n" for level in range(200)) + "  " * 200 + "v\n"
    with pytest.raises(RuleError, match=r"nesting|deep"):
        load_rules(write(tmp_path, VALID_HEAD + deep))


def test_rule_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    filler = "# " + "x" * 98 + "\n"
    huge = VALID_HEAD + filler * (11 * 1024 * 1024 // len(filler) // 10)  # ~1.1 MiB
    with pytest.raises(RuleError) as caught:
        load_rules(write(tmp_path, huge))
    assert (
        "large" in caught.value.message
        or "size" in caught.value.message
        or ("bytes" in caught.value.message)
    )


def test_python_tags_are_refused_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = VALID_HEAD + f'x: !!python/object/apply:os.system ["touch {marker}"]\n'
    with pytest.raises(RuleError):
        load_rules(write(tmp_path, text))
    assert not marker.exists()
