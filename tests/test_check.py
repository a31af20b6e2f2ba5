"""`rulebot check`: every problem, compiler-style, with exact text and position."""

from __future__ import annotations

import argparse
import io
import json
import textwrap
from pathlib import Path

import pytest

from bot.cli.check import run_check
from bot.core.schema import rulebook_schema_text

REPO = Path(__file__).resolve().parent.parent

HEAD = """\
        timezone: Asia/Jerusalem
        contacts:
          sales: {name: Sales, phone: "052-555-0123"}
          support: {name: Support, phone: "03-555-0101"}
"""


_SOURCE: dict[str, str] = {}


def check(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    *,
    strict: bool = False,
    name: str = "shop.yaml",
) -> tuple[int, list[str]]:
    monkeypatch.chdir(tmp_path)
    _SOURCE["text"] = textwrap.dedent(text)
    (tmp_path / name).write_text(_SOURCE["text"], encoding="utf-8")
    out = io.StringIO()
    code = run_check(argparse.Namespace(path=name, strict=strict, config=None), out=out)
    return code, out.getvalue().splitlines()


def at(needle: str, nth: int = 1, *, before: int = 0) -> str:
    """'shop.yaml:LINE:COLUMN' of the nth occurrence of `needle` in the file last checked."""
    text = _SOURCE["text"]
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1 - before
    return f"shop.yaml:{line}:{column}"


def test_clean_file_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - {name: sales, keywords: [sales], reply: {contact: sales}}
          - {name: support, keywords: [support], reply: {contact: support}}
        """,
    )
    assert (code, lines) == (0, ["no problems in shop.yaml (2 rules, 2 contacts)"])


def test_unknown_contact_suggests_the_closest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - name: sales
            keywords: [sales]
            reply: {contact: sale}
          - {name: support, keywords: [support], reply: {contact: support}}
        """,
    )
    assert code == 1
    assert lines[0] == f"{at('sale}')}: error: unknown contact 'sale' (did you mean 'sales'?)"
    assert lines[-1] == "1 error, 0 warnings in shop.yaml"


def test_every_problem_is_listed_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = check(
        tmp_path,
        monkeypatch,
        """\
        timezone: Asia/Jerusalm
        business_hours: {sun-thu: "9am-5pm", frday: "09:00-13:00"}
        contacts:
          sales: {name: Sales, phone: "052-555"}
          support: {name: Support, phone: "03-555-0101"}
        rules:
          - name: sales
            keywords: []
            reply: {contact: support}
          - name: sales
            keywords: [support]
            reply: {contact: support}
        """,
    )
    assert code == 1
    assert lines == [
        f"{at('Asia/Jerusalm')}: error: unknown timezone 'Asia/Jerusalm' "
        "(did you mean 'Asia/Jerusalem'?)",
        f"{at('9am-5pm', before=1)}: error: '9am' is not a time (write times as HH:MM, e.g. 09:00)",
        f"{at('frday')}: error: 'frday' is not a day (did you mean 'fri'?)",
        f"{at('052-555', before=1)}: error: '052-555' cannot be a phone number (wrong length) "
        "(check the digits; international numbers start with +)",
        f"{at('[]')}: error: empty keyword list "
        "(add words, or remove 'keywords:' to answer every message)",
        f"{at('sales', 3)}: error: duplicate rule name 'sales' (first used at shop.yaml:7)",
        "6 errors, 0 warnings in shop.yaml",
    ]


def test_unknown_key_with_suggestion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - name: sales
            keywrds: [sales]
            reply: {contact: sales}
            exampels: ["sales"]
        """,
    )
    assert lines == [
        f"{at('keywrds')}: error: unknown key 'keywrds' (did you mean 'keywords'?)",
        f"{at('exampels')}: error: unknown key 'exampels' (did you mean 'examples'?)",
        "warning: contact 'support' is not used by any rule "
        "(remove it, or add a rule that sends it)",
        "2 errors, 1 warning in shop.yaml",
    ]


def test_yaml_syntax_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = check(tmp_path, monkeypatch, HEAD + "        rules:\n          - name: a: b\n")
    assert code == 1
    assert lines[0] == (
        f"{at(': b')}: error: a second ': ' on this line (put text containing ': ' in quotes)"
    )


def test_shadowed_rule_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - {name: sales, keywords: [sales, price], reply: {contact: sales}}
          - {name: price list, keywords: [price, sales], reply: {contact: support}}
        """,
    )
    assert code == 0
    assert lines == [
        f"{at('price list')}: warning: rule 'price list' can never answer: rule 'sales' (line 6) "
        "comes first and always answers all its keywords "
        "(move it above, or give the earlier rule a 'when:')",
        "0 errors, 1 warning in shop.yaml",
    ]


