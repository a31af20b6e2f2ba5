"""`rulebot check` warns where two rules compete for one word through its forms."""

from __future__ import annotations

from pathlib import Path

from bot.core.lint import check_rules

HEAD = (
    'contacts:\n  desk: {name: Desk, phone: "052-555-0123"}\n'
    'business_hours: {sun-thu: "09:00-18:00"}\nrules:\n'
)


def warnings(tmp_path: Path, rules: str) -> list[str]:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + rules, encoding="utf-8")
    report = check_rules(path)
    assert not [d for d in report.diagnostics if d.severity == "error"], report.diagnostics
    return [d.text() for d in report.diagnostics if d.severity == "warning"]


def test_forms_of_one_word_in_two_rules_are_a_warning_in_each_language(tmp_path: Path) -> None:
    found = warnings(
        tmp_path,
        "  - {name: booking, keywords: [booking, תור, موعد], reply: {contact: desk}}\n"
        "  - {name: changes, keywords: [booked, תורים, مواعيد], reply: {contact: desk}}\n",
    )
    assert len(found) == 1, found  # once per pair of rules
    (text,) = found
    assert ":6:" in text  # at the later rule's keyword
    assert "keyword 'booked' and 'booking' of rule 'booking' (line 5) are forms of one word" in text
    assert "('booking' on a tie)" in text


def test_hebrew_and_arabic_forms_are_found_too(tmp_path: Path) -> None:
    for first, second in (("תור", "תורים"), ("موعد", "مواعيد")):
        found = warnings(
            tmp_path,
            f"  - {{name: a, keywords: [{first}], reply: {{contact: desk}}}}\n"
            f"  - {{name: b, keywords: [{second}], reply: {{contact: desk}}}}\n",
        )
        assert len(found) == 1 and "are forms of one word" in found[0], found


def test_rules_that_never_hold_together_do_not_compete(tmp_path: Path) -> None:
    found = warnings(
        tmp_path,
        "  - name: desk\n    keywords: [booking]\n    when: {inside: business_hours}\n"
        "    reply: {contact: desk}\n"
        "  - name: online\n    keywords: [booked]\n    when: {outside: business_hours}\n"
        "    reply: {contact: desk}\n",
    )
    assert found == []


def test_different_words_and_forms_off_are_no_competition(tmp_path: Path) -> None:
    found = warnings(
        tmp_path,
        "  - {name: a, keywords: [delivery], reply: {contact: desk}}\n"
        "  - {name: b, keywords: [refund], reply: {contact: desk}}\n"
        "  - {name: c, keywords: [deliveries], forms: false, reply: {contact: desk}}\n",
    )
    assert found == []
