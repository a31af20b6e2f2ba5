"""Smaller findings of the attack run, each refused or shown the way a person expects: masked
numbers, a readiness probe without details, quiet refusals, exact ids, NUL bytes, long words,
rule files that are not ordinary files, and impossible dates in the playground."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import webhook as webhook_module
from bot.core import load_rules
from bot.core.loader import MAX_FILE_BYTES
from bot.errors import RuleError
from bot.logs import RateLimitedLog
from bot.status import render_status
from tests.conftest import ACCOUNT, Bot
from tests.pg import postgres_schema
from tests.test_admin import ADMIN_TOKEN, page, signed_in

BotFactory = Callable[..., Awaitable[Bot]]
#: a webhook body written out by hand (ids beyond 64 bits) is still JSON
JSON = {"Content-Type": "application/json"}
STRANGER = "972547777777"  # never wrote through the gateway: a card to them is refused (8)


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


def message(unique: Any, text: str = "sales please", sender: str = STRANGER) -> dict[str, Any]:
    return {"hook": "new", "unique": unique, "from": sender, "to": ACCOUNT, "type": "text",
            "body": text, "timestamp": str(int(time.time()))}  # fmt: skip


# -- numbers on screens ---------------------------------------------------------------------


async def test_why_cards_were_not_sent_shows_numbers_masked(
    bot_factory: BotFactory, browser: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(admin_token=ADMIN_TOKEN)
    await bot.post_webhook(message("mask-1"))
    await bot.settle()
    await signed_in(bot, browser)
    _, html = await page(browser, f"{bot.service.url}/admin")
    assert "9725****7777 never wrote to us" in html
    assert STRANGER not in html
    report = await render_status(bot.service.config, now=time.time())
    assert "9725****7777 never wrote to us" in report
    assert STRANGER not in report


# -- the readiness probe --------------------------------------------------------------------


async def test_readyz_gives_a_status_not_the_rule_files_error_or_paths(
    bot_factory: BotFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "secret-folder" / "shop.yaml"
    rules.parent.mkdir()
    rules.write_text(
        "contacts:\n  sales: {name: Sales, phone: '+972 52 555 0123'}\n"
        "rules:\n  - name: sales\n    keywords: [sales]\n    reply: {contact: sales}\n",
        encoding="utf-8",
    )
    bot = await bot_factory(rules=rules)
    rules.write_text("rules:\n  - name: x\n    reply: {contact: nobody}\n", encoding="utf-8")
    assert bot.service.rulebook.reload_now() is False
    async with bot.http.get(f"{bot.service.url}/readyz") as response:
        assert response.status == 200
        text = await response.text()
        body = await response.json()
    assert body["rules_error"] is True
    assert "secret-folder" not in text and "nobody" not in text


# -- quiet refusals -------------------------------------------------------------------------


async def test_junk_requests_are_refused_with_one_short_line_not_a_traceback(
    bot: Bot, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh minute: earlier tests in this process have had their refusals logged already.
    monkeypatch.setattr(webhook_module, "_refusals", RateLimitedLog(webhook_module.log))
    url = f"{bot.service.url}/webhook"
    caplog.set_level(logging.DEBUG)
    for _ in range(50):
        # A token header that is not UTF-8: 401, as any wrong token.
        async with bot.http.post(
            url,
            data=b"{}",
            headers={"X-Webhook-Token": "\xff\xfe", "Content-Type": "application/json"},
        ) as response:
            assert response.status == 401
        async with bot.http.post(url, params={"token": "nope"}, json={}) as response:
            assert response.status == 401
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert 1 <= len(refusals) <= 3  # rate-limited: not one line per request
    assert all("\n" not in r.getMessage() for r in refusals)


async def test_a_non_utf8_admin_cookie_is_401(bot_factory: BotFactory) -> None:
    bot = await bot_factory(admin_token=ADMIN_TOKEN)
    async with bot.http.get(
        f"{bot.service.url}/admin", headers={"Cookie": "rulebot_admin=\xff\xfe; rulebot_csrf=\xff"}
    ) as response:
        assert response.status == 401


# -- ids kept exactly -----------------------------------------------------------------------


async def test_a_numeric_id_above_2_64_is_kept_exactly(bot: Bot) -> None:
    big = 2**64 + 1
    client = "972541234599"
    for unique in (big, big + 1):  # as floats both would be 18446744073709551616
        raw = (
            f'{{"hook":"new","unique":{unique},"from":"{client}","to":"{ACCOUNT}",'
            f'"type":"text","body":"hi","timestamp":"{int(time.time())}"}}'
        )
        response = await bot.post_webhook(None, data=raw.encode(), headers=JSON)
        answer = await response.json()
        assert answer == {"ok": True, "result": "queued", "id": str(unique)}


@pytest.mark.parametrize(
    "store_kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_a_nul_byte_in_an_id_is_400_on_both_stores(
    bot_factory: BotFactory, store_kind: str
) -> None:
    async with postgres_schema() if store_kind == "postgres" else _no_schema() as url:
        bot = await bot_factory(store=url) if url else await bot_factory()
        for payload in (
            message("nul\x00id"),
            {"hook": "new", "unique": "ok-id", "from": "IL.160585688736121\x00", "type": "text"},
            {"unique": "nul\x00status", "status": "delivered", "hook": "status"},
        ):
            response = await bot.post_webhook(payload)
            assert response.status == 400, payload
        assert (await bot.post_webhook(message("fine-id"))).status == 200
        await bot.service.stop()


class _no_schema:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


# -- the dashboard with a very long word ----------------------------------------------------


async def test_a_very_long_word_is_cut_and_wraps_on_the_dashboard(
    bot_factory: BotFactory, browser: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(admin_token=ADMIN_TOKEN)
    await bot.client_writes("972541234567", "x" * 60_000)
    await bot.settle()
    await signed_in(bot, browser)
    _, html = await page(browser, f"{bot.service.url}/admin")
    assert "x" * 60_000 not in html
    assert "x" * 300 + "…" in html
    assert "overflow-wrap: anywhere" in html


# -- rule files that are not ordinary files -------------------------------------------------


def test_a_rule_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as out:
        out.truncate(700 * 1024 * 1024)  # sparse: 700 MB that costs no disk
    with pytest.raises(RuleError, match="larger than 1 MiB"):
        load_rules(huge)
    assert MAX_FILE_BYTES == 1024 * 1024


def test_a_device_or_a_fifo_as_rule_file_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not an ordinary file"):
        load_rules(Path("/dev/zero"))
    fifo = tmp_path / "rules.yaml"
    os.mkfifo(fifo)
    done = threading.Event()
    errors: list[Exception] = []

    def load() -> None:
        try:
            load_rules(fifo)
        except RuleError as exc:
            errors.append(exc)
        done.set()

    threading.Thread(target=load, daemon=True).start()
    assert done.wait(5), "reading a FIFO hangs"
    assert "not an ordinary file" in str(errors[0])


# -- the playground with impossible dates ---------------------------------------------------


@pytest.mark.parametrize("at", ["0001-01-01T00:00", "9999-12-31T23:59"])
async def test_the_playground_answers_400_with_the_reason_for_a_date_out_of_range(
    bot_factory: BotFactory, browser: aiohttp.ClientSession, at: str
) -> None:
    bot = await bot_factory(admin_token=ADMIN_TOKEN)
    await signed_in(bot, browser)
    url = f"{bot.service.url}/admin/playground?text=sales&at={at}"
    async with browser.get(url) as response:
        assert response.status == 400
        html = await response.text()
    assert "is not a date and time" in html or "out of range" in html


async def test_an_ignored_webhook_with_an_id_above_2_64_is_kept_not_503(bot: Bot) -> None:
    raw = f'{{"hook":"poll","unique":{2**70},"from":"972541234599"}}'
    response = await bot.post_webhook(None, data=raw.encode(), headers=JSON)
    assert response.status == 200
    assert (await response.json())["result"] == "ignored"
    rows = await bot.service.store.query("SELECT detail FROM events")  # type: ignore[attr-defined]
    assert str(2**70) in str(rows)