def test_a_rule_without_keywords_above_keyword_rules_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - {name: everyone, first_message: true, reply: {contact: sales}}
          - {name: support, keywords: [support], reply: {contact: support}}
          - {name: everyone else, reply: {contact: sales}}
        fallback: {reply: {contact: sales}}
        """,
    )
    assert lines == [
        f"{at('everyone,')}: warning: rule 'everyone' has no keywords: it answers only when "
        "no rule with keywords does, although it stands above them (down to rule 'support') "
        "(move it below the rules with keywords, so the file reads in the order it works)",
        f"{at('fallback')}: warning: the fallback can never answer: rule 'everyone else' "
        "(line 8) answers every message",
        "0 errors, 2 warnings in shop.yaml",
    ]


def test_keyword_in_two_rules_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - {name: sales, keywords: [sales, price], reply: {contact: sales}}
          - {name: support, keywords: [support, Price], reply: {contact: support}}
        """,
        strict=True,
    )
    assert code == 1  # --strict: warnings fail
    assert lines == [
        f"{at('Price')}: warning: keyword 'Price' is also in rule 'sales' (line 6), "
        "which always answers it first (remove it from one of the two rules)",
        "0 errors, 1 warning in shop.yaml",
    ]


def test_same_keyword_under_different_conditions_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hours = '        business_hours: {sun-thu: "09:00-18:00"}\n'
    code, lines = check(
        tmp_path,
        monkeypatch,
        hours
        + HEAD
        + """\
        rules:
          - {name: support, keywords: [support], when: {inside: business_hours},
             reply: {contact: support}}
          - {name: night, keywords: [support], when: {outside: business_hours},
             reply: {contact: sales}}
        """,
        strict=True,
    )
    assert (code, lines[-1]) == (0, "no problems in shop.yaml (2 rules, 2 contacts)")


def test_risky_pattern_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - {name: sales, pattern: '^(a+)+$', reply: {contact: sales}}
          - {name: support, keywords: [support], reply: {contact: support}}
        """,
    )
    assert lines[0] == (
        f"{at('^(a+)+$', before=1)}: warning: pattern /^(a+)+$/ repeats a repetition "
        "(like (a+)+ or (a|aa)+) and can be very slow "
        "(it is stopped after 0.05 s and then counts as no match)"
    )


def test_broken_pattern_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - {name: sales, pattern: 'order (#\\d+', reply: {contact: sales}}
        """,
    )
    assert code == 1
    assert lines[0].startswith(
        f"{at('order (', before=1)}: error: "
        "pattern /order (#\\d+/ is not a valid regular expression:"
    )


def test_failing_examples_are_errors_naming_the_rule_that_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - name: sales
            keywords: [sales, price]
            reply: {contact: sales}
            examples: ["what's the price?", "I want support"]
            not_examples: ["sales tax"]
          - name: support
            keywords: [support]
            reply: {contact: support}
            examples: ["support and sales"]
        """,
    )
    assert code == 1
    assert lines == [
        f"{at('I want support', before=1)}: error: example 'I want support' "
        "is not answered by rule 'sales': it matches rule 'support', not this one",
        f"{at('sales tax', before=1)}: error: "
        "not_example 'sales tax' matches rule 'sales' (on 'sales')",
        f"{at('support and sales', before=1)}: error: example 'support and sales' "
        "is not answered by rule 'support': rule 'sales' (line 6) answers it first",
        "3 errors, 0 warnings in shop.yaml",
    ]


def test_example_no_rule_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - {name: sales, keywords: [sales], reply: {contact: sales}, examples: [hello]}
          - {name: support, keywords: [support], reply: {contact: support}}
        """,
    )
    assert lines[0] == (
        f"{at('hello')}: error: example 'hello' is not answered by rule 'sales': no rule matches it"
    )


