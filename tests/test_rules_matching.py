"""Which rule's words a message matches: whole words, phrases, prefixes, fuzzy, patterns."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from bot.core import RuleSet, load_rules

RULES = """\
contacts:
  sales: {name: Sales, phone: "052-555-0123"}
  support: {name: Support, phone: "03-555-0101"}
rules:
  - name: sales
    keywords: [sales, price, quote, "how much", מכירות, מחיר, "הצעת מחיר", مبيعات, سعر]
    exclude: [sales tax, "מחיר תיקון"]
    reply: {contact: sales}
  - name: support
    keywords: [support, "not working", תמיכה, תקלה, دعم]
    reply: {contact: support}
  - name: strict hebrew
    keywords: [שלום]
    prefixes: false
    reply: {contact: support}
  - name: typos
    keywords: [delivery, courier, משלוח, car]
    fuzzy: true
    reply: {contact: support}
  - name: order number
    pattern: '\\border\\s*#?\\d{5}\\b'
    reply: {contact: support}
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(RULES, encoding="utf-8")
    return load_rules(path)


def first_rule(rules: RuleSet, text: str) -> str | None:
    scan = rules.match(text)
    for index in scan.candidates():
        if scan.rule_match(index) is not None:
            return rules.rules[index].name
    return None


@pytest.mark.parametrize(
    "text",
    [
        "I want a PRICE list",
        "Sales?",
        "how much is it",
        "can I get a quote🙂",
        "who handles sales!!",
    ],
)
def test_english_keywords_match_case_blind_and_next_to_punctuation(
    rules: RuleSet, text: str
) -> None:
    assert first_rule(rules, text) == "sales"


@pytest.mark.parametrize("text", ["oversales", "salesforce", "priceless", "how is it much"])
def test_keywords_match_whole_words_only(rules: RuleSet, text: str) -> None:
    assert first_rule(rules, text) is None


@pytest.mark.parametrize(
    "text",
    [
        "אני צריך מכירות",
        "מה המחיר?",
        "אפשר הצעת מחיר",
        "ולמכירות, מי אחראי?",
        "שהמחיר יהיה טוב",
        "בְּמְחִיר",
        "מכירות🙂",
    ],
)
def test_hebrew_keywords_match_with_prefixes_and_niqqud(rules: RuleSet, text: str) -> None:
    assert first_rule(rules, text) == "sales"


@pytest.mark.parametrize("text", ["أريد المبيعات", "والمبيعات", "بالمبيعات", "كم السعر؟", "مَبِيعَات"])
def test_arabic_keywords_match_with_the_article_and_tashkeel(rules: RuleSet, text: str) -> None:
    assert first_rule(rules, text) == "sales"


def test_multi_word_phrase_needs_its_words_in_order(rules: RuleSet) -> None:
    assert first_rule(rules, "the app is not working") == "support"
    assert first_rule(rules, "working, not") is None


def test_hebrew_phrase_with_a_prefix_on_its_first_word(rules: RuleSet) -> None:
    assert rules.match("ולהצעת מחיר").hits.get(0) in ("הצעת מחיר", "מחיר")


def test_prefixes_can_be_turned_off_per_rule(rules: RuleSet) -> None:
    assert first_rule(rules, "שלום לכולם") == "strict hebrew"
    assert first_rule(rules, "ושלום לכולם") is None


def test_a_prefix_is_only_a_known_prefix(rules: RuleSet) -> None:
    # "ת" is not a prefix: "תמכירות" is another word
    assert first_rule(rules, "תמכירות") is None


def test_exclude_vetoes_the_rule(rules: RuleSet) -> None:
    assert first_rule(rules, "what about sales tax?") is None
    assert first_rule(rules, "מחיר תיקון לגלגל") is None
    assert first_rule(rules, "sales please") == "sales"


def test_exclude_vetoes_only_its_own_rule(rules: RuleSet) -> None:
    assert first_rule(rules, "sales tax is not working") == "support"


def test_fuzzy_rule_matches_small_typos(rules: RuleSet) -> None:
    assert first_rule(rules, "where is my delivrey") == "typos"
    assert first_rule(rules, "the curier is late") == "typos"
    assert first_rule(rules, "מתי המשלות מגיע") == "typos"


def test_fuzzy_never_applies_to_short_words(rules: RuleSet) -> None:
    assert first_rule(rules, "my car") == "typos"  # exact still works
    assert first_rule(rules, "my cat") is None


