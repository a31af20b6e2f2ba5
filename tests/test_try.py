"""`rulebot try`: what would be answered, with which card, quoting which message, and why."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli.tryout import parse_at, run_try
from bot.core import RuleSet, load_rules
from bot.core.tryout import try_messages
from bot.core.values import ClientState

SHOP = """\
timezone: Asia/Jerusalem
business_hours: {sun-thu: "09:00-18:00", fri: "09:00-13:00"}
burst_window_s: 3
contacts:
  sales: {name: "דנה – מכירות", phone: "052-555-0123", email: sales@example.co.il}
  support: {name: "Support desk", phone: "+972 3 555 0101", website: "https://example.co.il/help"}
rules:
  - name: sales
    keywords: [sales, price, מכירות]
    reply: {contact: sales}
  - name: support after hours
    keywords: [support]
    when: {outside: business_hours}
    once_per: day
    reply: {contact: support}
"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP, encoding="utf-8")
    return path


@pytest.fixture
def rules(shop: Path) -> RuleSet:
    return load_rules(shop)


REPO = Path(__file__).resolve().parent.parent
RULEBOT = str(Path(sys.executable).with_name("rulebot"))  # the installed console script


def run(shop: Path, *messages: str, provider: Any = None, **options: Any) -> tuple[int, str]:
    args = argparse.Namespace(
        messages=list(messages),
        file=options.get("file"),
        json=options.get("json", False),
        client=options.get("client"),
        me=options.get("me"),
        sender=options.get("sender"),
        at=options.get("at"),
        gap=options.get("gap", 1.0),
        rules=str(shop),
        config=None,
    )
    out = io.StringIO()
    code = run_try(args, client_state=provider, out=out)
    return code, out.getvalue()


def test_at_is_read_in_the_rules_timezone(rules: RuleSet) -> None:
    assert parse_at("2026-11-27 20:15", rules.timezone) == datetime(
        2026, 11, 27, 18, 15, tzinfo=UTC
    )
    assert parse_at("2026-07-01 09:00", rules.timezone) == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    assert parse_at("2026-11-27T20:15+00:00", rules.timezone).hour == 20


def test_bad_at_is_an_error(shop: Path) -> None:
    code, out = run(shop, "sales", at="tomorrow")
    assert code == 1
    assert out == "error: --at 'tomorrow' is not a date and time like '2026-11-27 20:15'\n"


def test_shows_the_rule_and_every_card_field(shop: Path, rules: RuleSet) -> None:
    code, out = run(shop, "אני צריך מכירות", at="2026-11-25 12:00")
    assert code == 0
    assert out.splitlines() == [
        f"rules: {shop} (version {rules.version}, timezone Asia/Jerusalem)",
        "",
        "at Wed 2026-11-25 12:00:00; client: first message ever",
        "  message 1: 'אני צריך מכירות'",
        "    words match: sales ('מכירות')",
        "  -> reply: Rule 'sales' matched 'מכירות'.",
        "     card 'sales' from rule 'sales', quoting message 1:",
        "       contact_name: דנה – מכירות",
        "       contact_phone: 972525550123",
        "       contact_email: sales@example.co.il",
    ]


def test_explains_why_nothing_is_sent(shop: Path) -> None:
    code, out = run(shop, "support please", at="2026-11-25 12:00")
    assert code == 0
    assert out.splitlines()[-1] == (
        "  -> nothing sent (conditions): Rule 'support after hours' matched 'support' but it is "
        "inside business hours (Wed 12:00) and there is no fallback."
    )


def test_no_keyword(shop: Path) -> None:
    _, out = run(shop, "what's the weather", at="2026-11-25 12:00")
    assert "    words match: no rule" in out
    assert out.splitlines()[-1] == (
        "  -> nothing sent (no_match): No rule matched and there is no fallback."
    )


def test_burst_shows_which_message_each_reply_quotes(shop: Path) -> None:
    _, out = run(shop, "hi", "I need sales", "and support", at="2026-11-27 20:15")
    lines = out.splitlines()
    assert "at Fri 2026-11-27 20:15:02 (decided together); client: first message ever" in lines
    assert "     card 'sales' from rule 'sales', quoting message 2:" in lines
    assert "     card 'support' from rule 'support after hours', quoting message 3:" in lines


def test_a_gap_longer_than_the_window_decides_separately(rules: RuleSet) -> None:
    at = datetime(2026, 11, 27, 18, 15, tzinfo=UTC)
    result = try_messages(rules, ["support", "support again"], at=at, gap_s=60)
    assert [len(b.messages) for b in result.bursts] == [1, 1]
    # the second burst knows the card went out: once_per day holds it back
    assert result.bursts[0].decision.outcome == "reply"
    assert result.bursts[1].decision.outcome == "already_sent"
    assert result.bursts[1].decision.explanation == (
        "Rule 'support after hours' matched 'support' but its card was already sent today."
    )