def test_unused_contact_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - {name: sales, keywords: [sales], reply: {contact: sales}}
        """,
    )
    assert lines == [
        f"{at('support:')}: warning: contact 'support' is not used by any rule "
        "(remove it, or add a rule that sends it)",
        "0 errors, 1 warning in shop.yaml",
    ]


def test_unallocated_phone_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, lines = check(
        tmp_path,
        monkeypatch,
        """\
        contacts:
          sales: {name: Sales, phone: "050-123-4567"}
        rules:
          - {name: sales, keywords: [sales], reply: {contact: sales}}
        """,
    )
    assert lines[0] == (
        f"{at('050', before=1)}: warning: phone '050-123-4567' is not an allocated number in IL "
        "(check for a typo)"
    )


def test_hebrew_stays_in_logical_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, lines = check(
        tmp_path,
        monkeypatch,
        """\
        contacts:
          מכירות: {name: "דנה", phone: "052-555-0123"}
        rules:
          - {name: "מכירות", keywords: [מחיר], reply: {contact: מכירה}}
        """,
    )
    assert lines[0] == f"{at('מכירה}')}: error: unknown contact 'מכירה' (did you mean 'מכירות'?)"


def test_when_business_hours_without_business_hours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, lines = check(
        tmp_path,
        monkeypatch,
        HEAD
        + """\
        rules:
          - {name: sales, keywords: [sales], when: {inside: business_hours},
             reply: {contact: sales}}
          - {name: support, keywords: [support], reply: {contact: support}}
        """,
    )
    assert lines[0] == (
        f"{at('business_hours}')}: error: 'inside: business_hours' but no business_hours are set "
        "(add business_hours: at the top of the file)"
    )


def test_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    code = run_check(argparse.Namespace(path="gone.yaml", strict=False, config=None), out=out)
    assert code == 1
    assert out.getvalue().splitlines() == [
        "error: gone.yaml: rules file not found",
        "1 error, 0 warnings in gone.yaml",
    ]


@pytest.mark.parametrize(
    "shipped", ["rules/example.yaml", "rules/shop-il.yaml", "bot/defaults/demo-rules.yaml"]
)
def test_shipped_rule_files_are_clean_under_strict(
    shipped: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    out = io.StringIO()
    code = run_check(argparse.Namespace(path=shipped, strict=True, config=None), out=out)
    assert code == 0, out.getvalue()
    assert out.getvalue().startswith(f"no problems in {shipped}")


@pytest.mark.parametrize("shipped", ["rules", "bot/defaults"])
def test_shipped_schema_equals_the_generated_one(shipped: str) -> None:
    text = (REPO / shipped / "rulebook.schema.json").read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(rulebook_schema_text())


def test_the_schema_is_in_the_installed_package() -> None:
    from importlib import resources

    packaged = resources.files("bot").joinpath("defaults/rulebook.schema.json")
    assert json.loads(packaged.read_text("utf-8")) == json.loads(rulebook_schema_text())


@pytest.mark.parametrize("shipped", ["rules/example.yaml", "rules/shop-il.yaml"])
def test_example_files_point_to_the_schema(shipped: str) -> None:
    first = (REPO / shipped).read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=rulebook.schema.json"


def test_wrong_shapes_are_named_by_rule_and_contact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, lines = check(
        tmp_path,
        monkeypatch,
        """\
        business_hours: {sun: {a: 1}}
        burst_window_s: soon
        contacts:
          a: {name: A, phone: ["x"]}
        rules:
          - name: r
            keywords: sales
            first_message: maybe
            once_per: week
            reply: {contact: a}
          - just a string
          - keywords: [a]
        """,
    )
    assert code == 1
    assert lines == [
        f"{at('{a: 1}')}: error: 'business_hours.sun' must be text or a list of text",
        f"{at('soon')}: error: 'burst_window_s' must be a number",
        f"{at('x', before=2)}: error: 'phone' of contact 'a' must be text",
        f"{at('sales')}: error: 'keywords' of rule 'r' must be a list "
        "(write it in square brackets, e.g. [sales, price])",
        f"{at('maybe')}: error: 'first_message' of rule 'r' must be true or false",
        f"{at('week')}: error: 'once_per' of rule 'r' "
        "must be one of 'conversation', 'day' or 'ever'",
        f"{at('just a string')}: error: rule #2 must be a mapping (key: value lines)",
        f"{at('keywords: [a]')}: error: missing 'name' in rule #3 "
        "(every rule and contact needs a name)",
        f"{at('keywords: [a]')}: error: missing 'reply' in rule #3 (add  reply: {{contact: NAME}})",
        "note: times are read in Asia/Jerusalem, the zone of IL "
        "(the rules have no 'timezone:' line)",
        "9 errors, 0 warnings in shop.yaml",
    ]
