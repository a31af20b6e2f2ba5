"""Rule files -> RuleSet: positions of errors, refusal of dangerous YAML, merging folders."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import Card, RuleSet, load_rules
from bot.core.diagnostics import Diagnostics
from bot.core.loader import parse_text
from bot.errors import RuleError

CONTACTS = """\
contacts:
  sales: {name: Sales, phone: "052-555-0123"}
"""


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> RuleError:
    path = write(tmp_path, text)
    with pytest.raises(RuleError) as caught:
        load_rules(path)
    return caught.value


def test_loads_a_minimal_rule_file(tmp_path: Path) -> None:
    path = write(
        tmp_path, CONTACTS + "rules:\n  - {name: s, keywords: [sales], reply: {contact: sales}}\n"
    )
    rules = load_rules(path)
    assert isinstance(rules, RuleSet)
    assert rules.rule_names == ("s",)
    assert rules.files == (path,)
    assert rules.burst_window_s == 0 and rules.burst_max_wait_s == 15
    assert str(rules.timezone) == "Asia/Jerusalem"  # the default region's zone
    assert len(rules.version) == 12


def test_phone_is_read_as_international_digits(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        contacts:
          a: {name: A, phone: "052-555-0123"}
          b: {name: B, phone: "+972 3 555 0101"}
          c: {name: C, phone: "+44 20 7946 0321"}
        """,
    )
    contacts = load_rules(path).contacts
    assert [contacts[k].phone for k in "abc"] == ["972525550123", "97235550101", "442079460321"]


def test_default_region_reads_local_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, 'contacts:\n  a: {name: A, phone: "020 7946 0321"}\n')
    assert load_rules(path, default_region="GB").contacts["a"].phone == "442079460321"


def test_card_gateway_fields_are_only_the_set_ones() -> None:
    card = Card(
        key="s",
        name="Dana",
        phone="972525550123",
        email="d@example.com",
        birthday="1990-02-03",
        city="Tel Aviv",
    )
    assert card.gateway_fields() == {
        "contact_name": "Dana",
        "contact_phone": "972525550123",
        "contact_email": "d@example.com",
        "contact_birthday": "1990-02-03",
        "address_city": "Tel Aviv",
    }
    full = Card("k", "N", "1", "e@x", "2000-01-01", "S", "C", "IL", "https://x")
    assert list(full.gateway_fields()) == [
        "contact_name",
        "contact_phone",
        "contact_email",
        "contact_birthday",
        "address_street",
        "address_city",
        "address_country",
        "website",
    ]


def test_a_number_that_cannot_be_a_phone_is_an_error_at_its_position(tmp_path: Path) -> None:
    error = error_of(tmp_path, 'contacts:\n  sales: {name: S, phone: "052-555"}\n')
    assert (error.line, error.column) == (2, 27)
    assert "cannot be a phone number" in error.message


def test_text_that_is_no_phone_at_all_is_an_error(tmp_path: Path) -> None:
    error = error_of(tmp_path, "contacts:\n  sales:\n    name: S\n    phone: call me\n")
    assert (error.line, error.column, error.message) == (4, 12, "'call me' is not a phone number")


def test_birthday_must_be_a_real_date(tmp_path: Path) -> None:
    error = error_of(
        tmp_path, 'contacts:\n  a: {name: A, phone: "052-555-0123", birthday: "1990-02-30"}\n'
    )
    assert error.message == "birthday '1990-02-30' is not a date"
    assert error.hint == "write YYYY-MM-DD"


def test_yaml_syntax_error_has_file_line_and_column(tmp_path: Path) -> None:
    error = error_of(tmp_path, "rules:\n  - name: [unclosed\n")
    assert error.file is not None and error.file.endswith("rules.yaml")
    assert (error.line, error.column) == (2, 11)  # where the list starts, not where YAML gave up
    assert error.message == "this [ is never closed with ]"


