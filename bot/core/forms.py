"""Word forms: the keys under which a word is compared, from the word itself to its root.

A word (already normalised by `text.tokenize`) gets up to three keys, each with a level:

- EXACT: the word as written ("משלוחים", "shipped");
- FORM: its stem, the word without inflection — English by the Snowball stemmer ("shipped",
  "shipping" -> "ship"); Hebrew and Arabic by the light suffix stemmers below ("משלוחים" ->
  "משלוח", "موعدي" -> "موعد");
- ROOT: Hebrew and Arabic only, a consonant skeleton: the stem without the letters that
  mostly write vowels (ו י in Hebrew, ا و ي in Arabic) and without one formative prefix of
  verbs and verbal nouns, so a verb meets its noun ("לשלוח", "נשלח", "משלוח" -> "שלח";
  "مواعيد", "موعد" -> "معد"). Skeletons shorter than three letters are not used.

Two words match at the weaker of their two levels. Hebrew has no kept light stemmer on PyPI,
so the suffix table is ours and documented here; Arabic's Snowball stemmer does not know the
colloquial forms clients write (بتوصلوا, حجزت), so Arabic uses the same small approach.
"""

from __future__ import annotations

from functools import lru_cache

import Stemmer

from bot.core.text import MIN_STEM, prefix_stems

EXACT = 3
FORM = 2
ROOT = 1
#: a typo: below ROOT, so a typo never outranks a real form
TYPO = 0

#: Hebrew suffixes (final letters already folded: ם->מ, ן->נ, ך->כ), longest first: plurals
#: (ים, ות, יים, יות), feminine (ה, ת, ית), possessives (י, ך, ו, נו, כם, הם...), past tense
#: persons (תי, תם, נו, ו).
HEBREW_SUFFIXES = (
    "יות", "יים", "ותי", "ותיו", "יהמ", "יכמ",
    "ימ", "ות", "ית", "תי", "תמ", "נו", "כמ", "כנ", "המ", "הנ", "יו", "יה", "יכ",
    "ה", "ת", "י", "ו", "כ",
)  # fmt: skip
#: Arabic suffixes (ة already folded to ه, ى to ي): plurals and duals (ات, ين, ون, ان, تين),
#: pronouns (ه, ها, هم, كم, كو, نا, ني, ي, ك), verb endings (وا, و, ت, تو, نا).
ARABIC_SUFFIXES = (
    "تين", "كمو", "يات",
    "ات", "ين", "ون", "ان", "ها", "هم", "كم", "كو", "نا", "ني", "وا", "تو", "تي",
    "ه", "ي", "ك", "ت", "و",
)  # fmt: skip
#: formative prefixes of verbs and verbal nouns (stripped for the ROOT key only)
HEBREW_FORMATIVES = ("הת", "מת", "נת", "ית", "את", "הי", "מ", "נ", "ת", "ה", "י", "א")
ARABIC_FORMATIVES = ("بت", "بن", "بي", "است", "ست", "م", "ت", "ي", "ن", "ا")

_HEBREW_VOWEL_LETTERS = str.maketrans("", "", "וי")
_ARABIC_VOWEL_LETTERS = str.maketrans("", "", "اوي")
_ENGLISH = Stemmer.Stemmer("english")
#: English endings that make another word, not another form ("supportive" is not "support")
_DERIVED = ("ive", "ives", "ful", "less", "ness", "ly", "able", "ible", "ity", "ous", "ism")
#: a stem needs this many letters left after a suffix is removed
_MIN_HEBREW_STEM = 2
_MIN_ARABIC_STEM = 3
_MIN_ROOT = 3


def script_of(word: str) -> str:
    """'he', 'ar', 'latin' or 'other', by the word's first letter."""
    first = word[:1]
    if "\u05d0" <= first <= "\u05ea":
        return "he"
    if "\u0620" <= first <= "\u064a" or first in "\u067e\u0686\u06a9\u06af\u06cc":
        return "ar"
    if first.isascii() and first.isalpha():
        return "latin"
    return "other"


@lru_cache(maxsize=65536)
def word_keys(word: str) -> tuple[tuple[str, int], ...]:
    """(key, level) pairs `word` is known by: itself (EXACT), its stem (FORM), its root (ROOT)."""
    keys = {word: EXACT}
    script = script_of(word)
    if script == "latin":
        for stem in english_stems(word):
            keys.setdefault(stem, FORM)
    elif script == "he":
        stem = hebrew_stem(word)
        keys.setdefault(stem, FORM)
        for root in _roots(stem, HEBREW_FORMATIVES, _HEBREW_VOWEL_LETTERS, word):
            keys.setdefault(root, ROOT)
    elif script == "ar":
        stems = arabic_stems(word)
        for stem in stems:  # every stem is a form before any skeleton is a root
            keys.setdefault(stem, FORM)
        for stem in stems:
            for root in _roots(stem, ARABIC_FORMATIVES, _ARABIC_VOWEL_LETTERS, word):
                keys.setdefault(root, ROOT)
            if stem.endswith("اء") and len(stem) >= 5:
                # the noun of a verb whose root ends weak is that verb's form, as "cancellation"
                # is "cancel"'s in English: "الغاء" (cancelling) meets "الغي", "الغيت" (I
                # cancel, I cancelled), whose stem is "الغ"
                weak = stem[:-2]
                if len(weak) >= _MIN_ROOT:
                    keys.setdefault(weak, FORM)
    return tuple(keys.items())


