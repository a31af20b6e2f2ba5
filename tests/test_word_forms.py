"""How words are matched: forms, roots, typos, negation and the main topic, in each language."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.core import RuleSet, load_rules
from bot.core.forms import squeezed, word_keys
from bot.core.text import tokenize
from tests.conftest import rule_book

BOOK = """\
contacts:
  desk: {name: Desk, phone: "052-555-0123"}
  courier: {name: Courier, phone: "052-555-0124"}
  pickup: {name: Pickup, phone: "052-555-0125"}
  repairs: {name: Repairs, phone: "052-555-0126"}
  bills: {name: Bills, phone: "052-555-0127"}
  hello: {name: Hello, phone: "052-555-0128"}
rules:
  - name: prices
    keywords: [price, "how much", מחיר, "כמה עולה", سعر, قديش]
    reply: {contact: desk}
  - name: delivery
    keywords: [delivery, shipping, משלוח, שליח, توصيل]
    reply: {contact: courier}
  - name: takeaway
    keywords: [takeaway, "pick up", איסוף, استلام]
    reply: {contact: pickup}
  - name: appointment
    keywords: [appointment, תור, موعد, حجز]
    reply: {contact: desk}
  - name: repair
    keywords: [repair, תיקון, تصليح, טסט]
    reply: {contact: repairs}
  - name: billing
    keywords: [invoice, refund, receipt, חשבונית]
    reply: {contact: bills}
  - name: strict
    keywords: [kosher]
    forms: false
    reply: {contact: desk}
fallback:
  reply: {contact: desk}
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    return rule_book(tmp_path_factory.mktemp("forms"), BOOK)


def desk_book(folder: Path, rules: str) -> RuleSet:
    """A rule book of `rules` (the YAML under `rules:`), every one replying with one desk card."""
    return rule_book(
        folder, 'contacts: {desk: {name: Desk, phone: "052-555-0123"}}\nrules:\n' + rules
    )


def answer(rules: RuleSet, text: str) -> str | None:
    """The rule that would answer `text` (conditions aside), as the engine ranks them."""
    scan = rules.match(text)
    for index in scan.candidates():
        if scan.rule_match(index) is not None:
            return rules.rules[index].name
    return None


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("was my order shipped yet?", "delivery"),
        ("are you delivering tonight?", "delivery"),
        ("where are my invoices", "billing"),
        ("refunds take how long?", "billing"),
        ("repairing a bike, can you?", "repair"),
    ],
)
def test_english_word_forms_match(rules: RuleSet, text: str, rule: str) -> None:
    assert answer(rules, text) == rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("אתם עושים משלוחים לחיפה?", "delivery"),  # plural
        ("אפשר לשלוח לי הביתה?", "delivery"),  # the verb of the noun, behind a prefix
        ("זה כבר נשלח?", "delivery"),  # passive verb, same root
        ("השליחים שלכם מגיעים לנשר?", "delivery"),  # prefix + plural
        ("יש תורים פנויים?", "appointment"),
        ("צריך לתקן את האופניים", "repair"),  # verb of תיקון
    ],
)
def test_hebrew_word_forms_match(rules: RuleSet, text: str, rule: str) -> None:
    assert answer(rules, text) == rule


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("شو المواعيد الفاضية؟", "appointment"),  # broken plural
        ("بدي أأجل موعدي", "appointment"),  # possessive
        ("حجزت عندكم لبكرا", "appointment"),  # past tense
        ("بتوصلوا لعكا؟", "delivery"),  # colloquial verb of توصيل
        ("ايمتى بتخلصو تصلحوها؟", "repair"),
    ],
)
def test_arabic_word_forms_match(rules: RuleSet, text: str, rule: str) -> None:
    assert answer(rules, text) == rule


@pytest.mark.parametrize(
    "text", ["بدي الغي الموعد تبع بكرا", "ألغيت الموعد؟", "الغي الدور لو سمحت", "بدي الغاء"]
)
def test_an_arabic_verb_whose_root_ends_weak_meets_its_noun(tmp_path: Path, text: str) -> None:
    # "الغاء" (cancelling) and "الغي", "ألغيت" (I cancel, I cancelled): the verb the client
    # writes is the cancellation, and the appointment only what is cancelled
    book = desk_book(
        tmp_path,
        "  - name: appointment\n    keywords: [موعد, دور]\n    reply: {contact: desk}\n"
        "  - name: cancel\n    keywords: [إلغاء]\n    reply: {contact: desk}\n",
    )
    assert answer(book, text) == "cancel"
    assert answer(book, "بدي موعد بكرا") == "appointment"