def test_tab_indentation_gets_a_hint(tmp_path: Path) -> None:
    error = error_of(tmp_path, "rules:\n\t- name: x\n")
    assert error.message == "this line is indented with a tab"
    assert error.hint == "indent with spaces only; a tab can look like spaces in an editor"
    assert error.line == 2


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        CONTACTS + "rules:\n  - name: s\n    keyword: [sales]\n    reply: {contact: sales}\n",
    )
    assert error.message == "unknown key 'keyword'"
    assert error.hint == "did you mean 'keywords'?"
    assert (error.line, error.column) == (5, 5)


def test_unknown_top_level_key_suggests(tmp_path: Path) -> None:
    error = error_of(tmp_path, "timezon: Asia/Jerusalem\n")
    assert (error.message, error.hint, error.line, error.column) == (
        "unknown key 'timezon'",
        "did you mean 'timezone'?",
        1,
        1,
    )


def test_missing_reply_is_reported_at_the_rule(tmp_path: Path) -> None:
    error = error_of(tmp_path, CONTACTS + "rules:\n  - name: s\n    keywords: [sales]\n")
    assert error.message == "missing 'reply' in rule 's'"
    assert (error.line, error.column) == (4, 5)


def test_anchors_are_refused(tmp_path: Path) -> None:
    error = error_of(tmp_path, CONTACTS + "words: &w [a, b]\n")
    assert error.message == "anchors (&name) are not allowed in rule files"
    assert error.line == 3


def test_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    error = error_of(tmp_path, laughs)
    assert "not allowed" in error.message


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    error = error_of(tmp_path, "rules: " + "[" * 50 + "]" * 50 + "\n")
    assert error.message == "nesting deeper than 20 levels"


def test_very_deep_nesting_is_refused_without_recursion_error(tmp_path: Path) -> None:
    text = "[" * 100_000 + "]" * 100_000
    error_of(tmp_path, text)  # a RuleError, not a RecursionError
    diagnostics = Diagnostics()
    assert parse_text(text, "deep.yaml", diagnostics) is None or diagnostics.errors
    said = [(d.message, d.line) for d in diagnostics.errors]
    assert ("nesting too deep for a rule file", 1) in said, said


def test_files_over_one_mebibyte_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * (1024 * 1024) + "\n", encoding="utf-8")
    with pytest.raises(RuleError, match="larger than 1 MiB"):
        load_rules(path)


def test_python_tags_are_refused(tmp_path: Path) -> None:
    error = error_of(tmp_path, "timezone: !!python/object:os.system echo\n")
    assert "tag" in error.message and "not allowed" in error.message


def test_duplicate_keys_are_errors_not_silently_merged(tmp_path: Path) -> None:
    error = error_of(tmp_path, CONTACTS + "rules: []\nrules: []\n")
    assert (error.message, error.line, error.column) == ("duplicate key 'rules'", 4, 1)


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("timezone: caf\xe9\n".encode("latin-1"))
    with pytest.raises(RuleError, match="not UTF-8"):
        load_rules(path)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="rules file not found"):
        load_rules(tmp_path / "nope.yaml")


def test_yaml_11_words_stay_words(tmp_path: Path) -> None:
    # YAML 1.1 reads no/on/yes as booleans and 09:00 as 540: keywords must stay as typed
    path = write(
        tmp_path,
        CONTACTS + "rules:\n  - name: s\n    keywords: [no, on, yes, 09:00, 0501, 2024]\n"
        "    reply: {contact: sales}\n",
    )
    assert load_rules(path).rules[0].words.keywords == ("no", "on", "yes", "09:00", "0501", "2024")


def test_folder_is_merged_in_name_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        CONTACTS + "rules:\n  - {name: first, keywords: [a1], reply: {contact: sales}}\n",
        "10-a.yaml",
    )
    write(
        tmp_path,
        "rules:\n  - {name: second, keywords: [b2], reply: {contact: sales}}\n",
        "20-b.yaml",
    )
    write(tmp_path, "not a rule file", "notes.txt")
    rules = load_rules(tmp_path)
    assert rules.rule_names == ("first", "second")
    assert [p.name for p in rules.files] == ["10-a.yaml", "20-b.yaml"]


