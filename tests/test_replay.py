"""`rulebot try --file`: WhatsApp chat exports and JSONL cases replayed through the rules."""

from __future__ import annotations

import argparse
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cli.tryout import run_try
from bot.core.transcripts import (
    NO_CARD,
    RIGHT,
    WRONG_CARD,
    Accuracy,
    Case,
    TranscriptError,
    grade,
    parse_cases,
    parse_chat_export,
    transcript_format,
)

RULES = """\
timezone: Asia/Jerusalem
business_hours: {sun-thu: "09:00-18:00", fri: "09:00-13:00"}
contacts:
  sales: {name: "דנה – מכירות", phone: "052-555-0123"}
  workshop: {name: "Workshop", phone: "09-765-4321"}
  owner: {name: "Ofanei HaSharon", phone: "09-765-4300"}
rules:
  - name: sales
    keywords: [sales, price, מחיר, "כמה עולה"]
    reply: {contact: sales}
  - name: workshop
    keywords: [repair, תיקון]
    when: {inside: business_hours}
    once_per: day
    reply: {contact: workshop}
  - name: hello
    keywords: [hi, hello, שלום]
    first_message: true
    reply: {contact: owner}
fallback: {reply: {contact: owner}, once_per: day}
"""

# Android, US English: month-first, 12 h (the newest exports put U+202F before AM/PM)
ANDROID_US = """\
12/31/25, 9:40\u202fPM - Messages and calls are end-to-end encrypted. No one outside of \
this chat, not even WhatsApp, can read or listen to them. Tap to learn more.
12/31/25, 9:41\u202fPM - Dana Levi: hi
12/31/25, 9:41\u202fPM - Ofanei Shop: Hi Dana, how can we help?
12/31/25, 9:42\u202fPM - Dana Levi: what's the price of the red bike?
12/31/25, 9:43\u202fPM - Dana Levi: <Media omitted>
1/1/26, 10:05 AM - Dana Levi: repair, please
1/1/26, 10:30 AM - Dana Levi: repair?
still waiting
1/1/26, 10:31 AM - Dana Levi: hello??
"""

# Android, English, 24 h, day-first
ANDROID_24 = """\
31/12/2025, 21:41 - Dana: hi
31/12/2025, 21:42 - Shop: hello Dana
31/12/2025, 21:44 - Dana: price of the helmet?
"""

# iPhone: bracketed, with seconds; WhatsApp's own notes start with U+200E
IOS = """\
[31/12/2025, 21:40:12] Dana: \u200eMessages and calls are end-to-end encrypted. No one \
outside of this chat, not even WhatsApp, can read or listen to them.
[31/12/2025, 21:41:05] Dana: what's the price?
[31/12/2025, 21:41:30] Ofanei Shop: Hi!
[31/12/2025, 21:42:00] Dana: \u200eimage omitted
\u200e[1/1/2026, 10:02:09] Dana: repair
"""

# Hebrew phone: d.m.yy, 24 h, RTL marks, Hebrew names, a multi-line message, media
HEBREW = """\
\u200f31.12.25, 21:40 - \u200fההודעות והשיחות מוצפנות מקצה לקצה. לאף אחד מחוץ לצ'אט הזה, \
גם לא ל-WhatsApp, אין אפשרות לקרוא אותן ולהאזין להן.
\u200f31.12.25, 21:41 - דנה: שלום
\u200f31.12.25, 21:42 - אופני השרון: היי דנה, במה אפשר לעזור?
\u200f31.12.25, 21:43 - דנה: \u200f<המדיה לא נכללה>
\u200f31.12.25, 21:44 - דנה: כמה עולה הקסדה הזאת?
והאם יש במידה M
\u200f1.1.26, 9:15 - דנה: צריכה תיקון לגלגל
"""


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(rules: Path, file: Path | str, **options: Any) -> tuple[int, str]:
    args = argparse.Namespace(
        messages=[],
        file=str(file),
        json=options.get("json", False),
        client=options.get("client"),
        me=options.get("me"),
        sender=options.get("sender"),
        at=options.get("at"),
        gap=1.0,
        rules=str(rules),
        config=None,
    )
    out = io.StringIO()
    code = run_try(args, out=out)
    return code, out.getvalue()


