"""The webhook through a real server: authentication, parsing, durable storing, answers."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import ACCOUNT, Bot

CLIENT = "972541234567"


def message(unique: str, text: str = "sales please", **extra: object) -> dict[str, object]:
    return {"hook": "new", "unique": unique, "from": CLIENT, "to": ACCOUNT, "type": "text",
            "body": text, "timestamp": "1700000000", **extra}  # fmt: skip


async def inbox_rows(bot: Bot) -> list[dict[str, object]]:
    return await bot.service.store.query("SELECT message_id, outcome FROM inbox")  # type: ignore[attr-defined]


async def test_matching_message_yields_one_quoted_contact(bot: Bot) -> None:
    unique = await bot.client_writes(CLIENT, "hi, who handles sales?")
    await bot.settle()
    assert len(bot.sent) == 1
    sent = bot.sent[0]
    assert sent["to"] == CLIENT
    assert sent["from"] == ACCOUNT
    assert sent["replyTo"] == unique
    assert sent["contact_name"] == "Demo Sales"
    assert sent["contact_phone"].isdigit()
    assert "apiKey" not in sent  # the sandbox stores what it got, minus the key


async def test_hebrew_message_is_answered(bot: Bot) -> None:
    await bot.client_writes(CLIENT, "אני צריך מכירות")
    await bot.settle()
    assert [s["contact_name"] for s in bot.sent] == ["Demo Sales"]


@pytest.mark.parametrize("text", ["what's the weather like?", ""])
async def test_unmatched_or_empty_message_gets_no_reply(bot: Bot, text: str) -> None:
    await bot.client_writes(CLIENT, text)
    await bot.settle()
    assert bot.sent == []
    rows = await inbox_rows(bot)
    assert [r["outcome"] for r in rows] == ["no_match" if text else "empty"]


async def test_group_message_gets_no_reply(bot: Bot) -> None:
    await bot.client_writes(CLIENT, "sales please", group=True)
    await bot.settle()
    assert bot.sent == []
    assert [r["outcome"] for r in await inbox_rows(bot)] == ["group"]


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
async def test_unauthenticated_request_is_refused_and_stores_nothing(
    bot: Bot, token: str | None
) -> None:
    response = await bot.post_webhook(message("u1"), token=token)
    assert response.status == 401
    # A message let in afterwards is decided and answered; the refused one never was stored.
    await bot.client_writes(CLIENT, "sales")
    await bot.settle()
    assert [r["message_id"] for r in await inbox_rows(bot)] != ["u1"]
    assert len(await inbox_rows(bot)) == 1
    assert [s["replyTo"] for s in bot.sent] != ["u1"] and len(bot.sent) == 1


async def test_token_in_header_is_accepted(bot: Bot) -> None:
    response = await bot.post_webhook(
        message("u2"), token=None, headers={"X-Webhook-Token": "test-webhook-token"}
    )
    assert response.status == 200


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (b'{"from": "972541234567", "body": "x"}', "message has no id"),
        (b'{"unique": "u3", "body": "x"}', "message has no sender"),
    ],
)
async def test_malformed_body_gets_400_with_a_reason(bot: Bot, body: bytes, reason: str) -> None:
    async with bot.http.post(
        f"{bot.service.url}/webhook",
        params={"token": "test-webhook-token"},
        data=body,
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        answer = await response.json()
    assert answer["ok"] is False
    assert answer["error"].startswith(reason)
    assert "\n" not in answer["error"]


async def test_status_and_unknown_hooks_are_acknowledged_recorded_and_not_answered(
    bot: Bot,
) -> None:
    kept = (
        {"hook": "system", "unique": "s1"},
        message("u4", type="poll_update"),
        {"hook": "status", "msgUnique": "s2", "status": "read"},  # its id under a key we lack
    )
    for payload in ({"hook": "status", "unique": "nope", "status": "delivered"}, *kept):
        response = await bot.post_webhook(payload)
        assert response.status == 200
    # Each was written before the 200: nothing reached the inbox, so nothing can be answered,
    # and every hook we do not act on is on record with its body.
    assert await inbox_rows(bot) == []
    events = await bot.service.store.query(  # type: ignore[attr-defined]
        "SELECT detail FROM events WHERE kind = 'ignored' ORDER BY id"
    )
    kinds = [row["detail"].split(" ", 1)[0] for row in events]
    assert kinds == ["hook:system", "type:poll_update", "status:read:no_id"]
    bodies = [orjson.loads(row["detail"].split(" ", 1)[1]) for row in events]
    assert bodies == list(kept)
    await bot.settle()
    assert bot.sent == []


async def test_duplicate_webhook_is_acknowledged_and_answered_once(bot: Bot) -> None:
    unique = await bot.client_writes(CLIENT, "sales")  # opens the window and delivers once
    payload = bot.sandbox.gateway.state.messages[unique]
    for _ in range(4):  # the provider retries the same delivery
        response = await bot.post_webhook(payload)
        assert response.status == 200
    await bot.settle()
    assert len(bot.sent) == 1
