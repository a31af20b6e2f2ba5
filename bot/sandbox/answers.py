"""The sandbox's answer to an accepted Send Contact: the documented one, or one of the odd
answers real gateways give (an OK without a message id, numbers in the wrong type, a 200 that
is not JSON), so every path of the bot's reading of an acceptance can be reached."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

#: the odd answers `--odd-answers` cycles through; each still means the send was accepted
ODD_ANSWERS = (
    "no_unique",  #: OK without `unique`
    "numeric_unique",  #: `unique` as a JSON number
    "text_minutes",  #: `templateTimeLeft` that is not a number
    "fractional_timestamp",  #: `timestamp` with a fraction
    "not_json",  #: HTTP 200 whose body is not JSON (the send went out all the same)
)


def documented_answer(
    *, unique: str, name: str, phone: str, now: float, account: str, to: str, left_s: float
) -> dict[str, Any]:
    """The answer as the Send Contact reference shows it."""
    return {
        "status": "OK",
        "unique": unique,
        "contact_name": name,
        "contact_phone": phone,
        "timestamp": int(now),
        "from": account,
        "to": to,
        "templateTimeLeft": str(int(left_s // 60)),
        # Documented as deprecated in this answer: "this value will show 0 always".
        "conversationTimeLeft": 0,
        "reason": 1,
    }


def accepted_response(answer: dict[str, Any], odd: str | None) -> web.Response:
    """`answer` as sent, bent the `odd` way (None: as documented)."""
    answer = dict(answer)
    if odd == "not_json":
        return web.Response(status=200, text="<html><body>OK</body></html>")
    if odd == "no_unique":
        del answer["unique"]
    elif odd == "numeric_unique":
        answer["unique"] = int(answer["unique"])  # the sandbox made it of digits
    elif odd == "text_minutes":
        answer["templateTimeLeft"] = "N/A"
    elif odd == "fractional_timestamp":
        answer["timestamp"] = answer["timestamp"] + 0.25
    elif odd is not None:
        raise ValueError(f"unknown odd answer {odd!r}; known: {ODD_ANSWERS}")
    return web.Response(body=orjson.dumps(answer), content_type="application/json")