def body(out: str) -> list[str]:
    """The output without the first line (the rules file's path and version)."""
    return out.splitlines()[1:]


# --- the export format ----------------------------------------------------------------------


def test_android_us_12_hour_export() -> None:
    chat = parse_chat_export(ANDROID_US)
    assert chat.style == "android"
    assert chat.date_order == "month-first"
    assert chat.date_order_reason == "'12/31/25' on line 1 has a second number over 12"
    assert chat.system_lines == 1
    assert chat.senders == ("Dana Levi", "Ofanei Shop")
    assert [(m.line, m.at, m.sender, m.kind) for m in chat.messages] == [
        (2, datetime(2025, 12, 31, 21, 41), "Dana Levi", "text"),
        (3, datetime(2025, 12, 31, 21, 41), "Ofanei Shop", "text"),
        (4, datetime(2025, 12, 31, 21, 42), "Dana Levi", "text"),
        (5, datetime(2025, 12, 31, 21, 43), "Dana Levi", "media"),
        (6, datetime(2026, 1, 1, 10, 5), "Dana Levi", "text"),
        (7, datetime(2026, 1, 1, 10, 30), "Dana Levi", "text"),
        (9, datetime(2026, 1, 1, 10, 31), "Dana Levi", "text"),
    ]
    assert chat.messages[3].text is None
    assert chat.messages[5].text == "repair?\nstill waiting"


def test_android_24_hour_day_first_export() -> None:
    chat = parse_chat_export(ANDROID_24)
    assert (chat.style, chat.date_order) == ("android", "day-first")
    assert chat.date_order_reason == "'31/12/2025' on line 1 has a first number over 12"
    assert [(m.at, m.sender, m.text) for m in chat.messages] == [
        (datetime(2025, 12, 31, 21, 41), "Dana", "hi"),
        (datetime(2025, 12, 31, 21, 42), "Shop", "hello Dana"),
        (datetime(2025, 12, 31, 21, 44), "Dana", "price of the helmet?"),
    ]


def test_ios_export_skips_whatsapps_own_notes() -> None:
    chat = parse_chat_export(IOS)
    assert (chat.style, chat.date_order, chat.system_lines) == ("ios", "day-first", 1)
    assert [(m.line, m.at, m.sender, m.kind, m.text) for m in chat.messages] == [
        (2, datetime(2025, 12, 31, 21, 41, 5), "Dana", "text", "what's the price?"),
        (3, datetime(2025, 12, 31, 21, 41, 30), "Ofanei Shop", "text", "Hi!"),
        (4, datetime(2025, 12, 31, 21, 42), "Dana", "media", None),
        (5, datetime(2026, 1, 1, 10, 2, 9), "Dana", "text", "repair"),
    ]


def test_hebrew_export_with_marks_media_and_a_long_message() -> None:
    chat = parse_chat_export(HEBREW)
    assert (chat.style, chat.date_order, chat.system_lines) == ("android", "day-first", 1)
    assert chat.senders == ("דנה", "אופני השרון")
    assert [(m.line, m.at, m.sender, m.kind, m.text) for m in chat.messages] == [
        (2, datetime(2025, 12, 31, 21, 41), "דנה", "text", "שלום"),
        (3, datetime(2025, 12, 31, 21, 42), "אופני השרון", "text", "היי דנה, במה אפשר לעזור?"),
        (4, datetime(2025, 12, 31, 21, 43), "דנה", "media", None),
        (5, datetime(2025, 12, 31, 21, 44), "דנה", "text", "כמה עולה הקסדה הזאת?\nוהאם יש במידה M"),
        (7, datetime(2026, 1, 1, 9, 15), "דנה", "text", "צריכה תיקון לגלגל"),
    ]