def test_burst_max_wait_caps_a_burst(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        SHOP.replace("burst_window_s: 3", "burst_window_s: 3\nburst_max_wait_s: 5"),
        encoding="utf-8",
    )
    result = try_messages(load_rules(path), ["a", "b", "c", "d"], at=datetime.now(UTC), gap_s=2)
    assert [len(b.messages) for b in result.bursts] == [3, 1]


def test_from_uses_the_injected_client_state(shop: Path) -> None:
    seen: list[tuple[str, datetime]] = []

    async def provider(config: Any, client: str, now: datetime) -> ClientState:
        seen.append((client, now))
        return ClientState(
            client,
            last_message_at=now - timedelta(hours=1),
            conversation_started_at=now - timedelta(hours=1),
            replies_sent={"support after hours": now - timedelta(hours=1)},
        )

    code, out = run(
        shop, "support", sender="052-555-9999", at="2026-11-27 20:15", provider=provider
    )
    assert code == 0
    assert seen == [("972525559999", datetime(2026, 11, 27, 18, 15, tzinfo=UTC))]
    assert "already sent: support after hours at Fri 19:15" in out
    assert out.splitlines()[-1] == (
        "  -> nothing sent (already_sent): Rule 'support after hours' matched 'support' "
        "but its card was already sent today."
    )


def test_from_without_a_store_is_a_new_client(shop: Path) -> None:
    async def no_store(config: Any, client: str, now: datetime) -> None:
        return None

    _, out = run(shop, "sales", sender="052-555-9999", provider=no_store)
    assert "client: first message ever" in out


def test_default_provider_without_a_store_file(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = run(shop, "sales", sender="052-555-9999", at="2026-11-25 12:00")
    assert code == 0
    assert "client: first message ever" in out
    assert not (tmp_path / "rulebot.db").exists()  # trying never creates a database


def test_broken_rules_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("rules:\n  - {name: x, reply: {contact: nobody}}\n", encoding="utf-8")
    code, out = run(path, "hello")
    assert code == 1
    assert out.startswith("error: ") and "unknown contact 'nobody'" in out


def test_result_as_plain_data_for_a_playground(rules: RuleSet) -> None:
    at = datetime(2026, 11, 27, 18, 15, tzinfo=UTC)
    data = try_messages(rules, ["hi", "price?"], at=at).to_dict()
    assert data["version"] == rules.version
    burst = data["bursts"][0]
    assert burst["outcome"] == "reply"
    assert [m["text"] for m in burst["messages"]] == ["hi", "price?"]
    assert burst["messages"][1]["matches"] == [["sales", "'price'"]]
    assert [m["id"] for m in burst["messages"]] == ["try-1", "try-2"]
    assert burst["messages"][0]["at"] == "2026-11-27T18:15:00+00:00"
    assert burst["client"] == {"first_message": True, "replies_sent": {}}
    assert burst["replies"] == [
        {
            "rule": "sales",
            "contact": "sales",
            "quotes": 2,
            "reply_to": "try-2",
            "fields": {
                "contact_name": "דנה – מכירות",
                "contact_phone": "972525550123",
                "contact_email": "sales@example.co.il",
            },
        }
    ]


def test_the_shipped_demo_rules_answer_as_documented() -> None:
    demo = load_rules(Path(__file__).resolve().parent.parent / "bot/defaults/demo-rules.yaml")
    at = datetime(2026, 11, 25, 10, tzinfo=UTC)

    def answer(text: str) -> list[str]:
        decision = try_messages(demo, [text], at=at).bursts[0].decision
        return [r.card.key for r in decision.replies]

    assert answer("hi, who handles sales?") == ["sales"]
    assert answer("אני צריך מכירות") == ["sales"]
    assert answer("support please") == ["support"]
    assert answer("what's the weather") == []
    assert demo.burst_window_s == 0


def test_json_output(shop: Path, rules: RuleSet) -> None:
    code, out = run(shop, "hi", "I need sales", "and support", at="2026-11-27 20:15", json=True)
    assert code == 0
    data = json.loads(out)
    assert data["rules"] == [str(shop)]
    assert data["version"] == rules.version
    assert data["timezone"] == "Asia/Jerusalem"
    (burst,) = data["bursts"]
    assert burst["decided_at"] == "2026-11-27T18:15:02+00:00"
    assert burst["outcome"] == "reply"
    assert burst["explanation"].startswith("Rule 'sales' matched 'sales' in message 2")
    assert burst["client"] == {"first_message": True, "replies_sent": {}}
    assert [(m["number"], m["id"], m["text"]) for m in burst["messages"]] == [
        (1, "try-1", "hi"),
        (2, "try-2", "I need sales"),
        (3, "try-3", "and support"),
    ]
    assert [m["at"] for m in burst["messages"]] == [
        "2026-11-27T18:15:00+00:00",
        "2026-11-27T18:15:01+00:00",
        "2026-11-27T18:15:02+00:00",
    ]
    assert [(r["rule"], r["contact"], r["reply_to"], r["quotes"]) for r in burst["replies"]] == [
        ("sales", "sales", "try-2", 2),
        ("support after hours", "support", "try-3", 3),
    ]
    assert burst["replies"][1]["fields"] == {
        "contact_name": "Support desk",
        "contact_phone": "97235550101",
        "website": "https://example.co.il/help",
    }


def test_json_keeps_hebrew_readable_and_shows_why_nothing(shop: Path) -> None:
    code, out = run(shop, "מה נשמע", at="2026-11-25 12:00", json=True)
    assert code == 0
    assert '"text": "מה נשמע"' in out  # UTF-8, not \\u05de escapes
    (burst,) = json.loads(out)["bursts"]
    assert burst["outcome"] == "no_match"
    assert burst["explanation"] == "No rule matched and there is no fallback."
    assert burst["replies"] == []


def test_json_output_of_a_file(shop: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"text": "price?", "expect": "sales"}\n', encoding="utf-8")
    code, out = run(shop, file=str(cases), json=True, at="2026-11-25 12:00")
    assert code == 0
    data = json.loads(out)
    assert data["accuracy"]["right"] == 1
    (message,) = data["messages"]
    assert (message["line"], message["text"], message["verdict"]) == (1, "price?", "right")
    assert message["replies"][0]["rule"] == "sales"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "error: nothing to try: give a MESSAGE or --file PATH\n"),
        (
            {"client": "Dana"},
            "error: --client and --me apply only to a chat export given with --file\n",
        ),
    ],
)
def test_usage_errors(shop: Path, options: dict[str, Any], message: str) -> None:
    messages = ["hi"] if options else []
    assert run(shop, *messages, **options) == (1, message)