@pytest.mark.parametrize(
    ("text", "explained"),
    [
        ("איך נרשמים אצלכם?", "'נרשמימ', same root as 'להירשם'"),
        ("אני אזמין מחר", "'אזמינ', same root as 'להזמין'"),
        ("הזמנו אצלכם בשבוע שעבר", "'הזמנו', same root as 'להזמין'"),
    ],
)
def test_a_hebrew_infinitive_keyword_meets_the_verbs_other_forms(
    tmp_path: Path, text: str, explained: str
) -> None:
    book = desk_book(
        tmp_path,
        "  - name: join\n    keywords: [להירשם, להזמין]\n    reply: {contact: desk}\n",
    )
    assert book.match(text).rule_match(0) == explained


SPELLING_BOOK = """\
contacts:
  desk: {name: Desk, phone: "052-555-0123"}
rules:
  - name: menu
    keywords: [menu, "قائمة الطعام", תפריט]
    reply: {contact: desk}
  - name: takeaway
    keywords: ["take away", "טייק אווי", "تيك اواي"]
    reply: {contact: desk}
  - name: events
    keywords: ["יום הולדת", "عيد ميلاد", birthday]
    reply: {contact: desk}
  - name: enrollment
    keywords: ["sign up", "log in"]
    reply: {contact: desk}
  - name: towing
    keywords: [ونش]
    reply: {contact: desk}
  - name: gluten free
    keywords: ["ללא גלוטן", "بدون جلوتين", "without gluten"]
    reply: {contact: desk}
"""


@pytest.mark.parametrize(
    ("text", "rule", "explained"),
    [
        # the keyword's article is the client's to leave out
        ("هل لديكم قائمة طعام للأطفال؟", "menu", "'قائمة الطعام'"),
        # a two-word keyword written as one word, or as one word with a typo
        ("יש טייקאווי בצהריים?", "takeaway", "'טייק אווי' (written 'טייקאווי')"),
        ("do you do takeaway?", "takeaway", "'take away' (written 'takeaway')"),
        ("بتعملو تيكاواي؟", "takeaway", "'تيك اواي' (written 'تيكاواي')"),
        ("רוצים לחגוג יומולדת 40", "events", "'יומולדת' read as 'יום הולדת' (typo)"),
        # a phrasal verb with its object between its two words
        ("I'd like to sign my son up for June", "enrollment", "'sign up'"),
        ("can you log me in?", "enrollment", "'log in'"),
        # spoken على+ال
        ("وين اتصل عالونش؟", "towing", "'ونش' (in 'عالونش')"),
        # another word for "without": the negation is what the keyword asks for
        ("בלי גלוטן יש משהו?", "gluten free", "'ללא גלוטן' (written 'בלי גלוטנ')"),
        ("في اشي بلا جلوتين؟", "gluten free", "'بدون جلوتين' (written 'بلا جلوتين')"),
        ("anything with no gluten?", "gluten free", "'without gluten' (written 'no gluten')"),
    ],
)
def test_spellings_of_a_keyword_clients_write(
    tmp_path: Path, text: str, rule: str, explained: str
) -> None:
    book = rule_book(tmp_path, SPELLING_BOOK)
    assert answer(book, text) == rule
    assert book.match(text).rule_match(book.rule_names.index(rule)) == explained


@pytest.mark.parametrize(
    "text",
    [
        "sign here, then pick it up",  # "sign" and a later "up" of another verb
        "I'll sign in person, no need to look it up",
        "we don't sign people up over the phone?",
        "יום אחד הולדת",  # the words of a phrase apart are not the phrase
    ],
)
def test_a_phrase_apart_is_not_the_phrase(tmp_path: Path, text: str) -> None:
    book = rule_book(tmp_path, SPELLING_BOOK)
    assert answer(book, text) is None


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("delivry to haifa?", "delivery to haifa?"),
        ("מלשוח לקריות?", "משלוח לקריות?"),
        ("في توصبل؟", "في توصيل؟"),
    ],
)
def test_typos_can_be_turned_off_per_rule(tmp_path: Path, typed: str, written: str) -> None:
    strict = BOOK.replace("    keywords: [delivery,", "    typos: false\n    keywords: [delivery,")
    book = rule_book(tmp_path, strict)
    assert answer(book, typed) is None
    assert answer(book, written) == "delivery"