def test_hebrew_12_hour_clock() -> None:
    chat = parse_chat_export(
        "31/12/2025, 9:41 אחה״צ - דנה: ערב\n"
        '1/1/2026, 12:05 לפנה"צ - דנה: חצות\n'
        "1/1/2026, 12:30 אחה״צ - דנה: צהריים\n"
    )
    assert [m.at for m in chat.messages] == [
        datetime(2025, 12, 31, 21, 41),
        datetime(2026, 1, 1, 0, 5),
        datetime(2026, 1, 1, 12, 30),
    ]


def test_text_before_the_first_message_is_an_error() -> None:
    with pytest.raises(TranscriptError) as caught:
        parse_chat_export("Chat with Dana\n31/12/2025, 21:41 - Dana: hi\n")
    assert str(caught.value) == "line 1: not a WhatsApp chat export line: 'Chat with Dana'"


def test_date_order_default_is_day_first_and_said() -> None:
    chat = parse_chat_export("1/2/25, 10:00 - A: x\n3/4/25, 11:00 - B: y\n")
    assert chat.date_order == "day-first"
    assert chat.date_order_reason == "no date has a number over 12, so day-first as in Israel"
    assert chat.messages[0].at == datetime(2025, 2, 1, 10, 0)


def test_dates_that_disagree_are_an_error() -> None:
    with pytest.raises(TranscriptError) as caught:
        parse_chat_export("13/1/25, 10:00 - A: x\n1/13/25, 11:00 - B: y\n")
    assert str(caught.value) == (
        "the dates disagree: '13/1/25' (line 1) is day-first but '1/13/25' (line 2) is month-first"
    )


def test_deleted_and_edited_messages() -> None:
    chat = parse_chat_export(
        "31/12/2025, 21:41 - Dana: This message was deleted\n"
        "31/12/2025, 21:42 - Dana: price please <This message was edited>\n"
        "31/12/2025, 21:43 - Dana: IMG-20251231-WA0001.jpg (file attached)\n"
        "the blue one\n"
    )
    assert [(m.kind, m.text) for m in chat.messages] == [
        ("deleted", None),
        ("text", "price please"),
        ("text", "the blue one"),  # a photo's caption is what the rules see
    ]


def test_who_is_the_client() -> None:
    chat = parse_chat_export(ANDROID_US)
    assert chat.pick_client().senders == ("Dana Levi",)
    assert chat.pick_client().note == (
        "Dana Levi (wrote first; Ofanei Shop is taken as the business: "
        "choose with --client NAME or --me NAME)"
    )
    assert chat.pick_client(client="ofanei shop").senders == ("Ofanei Shop",)
    assert chat.pick_client(me="Ofanei Shop").note == ("Dana Levi (everyone but Ofanei Shop, --me)")
    with pytest.raises(TranscriptError, match=r"^no sender 'Yossi' in the chat \(senders: "):
        chat.pick_client(client="Yossi")
    three = parse_chat_export("1/2/25, 10:00 - A: x\n1/2/25, 10:01 - B: y\n1/2/25, 10:02 - C: z")
    with pytest.raises(TranscriptError) as caught:
        three.pick_client()
    assert str(caught.value) == (
        "the chat has 3 senders (A, B, C): say who the client is with --client NAME, "
        "or who you are with --me NAME"
    )


def test_format_is_told_by_the_first_line() -> None:
    assert transcript_format(ANDROID_US) == "whatsapp"
    assert transcript_format(HEBREW) == "whatsapp"
    assert transcript_format(IOS) == "whatsapp"
    assert transcript_format('\n{"text": "hi"}\n') == "jsonl"
    assert transcript_format("Dear shop,\nhello") is None
    assert transcript_format("") is None


# --- JSONL and grading ----------------------------------------------------------------------