@lru_cache(maxsize=16384)
def keyword_keys(word: str) -> tuple[tuple[str, int], ...]:
    """The keys a keyword's word is indexed under: those of `word_keys`, and for an Arabic word
    written with the article, those of the word without it ("قائمة الطعام" is also written
    "قائمة طعام"). A message word has its prefixes taken off already (`token_variants`)."""
    keys = dict(word_keys(word))
    if word.startswith("ال") and len(word) >= 5:
        for key, level in word_keys(word[2:]):
            keys.setdefault(key, level)
    elif word.startswith("ל") and len(word) >= 5:
        # an infinitive ("להזמין", "להירשם") has the root of its other forms ("אזמין", "נרשמים")
        for key, level in word_keys(word[1:]):
            if level == ROOT:
                keys.setdefault(key, level)
    return tuple(keys.items())


def english_stems(word: str) -> tuple[str, ...]:
    """Snowball's stem, plus the stem of the word without a final y or the stem's final i.

    Snowball writes 'delivery' as 'deliveri' but 'delivered' as 'deliv', and 'certified' as
    'certifi' but 'certificate' as 'certif': the second key lets those pairs meet.
    """
    if len(word) < 3 or not word.isalpha() or word.endswith(_DERIVED):
        return (word,)
    stem = _ENGLISH.stemWord(word)
    found = [stem]
    if len(stem) >= 5 and stem.endswith("i"):
        found.append(stem[:-1])
        if word.endswith("y"):
            found.append(_ENGLISH.stemWord(word[:-1]))
    return tuple(dict.fromkeys(found))


def hebrew_stem(word: str) -> str:
    """`word` without one inflectional suffix (plural, feminine, possessive, person)."""
    return _strip_suffix(word, HEBREW_SUFFIXES, _MIN_HEBREW_STEM + 1)


def arabic_stems(word: str) -> tuple[str, ...]:
    """`word` without one suffix, and without two (a pronoun after a plural or verb ending)."""
    once = _strip_suffix(word, ARABIC_SUFFIXES, _MIN_ARABIC_STEM)
    if once == word:
        return (word,)
    twice = _strip_suffix(once, ARABIC_SUFFIXES, _MIN_ARABIC_STEM)
    return (once, twice) if twice != once else (once,)


def another_noun(word: str, keyword: str) -> bool:
    """Whether Arabic `word` is a noun that ة makes of the keyword word, not one of its forms.

    On a bare three-letter noun ة makes a noun of its own ("عطل" a breakdown, "عطلة" a
    holiday; "دور" a turn, "دورة" a course), and after the ي of a describing word a place or a
    field ("صيدلي" a pharmacist, "صيدلية" a pharmacy). ة is folded to ه, so "his turn" (also
    "دوره") is given up with it: clients name their own ("دوري"). A keyword written with ة
    keeps all its forms ("وصفة" meets "وصفتي").
    """
    return (
        word.endswith("ه")
        and not keyword.endswith("ه")
        and word[:-1] == keyword
        and (len(keyword) == 3 or keyword.endswith("ي"))
    )


def _strip_suffix(word: str, suffixes: tuple[str, ...], keep: int) -> str:
    for suffix in suffixes:
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            return word[: -len(suffix)]
    return word


def _roots(
    stem: str, formatives: tuple[str, ...], vowels: dict[int, int | None], word: str
) -> list[str]:
    """Consonant skeletons of `stem`, with and without one formative prefix."""
    found = []
    candidates = [stem]
    for prefix in formatives:
        if stem.startswith(prefix) and len(stem) - len(prefix) >= _MIN_ROOT:
            candidates.append(stem[len(prefix) :])
    for candidate in candidates:
        skeleton = candidate[:1] + candidate[1:].translate(vowels)
        if len(skeleton) >= _MIN_ROOT and skeleton != word:
            found.append(skeleton)
    return found


def squeezed(word: str) -> tuple[str, ...]:
    """`word` with letters stretched for emphasis shortened: 'pleeease' -> 'please', 'plese'.

    Runs of three or more of one letter become one and two letters ("hiii" -> "hi",
    "ونشششش" -> "ونش", "coool" -> "cool"); words without such a run give nothing.
    """
    if len(word) < 3:
        return ()
    runs = []
    last, count = "", 0
    stretched = False
    for char in word:
        if char == last:
            count += 1
        else:
            if last:
                runs.append((last, count))
            last, count = char, 1
    runs.append((last, count))
    stretched = any(count >= 3 for _, count in runs)
    if not stretched:
        return ()
    one = "".join(char if count >= 3 else char * count for char, count in runs)
    two = "".join(char * 2 if count >= 3 else char * count for char, count in runs)
    return (one, two)


@lru_cache(maxsize=16384)
def token_variants(token: str) -> tuple[tuple[str, bool], ...]:
    """(word, prefixed) forms a message word is looked up as: itself, squeezed, de-prefixed."""
    found: dict[str, bool] = {}
    for spelled in (token, *squeezed(token)):
        for i, stem in enumerate(prefix_stems(spelled)):
            if i == 0 or len(stem) >= MIN_STEM:
                found.setdefault(stem, i > 0)
    return tuple(found.items())