def test_forms_can_be_turned_off_per_rule(rules: RuleSet) -> None:
    assert answer(rules, "are you kosher?") == "strict"
    assert rules.match("koshers").rule_match(6) is None


def test_try_explains_a_form_and_a_root(rules: RuleSet) -> None:
    assert rules.match("shipped").rule_match(1) == "'shipped', a form of 'shipping'"
    assert rules.match("נשלח").rule_match(1) == "'נשלח', same root as 'משלוח'"


@pytest.mark.parametrize(
    ("text", "rule", "explained"),
    [
        ("delivry to haifa?", "delivery", "'delivry' read as 'delivery' (typo)"),
        ("can I get a reciept", "billing", "'reciept' read as 'receipt' (typo)"),
        ("מלשוח לקריות?", "delivery", "'מלשוח' read as 'משלוח' (typo)"),
        ("في توصبل؟", "delivery", "'توصبل' read as 'توصيل' (typo)"),
    ],
)
def test_a_typo_in_a_long_word_is_read_as_the_keyword(
    rules: RuleSet, text: str, rule: str, explained: str
) -> None:
    assert answer(rules, text) == rule
    index = rules.rule_names.index(rule)
    assert rules.match(text).rule_match(index) == explained


@pytest.mark.parametrize(
    ("text", "rule", "explained"),
    [
        ("צריך להביא את האוטו לטסת", "repair", "'לטסת' read as 'טסט' (typo)"),  # ת for ט
        ("بدي خجز لبكرا", "appointment", "'خجز' read as 'حجز' (typo)"),  # dots: خ for ح
        ("بدي مغعد بكرا", "appointment", "'مغعد' read as 'موعد' (typo)"),  # four letters: any
        ("יש חצר?", None, None),  # no keyword a confusable letter away
    ],
)
def test_a_short_word_is_read_through_a_confusable_letter(
    rules: RuleSet, text: str, rule: str | None, explained: str | None
) -> None:
    # three-letter words get no ordinary typo (too many words are one letter apart), only a
    # letter that sounds alike (ט/ת, כ/ח) or differs by its dots (س/ش, ع/غ); four letters
    # and more get any one typo
    found = answer(rules, text)
    assert found == rule
    if rule is not None:
        assert rules.match(text).rule_match(rules.rule_names.index(rule)) == explained


@pytest.mark.parametrize("text", ["תוק למחר?", "تور بكرا"])
def test_a_short_word_one_ordinary_typo_away_is_another_word(rules: RuleSet, text: str) -> None:
    assert answer(rules, text) is None


@pytest.mark.parametrize(
    "text",
    [
        "אתה מכיר מישהו?",  # "מכיר" (I know) is a word, one letter from "מחיר"
        "עמדתי בטור ארוך",  # "טור" (a line) is a word, a sound away from "תור"
        "بدي قص شعر",  # "شعر" (hair), its dots away from "سعر"
        "I'd like to look at it",  # "look" is a word, one letter from "book"
    ],
)
def test_a_common_word_is_never_a_typo_of_a_keyword(tmp_path: Path, text: str) -> None:
    book = desk_book(
        tmp_path,
        "  - name: prices\n    keywords: [מחיר, תור, سعر, book]\n    reply: {contact: desk}\n",
    )
    assert answer(book, text) is None


@pytest.mark.parametrize("text", ["repairable", "תמשלוח", "invoicesss2"])
def test_a_longer_word_holding_a_keyword_is_another_word(rules: RuleSet, text: str) -> None:
    assert answer(rules, text) is None


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("not delivery, we'll pick up", "takeaway"),
        ("לא צריך משלוח, אני אבוא לאיסוף", "takeaway"),
        ("مش بدي توصيل، بدي استلام", "takeaway"),
        ("משלוח לא צריך, רק איסוף", "takeaway"),
    ],
)
def test_a_negated_keyword_does_not_count(rules: RuleSet, text: str, rule: str) -> None:
    assert answer(rules, text) == rule


