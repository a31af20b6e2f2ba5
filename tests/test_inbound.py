"""Reading the gateway's webhook bodies into typed events."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import InboundError
from bot.inbound import (
    KEPT_BODY_CHARS,
    IgnoredEvent,
    InboundMessage,
    OutgoingEcho,
    StatusUpdate,
    parse_webhook,
)

ACCOUNT = "972501234567"

# The provider's documented sample (with its missing comma fixed).
PROVIDER_SAMPLE = {
    "status": "OK", "hook": "new", "unique": "92E004B950CCEA3C386FCFA2AAF8558A",
    "from": "972507654321", "from_id": "IL.1605856887361213", "username": None,
    "country": "IL", "phone": "972507654321", "to": "972501234567", "senderName": "Ronen",
    "type": "text", "body": "hello", "caption": "caption", "isForwarded": False,
    "timestamp": "1600517209", "media": False, "quote": False, "quoteUnique": False,
    "profilePic": "https://example.invalid/file.jpg", "conversationTimeLeft": "600",
}  # fmt: skip


def parse(payload: object) -> object:
    return parse_webhook(payload, account=ACCOUNT, now=1_700_000_000.0)


def test_provider_sample_is_a_client_message() -> None:
    event = parse(PROVIDER_SAMPLE)
    assert event == InboundMessage(
        id="92E004B950CCEA3C386FCFA2AAF8558A",
        client="IL.1605856887361213",
        address="972507654321",
        text="hello",
        type="text",
        timestamp=1600517209.0,
        to="972501234567",
        name="Ronen",
        is_group=False,
    )


def test_hidden_number_client_is_answered_at_their_from_id() -> None:
    payload = dict(PROVIDER_SAMPLE, **{"from": "IL.1605856887361213", "phone": None})
    event = parse(payload)
    assert isinstance(event, InboundMessage)
    assert event.address == "IL.1605856887361213"
    assert event.client == "IL.1605856887361213"


def test_generic_shape_with_id_and_text() -> None:
    event = parse(
        {"id": "m1", "from": "+972 50 765 4321", "text": "sales", "timestamp": 1700000000}
    )
    assert isinstance(event, InboundMessage)
    assert (event.id, event.address, event.text) == ("m1", "972507654321", "sales")


def test_message_id_and_message_fields_are_read() -> None:
    event = parse({"message_id": "m2", "from": "972507654321", "message": "price?"})
    assert isinstance(event, InboundMessage)
    assert (event.id, event.text) == ("m2", "price?")


def test_missing_timestamp_means_now() -> None:
    event = parse({"id": "m3", "from": "972507654321", "body": "x"})
    assert isinstance(event, InboundMessage)
    assert event.timestamp == 1_700_000_000.0


def test_media_caption_is_the_text_and_audio_has_none() -> None:
    image = parse(dict(PROVIDER_SAMPLE, type="image", body="https://x/y.jpg", caption="price?"))
    audio = parse(dict(PROVIDER_SAMPLE, type="ptt", body="https://x/y.ogg", caption=False))
    assert isinstance(image, InboundMessage) and image.text == "price?"
    assert isinstance(audio, InboundMessage) and audio.text is None


@pytest.mark.parametrize(
    "extra",
    [
        {"isGroup": True},
        {"group": "true"},
        {"groupId": "120363-111"},
        {"group_id": "x"},
        {"from": "9725001234567-157483929384"},
        {"from": "120363041234567890@g.us"},
    ],
)
def test_group_messages_are_marked(extra: dict[str, object]) -> None:
    event = parse(dict(PROVIDER_SAMPLE, **extra))
    assert isinstance(event, InboundMessage)
    assert event.is_group


def test_message_from_our_account_is_an_echo_not_a_client_message() -> None:
    event = parse(dict(PROVIDER_SAMPLE, **{"from": ACCOUNT, "to": "972507654321"}))
    assert event == OutgoingEcho(
        id="92E004B950CCEA3C386FCFA2AAF8558A", client="972507654321", timestamp=1600517209.0
    )


def test_message_marked_from_me_is_an_echo() -> None:
    event = parse(dict(PROVIDER_SAMPLE, fromMe=True))
    assert isinstance(event, OutgoingEcho)


def test_delivery_status_hook() -> None:
    event = parse({"hook": "status", "unique": "abc", "status": "Delivered", "timestamp": "5"})
    assert event == StatusUpdate(id="abc", status="delivered", timestamp=5.0)


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"hook": "system", "unique": "x"}, "hook:system"),
        (dict(PROVIDER_SAMPLE, type="poll_update"), "type:poll_update"),
    ],
)
def test_unknown_hooks_and_types_are_ignored_with_their_body_kept(
    payload: dict[str, object], kind: str
) -> None:
    event = parse(payload)
    assert isinstance(event, IgnoredEvent)
    assert event.kind == kind
    assert orjson.loads(event.body) == payload


def test_a_status_with_its_id_under_an_unknown_key_is_kept_not_refused() -> None:
    payload = {"hook": "status", "msgUnique": "abc", "status": "read", "timestamp": "5"}
    event = parse(payload)
    assert isinstance(event, IgnoredEvent)
    assert event.kind == "status:read:no_id"
    assert orjson.loads(event.body) == payload


def test_an_ignored_body_is_kept_bounded() -> None:
    event = parse({"hook": "system", "note": "x" * 20_000})
    assert isinstance(event, IgnoredEvent)
    assert len(event.body) == KEPT_BODY_CHARS + 3 and event.body.endswith("...")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([], "body must be a JSON object"),
        (
            {"from": "972507654321", "body": "x"},
            "message has no id ('unique', 'id' or 'message_id')",
        ),
        ({"unique": "u"}, "message has no sender ('from' or 'from_id')"),
        ({"unique": "u", "from": "hello", "body": "x"}, "sender must be an international number"),
        ({"unique": "u", "from": "972507654321", "timestamp": "soon"}, "'timestamp' must be unix"),
        ({"unique": "u" * 201, "from": "972507654321"}, "message id is longer than 200"),
    ],
)
def test_malformed_bodies_say_why(payload: object, reason: str) -> None:
    with pytest.raises(InboundError, match="^" + reason.replace("(", r"\(").replace(")", r"\)")):
        parse(payload)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_fields = st.sampled_from(
    ["unique", "id", "from", "from_id", "to", "body", "text", "type", "timestamp", "hook",
     "status", "isGroup", "groupId", "caption", "fromMe"]
)  # fmt: skip


@given(st.dictionaries(_fields, _json, max_size=8))
def test_any_json_object_parses_or_raises_inbound_error(payload: dict[str, object]) -> None:
    try:
        event = parse(payload)
    except InboundError:
        return
    assert isinstance(event, InboundMessage | OutgoingEcho | StatusUpdate | IgnoredEvent)