def test_cases_are_read_with_their_lines() -> None:
    cases = parse_cases(
        '{"text": "price?", "expect": "sales"}\n\n{"text": "hi", "at": "2026-11-25 12:00"}\n'
    )
    assert cases == (
        Case(1, "price?", "sales", None),
        Case(3, "hi", None, "2026-11-25 12:00"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"text": "a"}\n{"text": "b"', "line 2: not JSON (Expecting ',' delimiter at column 13)"),
        ('{"text": "a"}\n["b"]', 'line 2: expected an object like {"text": "..."}'),
        ('{"expect": "sales"}', 'line 1: "text" is missing'),
        ('{"text": 5}', 'line 1: "text" must be a string'),
        (
            '{"text": "a", "expect": 1}',
            'line 1: "expect" must be a string: a rule name, "fallback" or "none"',
        ),
        ("\n\n", "the file is empty: no cases"),
    ],
)
def test_bad_jsonl(text: str, message: str) -> None:
    with pytest.raises(TranscriptError) as caught:
        parse_cases(text)
    assert str(caught.value) == message


def test_grading() -> None:
    assert grade("sales", ["sales", "workshop"]) == RIGHT
    assert grade("sales", ["workshop", "sales"]) == WRONG_CARD
    assert grade("sales", []) == NO_CARD
    assert grade("fallback", ["fallback"]) == RIGHT
    assert grade("none", []) == RIGHT
    assert grade("none", ["sales"]) == WRONG_CARD
    accuracy = Accuracy.of([RIGHT, RIGHT, WRONG_CARD, NO_CARD, RIGHT, RIGHT])
    assert accuracy.rows() == [("right", 4, 66.7), ("wrong card", 1, 16.7), ("no card", 1, 16.7)]
    assert Accuracy().percent(0) == 0.0


# --- the command ----------------------------------------------------------------------------


def test_replays_an_android_chat_as_one_conversation(tmp_path: Path, rules: Path) -> None:
    code, out = run(rules, write(tmp_path, "chat.txt", ANDROID_US))
    assert code == 0
    assert out.splitlines()[0].startswith(f"rules: {rules} (version ")
    assert body(out) == [
        f"chat: {tmp_path / 'chat.txt'} (WhatsApp export, Android; dates read month-first: "
        "'12/31/25' on line 1 has a second number over 12; times in Asia/Jerusalem)",
        "client: Dana Levi (wrote first; Ofanei Shop is taken as the business: "
        "choose with --client NAME or --me NAME)",
        "skipped: 1 media message, 1 WhatsApp note",
        "line 2, Wed 2025-12-31 21:41: 'hi' -> hello (card 'owner')",
        'line 4, Wed 2025-12-31 21:42: "what\'s the price of the red bike?" '
        "-> sales (card 'sales')",
        "line 6, Thu 2026-01-01 10:05: 'repair, please' -> workshop (card 'workshop')",
        # once_per day: the state moved on between messages, as it would have
        "line 7, Thu 2026-01-01 10:30: 'repair?\\nstill waiting' -> nothing (already_sent): "
        "Rule 'workshop' matched 'repair' but its card was already sent today.",
        # not the first message of the conversation any more: the fallback answers instead
        "line 9, Thu 2026-01-01 10:31: 'hello??' -> fallback (card 'owner')",
        "5 messages tried as one conversation: 4 answered, 1 not",
    ]


def test_me_picks_the_other_side(tmp_path: Path, rules: Path) -> None:
    code, out = run(rules, write(tmp_path, "chat.txt", ANDROID_24), me="dana")
    assert code == 0
    lines = body(out)
    assert lines[1] == "client: Shop (everyone but Dana, --me)"
    assert lines[2:] == [
        "line 2, Wed 2025-12-31 21:42: 'hello Dana' -> hello (card 'owner')",
        "1 message tried as one conversation: 1 answered, 0 not",
    ]