def test_fuzzy_widens_typos_only_for_its_own_rule(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        textwrap.dedent("""\
        contacts: {a: {name: A, phone: "052-555-0123"}}
        rules:
          - {name: taxes, keywords: [tax, menu], reply: {contact: a}}
          - {name: vans, keywords: [van], fuzzy: true, reply: {contact: a}}
        """),
        encoding="utf-8",
    )
    rules = load_rules(path)
    # three letters: too short for a typo by default, allowed where the rule says fuzzy
    assert first_rule(rules, "the txa form please") is None
    assert first_rule(rules, "my vna is broken") == "vans"
    # four letters take one by default
    assert first_rule(rules, "the manu please") == "taxes"


def test_typos_in_longer_words_are_read_without_fuzzy(rules: RuleSet) -> None:
    # four letters and more: one letter wrong, swapped or missing is still the word
    assert first_rule(rules, "slaes") == "sales"
    assert first_rule(rules, "suport please") == "support"
    # ... but a longer word that merely contains the keyword is another word
    assert first_rule(rules, "supportive friends") is None


def test_fuzzy_rule_explains_what_was_typed(rules: RuleSet) -> None:
    found = rules.match("delivrey").rule_match(3)
    assert found == "'delivrey' read as 'delivery' (typo)"


def test_fuzzy_matches_the_documented_example(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        textwrap.dedent("""\
        contacts: {sales: {name: S, phone: "052-555-0123"}}
        rules:
          - {name: sales, keywords: [sales], fuzzy: true, reply: {contact: sales}}
        """),
        encoding="utf-8",
    )
    assert first_rule(load_rules(path), "slaes") == "sales"


def test_pattern_rule_matches_the_raw_text(rules: RuleSet) -> None:
    assert first_rule(rules, "ORDER #12345 is late") == "order number"
    assert first_rule(rules, "order 1234") is None


def test_pattern_timeout_counts_as_no_match_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        textwrap.dedent("""\
        contacts: {sales: {name: S, phone: "052-555-0123"}}
        rules:
          - {name: slow, pattern: '(a|aa)+$', reply: {contact: sales}}
        """),
        encoding="utf-8",
    )
    rules = load_rules(path)
    with caplog.at_level(logging.WARNING, logger="bot.core.matcher"):
        assert rules.match("a" * 40 + "!").rule_match(0) is None
    assert "counted as no match" in caplog.text


def test_rule_without_keywords_matches_any_text(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        textwrap.dedent("""\
        contacts: {sales: {name: S, phone: "052-555-0123"}}
        rules:
          - {name: hello, reply: {contact: sales}}
        """),
        encoding="utf-8",
    )
    rules = load_rules(path)
    assert rules.match("👍").rule_match(0) == "any message"
    assert rules.match("   ").rule_match(0) is None


def test_one_scan_finds_every_rule_hit(rules: RuleSet) -> None:
    scan = rules.match("sales and support")
    assert scan.hits == {0: "sales", 1: "support"}


def test_candidates_are_in_file_order(rules: RuleSet) -> None:
    assert rules.match("support and sales").candidates()[:2] == [0, 1]


def test_describe_prints_each_rule_readably(rules: RuleSet) -> None:
    lines = rules.describe().splitlines()
    assert lines[0] == (
        "sales: keywords(sales|price|quote|how much|מכירות|מחיר|… +3) "
        "& ~exclude(sales tax|מחיר תיקון) -> sales"
    )
    assert lines[2] == "strict hebrew: keywords(שלום) & no_prefixes -> support"
    assert lines[3] == "typos: fuzzy(delivery|courier|משלוח|car) -> support"
    assert lines[4] == "order number: pattern(/\\border\\s*#?\\d{5}\\b/) -> support"


def test_describe_shows_conditions(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        textwrap.dedent("""\
        business_hours: {sun-thu: "09:00-18:00"}
        contacts: {sales: {name: S, phone: "052-555-0123"}}
        rules:
          - name: support after hours
            keywords: [support]
            when: {outside: business_hours, days: [fri, sat]}
            once_per: day
            reply: {contact: sales}
          - {name: greeting, first_message: true, reply: {contact: sales}}
        fallback: {reply: {contact: sales}, once_per: day}
        """),
        encoding="utf-8",
    )
    assert load_rules(path).describe().splitlines() == [
        "support after hours: keywords(support) & when(~business_hours & days(fri|sat)) "
        "& once_per(day) -> sales",
        "greeting: any & when(first_message) -> sales",
        "fallback: no rule answered & once_per(day) -> sales",
    ]