def test_messages_and_a_file_together(shop: Path, tmp_path: Path) -> None:
    assert run(shop, "hi", file=str(tmp_path / "c.jsonl")) == (
        1,
        "error: give MESSAGEs or --file PATH, not both\n",
    )


def _rulebot(*args: str, **popen: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.Popen([RULEBOT, *args], cwd=REPO, env=env, **popen)


def test_the_console_script_prints_json() -> None:
    process = _rulebot(
        "try", "--json", "כמה עולה אופניים חשמליים?", "--at", "2026-11-25 12:00",
        "--rules", "rules/shop-il.yaml",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (0, b"")
    data = json.loads(out.decode("utf-8"))
    assert data["rules"] == ["rules/shop-il.yaml"]
    (burst,) = data["bursts"]
    assert burst["messages"][0]["text"] == "כמה עולה אופניים חשמליים?"
    assert [(r["rule"], r["contact"], r["reply_to"]) for r in burst["replies"]] == [
        ("sales", "sales", "try-1")
    ]


def test_output_into_head_ends_quietly() -> None:
    """`rulebot try ... | head -1`: the first line, and no BrokenPipeError traceback."""
    pipe = subprocess.run(
        f"{RULEBOT} try x --rules rules/shop-il.yaml | head -1",
        shell=True, cwd=REPO, capture_output=True, timeout=60,
    )  # fmt: skip
    assert pipe.returncode == 0
    assert pipe.stdout.decode().startswith("rules: rules/shop-il.yaml (version ")
    assert pipe.stdout.count(b"\n") == 1
    assert pipe.stderr == b""


def test_a_reader_gone_before_the_output_is_exit_141_and_quiet(tmp_path: Path) -> None:
    """The reader closes first, so the write surely fails: status 141 (128 + SIGPIPE)."""
    process = _rulebot(
        "try", "x", "--rules", "rules/shop-il.yaml", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # nobody reads: the command's first write meets a broken pipe
    err = process.stderr.read()
    assert process.wait(timeout=60) == 141
    assert err == b""


def test_a_long_replay_into_head(tmp_path: Path) -> None:
    """Far more than a pipe's buffer: head exits while rulebot is still writing."""
    cases = tmp_path / "many.jsonl"
    cases.write_text(
        "".join(f'{{"text": "price of bike {i}", "expect": "sales"}}\n' for i in range(2000)),
        encoding="utf-8",
    )
    process = _rulebot(
        "try", "--file", str(cases), "--rules", "rules/shop-il.yaml", "--at", "2026-11-25 12:00",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    head = subprocess.Popen(["head", "-2"], stdin=process.stdout, stdout=subprocess.PIPE)
    process.stdout.close()  # head is the only reader now
    shown, _ = head.communicate(timeout=60)
    err = process.stderr.read()
    assert process.wait(timeout=60) == 141
    assert err == b""
    assert shown.decode("utf-8").splitlines()[1].startswith(f"cases: {cases} (JSONL: 2000 cases")


def test_the_readme_shows_what_try_really_says_about_how_words_matched() -> None:
    """README "How words are matched": the `rulebot try` run and the reply line it prints."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("#### How words are matched", 1)[1].split("\n#### ", 1)[0]
    block = section.split("```")[1].strip("\n").split("\n")
    command, reply = block[0], block[-1]
    assert command.startswith("$ rulebot try ")
    shown = subprocess.run(
        f"{RULEBOT} {command.removeprefix('$ rulebot ')}",
        shell=True, cwd=REPO, capture_output=True, timeout=60, text=True,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert reply in shown.stdout.splitlines()
