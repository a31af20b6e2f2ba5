"""Normalisation and tokens: what makes a keyword and a message comparable."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.text import ARABIC_PREFIXES, HEBREW_PREFIXES, normalize, prefix_stems, tokenize


def test_case_and_width_are_ignored() -> None:
    assert tokenize("SALES Sales ｓａｌｅｓ") == ["sales", "sales", "sales"]


def test_hebrew_niqqud_is_dropped_and_the_word_stays_whole() -> None:
    # Python's re would split this word at its marks; ours must not
    assert re.findall(r"\w+", "שָׁלוֹם") != ["שָׁלוֹם"]
    assert tokenize("שָׁלוֹם") == tokenize("שלום")
    assert len(tokenize("שָׁלוֹם")) == 1


def test_hebrew_final_letters_fold() -> None:
    assert normalize("שלום") == normalize("שלומ")
    assert normalize("ךםןףץ") == "כמנפצ"


def test_arabic_tashkeel_is_dropped() -> None:
    assert tokenize("مَبِيعَات") == ["مبيعات"]


@pytest.mark.parametrize(
    ("written", "plain"),
    [
        ("أحمد", "احمد"),
        ("إبراهيم", "ابراهيم"),
        ("آمنة", "امنه"),
        ("مستشفى", "مستشفي"),
        ("کریم", "كريم"),  # a Persian keyboard's ک and ی
    ],
)
def test_arabic_look_alike_letters_fold(written: str, plain: str) -> None:
    assert tokenize(written) == [plain]


def test_tatweel_is_removed() -> None:
    assert tokenize("مبـــيعات") == ["مبيعات"]


def test_emoji_and_punctuation_separate_words() -> None:
    assert tokenize("sales🙂support!!price?") == ["sales", "support", "price"]
    assert tokenize("מכירות🙂תמיכה") == ["מכירות", "תמיכה"]


def test_apostrophe_inside_a_word_is_kept_in_the_word() -> None:
    assert tokenize("what's") == ["whats"]
    assert tokenize("פנצ'ר") == tokenize("פנצ׳ר") == ["פנצר"]
    assert tokenize('מע"מ') == tokenize("מע״מ") == ["מעמ"]


def test_arabic_indic_digits_become_ascii() -> None:
    assert tokenize("طلب ١٢٣٤٥") == ["طلب", "12345"]


def test_prefix_stems_strip_hebrew_prefixes() -> None:
    assert "מכירות" in prefix_stems("ולמכירות")
    assert "מחיר" in prefix_stems("במחיר")
    assert "מחיר" in prefix_stems("שהמחיר")


def test_prefix_stems_strip_the_arabic_article() -> None:
    assert "مبيعات" in prefix_stems("المبيعات")
    assert "مبيعات" in prefix_stems("والمبيعات")
    assert "مبيعات" in prefix_stems("بالمبيعات")
    assert "ونش" in prefix_stems("عالونش")  # spoken على+ال: "to the tow truck"


def test_prefix_stems_never_leave_a_one_letter_stem() -> None:
    assert prefix_stems("מה") == ("מה",)


def test_prefix_tables_hold_the_common_combinations() -> None:
    assert {
        "ו",
        "ה",
        "ב",
        "ל",
        "מ",
        "ש",
        "כ",
        "ול",
        "וה",
        "וב",
        "ומ",
        "שה",
        "כש",
    } <= HEBREW_PREFIXES
    assert {"ال", "وال", "بال", "لل"} <= ARABIC_PREFIXES


@given(st.text())
def test_normalisation_never_raises_and_is_stable(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert " " not in "".join(tokenize(text))


@given(
    st.text(
        alphabet=st.characters(
            whitelist_categories=("Lu", "Ll", "Lo", "Mn", "Nd", "Zs", "Po", "So")
        )
    )
)
def test_tokens_contain_no_marks_or_punctuation(text: str) -> None:
    for token in tokenize(text):
        assert token
        assert all(ch.isalnum() for ch in token)