def test_hebrew_chat_as_json(tmp_path: Path, rules: Path) -> None:
    path = write(tmp_path, "צ'אט.txt", HEBREW)
    code, out = run(rules, path, json=True)
    assert code == 0
    data = json.loads(out)
    assert data["file"] == str(path)
    assert data["format"] == "whatsapp"
    assert data["style"] == "android"
    assert data["date_order"] == "day-first"
    assert data["date_order_reason"] == "'31.12.25' on line 1 has a first number over 12"
    assert data["rules"] == [str(rules)]
    assert data["timezone"] == "Asia/Jerusalem"
    assert data["senders"] == ["דנה", "אופני השרון"]
    assert data["client"]["senders"] == ["דנה"]
    assert data["skipped"] == {"media": 1, "deleted": 0, "whatsapp_notes": 1}
    assert data["summary"] == {"tried": 3, "answered": 3, "not_answered": 0}
    first, second, third = data["messages"]
    assert first["line"] == 2
    assert first["sender"] == "דנה"
    assert first["at"] == "2025-12-31T21:41:00+02:00"
    assert first["text"] == "שלום"
    assert first["client"] == {"first_message": True, "replies_sent": {}}
    assert first["outcome"] == "reply"
    assert first["explanation"].startswith("Rule 'hello' matched ")
    assert first["replies"] == [
        {
            "rule": "hello",
            "contact": "owner",
            "fields": {"contact_name": "Ofanei HaSharon", "contact_phone": "97297654300"},
        }
    ]
    assert second["line"] == 5
    assert second["text"] == "כמה עולה הקסדה הזאת?\nוהאם יש במידה M"
    assert second["client"]["first_message"] is False
    assert second["client"]["replies_sent"] == {"hello": "2025-12-31T21:41:00+02:00"}
    assert [r["rule"] for r in second["replies"]] == ["sales"]
    assert second["replies"][0]["fields"]["contact_name"] == "דנה – מכירות"
    assert (third["line"], third["at"]) == (7, "2026-01-01T09:15:00+02:00")
    assert [(r["rule"], r["contact"]) for r in third["replies"]] == [("workshop", "workshop")]
    assert "דנה" in out  # UTF-8, not \\u escapes


def test_ios_chat(tmp_path: Path, rules: Path) -> None:
    code, out = run(rules, write(tmp_path, "chat.txt", IOS))
    assert code == 0
    assert body(out)[0].startswith(f"chat: {tmp_path / 'chat.txt'} (WhatsApp export, iPhone; ")
    assert body(out)[2:] == [
        "skipped: 1 media message, 1 WhatsApp note",
        "line 2, Wed 2025-12-31 21:41: \"what's the price?\" -> sales (card 'sales')",
        "line 5, Thu 2026-01-01 10:02: 'repair' -> workshop (card 'workshop')",
        "2 messages tried as one conversation: 2 answered, 0 not",
    ]


CASES = """\
{"text": "what's the price?", "expect": "sales"}
{"text": "כמה עולה הקסדה?", "expect": "sales"}
{"text": "repair please", "expect": "workshop", "at": "2026-11-25 12:00"}
{"text": "repair please", "expect": "workshop", "at": "2026-11-25 22:00"}
{"text": "what's the weather", "expect": "fallback"}
{"text": "hi", "expect": "none"}
{"text": "do you sell bells?", "expect": "sales"}

{"text": "no expectation here"}
"""


