"""Fuzzing the webhook of a real running bot: whatever arrives, never a 5xx and never an
unhandled exception, neither in the request nor later in the worker that decides and sends."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ACCOUNT, TOKEN, Bot

#: field names the provider sends (and the aliases the parser accepts)
FIELDS = (
    "status", "hook", "event", "unique", "id", "message_id", "messageId", "from", "sender",
    "from_id", "username", "country", "phone", "to", "senderName", "name", "pushname", "type",
    "body", "text", "message", "caption", "isForwarded", "timestamp", "media", "quote",
    "quoteUnique", "conversationTimeLeft", "fromMe", "from_me", "isFromMe", "isGroup", "group",
    "groupId", "group_id", "chatId", "chat_id",
)  # fmt: skip
NUMBERS = ("972541234567", ACCOUNT, "+972 54-123-4567", "IL.12345678", "9725412-1700000000")

_WORDS = ("new", "status", "outgoing", "text", "image", "ptt", "delivered", "read", "sales",
          "", "0", "1", "true", "false", "1700000000", "9" * 30)  # fmt: skip
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(_WORDS)
    | st.sampled_from(NUMBERS)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
_provider_dicts = st.dictionaries(st.sampled_from(FIELDS), _values, max_size=len(FIELDS))
#: mostly plausible messages with a few fields broken, so the fuzz reaches the worker too
_plausible = st.fixed_dictionaries(
    {
        "hook": st.sampled_from(("new", "status", "outgoing")),
        "unique": st.text(min_size=1, max_size=24),
        "from": st.sampled_from(NUMBERS),
        "to": st.just(ACCOUNT),
        "type": st.sampled_from(("text", "image", "chat", "location")),
        "body": st.text(max_size=60),
        "timestamp": st.integers(min_value=-(2**40), max_value=2**40).map(str),
    }
).flatmap(lambda base: _provider_dicts.map(lambda extra: {**base, **extra}))

bodies = st.one_of(
    _provider_dicts.map(orjson.dumps),
    _plausible.map(orjson.dumps),
    _values.map(orjson.dumps),  # any JSON document: a list, a string, a number...
    st.binary(max_size=200),  # not JSON at all
    st.text(max_size=100).map(str.encode),
)


@pytest.fixture
def fuzz_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


@settings(
    max_examples=1500,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
async def test_random_bodies_never_get_a_5xx(bot: Bot, body: bytes) -> None:
    answer = await bot.post_webhook(
        None, data=body, headers={"Content-Type": "application/json"}, token=TOKEN
    )
    assert answer.status < 500, body
    assert answer.status in (200, 400), (answer.status, body)


async def test_fuzzed_traffic_leaves_no_unhandled_exception_in_the_log(
    bot: Bot, fuzz_log: pytest.LogCaptureFixture
) -> None:
    # The request handler and the worker run after the answer: look at both.
    started = time.monotonic()
    statuses = await _post_many(bot, bodies, count=1000)
    await bot.settle(timeout_s=30)
    assert max(statuses) < 500
    # never_500's line; a refusal may quote the JSON reader ("unexpected end of data")
    crashes = [
        r for r in fuzz_log.records if r.exc_info or "unexpected error" in r.getMessage().lower()
    ]
    assert not crashes, [r.getMessage() for r in crashes[:5]]
    assert time.monotonic() - started < 30


async def _post_many(bot: Bot, strategy: Any, *, count: int) -> list[int]:
    statuses: list[int] = []
    examples: list[bytes] = []

    @settings(max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def collect(body: bytes) -> None:
        examples.append(body)

    collect()
    for body in examples:
        answer = await bot.post_webhook(
            None, data=body, headers={"Content-Type": "application/json"}, token=TOKEN
        )
        statuses.append(answer.status)
    return statuses