def test_a_setting_in_two_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "timezone: UTC\n", "a.yaml")
    write(tmp_path, "timezone: Asia/Jerusalem\n", "b.yaml")
    with pytest.raises(RuleError, match="'timezone' is already set in"):
        load_rules(tmp_path)


def test_version_changes_with_the_content(tmp_path: Path) -> None:
    path = write(tmp_path, CONTACTS)
    first = load_rules(path).version
    assert load_rules(path).version == first
    path.write_text(CONTACTS + "# a comment\n", encoding="utf-8")
    assert load_rules(path).version != first


def test_first_error_in_file_order_is_raised(tmp_path: Path) -> None:
    error = error_of(
        tmp_path,
        """\
        timezone: Mars/Olympus
        contacts:
          sales: {name: S, phone: "1"}
        """,
    )
    assert error.line == 1
    assert error.message == "unknown timezone 'Mars/Olympus'"


def test_unknown_timezone_suggests(tmp_path: Path) -> None:
    error = error_of(tmp_path, "timezone: Asia/Jerusalm\n")
    assert error.hint == "did you mean 'Asia/Jerusalem'?"


def test_burst_settings_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, "burst_window_s: 3\nburst_max_wait_s: 10\n")
    rules = load_rules(path)
    assert (rules.burst_window_s, rules.burst_max_wait_s) == (3.0, 10.0)


def test_negative_burst_window_is_an_error(tmp_path: Path) -> None:
    error = error_of(tmp_path, "burst_window_s: -1\n")
    assert error.line == 1 and "burst_window_s" in error.message


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_text_is_read_or_every_problem_is_placed_in_it(text: str) -> None:
    diagnostics = Diagnostics()
    parsed = parse_text(text, "fuzz.yaml", diagnostics)  # never raises
    if parsed is None:
        assert diagnostics.errors, "nothing usable, and no error says why"
    _placed_within(diagnostics.items, "fuzz.yaml", text)


def _placed_within(problems: Sequence[Any], name: str, text: str) -> None:
    """Each problem says something, in `name`, at a line and column that exist in `text`."""
    lines = text.splitlines() or [""]
    for problem in problems:
        assert problem.message.strip()
        if problem.line is None:
            continue
        assert problem.file is not None and problem.file.endswith(name)
        assert 1 <= problem.line <= len(lines) + 1, (problem, len(lines))
        if problem.column is not None:
            assert problem.column >= 1


_yaml_ish = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "timezone",
                    "contacts",
                    "rules",
                    "name",
                    "phone",
                    "keywords",
                    "reply",
                    "contact",
                    "when",
                    "inside",
                    "business_hours",
                    "fallback",
                    "x",
                ]
            ),
            children,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_yaml_ish)
def test_any_yaml_structure_loads_or_raises_only_rule_error(
    tmp_path_factory: pytest.TempPathFactory, value: object
) -> None:
    import yaml

    path = tmp_path_factory.mktemp("fuzz") / "rules.yaml"
    text = yaml.safe_dump(value, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    try:
        rules = load_rules(path)
    except RuleError as error:
        _placed_within([error], "rules.yaml", text)
    else:
        # Loaded: every rule answers with a card, and its names are its own.
        assert isinstance(value, dict) or value is None
        assert len(set(rules.rule_names)) == len(rules.rule_names)
        assert all(rule.card.name and rule.card.phone for rule in rules.rules)


def test_reading_pauses_the_garbage_collector_only_while_it_reads(tmp_path: Path) -> None:
    import gc
    import threading

    from bot.core.reading import paused_garbage_collection

    path = write(
        tmp_path, CONTACTS + "rules:\n  - {name: s, keywords: [a], reply: {contact: sales}}\n"
    )
    assert gc.isenabled()
    with paused_garbage_collection():
        assert not gc.isenabled()
        load_rules(path)  # a nested pause
        assert not gc.isenabled()
    assert gc.isenabled()
    threads = [threading.Thread(target=load_rules, args=(path,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gc.isenabled()