def test_jsonl_accuracy_table(tmp_path: Path, rules: Path) -> None:
    path = write(tmp_path, "cases.jsonl", CASES)
    code, out = run(rules, path, at="2026-11-26 10:00")
    assert code == 0
    assert body(out) == [
        f"cases: {path} (JSONL: 8 cases, each a new client's first message, "
        'at Thu 2026-11-26 10:00 unless the line gives "at")',
        "line 1, Thu 2026-11-26 10:00: \"what's the price?\" -> sales (card 'sales')  [right]",
        "line 2, Thu 2026-11-26 10:00: 'כמה עולה הקסדה?' -> sales (card 'sales')  [right]",
        "line 3, Wed 2026-11-25 12:00: 'repair please' -> workshop (card 'workshop')  [right]",
        "line 4, Wed 2026-11-25 22:00: 'repair please' -> fallback (card 'owner')  "
        "[wrong card: expected workshop]",
        "line 5, Thu 2026-11-26 10:00: \"what's the weather\" -> fallback (card 'owner')  [right]",
        "line 6, Thu 2026-11-26 10:00: 'hi' -> hello (card 'owner')  [wrong card: expected none]",
        "line 7, Thu 2026-11-26 10:00: 'do you sell bells?' -> fallback (card 'owner')  "
        "[wrong card: expected sales]",
        "line 9, Thu 2026-11-26 10:00: 'no expectation here' -> fallback (card 'owner')",
        "8 cases: 8 answered, 0 not",
        "",
        'accuracy over 7 cases with "expect":',
        "  right         4   57.1%",
        "  wrong card    3   42.9%",
        "  no card       0    0.0%",
        "not right:",
        "  line 4: 'repair please' expected workshop, sent fallback (card 'owner')",
        "  line 6: 'hi' expected none, sent hello (card 'owner')",
        "  line 7: 'do you sell bells?' expected sales, sent fallback (card 'owner')",
    ]


def test_jsonl_no_card(tmp_path: Path, rules: Path) -> None:
    no_fallback = tmp_path / "strict.yaml"
    no_fallback.write_text(RULES.split("fallback:")[0], encoding="utf-8")
    path = write(
        tmp_path,
        "cases.jsonl",
        '{"text": "price", "expect": "sales"}\n{"text": "weather?", "expect": "sales"}\n'
        '{"text": "weather?", "expect": "none"}\n',
    )
    code, out = run(no_fallback, path, at="2026-11-26 10:00")
    assert code == 0
    assert body(out)[1:] == [
        "line 1, Thu 2026-11-26 10:00: 'price' -> sales (card 'sales')  [right]",
        "line 2, Thu 2026-11-26 10:00: 'weather?' -> nothing (no_match): No rule matched and "
        "there is no fallback.  [no card: expected sales]",
        "line 3, Thu 2026-11-26 10:00: 'weather?' -> nothing (no_match): No rule matched and "
        "there is no fallback.  [right]",
        "3 cases: 1 answered, 2 not",
        "",
        'accuracy over 3 cases with "expect":',
        "  right         2   66.7%",
        "  wrong card    0    0.0%",
        "  no card       1   33.3%",
        "not right:",
        "  line 2: 'weather?' expected sales, sent nothing (no_match)",
    ]


def test_jsonl_as_json(tmp_path: Path, rules: Path) -> None:
    path = write(tmp_path, "cases.jsonl", CASES)
    code, out = run(rules, path, at="2026-11-26 10:00", json=True)
    assert code == 0
    data = json.loads(out)
    assert data["format"] == "jsonl"
    assert data["file"] == str(path)
    assert data["at"] == "2026-11-26T10:00:00+02:00"
    assert data["summary"] == {"tried": 8, "answered": 8, "not_answered": 0}
    assert data["accuracy"] == {
        "cases": 7,
        "right": 4,
        "wrong_card": 3,
        "no_card": 0,
        "percent": {"right": 57.1, "wrong_card": 42.9, "no_card": 0.0},
        "not_right": [4, 6, 7],
    }
    messages = data["messages"]
    assert [m["line"] for m in messages] == [1, 2, 3, 4, 5, 6, 7, 9]
    assert [m["verdict"] for m in messages] == [
        "right", "right", "right", "wrong card", "right", "wrong card", "wrong card", None,
    ]  # fmt: skip
    fourth = messages[3]
    assert fourth["text"] == "repair please"
    assert fourth["expect"] == "workshop"
    assert fourth["at"] == "2026-11-25T22:00:00+02:00"
    assert fourth["matches"] == [["workshop", "'repair'"]]
    assert fourth["outcome"] == "reply"
    assert fourth["explanation"] == (
        "Rule 'workshop' matched 'repair' but it is outside business hours (Wed 22:00), "
        "so the fallback answers."
    )
    assert fourth["replies"] == [
        {
            "rule": "fallback",
            "contact": "owner",
            "fields": {"contact_name": "Ofanei HaSharon", "contact_phone": "97297654300"},
        }
    ]
    assert messages[1]["text"] == "כמה עולה הקסדה?"