def test_no_x_is_about_x_unless_a_need_word_says_otherwise(rules: RuleSet) -> None:
    assert answer(rules, "I paid but no receipt in my email") == "billing"
    assert answer(rules, "no refund needed, thanks") is None
    assert answer(rules, "אין צורך במשלוח") is None


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        # the point of the message wins over what it mentions on the way
        ("thanks for the repair last week! now I need a delivery", "delivery"),
        ("רציתי לשאול על תיקון אבל קודם כל - המשלוח שלי יצא?", "delivery"),
        ("بدي اطلب توصيل هلأ، وبعدين بسأل عن التصليح", "delivery"),
        # a phrase is stronger evidence than one word
        ("how much is the repair?", "prices"),
    ],
)
def test_the_main_topic_wins_not_the_first_rule(rules: RuleSet, text: str, rule: str) -> None:
    assert answer(rules, text) == rule


def test_file_order_breaks_a_tie(rules: RuleSet) -> None:
    assert answer(rules, "price and delivery") == "prices"
    assert answer(rules, "delivery and price") == "prices"


@pytest.mark.parametrize("text", ["אני כאן בתור לקוח ותיק", "بدور على شغل عندكم"])
def test_common_homographs_are_not_a_prefix_and_a_keyword(rules: RuleSet, text: str) -> None:
    # "בתור" is "as", "بدور" is "I am looking for": neither asks for an appointment
    assert answer(rules, text) is None


def test_on_the_occasion_of_is_not_an_event(tmp_path: Path) -> None:
    book = desk_book(
        tmp_path,
        '  - name: events\n    keywords: [مناسبة, "عيد ميلاد"]\n    reply: {contact: desk}\n',
    )
    assert answer(book, "بمناسبة رمضان في عروض؟") is None  # "on the occasion of"
    assert answer(book, "بتعملو مناسبات خاصة؟") == "events"
    assert answer(book, "بمناسبة عيد ميلاد ابني بدي احجز") == "events"


def test_greeting_rules_answer_any_greeting_only_when_nothing_else_does(tmp_path: Path) -> None:
    path = tmp_path / "hello.yaml"
    path.write_text(
        textwrap.dedent("""\
        contacts: {a: {name: A, phone: "052-555-0123"}}
        rules:
          - {name: hello, keywords: [hi, hello, שלום], first_message: true, reply: {contact: a}}
          - {name: nails, keywords: [manicure, מניקור], reply: {contact: a}}
        """),
        encoding="utf-8",
    )
    rules = load_rules(path)
    assert answer(rules, "ערב טוב") == "hello"  # a greeting the owner did not list
    assert answer(rules, "hiya 😊") == "hello"
    assert answer(rules, "היי, עושים מניקור?") == "nails"
    assert answer(rules, "Do you teach Hi-Fi prototyping?") is None  # not at the start
    assert answer(rules, "אני לקוחה שלכם כבר שנים") is None  # 'שלכם' only looks like 'שלום'


@pytest.mark.parametrize(
    ("text", "social"),
    [
        ("תודה רבה!! 🙏", True),
        ("👍", True),
        ("يسلمو ايديكم، السيارة صارت متل الفل", True),
        ("thanks, and can I get a receipt?", False),
        ("يعطيكم العافية", False),  # a greeting: the fallback may answer it
    ],
)
def test_thanks_and_emoji_ask_for_nothing(rules: RuleSet, text: str, social: bool) -> None:
    assert rules.match(text).social is social


def test_word_keys_and_squeezing() -> None:
    assert dict(word_keys(tokenize("משלוחים")[0]))["משלוח"] == 2
    assert dict(word_keys(tokenize("مواعيد")[0]))["معد"] == 1
    assert squeezed("pleeease") == ("please", "pleease")
    assert squeezed("ok") == ()


def test_a_rule_without_keywords_does_not_answer_thanks(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bot.core import ClientState, InboundMessage, decide

    path = tmp_path / "hello.yaml"
    path.write_text(
        textwrap.dedent("""\
        contacts: {a: {name: A, phone: "052-555-0123"}}
        rules:
          - {name: first hello, first_message: true, reply: {contact: a}}
        fallback: {reply: {contact: a}}
        """),
        encoding="utf-8",
    )
    rules = load_rules(path)
    now = datetime(2026, 11, 25, 10, tzinfo=UTC)

    def sent(text: str) -> list[str]:
        message = InboundMessage("m1", "972501234567", "972501234567", text, "text", 0.0)
        return [r.rule for r in decide(message, rules, ClientState("972501234567"), now).replies]

    assert sent("תודה רבה!") == []
    assert sent("👍") == []
    assert sent("שלום, יש לכם חניה?") == ["first hello"]