# --- errors: a clear sentence and exit 1, never a traceback ---------------------------------


def test_missing_file(tmp_path: Path, rules: Path) -> None:
    missing = tmp_path / "nope.txt"
    assert run(rules, missing) == (1, f"error: {missing}: no such file\n")


def test_a_folder_is_not_a_file(tmp_path: Path, rules: Path) -> None:
    assert run(rules, tmp_path) == (1, f"error: {tmp_path}: is a folder, not a file\n")


def test_a_line_that_is_not_json(tmp_path: Path, rules: Path) -> None:
    path = write(tmp_path, "cases.jsonl", '{"text": "a"}\n{"text": "b"}\n{text: c}\n')
    assert run(rules, path) == (
        1,
        f"error: {path}:3: not JSON (Expecting property name enclosed in double quotes "
        "at column 2)\n",
    )


def test_unknown_format(tmp_path: Path, rules: Path) -> None:
    path = write(tmp_path, "notes.txt", "Dear shop,\nwhere is my order?\n")
    assert run(rules, path) == (
        1,
        f"error: {path}: unknown format: expected a WhatsApp chat export (lines like "
        '\'31/12/2025, 21:41 - Dana: text\') or JSONL (one {"text": "..."} object a line)\n',
    )


def test_not_utf8(tmp_path: Path, rules: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_bytes("31/12/2025, 21:41 - דנה: שלום\n".encode("cp1255"))
    assert run(rules, path) == (1, f"error: {path}: not UTF-8 text (byte 21)\n")


def test_an_impossible_date(tmp_path: Path, rules: Path) -> None:
    path = write(tmp_path, "chat.txt", "31/12/2025, 21:41 - Dana: hi\n31/02/2025, 21:42 - Dana: x")
    assert run(rules, path) == (
        1,
        f"error: {path}:2: '31/02/2025, 21:42' is not a date and time (day-first)\n",
    )


def test_unknown_expect_and_bad_at(tmp_path: Path, rules: Path) -> None:
    path = write(tmp_path, "a.jsonl", '{"text": "a"}\n{"text": "b", "expect": "salse"}\n')
    assert run(rules, path) == (
        1,
        f'error: {path}:2: expect \'salse\' is not a rule name, "fallback" or "none"\n',
    )
    path = write(tmp_path, "b.jsonl", '{"text": "a", "at": "tomorrow"}\n')
    assert run(rules, path) == (
        1,
        f"error: {path}:1: \"at\" 'tomorrow' is not a date and time like '2026-11-27 20:15'\n",
    )


def test_options_that_do_not_fit_the_file(tmp_path: Path, rules: Path) -> None:
    chat = write(tmp_path, "chat.txt", ANDROID_24)
    cases = write(tmp_path, "cases.jsonl", CASES)
    assert run(rules, chat, at="2026-11-26 10:00") == (
        1,
        f"error: {chat}: --at does not apply to a chat export: each message is tried at the "
        "time it was sent\n",
    )
    assert run(rules, chat, client="Yossi") == (
        1,
        f"error: {chat}: no sender 'Yossi' in the chat (senders: Dana, Shop)\n",
    )
    assert run(rules, chat, client="Dana", me="Shop") == (
        1,
        f"error: {chat}: give --client or --me, not both\n",
    )
    assert run(rules, cases, me="Shop") == (
        1,
        f"error: {cases}: --client and --me apply only to a WhatsApp chat export\n",
    )
    assert run(rules, cases, sender="052-555-9999") == (
        1,
        "error: --from cannot be used with --file: a file is tried from a new client\n",
    )
